//! Inventory: the stock of one SKU across warehouses (`inventory-<sku>`), and the reservations
//! orders hold on it.
//!
//! **Levels.** Each warehouse keeps four running counters with the invariant
//! `on_hand = available + reserved + committed` (all non-negative): stock is received or adjusted
//! into `available`, a reservation moves it to `reserved`, committing a sale moves it to
//! `committed` (sold, not yet shipped), and shipping takes it off `on_hand`. An adjustment may
//! never take a warehouse's `available` below zero; stock held for orders is never adjusted away.
//!
//! **Reservations** are named by the [`OrderId`](crate::OrderId) and are all-or-nothing for the
//! requested quantity. They hold until `expires_at` (default: now +
//! [`DEFAULT_RESERVATION_HOLD`]); a release with reason `expired` is refused before that moment.
//! Lifecycle: reserved -> committed -> shipped, or reserved/committed -> released (a committed
//! reservation is released only when the order is cancelled). Repeats are idempotent: reserving
//! again with the same quantity, committing a committed reservation, shipping a shipped one or
//! releasing a released one changes nothing; a repeat with another quantity, or reviving a
//! released reservation, is refused. Closed reservations keep only their quantity and status.
//!
//! **Warehouse choice.** A reservation takes stock greedily from the warehouses in descending
//! order of available stock, ties broken by ascending warehouse id. So when the warehouse with the
//! most stock can cover the whole quantity the reservation comes from that one warehouse only;
//! otherwise it is split, largest first. The split is recorded in `StockReserved` and every later
//! event of the reservation returns or ships stock from exactly those warehouses.
//!
//! **Backorders** (off by default; see `SetBackorderPolicy`): when allowed, a reservation may ask
//! for more than is free; the part not covered by stock is recorded as `backordered` and counted
//! against the SKU's backorder limit (outstanding backordered units over all open reservations).
//! Backordered units are demand, not stock: they belong to no warehouse and are outside the
//! per-warehouse invariant. Instead, for every open reservation `quantity = sum(allocations) +
//! backordered`, and the SKU-wide `backordered()` is the sum over open reservations. Incoming stock
//! is earmarked for backorders first: new reservations may only take the `sellable()` stock
//! (`available - backordered`). The backordered part is drawn from available stock when the order
//! ships (same warehouse choice rule); shipping is refused while too little has arrived.
//!
//! Evolve is O(#warehouses) per event, independent of the stream's length, and `decide` for a
//! reservation is O(#warehouses · log #warehouses): a flash sale may put a million reservations on
//! one SKU.

mod command;
mod decide;
mod error;
mod event;
mod state;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use chrono::TimeDelta;

use crate::{Aggregate, Context, Sku};

pub use command::InventoryCommand;
pub use error::InventoryRejection;
pub use event::{AdjustmentReason, Allocation, InventoryEvent, ReleaseReason, ReservationStage};
pub use state::{InventoryState, Reservation, ReservationStatus, StockLevel};

/// How long a reservation holds when the command gives no `expires_at`.
pub const DEFAULT_RESERVATION_HOLD: TimeDelta = TimeDelta::minutes(15);
/// The longest a reservation may hold (a later `expires_at` is refused).
pub const MAX_RESERVATION_HOLD: TimeDelta = TimeDelta::days(30);
/// The largest quantity (or adjustment, in absolute value) one command may move.
pub const MAX_QUANTITY: u32 = 1_000_000;
/// The largest backorder limit a policy may set.
pub const MAX_BACKORDER_LIMIT: u32 = 10_000_000;
/// The most warehouses one SKU may be stocked in.
pub const MAX_WAREHOUSES: usize = 1_000;
/// The longest receipt note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;
/// The longest free-text adjustment reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;

/// The inventory aggregate: stock levels and reservations of one SKU.
#[derive(Debug)]
pub struct Inventory;

impl Aggregate for Inventory {
    type Id = Sku;
    const CATEGORY: &'static str = "inventory";
    const SNAPSHOT_VERSION: u32 = 1;

    type State = InventoryState;
    type Command = InventoryCommand;
    type Event = InventoryEvent;
    type Rejection = InventoryRejection;

    fn evolve(state: &mut InventoryState, event: &InventoryEvent) {
        state.apply(event);
    }

    fn decide(
        state: &InventoryState,
        command: &InventoryCommand,
        ctx: &Context,
    ) -> Result<Vec<InventoryEvent>, InventoryRejection> {
        decide::decide(state, command, ctx)
    }
}
