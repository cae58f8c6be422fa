//! Inventory read model: stock per SKU and warehouse, and every reservation with its status and
//! expiry (what operators and the deadline scheduler look at).

use async_trait::async_trait;
use shop_domain::inventory::{Allocation, InventoryEvent, ReservationStage};
use shop_eventstore::RecordedEvent;

use super::{json, millis};
use crate::rows::{Rows, TableDef, TableRow, text};
use crate::runner::{ApplyError, Projection};
use crate::table;

table! {
    /// One warehouse's stock of one SKU. `on_hand = available + reserved + committed`.
    pub struct StockLevel in "inventory_levels" {
        key { sku: String, warehouse: String }
        fields { on_hand: i64, available: i64, reserved: i64, committed: i64, updated_at: i64 }
        indexes [["warehouse"]]
    }
}

table! {
    /// A reservation of one SKU for one order.
    pub struct ReservationRow in "inventory_reservations" {
        key { order_id: String, sku: String }
        fields {
            quantity: i64,
            backordered: i64,
            /// `reserved`, `committed`, `shipped` or `released`.
            status: String,
            expires_at: i64,
            /// JSON: `[{"warehouse", "quantity"}]`.
            allocations: String,
            release_reason: Option<String>,
            updated_at: i64,
        }
        indexes [["status", "expires_at"], ["sku"]]
    }
}

/// The inventory projection.
#[derive(Debug, Clone, Copy)]
pub struct InventoryModel;

impl InventoryModel {
    async fn level(
        rows: &mut Rows<'_>,
        sku: &str,
        warehouse: &str,
    ) -> Result<StockLevel, ApplyError> {
        Ok(rows
            .get::<StockLevel>(vec![text(sku), text(warehouse)])
            .await?
            .unwrap_or(StockLevel {
                sku: sku.to_owned(),
                warehouse: warehouse.to_owned(),
                on_hand: 0,
                available: 0,
                reserved: 0,
                committed: 0,
                updated_at: 0,
            }))
    }

    /// Applies `f` to the level of each allocation's warehouse.
    async fn each(
        rows: &mut Rows<'_>,
        sku: &str,
        allocations: &[Allocation],
        at: i64,
        f: impl Fn(&mut StockLevel, i64),
    ) -> Result<(), ApplyError> {
        for a in allocations {
            let mut level = Self::level(rows, sku, a.warehouse.as_str()).await?;
            f(&mut level, i64::from(a.quantity));
            level.updated_at = at;
            rows.put(level);
        }
        Ok(())
    }

    async fn reservation(
        rows: &mut Rows<'_>,
        order_id: &str,
        sku: &str,
    ) -> Result<Option<ReservationRow>, ApplyError> {
        Ok(rows
            .get::<ReservationRow>(vec![text(order_id), text(sku)])
            .await?)
    }
}

#[async_trait]
impl Projection for InventoryModel {
    fn name(&self) -> &'static str {
        "inventory"
    }

    fn rebuild_weight(&self) -> u32 {
        3
    }

    fn tables(&self) -> &'static [&'static TableDef] {
        &[StockLevel::TABLE, ReservationRow::TABLE]
    }

    fn categories(&self) -> &'static [&'static str] {
        &["inventory"]
    }

    async fn apply(&self, event: &RecordedEvent, rows: &mut Rows<'_>) -> Result<(), ApplyError> {
        let at = millis(event.metadata.occurred_at);
        let decoded = rows.decode::<InventoryEvent>(event)?;
        match &*decoded {
            InventoryEvent::StockReceived {
                sku,
                warehouse,
                quantity,
                ..
            } => {
                let mut level = Self::level(rows, sku.as_str(), warehouse.as_str()).await?;
                level.on_hand += i64::from(*quantity);
                level.available += i64::from(*quantity);
                level.updated_at = at;
                rows.put(level);
            }
            InventoryEvent::StockAdjusted {
                sku,
                warehouse,
                delta,
                ..
            } => {
                let mut level = Self::level(rows, sku.as_str(), warehouse.as_str()).await?;
                level.on_hand += i64::from(*delta);
                level.available += i64::from(*delta);
                level.updated_at = at;
                rows.put(level);
            }
            InventoryEvent::StockReserved {
                sku,
                order_id,
                quantity,
                allocations,
                backordered,
                expires_at,
            } => {
                Self::each(rows, sku.as_str(), allocations, at, |l, q| {
                    l.available -= q;
                    l.reserved += q;
                })
                .await?;
                rows.put(ReservationRow {
                    order_id: order_id.to_string(),
                    sku: sku.to_string(),
                    quantity: i64::from(*quantity),
                    backordered: i64::from(*backordered),
                    status: "reserved".into(),
                    expires_at: millis(*expires_at),
                    allocations: json(allocations),
                    release_reason: None,
                    updated_at: at,
                });
            }
            InventoryEvent::ReservationReleased {
                sku,
                order_id,
                allocations,
                stage,
                reason,
                ..
            } => {
                Self::each(rows, sku.as_str(), allocations, at, |l, q| {
                    match *stage {
                        ReservationStage::Reserved => l.reserved -= q,
                        ReservationStage::Committed => l.committed -= q,
                    }
                    l.available += q;
                })
                .await?;
                if let Some(mut r) =
                    Self::reservation(rows, order_id.as_str(), sku.as_str()).await?
                {
                    r.status = "released".into();
                    r.release_reason = Some(reason.to_string());
                    r.updated_at = at;
                    rows.put(r);
                }
            }
            InventoryEvent::ReservationCommitted {
                sku,
                order_id,
                allocations,
                ..
            } => {
                Self::each(rows, sku.as_str(), allocations, at, |l, q| {
                    l.reserved -= q;
                    l.committed += q;
                })
                .await?;
                if let Some(mut r) =
                    Self::reservation(rows, order_id.as_str(), sku.as_str()).await?
                {
                    r.status = "committed".into();
                    r.updated_at = at;
                    rows.put(r);
                }
            }
            InventoryEvent::StockShipped {
                sku,
                order_id,
                allocations,
                backorder_allocations,
                ..
            } => {
                Self::each(rows, sku.as_str(), allocations, at, |l, q| {
                    l.committed -= q;
                    l.on_hand -= q;
                })
                .await?;
                Self::each(rows, sku.as_str(), backorder_allocations, at, |l, q| {
                    l.available -= q;
                    l.on_hand -= q;
                })
                .await?;
                if let Some(mut r) =
                    Self::reservation(rows, order_id.as_str(), sku.as_str()).await?
                {
                    r.status = "shipped".into();
                    r.backordered = 0;
                    r.updated_at = at;
                    rows.put(r);
                }
            }
            InventoryEvent::BackorderPolicySet { .. }
            | InventoryEvent::BackorderPolicyCleared { .. } => {}
        }
        Ok(())
    }
}
