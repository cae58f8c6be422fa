//! Payment: one attempt to get paid for an order (`payment-<id>`), as recorded from the payment
//! gateway. The domain never calls the gateway; the command side does and records what happened.
//!
//! State machine:
//!
//! ```text
//! new -> authorization_requested -> authorized -> captured -> partially_refunded -> refunded
//!                     |      ^          |
//!                     |      |          +-> voided
//!                     |      +-- declined (a new attempt, with a new idempotency key)
//!                     +-> outcome_unknown -> authorized | declined (reconciliation)
//! ```
//!
//! Rules: an authorization attempt is identified by its idempotency key, and the gateway results
//! recorded for it (authorized, declined, outcome unknown) must name that key, so a late answer to
//! an old attempt cannot land on a new one. While an attempt is in flight or its outcome is
//! unknown (a gateway timeout), no new attempt is accepted: the unknown outcome must first be
//! reconciled by recording the gateway's real answer. After a decline a new attempt may start
//! (same order and currency), at most [`MAX_AUTHORIZATION_ATTEMPTS`] in all. The gateway may
//! authorize less than requested, never more. A capture takes at most the authorized amount (it
//! may be partial) and happens once; a void is only possible before any capture; refunds each
//! carry their own refund id and together never exceed the captured amount. All amounts must be in
//! the payment's currency.
//!
//! Idempotency: recording the same gateway result again (the same authorization reference and
//! amount, the same decline, the same capture or void reference, the same refund id and amount,
//! the same authorization request) changes nothing; the same identity with different content is
//! refused.

mod command;
mod decide;
mod error;
mod event;
mod refund_id;
mod settle;
mod state;

#[cfg(test)]
mod tests;

use crate::{Aggregate, Context, PaymentId};

pub use command::PaymentCommand;
pub use error::PaymentRejection;
pub use event::PaymentEvent;
pub use refund_id::RefundId;
pub use state::{PaymentState, PaymentStatus};

/// The largest amount, in minor units, any payment command may carry.
pub const MAX_AMOUNT_MINOR_UNITS: i64 = 100_000_000_000;
/// How many authorization attempts one payment may make.
pub const MAX_AUTHORIZATION_ATTEMPTS: u32 = 10;
/// The longest payment-method token, in characters.
pub const MAX_TOKEN_CHARS: usize = 200;
/// The longest idempotency key, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 100;
/// The longest gateway reference, in characters.
pub const MAX_REFERENCE_CHARS: usize = 100;
/// The longest decline code, in characters.
pub const MAX_CODE_CHARS: usize = 64;
/// The longest decline message or timeout detail, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// The payment aggregate.
#[derive(Debug)]
pub struct Payment;

impl Aggregate for Payment {
    type Id = PaymentId;
    const CATEGORY: &'static str = "payment";
    const SNAPSHOT_VERSION: u32 = 1;

    type State = PaymentState;
    type Command = PaymentCommand;
    type Event = PaymentEvent;
    type Rejection = PaymentRejection;

    fn evolve(state: &mut PaymentState, event: &PaymentEvent) {
        state.apply(event);
    }

    fn decide(
        state: &PaymentState,
        command: &PaymentCommand,
        ctx: &Context,
    ) -> Result<Vec<PaymentEvent>, PaymentRejection> {
        decide::decide(state, command, ctx)
    }
}
