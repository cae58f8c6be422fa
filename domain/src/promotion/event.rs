//! What a promotion records. Redemption events carry the amounts and the resulting usage counters,
//! so a read model (remaining uses, discount given) never has to recompute them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CustomerId, Discount, Money, OrderId, PromoCode};

/// A promotion event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum PromotionEvent {
    /// The promotion was created with these terms.
    #[serde(rename = "promotion.PromotionCreated.v1")]
    PromotionCreated {
        /// The code.
        code: PromoCode,
        /// What it takes off.
        discount: Discount,
        /// The smallest subtotal it applies to, if any.
        minimum_subtotal: Option<Money>,
        /// Redeemable from (inclusive).
        valid_from: DateTime<Utc>,
        /// Redeemable until (exclusive).
        valid_until: DateTime<Utc>,
        /// Most redemptions in total, if limited.
        usage_limit: Option<u32>,
        /// Most redemptions per customer, if limited.
        per_customer_limit: Option<u32>,
    },
    /// The promotion was deactivated for good.
    #[serde(rename = "promotion.PromotionDeactivated.v1")]
    PromotionDeactivated {
        /// The code.
        code: PromoCode,
        /// Why.
        reason: String,
    },
    /// The promotion was used on an order.
    #[serde(rename = "promotion.PromotionRedeemed.v1")]
    PromotionRedeemed {
        /// The code.
        code: PromoCode,
        /// The order.
        order_id: OrderId,
        /// The customer; `None` for a guest.
        customer_id: Option<CustomerId>,
        /// The subtotal the discount was computed on.
        subtotal: Money,
        /// The amount taken off.
        discount_amount: Money,
        /// Redemptions in use (not released) after this one.
        usage_count: u32,
        /// This customer's redemptions in use after this one; `None` for a guest.
        customer_usage_count: Option<u32>,
    },
    /// An order's redemption was given back.
    #[serde(rename = "promotion.RedemptionReleased.v1")]
    RedemptionReleased {
        /// The code.
        code: PromoCode,
        /// The order.
        order_id: OrderId,
        /// The customer; `None` for a guest.
        customer_id: Option<CustomerId>,
        /// The amount that had been taken off.
        discount_amount: Money,
        /// Why.
        reason: String,
        /// Redemptions in use after this release.
        usage_count: u32,
        /// This customer's redemptions in use after this release; `None` for a guest.
        customer_usage_count: Option<u32>,
    },
}
