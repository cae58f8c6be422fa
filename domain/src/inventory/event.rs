//! What the inventory records. Published events are never edited: add a `.v2` instead.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{OrderId, Sku, WarehouseId};

/// Units of a reservation or shipment taken from one warehouse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// The warehouse.
    pub warehouse: WarehouseId,
    /// Units from it (never zero).
    pub quantity: u32,
}

/// Why stock was adjusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AdjustmentReason {
    /// Units were damaged (removes stock).
    Damaged,
    /// Units were lost or stolen (removes stock).
    Lost,
    /// Units turned up (adds stock).
    Found,
    /// A stock count differed from the books (either way).
    CountCorrection,
    /// Anything else, explained (either way).
    Other {
        /// The explanation (1..=[`MAX_REASON_CHARS`](super::MAX_REASON_CHARS) characters).
        text: String,
    },
}

impl fmt::Display for AdjustmentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Damaged => f.write_str("damaged"),
            Self::Lost => f.write_str("lost"),
            Self::Found => f.write_str("found"),
            Self::CountCorrection => f.write_str("count correction"),
            Self::Other { text } => write!(f, "other ({text})"),
        }
    }
}

/// Why a reservation was released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    /// The order was cancelled.
    Cancelled,
    /// The order's payment failed.
    PaymentFailed,
    /// The hold lapsed.
    Expired,
}

impl fmt::Display for ReleaseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cancelled => "cancelled",
            Self::PaymentFailed => "payment failed",
            Self::Expired => "expired",
        })
    }
}

/// Where a released reservation's stock was: still reserved, or already committed to a sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStage {
    /// Reserved, not yet sold.
    Reserved,
    /// Sold, not yet shipped.
    Committed,
}

/// A fact about one SKU's stock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum InventoryEvent {
    /// Goods arrived: `available` and `on_hand` of the warehouse grew by `quantity`.
    #[serde(rename = "inventory.StockReceived.v1")]
    StockReceived {
        /// The SKU.
        sku: Sku,
        /// Where.
        warehouse: WarehouseId,
        /// How many.
        quantity: u32,
        /// The receipt note, if any.
        note: Option<String>,
    },
    /// Stock was corrected: `available` and `on_hand` of the warehouse changed by `delta`.
    #[serde(rename = "inventory.StockAdjusted.v1")]
    StockAdjusted {
        /// The SKU.
        sku: Sku,
        /// Where.
        warehouse: WarehouseId,
        /// The signed change.
        delta: i32,
        /// Why.
        reason: AdjustmentReason,
    },
    /// Stock was reserved for an order: each allocation moved from available to reserved in its
    /// warehouse; `backordered` units are promised without stock behind them yet.
    #[serde(rename = "inventory.StockReserved.v1")]
    StockReserved {
        /// The SKU.
        sku: Sku,
        /// The order (names the reservation).
        order_id: OrderId,
        /// Units reserved in all: the allocations plus `backordered`.
        quantity: u32,
        /// Units taken from each warehouse.
        allocations: Vec<Allocation>,
        /// Units promised beyond the stock (0 unless a backorder policy allowed it).
        backordered: u32,
        /// When the hold lapses.
        expires_at: DateTime<Utc>,
    },
    /// A reservation was given back: its allocations returned from `stage` (reserved or
    /// committed) to available, and its backordered units were dropped.
    #[serde(rename = "inventory.ReservationReleased.v1")]
    ReservationReleased {
        /// The SKU.
        sku: Sku,
        /// The order.
        order_id: OrderId,
        /// The reservation's quantity.
        quantity: u32,
        /// Units returned to each warehouse.
        allocations: Vec<Allocation>,
        /// Backordered units dropped.
        backordered: u32,
        /// Where the stock was.
        stage: ReservationStage,
        /// Why.
        reason: ReleaseReason,
    },
    /// A reservation became a sale: its allocations moved from reserved to committed.
    #[serde(rename = "inventory.ReservationCommitted.v1")]
    ReservationCommitted {
        /// The SKU.
        sku: Sku,
        /// The order.
        order_id: OrderId,
        /// The reservation's quantity.
        quantity: u32,
        /// Units committed in each warehouse.
        allocations: Vec<Allocation>,
        /// Units sold but still backordered.
        backordered: u32,
    },
    /// An order's stock left: `allocations` came off committed and on-hand stock, and the
    /// backordered part was taken from available stock per `backorder_allocations`.
    #[serde(rename = "inventory.StockShipped.v1")]
    StockShipped {
        /// The SKU.
        sku: Sku,
        /// The order.
        order_id: OrderId,
        /// Units shipped in all.
        quantity: u32,
        /// Committed units shipped from each warehouse.
        allocations: Vec<Allocation>,
        /// Formerly backordered units shipped from each warehouse's available stock.
        backorder_allocations: Vec<Allocation>,
    },
    /// Reservations may now exceed the sellable stock by up to `limit` outstanding units.
    #[serde(rename = "inventory.BackorderPolicySet.v1")]
    BackorderPolicySet {
        /// The SKU.
        sku: Sku,
        /// Most backordered units outstanding at once.
        limit: u32,
    },
    /// Backorders are no longer accepted (those already taken stay).
    #[serde(rename = "inventory.BackorderPolicyCleared.v1")]
    BackorderPolicyCleared {
        /// The SKU.
        sku: Sku,
    },
}

impl InventoryEvent {
    /// The SKU the event is about.
    pub fn sku(&self) -> &Sku {
        match self {
            Self::StockReceived { sku, .. }
            | Self::StockAdjusted { sku, .. }
            | Self::StockReserved { sku, .. }
            | Self::ReservationReleased { sku, .. }
            | Self::ReservationCommitted { sku, .. }
            | Self::StockShipped { sku, .. }
            | Self::BackorderPolicySet { sku, .. }
            | Self::BackorderPolicyCleared { sku } => sku,
        }
    }
}
