//! The cart (`cart-<id>`): what a shopper intends to buy, before it becomes an order.
//!
//! A cart belongs either to a guest, reached through an unguessable token, or to a customer. The
//! cart never sees the raw token: the API hashes it (e.g. SHA-256, hex) and the cart stores and
//! records only what the API gives it. Lines keep the order in which SKUs were first added and the
//! unit price captured from the catalog when the line was last added or repriced (the command
//! carries it; the cart never looks prices up). Limits: 1 to 999 units per line, at most 100
//! lines, every price in the cart's currency. Adding a SKU already in the cart adds to its quantity
//! and moves the line to the price in the command; a quantity of 0 is refused (use `RemoveItem`).
//! One promotion code at a time (applying another replaces it; whether it is valid is the
//! promotion's business, checked at checkout).
//!
//! On sign-in a guest cart is merged into the customer's cart: the customer cart records
//! `GuestCartMerged` (quantities of the same SKU summed and capped at 999 — capping rather than
//! refusing, so a sign-in never fails over a quantity, and the event lists every capped line —
//! every line repriced to the current price given in the command, and each price change listed),
//! and the guest cart is closed with `MergedIntoCart` by a separate command on its own stream.
//! Too many distinct SKUs (over 100) is refused. Carts expire after 7 days (guest) or 30 days
//! (customer) without a change; every event carries `at`, the time of the change. A checked-out,
//! merged or expired cart accepts no changes. Repeats whose effect is in place (same creation,
//! same quantity, removing an absent item, re-applying the same code, re-merging the same guest
//! cart, checking out again with the same order) change nothing.

mod command;
mod decide;
mod error;
mod event;
mod merge;
mod state;
#[cfg(test)]
mod tests;

pub use command::CartCommand;
pub use error::CartRejection;
pub use event::{CartEvent, PriceChange, QuantityCapped};
pub use state::{CartLine, CartOwner, CartState, CartStatus};

use chrono::TimeDelta;

use crate::{Aggregate, CartId, Context};

/// A guest cart expires after this long without a change.
pub const GUEST_CART_TTL: TimeDelta = TimeDelta::days(7);
/// A customer cart expires after this long without a change.
pub const CUSTOMER_CART_TTL: TimeDelta = TimeDelta::days(30);
/// Shortest accepted guest token hash.
pub const MIN_TOKEN_HASH_LEN: usize = 32;
/// Longest accepted guest token hash.
pub const MAX_TOKEN_HASH_LEN: usize = 128;

/// The cart aggregate.
#[derive(Debug)]
pub struct Cart;

impl Aggregate for Cart {
    type Id = CartId;
    const CATEGORY: &'static str = "cart";
    const SNAPSHOT_VERSION: u32 = 1;
    type State = CartState;
    type Command = CartCommand;
    type Event = CartEvent;
    type Rejection = CartRejection;

    fn evolve(state: &mut CartState, event: &CartEvent) {
        state.apply(event);
    }

    fn decide(
        state: &CartState,
        command: &CartCommand,
        ctx: &Context,
    ) -> Result<Vec<CartEvent>, CartRejection> {
        decide::decide(state, command, ctx)
    }
}
