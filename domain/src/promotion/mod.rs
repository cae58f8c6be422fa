//! Promotion: one discount code (`promotion-<code>`) and the record of its use.
//!
//! A promotion is created with a [`Discount`](crate::Discount) (a percentage in basis points or a
//! fixed amount), an optional minimum subtotal, a validity window `[valid_from, valid_until)`, and
//! optional total and per-customer usage limits. It can be deactivated for good (with a reason);
//! there is no reactivation: create a new code instead.
//!
//! Only redemption is decided here: the cart shows a code's effect by reading the promotion read
//! model, and the checkout redeems it for an order. A redemption is refused when the promotion is
//! inactive, outside its window (at `ctx.now`), the subtotal is not positive, in another currency
//! than the promotion's (a fixed amount's or minimum's currency; a plain percentage applies to any
//! currency), below the minimum, or a limit is reached; otherwise it records the discount amount
//! ([`Discount::amount_off`](crate::Discount::amount_off)). Limits count redemptions in use:
//! releasing one (order cancelled, payment failed) gives the use back to the total and to the
//! customer. Redeeming again for the same order is a no-op; an order whose redemption was
//! released cannot redeem again (so a late duplicate redeem cannot silently consume a use no one
//! will release). Releasing an unknown or already released redemption is a no-op.
//!
//! Guests: a promotion without a per-customer limit is open to guest checkouts (they count
//! against the total limit only). A promotion with a per-customer limit refuses guests, because a
//! limit nobody can be counted against would be no limit; a shop that wants guests to use such
//! codes passes a stable guest identity (e.g. derived from the e-mail address) as the customer.

mod command;
mod decide;
mod error;
mod event;
mod state;
#[cfg(test)]
mod tests;

pub use command::PromotionCommand;
pub use decide::{MAX_AMOUNT_MINOR, MAX_REASON_CHARS};
pub use error::PromotionRejection;
pub use event::PromotionEvent;
pub use state::{PromotionState, PromotionTerms, Redemption};

use crate::{Aggregate, Context, PromoCode};

/// The promotion aggregate.
#[derive(Clone, Copy, Debug, Default)]
pub struct Promotion;

impl Aggregate for Promotion {
    type Id = PromoCode;
    const CATEGORY: &'static str = "promotion";
    const SNAPSHOT_VERSION: u32 = 1;

    type State = PromotionState;
    type Command = PromotionCommand;
    type Event = PromotionEvent;
    type Rejection = PromotionRejection;

    fn evolve(state: &mut PromotionState, event: &PromotionEvent) {
        state.apply(event);
    }

    fn decide(
        state: &PromotionState,
        command: &PromotionCommand,
        ctx: &Context,
    ) -> Result<Vec<PromotionEvent>, PromotionRejection> {
        decide::decide(state, command, ctx)
    }
}
