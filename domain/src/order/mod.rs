//! Order: what a customer bought and where it stands (`order-<id>`), from placement to delivery.
//! The checkout saga drives it; the order never talks to payments, stock or carriers itself, it
//! records what they did.
//!
//! State machine:
//!
//! ```text
//!                  +------ total zero: nothing to pay ------+
//!                  |                                        v
//! not_placed -> placed -> payment_pending -------------> confirmed -> shipped -> delivered
//!                | |           |       |                    |
//!                | +-----------|-------+-> payment_failed   |
//!                |             |                            |
//!                +-------------+----------------------------+-> cancelled
//! ```
//!
//! Money, besides the status: once confirmed, the payment's capture is recorded (while confirmed
//! or shipped), and refunds after it (while confirmed, shipped, delivered or cancelled).
//! `delivered`, `cancelled` and `payment_failed` are closed: nothing but a refund of captured
//! money happens after them.
//!
//! Rules:
//! - Placing: 1 to [`MAX_LINES`] lines, each SKU once, 1 to [`MAX_LINE_QUANTITY`] units a line, unit
//!   prices from 0 to [`MAX_UNIT_PRICE_MINOR`], every amount in the order's currency, each line's
//!   subtotal equal to unit price × quantity, the totals consistent (subtotal = sum of the line
//!   subtotals, discount ≤ subtotal, total = subtotal − discount + tax + shipping), valid shipping
//!   and billing addresses, a shipping method named.
//! - Paying: one payment per order. Marking the payment pending names it; confirming names the
//!   same payment (an order whose total is zero is confirmed without one, and has nothing to mark
//!   pending). A payment failure is recorded before confirmation only (placed or payment pending)
//!   and closes the order. A capture is recorded once, for the order's payment, positive and at
//!   most the total.
//! - Fulfilment: only a confirmed order ships (carrier and tracking number); only a shipped order
//!   is delivered.
//! - Cancelling: with a reason, while placed, payment pending or confirmed; never once shipped,
//!   delivered or failed. The event says whether the order was confirmed (stock to return) and
//!   what captured money is still to be refunded.
//! - Refunds: each has its own refund id; together they never exceed the captured amount, and
//!   there are at most [`MAX_REFUNDS`].
//!
//! Idempotency, so the saga may retry any step: a repeat whose effect is in place changes nothing
//! (the same placement, payment id, capture, failure reason, shipment, delivery, cancellation
//! reason, refund id with the same amount and reason); the same identity with different content is
//! refused. Every command names the order, and one for another order than the stream's is refused.
//!
//! [`MAX_LINES`]: crate::pricing::MAX_LINES
//! [`MAX_LINE_QUANTITY`]: crate::pricing::MAX_LINE_QUANTITY
//! [`MAX_UNIT_PRICE_MINOR`]: crate::pricing::MAX_UNIT_PRICE_MINOR

mod command;
mod decide;
mod error;
mod event;
mod fulfil;
mod line;
mod pay;
mod state;

#[cfg(test)]
mod tests;

use crate::{Aggregate, Context, OrderId};

pub use crate::payment::RefundId;
pub use command::OrderCommand;
pub use error::OrderRejection;
pub use event::{CancelReason, OrderEvent};
pub use line::OrderLine;
pub use state::{OrderState, OrderStatus, Shipment, StatusChange};

/// The longest shipping method name, in characters.
pub const MAX_SHIPPING_METHOD_CHARS: usize = 100;
/// The longest carrier name, in characters.
pub const MAX_CARRIER_CHARS: usize = 100;
/// The longest tracking number, in characters.
pub const MAX_TRACKING_CHARS: usize = 100;
/// The longest reason (payment failure, refund, administrator's cancellation note), in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// How many refunds one order may record.
pub const MAX_REFUNDS: usize = 50;

/// The order aggregate.
#[derive(Debug)]
pub struct Order;

impl Aggregate for Order {
    type Id = OrderId;
    const CATEGORY: &'static str = "order";
    const SNAPSHOT_VERSION: u32 = 1;

    type State = OrderState;
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Rejection = OrderRejection;

    fn evolve(state: &mut OrderState, event: &OrderEvent) {
        state.apply(event);
    }

    fn decide(
        state: &OrderState,
        command: &OrderCommand,
        ctx: &Context,
    ) -> Result<Vec<OrderEvent>, OrderRejection> {
        decide::decide(state, command, ctx)
    }
}
