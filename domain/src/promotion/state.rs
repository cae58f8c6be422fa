//! The folded state of one promotion: its terms and its usage. Counters are copied from the
//! redemption events (which carry them for readers), so folding is O(1) per event.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PromotionEvent;
use crate::{Currency, CustomerId, Discount, Money, OrderId, PromoCode};

/// The terms a promotion was created with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionTerms {
    /// The code.
    pub code: PromoCode,
    /// What it takes off.
    pub discount: Discount,
    /// The smallest subtotal it applies to, if any.
    pub minimum_subtotal: Option<Money>,
    /// Redeemable from (inclusive).
    pub valid_from: DateTime<Utc>,
    /// Redeemable until (exclusive).
    pub valid_until: DateTime<Utc>,
    /// Most redemptions in use at once, if limited.
    pub usage_limit: Option<u32>,
    /// Most redemptions in use per customer, if limited.
    pub per_customer_limit: Option<u32>,
}

impl PromotionTerms {
    /// The currency the promotion is bound to: a fixed discount's or the minimum subtotal's;
    /// `None` for a percentage without minimum, which applies to orders in any currency.
    pub fn currency(&self) -> Option<Currency> {
        match self.discount {
            Discount::FixedAmount { amount } => Some(amount.currency),
            Discount::Percentage { .. } => self.minimum_subtotal.map(|m| m.currency),
        }
    }

    /// True when `now` is inside `[valid_from, valid_until)`.
    pub fn is_within_window(&self, now: DateTime<Utc>) -> bool {
        self.valid_from <= now && now < self.valid_until
    }
}

/// One order's use of the promotion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    /// Who redeemed it; `None` for a guest.
    pub customer_id: Option<CustomerId>,
    /// The subtotal the discount was computed on.
    pub subtotal: Money,
    /// The amount taken off.
    pub discount_amount: Money,
    /// True once given back.
    pub released: bool,
}

/// The state of one promotion stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PromotionState {
    terms: Option<PromotionTerms>,
    deactivation_reason: Option<String>,
    usage_count: u32,
    customer_usage: HashMap<CustomerId, u32>,
    redemptions: HashMap<OrderId, Redemption>,
}

impl PromotionState {
    /// The terms, once created.
    pub fn terms(&self) -> Option<&PromotionTerms> {
        self.terms.as_ref()
    }

    /// True once created.
    pub fn exists(&self) -> bool {
        self.terms.is_some()
    }

    /// True when created and not deactivated (whatever the validity window says).
    pub fn is_active(&self) -> bool {
        self.exists() && self.deactivation_reason.is_none()
    }

    /// Why it was deactivated, if it was.
    pub fn deactivation_reason(&self) -> Option<&str> {
        self.deactivation_reason.as_deref()
    }

    /// Redemptions in use (redeemed and not released).
    pub fn usage_count(&self) -> u32 {
        self.usage_count
    }

    /// Uses left under the total limit; `None` when unlimited.
    pub fn remaining_uses(&self) -> Option<u32> {
        self.terms
            .as_ref()
            .and_then(|t| t.usage_limit)
            .map(|limit| limit.saturating_sub(self.usage_count))
    }

    /// This customer's redemptions in use.
    pub fn customer_usage(&self, customer_id: &CustomerId) -> u32 {
        self.customer_usage.get(customer_id).copied().unwrap_or(0)
    }

    /// Customers with at least one redemption in use, and how many.
    pub fn customer_usages(&self) -> impl Iterator<Item = (&CustomerId, u32)> {
        self.customer_usage.iter().map(|(c, n)| (c, *n))
    }

    /// This order's redemption (released or not).
    pub fn redemption(&self, order_id: &OrderId) -> Option<&Redemption> {
        self.redemptions.get(order_id)
    }

    pub(super) fn apply(&mut self, event: &PromotionEvent) {
        match event {
            PromotionEvent::PromotionCreated {
                code,
                discount,
                minimum_subtotal,
                valid_from,
                valid_until,
                usage_limit,
                per_customer_limit,
            } => {
                self.terms = Some(PromotionTerms {
                    code: code.clone(),
                    discount: *discount,
                    minimum_subtotal: *minimum_subtotal,
                    valid_from: *valid_from,
                    valid_until: *valid_until,
                    usage_limit: *usage_limit,
                    per_customer_limit: *per_customer_limit,
                });
            }
            PromotionEvent::PromotionDeactivated { reason, .. } => {
                self.deactivation_reason = Some(reason.clone());
            }
            PromotionEvent::PromotionRedeemed {
                order_id,
                customer_id,
                subtotal,
                discount_amount,
                usage_count,
                customer_usage_count,
                ..
            } => {
                self.usage_count = *usage_count;
                self.set_customer_usage(customer_id.as_ref(), *customer_usage_count);
                self.redemptions.insert(
                    order_id.clone(),
                    Redemption {
                        customer_id: customer_id.clone(),
                        subtotal: *subtotal,
                        discount_amount: *discount_amount,
                        released: false,
                    },
                );
            }
            PromotionEvent::RedemptionReleased {
                order_id,
                customer_id,
                usage_count,
                customer_usage_count,
                ..
            } => {
                self.usage_count = *usage_count;
                self.set_customer_usage(customer_id.as_ref(), *customer_usage_count);
                if let Some(redemption) = self.redemptions.get_mut(order_id) {
                    redemption.released = true;
                }
            }
        }
    }

    /// Keeps only customers with redemptions in use, so the map does not grow with every
    /// customer who ever released one.
    fn set_customer_usage(&mut self, customer_id: Option<&CustomerId>, count: Option<u32>) {
        if let (Some(customer_id), Some(count)) = (customer_id, count) {
            if count == 0 {
                self.customer_usage.remove(customer_id);
            } else {
                self.customer_usage.insert(customer_id.clone(), count);
            }
        }
    }
}
