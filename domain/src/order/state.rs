//! The folded state of one order.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CancelReason, OrderEvent, OrderLine, RefundId};
use crate::pricing::Totals;
use crate::{Address, CartId, Currency, CustomerId, Money, OrderId, PaymentId, PromoCode};

/// Where an order stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Nothing recorded yet.
    #[default]
    NotPlaced,
    /// Placed (the seed design's "created"): waiting for payment and stock.
    Placed,
    /// The payment was asked to authorize the total.
    PaymentPending,
    /// Stock reserved and payment authorized: ready to ship.
    Confirmed,
    /// On its way.
    Shipped,
    /// With the customer. Closed: only refunds follow.
    Delivered,
    /// The payment failed. Closed.
    PaymentFailed,
    /// Cancelled before shipping. Closed: only refunds of captured money follow.
    Cancelled,
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [OrderStatus; 8] = [
        Self::NotPlaced,
        Self::Placed,
        Self::PaymentPending,
        Self::Confirmed,
        Self::Shipped,
        Self::Delivered,
        Self::PaymentFailed,
        Self::Cancelled,
    ];

    /// The status's code, as it is serialized (`payment_pending`): what read models and the API
    /// show.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotPlaced => "not_placed",
            Self::Placed => "placed",
            Self::PaymentPending => "payment_pending",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::PaymentFailed => "payment_failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// True for the closed statuses: delivered, payment failed, cancelled.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::PaymentFailed | Self::Cancelled
        )
    }

    /// The statuses an order may move to from this one.
    pub fn next(self) -> &'static [OrderStatus] {
        use OrderStatus as S;
        match self {
            S::NotPlaced => &[S::Placed],
            S::Placed => &[
                S::PaymentPending,
                S::Confirmed,
                S::PaymentFailed,
                S::Cancelled,
            ],
            S::PaymentPending => &[S::Confirmed, S::PaymentFailed, S::Cancelled],
            S::Confirmed => &[S::Shipped, S::Cancelled],
            S::Shipped => &[S::Delivered],
            S::Delivered | S::PaymentFailed | S::Cancelled => &[],
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotPlaced => "not placed",
            Self::Placed => "placed",
            Self::PaymentPending => "awaiting payment",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::PaymentFailed => "closed after a failed payment",
            Self::Cancelled => "cancelled",
        })
    }
}

/// How an order travels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// Who carries it.
    pub carrier: String,
    /// The carrier's tracking number.
    pub tracking_number: String,
}

/// One step of an order's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The status reached.
    pub status: OrderStatus,
    /// When.
    pub at: DateTime<Utc>,
}

/// What the order was placed with (the `OrderPlaced` event's details).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Placement {
    pub(super) customer_id: Option<CustomerId>,
    pub(super) cart_id: Option<CartId>,
    pub(super) lines: Vec<OrderLine>,
    pub(super) currency: Currency,
    pub(super) totals: Totals,
    pub(super) shipping_address: Address,
    pub(super) billing_address: Address,
    pub(super) promo_code: Option<PromoCode>,
    pub(super) shipping_method: String,
}

/// A refund kept for idempotency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Refund {
    pub(super) amount: i64,
    pub(super) reason: String,
}

/// One order's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderState {
    pub(super) order_id: Option<OrderId>,
    pub(super) status: OrderStatus,
    pub(super) placement: Option<Placement>,
    pub(super) payment_id: Option<PaymentId>,
    pub(super) captured: Option<i64>,
    pub(super) refunds: BTreeMap<RefundId, Refund>,
    pub(super) refunded: i64,
    pub(super) failure_reason: Option<String>,
    pub(super) shipment: Option<Shipment>,
    pub(super) cancel_reason: Option<CancelReason>,
    /// Every status reached, in order (at most one entry per status).
    pub(super) timeline: Vec<StatusChange>,
}

impl OrderState {
    /// Where the order stands.
    pub fn status(&self) -> OrderStatus {
        self.status
    }

    /// The order's id, once placed.
    pub fn order_id(&self) -> Option<&OrderId> {
        self.order_id.as_ref()
    }

    /// The customer, once placed (`None` for a guest, too).
    pub fn customer_id(&self) -> Option<&CustomerId> {
        self.placement.as_ref()?.customer_id.as_ref()
    }

    /// The cart the order came from.
    pub fn cart_id(&self) -> Option<&CartId> {
        self.placement.as_ref()?.cart_id.as_ref()
    }

    /// What was bought (empty until placed).
    pub fn lines(&self) -> &[OrderLine] {
        self.placement.as_ref().map_or(&[], |p| &p.lines)
    }

    /// The order's currency, once placed.
    pub fn currency(&self) -> Option<Currency> {
        self.placement.as_ref().map(|p| p.currency)
    }

    /// Subtotal, discount, tax, shipping and total, once placed.
    pub fn totals(&self) -> Option<&Totals> {
        self.placement.as_ref().map(|p| &p.totals)
    }

    /// What the customer pays, once placed.
    pub fn total(&self) -> Option<Money> {
        self.totals().map(|t| t.total)
    }

