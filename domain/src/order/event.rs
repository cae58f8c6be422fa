//! What an order records. Every event carries the order id and `at`, the time of the change, so
//! a read model can build the order's timeline without the envelope. Published events are never
//! edited: add a `.v2` instead.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{OrderLine, OrderStatus, RefundId};
use crate::pricing::Totals;
use crate::{Address, CartId, Currency, CustomerId, Money, OrderId, PaymentId, PromoCode, Sku};

/// Why an order was cancelled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CancelReason {
    /// Stock could not be reserved for these SKUs (each on the order, at least one).
    OutOfStock {
        /// The SKUs short of stock.
        skus: Vec<Sku>,
    },
    /// The customer asked.
    CustomerRequest,
    /// The order was not paid or confirmed in time.
    Expired,
    /// An administrator cancelled it.
    Admin {
        /// Why, in their words (1 to 500 characters).
        note: String,
    },
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfStock { skus } => {
                f.write_str("out of stock:")?;
                for (i, sku) in skus.iter().enumerate() {
                    write!(f, "{}{sku}", if i == 0 { " " } else { ", " })?;
                }
                Ok(())
            }
            Self::CustomerRequest => f.write_str("customer request"),
            Self::Expired => f.write_str("expired"),
            Self::Admin { note } => write!(f, "admin: {note}"),
        }
    }
}

/// A fact about one order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum OrderEvent {
    /// The order was placed.
    #[serde(rename = "order.OrderPlaced.v1")]
    OrderPlaced {
        /// The order.
        order_id: OrderId,
        /// The customer; absent for a guest.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer_id: Option<CustomerId>,
        /// The cart it came from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cart_id: Option<CartId>,
        /// What was bought.
        lines: Vec<OrderLine>,
        /// The order's currency.
        currency: Currency,
        /// Subtotal, discount, tax, shipping and total.
        totals: Totals,
        /// Where to ship.
        shipping_address: Box<Address>,
        /// Where to bill.
        billing_address: Box<Address>,
        /// The promotion code applied.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        promo_code: Option<PromoCode>,
        /// The shipping method.
        shipping_method: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The payment was asked to authorize the total.
    #[serde(rename = "order.PaymentPending.v1")]
    PaymentPending {
        /// The order.
        order_id: OrderId,
        /// The payment.
        payment_id: PaymentId,
        /// The amount to authorize: the order's total.
        amount: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// Stock is reserved and the payment authorized (or nothing was to be paid).
    #[serde(rename = "order.OrderConfirmed.v1")]
    OrderConfirmed {
        /// The order.
        order_id: OrderId,
        /// The authorized payment; absent for an order whose total is zero.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<PaymentId>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The payment captured money.
    #[serde(rename = "order.PaymentCaptured.v1")]
    PaymentCaptured {
        /// The order.
        order_id: OrderId,
        /// The payment.
        payment_id: PaymentId,
        /// The amount captured.
        amount: Money,
        /// The order's total.
        total: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// The order could not be paid; it is closed.
    #[serde(rename = "order.PaymentFailed.v1")]
    PaymentFailed {
        /// The order.
        order_id: OrderId,
        /// The payment that failed, when one was pending.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<PaymentId>,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The order left the warehouse.
    #[serde(rename = "order.OrderShipped.v1")]
    OrderShipped {
        /// The order.
        order_id: OrderId,
        /// Who carries it.
        carrier: String,
        /// The carrier's tracking number.
        tracking_number: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The order reached the customer.
    #[serde(rename = "order.OrderDelivered.v1")]
    OrderDelivered {
        /// The order.
        order_id: OrderId,
        /// When.
        at: DateTime<Utc>,
    },
    /// The order was cancelled before shipping.
    #[serde(rename = "order.OrderCancelled.v1")]
    OrderCancelled {
        /// The order.
        order_id: OrderId,
        /// Why.
        reason: CancelReason,
        /// Where the order stood (placed, payment pending or confirmed).
        from: OrderStatus,
        /// True when it was confirmed: its stock was taken for it and must be returned.
        was_confirmed: bool,
        /// Its payment, to void or refund, if one was named.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<PaymentId>,
        /// Captured money not yet refunded: what the customer is owed (zero when nothing was
        /// captured).
        refund_due: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// Part or all of the captured money was refunded.
    #[serde(rename = "order.OrderRefunded.v1")]
    OrderRefunded {
        /// The order.
        order_id: OrderId,
        /// This refund's id.
        refund_id: RefundId,
        /// The payment refunded.
        payment_id: PaymentId,
        /// This refund's amount.
        amount: Money,
        /// Why.
        reason: String,
        /// All refunds so far, this one included.
        total_refunded: Money,
        /// The captured amount.
        captured: Money,
        /// When.
        at: DateTime<Utc>,
    },
}

impl OrderEvent {
    /// The order the event is about.
    pub fn order_id(&self) -> &OrderId {
        match self {
            Self::OrderPlaced { order_id, .. }
            | Self::PaymentPending { order_id, .. }
            | Self::OrderConfirmed { order_id, .. }
            | Self::PaymentCaptured { order_id, .. }
            | Self::PaymentFailed { order_id, .. }
            | Self::OrderShipped { order_id, .. }
            | Self::OrderDelivered { order_id, .. }
            | Self::OrderCancelled { order_id, .. }
            | Self::OrderRefunded { order_id, .. } => order_id,
        }
    }

    /// When the change happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::OrderPlaced { at, .. }
            | Self::PaymentPending { at, .. }
            | Self::OrderConfirmed { at, .. }
            | Self::PaymentCaptured { at, .. }
            | Self::PaymentFailed { at, .. }
            | Self::OrderShipped { at, .. }
            | Self::OrderDelivered { at, .. }
            | Self::OrderCancelled { at, .. }
            | Self::OrderRefunded { at, .. } => *at,
        }
    }
}
