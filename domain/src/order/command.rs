//! What can be asked of an order: placing it, then recording what payment, stock and shipping did.

use serde::{Deserialize, Serialize};

use super::{CancelReason, OrderLine, RefundId};
use crate::pricing::Totals;
use crate::{Address, CartId, Currency, CustomerId, Money, OrderId, PaymentId, PromoCode};

/// A command for one order. Every command names the order so the events it records are
/// self-describing; a command for another order than the stream's is refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OrderCommand {
    /// Places the order (usually from a checked-out cart). Placing it again with the same details
    /// changes nothing.
    PlaceOrder {
        /// The order.
        order_id: OrderId,
        /// The customer; `None` for a guest.
        customer_id: Option<CustomerId>,
        /// The cart it came from, if any.
        cart_id: Option<CartId>,
        /// What was bought: 1..=100 lines, each SKU once.
        lines: Vec<OrderLine>,
        /// The order's currency: every amount is in it.
        currency: Currency,
        /// Subtotal, discount, tax, shipping and total, as quoted.
        totals: Totals,
        /// Where to ship.
        shipping_address: Box<Address>,
        /// Where to bill.
        billing_address: Box<Address>,
        /// The promotion code applied, if any.
        promo_code: Option<PromoCode>,
        /// The shipping method chosen (e.g. `standard`).
        shipping_method: String,
    },
    /// Records that the order's payment was asked to authorize the total.
    MarkPaymentPending {
        /// The order.
        order_id: OrderId,
        /// The payment paying for it.
        payment_id: PaymentId,
    },
    /// Confirms the order: stock is reserved and the payment authorized. Names the pending
    /// payment; `None` only for an order whose total is zero.
    ConfirmOrder {
        /// The order.
        order_id: OrderId,
        /// The authorized payment (the one marked pending).
        payment_id: Option<PaymentId>,
    },
    /// Records that the payment captured money (once).
    RecordPaymentCaptured {
        /// The order.
        order_id: OrderId,
        /// The order's payment.
        payment_id: PaymentId,
        /// How much: positive, at most the order's total.
        amount: Money,
    },
    /// Records that the order could not be paid (declined, given up); closes the order.
    MarkPaymentFailed {
        /// The order.
        order_id: OrderId,
        /// Why, for the customer and support.
        reason: String,
    },
    /// Records that the order left the warehouse.
    ShipOrder {
        /// The order.
        order_id: OrderId,
        /// Who carries it.
        carrier: String,
        /// The carrier's tracking number.
        tracking_number: String,
    },
    /// Records that the order reached the customer.
    DeliverOrder {
        /// The order.
        order_id: OrderId,
    },
    /// Cancels the order before it ships.
    CancelOrder {
        /// The order.
        order_id: OrderId,
        /// Why.
        reason: CancelReason,
    },
    /// Records a refund of (part of) the captured money.
    RefundOrder {
        /// The order.
        order_id: OrderId,
        /// Names this refund (the payment's refund uses the same id); a repeat with the same
        /// amount and reason is recorded once.
        refund_id: RefundId,
        /// How much: positive; all refunds together at most the captured amount.
        amount: Money,
        /// Why, for the customer and support.
        reason: String,
    },
}

impl OrderCommand {
    /// The order the command is for.
    pub fn order_id(&self) -> &OrderId {
        match self {
            Self::PlaceOrder { order_id, .. }
            | Self::MarkPaymentPending { order_id, .. }
            | Self::ConfirmOrder { order_id, .. }
            | Self::RecordPaymentCaptured { order_id, .. }
            | Self::MarkPaymentFailed { order_id, .. }
            | Self::ShipOrder { order_id, .. }
            | Self::DeliverOrder { order_id }
            | Self::CancelOrder { order_id, .. }
            | Self::RefundOrder { order_id, .. } => order_id,
        }
    }
}