    /// Where to ship, once placed.
    pub fn shipping_address(&self) -> Option<&Address> {
        self.placement.as_ref().map(|p| &p.shipping_address)
    }

    /// Where to bill, once placed.
    pub fn billing_address(&self) -> Option<&Address> {
        self.placement.as_ref().map(|p| &p.billing_address)
    }

    /// The promotion code applied.
    pub fn promo_code(&self) -> Option<&PromoCode> {
        self.placement.as_ref()?.promo_code.as_ref()
    }

    /// The shipping method, once placed.
    pub fn shipping_method(&self) -> Option<&str> {
        self.placement.as_ref().map(|p| p.shipping_method.as_str())
    }

    /// The order's payment, once marked pending.
    pub fn payment_id(&self) -> Option<&PaymentId> {
        self.payment_id.as_ref()
    }

    fn money(&self, amount: i64) -> Option<Money> {
        self.currency().map(|c| Money::new(amount, c))
    }

    /// The amount captured, zero until then (`None` until placed).
    pub fn captured(&self) -> Option<Money> {
        self.money(self.captured.unwrap_or(0))
    }

    /// True once a capture is recorded.
    pub fn is_captured(&self) -> bool {
        self.captured.is_some()
    }

    /// All refunds together, zero until the first (`None` until placed).
    pub fn refunded(&self) -> Option<Money> {
        self.money(self.refunded)
    }

    /// What may still be refunded: captured minus refunded (`None` until placed).
    pub fn refundable(&self) -> Option<Money> {
        self.money(self.captured.unwrap_or(0).saturating_sub(self.refunded))
    }

    /// The amount of one refund.
    pub fn refund(&self, refund_id: &RefundId) -> Option<Money> {
        self.refunds
            .get(refund_id)
            .and_then(|r| self.money(r.amount))
    }

    /// How many refunds were recorded.
    pub fn refund_count(&self) -> usize {
        self.refunds.len()
    }

    /// Why the payment failed, once it did.
    pub fn failure_reason(&self) -> Option<&str> {
        self.failure_reason.as_deref()
    }

    /// Carrier and tracking number, once shipped.
    pub fn shipment(&self) -> Option<&Shipment> {
        self.shipment.as_ref()
    }

    /// Why the order was cancelled, once it was.
    pub fn cancel_reason(&self) -> Option<&CancelReason> {
        self.cancel_reason.as_ref()
    }

    /// Every status reached and when, oldest first.
    pub fn timeline(&self) -> &[StatusChange] {
        &self.timeline
    }

    fn reach(&mut self, status: OrderStatus, at: DateTime<Utc>) {
        self.status = status;
        self.timeline.push(StatusChange { status, at });
    }

    /// Folds one event. No rules.
    pub(super) fn apply(&mut self, event: &OrderEvent) {
        use OrderEvent as E;
        if self.order_id.is_none() {
            self.order_id = Some(event.order_id().clone());
        }
        match event {
            E::OrderPlaced {
                customer_id,
                cart_id,
                lines,
                currency,
                totals,
                shipping_address,
                billing_address,
                promo_code,
                shipping_method,
                at,
                ..
            } => {
                self.placement = Some(Placement {
                    customer_id: customer_id.clone(),
                    cart_id: cart_id.clone(),
                    lines: lines.clone(),
                    currency: *currency,
                    totals: *totals,
                    shipping_address: Address::clone(shipping_address),
                    billing_address: Address::clone(billing_address),
                    promo_code: promo_code.clone(),
                    shipping_method: shipping_method.clone(),
                });
                self.reach(OrderStatus::Placed, *at);
            }
            E::PaymentPending { payment_id, at, .. } => {
                self.payment_id = Some(payment_id.clone());
                self.reach(OrderStatus::PaymentPending, *at);
            }
            E::OrderConfirmed { payment_id, at, .. } => {
                if payment_id.is_some() {
                    self.payment_id.clone_from(payment_id);
                }
                self.reach(OrderStatus::Confirmed, *at);
            }
            E::PaymentCaptured { amount, .. } => self.captured = Some(amount.amount),
            E::PaymentFailed { reason, at, .. } => {
                self.failure_reason = Some(reason.clone());
                self.reach(OrderStatus::PaymentFailed, *at);
            }
            E::OrderShipped {
                carrier,
                tracking_number,
                at,
                ..
            } => {
                self.shipment = Some(Shipment {
                    carrier: carrier.clone(),
                    tracking_number: tracking_number.clone(),
                });
                self.reach(OrderStatus::Shipped, *at);
            }
            E::OrderDelivered { at, .. } => self.reach(OrderStatus::Delivered, *at),
            E::OrderCancelled { reason, at, .. } => {
                self.cancel_reason = Some(reason.clone());
                self.reach(OrderStatus::Cancelled, *at);
            }
            E::OrderRefunded {
                refund_id,
                amount,
                reason,
                ..
            } => {
                self.refunds.insert(
                    refund_id.clone(),
                    Refund {
                        amount: amount.amount,
                        reason: reason.clone(),
                    },
                );
                self.refunded = self.refunded.saturating_add(amount.amount);
            }
        }
    }
}
