//! The folded state of one SKU: running per-warehouse counters and one small entry per order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allocation, InventoryEvent, ReleaseReason, ReservationStage};
use crate::{OrderId, Sku, WarehouseId};

/// One warehouse's stock of the SKU. Invariant: `on_hand = available + reserved + committed`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    /// Physically present (not yet shipped).
    pub on_hand: u64,
    /// Free to reserve.
    pub available: u64,
    /// Held by open reservations.
    pub reserved: u64,
    /// Sold, not yet shipped.
    pub committed: u64,
}

/// Where a reservation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Holding stock until `expires_at`.
    Reserved {
        /// When the hold lapses.
        expires_at: DateTime<Utc>,
    },
    /// Sold, waiting to ship.
    Committed,
    /// Given back.
    Released {
        /// Why.
        reason: ReleaseReason,
    },
    /// Shipped.
    Shipped,
}

impl ReservationStatus {
    /// Still holding stock (reserved or committed).
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Reserved { .. } | Self::Committed)
    }
}

/// A reservation as the state knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The order it belongs to.
    pub order_id: OrderId,
    /// Units asked for.
    pub quantity: u32,
    /// Units of `quantity` promised without stock behind them (zero once closed).
    pub backordered: u32,
    /// Where it stands.
    pub status: ReservationStatus,
    /// Units held per warehouse while open; empty once released or shipped.
    pub allocations: Vec<Allocation>,
}

/// A warehouse and its counters. Warehouses are kept in first-seen order and never removed, so a
/// position (slot) names a warehouse for good: reservations store slots, not ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Warehouse {
    id: WarehouseId,
    level: StockLevel,
}

/// Units held in one warehouse: (slot, quantity). A tuple keeps a million-entry snapshot small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Held(u32, u32);

/// The stored form of a reservation. A closed one keeps only what idempotency needs (quantity
/// and status): its held allocations are dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Entry {
    pub(super) quantity: u32,
    pub(super) backordered: u32,
    pub(super) status: ReservationStatus,
    #[serde(default, skip_serializing_if = "<[Held]>::is_empty")]
    held: Box<[Held]>,
}

/// Stock and reservations of one SKU.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InventoryState {
    sku: Option<Sku>,
    warehouses: Vec<Warehouse>,
    reservations: HashMap<OrderId, Entry>,
    /// Outstanding backordered units over all open reservations.
    backordered: u64,
    backorder_limit: Option<u32>,
}

impl InventoryState {
    /// The SKU, once anything happened to it.
    pub fn sku(&self) -> Option<&Sku> {
        self.sku.as_ref()
    }

    fn total(&self, f: impl Fn(&StockLevel) -> u64) -> u64 {
        self.warehouses
            .iter()
            .fold(0u64, |sum, w| sum.saturating_add(f(&w.level)))
    }

    /// Units free to reserve, over all warehouses (including those earmarked for backorders).
    pub fn available(&self) -> u64 {
        self.total(|l| l.available)
    }

    /// Units physically present, over all warehouses.
    pub fn on_hand(&self) -> u64 {
        self.total(|l| l.on_hand)
    }

    /// Units held by open reservations, over all warehouses.
    pub fn reserved(&self) -> u64 {
        self.total(|l| l.reserved)
    }

    /// Units sold and not yet shipped, over all warehouses.
    pub fn committed(&self) -> u64 {
        self.total(|l| l.committed)
    }

    /// Units promised to open reservations without stock behind them.
    pub fn backordered(&self) -> u64 {
        self.backordered
    }

    /// Units a new reservation may take from stock: available minus what backorders wait for.
    pub fn sellable(&self) -> u64 {
        self.available().saturating_sub(self.backordered)
    }

    /// The backorder limit, when backorders are allowed.
    pub fn backorder_limit(&self) -> Option<u32> {
        self.backorder_limit
    }

    /// One warehouse's counters (all zero for a warehouse never stocked).
    pub fn level(&self, warehouse: &WarehouseId) -> StockLevel {
        self.slot(warehouse)
            .map(|s| self.warehouses[s].level)
            .unwrap_or_default()
    }

    /// Every warehouse that ever held the SKU, in first-stocked order.
    pub fn levels(&self) -> impl Iterator<Item = (&WarehouseId, &StockLevel)> {
        self.warehouses.iter().map(|w| (&w.id, &w.level))
    }

    /// The reservation of `order_id`, open or closed.
    pub fn reservation(&self, order_id: &OrderId) -> Option<Reservation> {
        self.reservations
            .get(order_id)
            .map(|e| self.view(order_id, e))
    }

