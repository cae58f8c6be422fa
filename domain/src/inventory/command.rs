//! What can be asked of a SKU's inventory.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AdjustmentReason, ReleaseReason};
use crate::{OrderId, Sku, WarehouseId};

/// A command for the inventory of one SKU. Every command names the SKU so the events it records
/// are self-describing; a command for another SKU than the stream's is refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum InventoryCommand {
    /// Adds received goods to a warehouse's available stock.
    ReceiveStock {
        /// The SKU.
        sku: Sku,
        /// Where the goods arrived.
        warehouse: WarehouseId,
        /// How many (1..=[`MAX_QUANTITY`](super::MAX_QUANTITY)).
        quantity: u32,
        /// Free text, e.g. a delivery note number (at most
        /// [`MAX_NOTE_CHARS`](super::MAX_NOTE_CHARS)).
        note: Option<String>,
    },
    /// Corrects a warehouse's available stock (damage, loss, a count).
    AdjustStock {
        /// The SKU.
        sku: Sku,
        /// The warehouse.
        warehouse: WarehouseId,
        /// Signed change, non-zero, at most [`MAX_QUANTITY`](super::MAX_QUANTITY) either way.
        delta: i32,
        /// Why. `damaged` and `lost` only remove stock, `found` only adds it.
        reason: AdjustmentReason,
    },
    /// Reserves stock for an order, all or nothing.
    ReserveStock {
        /// The SKU.
        sku: Sku,
        /// The order; it names the reservation.
        order_id: OrderId,
        /// How many (1..=[`MAX_QUANTITY`](super::MAX_QUANTITY)).
        quantity: u32,
        /// When the hold lapses; default now + [`DEFAULT_RESERVATION_HOLD`](super::DEFAULT_RESERVATION_HOLD).
        expires_at: Option<DateTime<Utc>>,
    },
    /// Gives a reservation's stock back.
    ReleaseReservation {
        /// The SKU.
        sku: Sku,
        /// The order whose reservation is released.
        order_id: OrderId,
        /// Why; `expired` only once the hold has lapsed, and only `cancelled` for a committed one.
        reason: ReleaseReason,
    },
    /// Turns a reservation into a sale: reserved stock becomes committed (sold, not shipped).
    CommitReservation {
        /// The SKU.
        sku: Sku,
        /// The order.
        order_id: OrderId,
    },
    /// Ships an order's committed stock (and its backordered part, from stock that has arrived).
    ShipStock {
        /// The SKU.
        sku: Sku,
        /// The order.
        order_id: OrderId,
    },
    /// Allows reservations beyond the sellable stock, up to `limit` outstanding backordered units.
    SetBackorderPolicy {
        /// The SKU.
        sku: Sku,
        /// 1..=[`MAX_BACKORDER_LIMIT`](super::MAX_BACKORDER_LIMIT).
        limit: u32,
    },
    /// Stops accepting backorders (those already taken stay).
    ClearBackorderPolicy {
        /// The SKU.
        sku: Sku,
    },
}

impl InventoryCommand {
    /// The SKU the command is for.
    pub fn sku(&self) -> &Sku {
        match self {
            Self::ReceiveStock { sku, .. }
            | Self::AdjustStock { sku, .. }
            | Self::ReserveStock { sku, .. }
            | Self::ReleaseReservation { sku, .. }
            | Self::CommitReservation { sku, .. }
            | Self::ShipStock { sku, .. }
            | Self::SetBackorderPolicy { sku, .. }
            | Self::ClearBackorderPolicy { sku } => sku,
        }
    }
}