    /// Every reservation ever made, in no particular order.
    pub fn reservations(&self) -> impl Iterator<Item = Reservation> + '_ {
        self.reservations.iter().map(|(id, e)| self.view(id, e))
    }

    fn view(&self, order_id: &OrderId, entry: &Entry) -> Reservation {
        Reservation {
            order_id: order_id.clone(),
            quantity: entry.quantity,
            backordered: entry.backordered,
            status: entry.status,
            allocations: self.allocations(entry),
        }
    }

    pub(super) fn entry(&self, order_id: &OrderId) -> Option<&Entry> {
        self.reservations.get(order_id)
    }

    /// The warehouses and units an entry holds.
    pub(super) fn allocations(&self, entry: &Entry) -> Vec<Allocation> {
        entry
            .held
            .iter()
            .filter_map(|&Held(slot, quantity)| {
                let w = self.warehouses.get(slot as usize)?;
                Some(Allocation {
                    warehouse: w.id.clone(),
                    quantity,
                })
            })
            .collect()
    }

    pub(super) fn knows_warehouse(&self, warehouse: &WarehouseId) -> bool {
        self.slot(warehouse).is_some()
    }

    pub(super) fn warehouse_count(&self) -> usize {
        self.warehouses.len()
    }

    fn slot(&self, warehouse: &WarehouseId) -> Option<usize> {
        self.warehouses.iter().position(|w| &w.id == warehouse)
    }

    fn level_mut(&mut self, warehouse: &WarehouseId) -> (usize, &mut StockLevel) {
        let slot = match self.slot(warehouse) {
            Some(slot) => slot,
            None => {
                self.warehouses.push(Warehouse {
                    id: warehouse.clone(),
                    level: StockLevel::default(),
                });
                self.warehouses.len() - 1
            }
        };
        (slot, &mut self.warehouses[slot].level)
    }

    /// Applies `change` to the level of every allocation; returns what the entry should hold.
    fn each(
        &mut self,
        allocations: &[Allocation],
        change: impl Fn(&mut StockLevel, u64),
    ) -> Box<[Held]> {
        allocations
            .iter()
            .map(|a| {
                let (slot, level) = self.level_mut(&a.warehouse);
                change(level, u64::from(a.quantity));
                Held(u32::try_from(slot).unwrap_or(u32::MAX), a.quantity)
            })
            .collect()
    }

    fn close(&mut self, order_id: &OrderId, quantity: u32, status: ReservationStatus) {
        let entry = self.reservations.entry(order_id.clone()).or_insert(Entry {
            quantity,
            backordered: 0,
            status,
            held: Box::default(),
        });
        entry.status = status;
        entry.backordered = 0;
        entry.held = Box::default();
    }

    /// Folds one event. No rules: counters saturate rather than fail (decide keeps them exact).
    pub(super) fn apply(&mut self, event: &InventoryEvent) {
        if self.sku.is_none() {
            self.sku = Some(event.sku().clone());
        }
        match event {
            InventoryEvent::StockReceived {
                warehouse,
                quantity,
                ..
            } => {
                let (_, l) = self.level_mut(warehouse);
                l.on_hand = l.on_hand.saturating_add(u64::from(*quantity));
                l.available = l.available.saturating_add(u64::from(*quantity));
            }
            InventoryEvent::StockAdjusted {
                warehouse, delta, ..
            } => {
                let (_, l) = self.level_mut(warehouse);
                let d = u64::from(delta.unsigned_abs());
                if *delta >= 0 {
                    l.on_hand = l.on_hand.saturating_add(d);
                    l.available = l.available.saturating_add(d);
                } else {
                    l.on_hand = l.on_hand.saturating_sub(d);
                    l.available = l.available.saturating_sub(d);
                }
            }
            InventoryEvent::StockReserved {
                order_id,
                quantity,
                allocations,
                backordered,
                expires_at,
                ..
            } => {
                let held = self.each(allocations, |l, q| {
                    l.available = l.available.saturating_sub(q);
                    l.reserved = l.reserved.saturating_add(q);
                });
                self.backordered = self.backordered.saturating_add(u64::from(*backordered));
                self.reservations.insert(
                    order_id.clone(),
                    Entry {
                        quantity: *quantity,
                        backordered: *backordered,
                        status: ReservationStatus::Reserved {
                            expires_at: *expires_at,
                        },
                        held,
                    },
                );
            }
            InventoryEvent::ReservationCommitted {
                order_id,
                allocations,
                ..
            } => {
                let held = self.each(allocations, |l, q| {
                    l.reserved = l.reserved.saturating_sub(q);
                    l.committed = l.committed.saturating_add(q);
                });
                if let Some(entry) = self.reservations.get_mut(order_id) {
                    entry.status = ReservationStatus::Committed;
                    entry.held = held;
                }
            }
            InventoryEvent::ReservationReleased {
                order_id,
                quantity,
                allocations,
                backordered,
                stage,
                reason,
                ..
            } => {
                let stage = *stage;
                self.each(allocations, |l, q| {
                    match stage {
                        ReservationStage::Reserved => l.reserved = l.reserved.saturating_sub(q),
                        ReservationStage::Committed => l.committed = l.committed.saturating_sub(q),
                    }
                    l.available = l.available.saturating_add(q);
                });
                self.backordered = self.backordered.saturating_sub(u64::from(*backordered));
                let status = ReservationStatus::Released { reason: *reason };
                self.close(order_id, *quantity, status);
            }
            InventoryEvent::StockShipped {
                order_id,
                quantity,
                allocations,
                backorder_allocations,
                ..
            } => {
                self.each(allocations, |l, q| {
                    l.committed = l.committed.saturating_sub(q);
                    l.on_hand = l.on_hand.saturating_sub(q);
                });
                self.each(backorder_allocations, |l, q| {
                    l.available = l.available.saturating_sub(q);
                    l.on_hand = l.on_hand.saturating_sub(q);
                });
                let filled = backorder_allocations
                    .iter()
                    .fold(0u64, |s, a| s.saturating_add(u64::from(a.quantity)));
                self.backordered = self.backordered.saturating_sub(filled);
                self.close(order_id, *quantity, ReservationStatus::Shipped);
            }
            InventoryEvent::BackorderPolicySet { limit, .. } => {
                self.backorder_limit = Some(*limit);
            }
            InventoryEvent::BackorderPolicyCleared { .. } => self.backorder_limit = None,
        }
    }
}
