//! The invariant checker: folds every SKU's stock from the inventory events on its own, and after
//! each event checks `on_hand = available + reserved + committed` and `available ≥ 0` for the
//! warehouses it touched. A violation is recorded with the offending event. It should never fire:
//! the inventory aggregate refuses anything that would break the invariant, so a row here means a
//! bug in the aggregate, an event written by something else, or a broken upcaster.

use async_trait::async_trait;
use shop_domain::inventory::{Allocation, InventoryEvent, ReservationStage};
use shop_eventstore::RecordedEvent;

use super::millis;
use crate::rows::{Rows, TableDef, TableRow, text};
use crate::runner::{ApplyError, Projection};
use crate::table;

table! {
    /// The checker's own fold of one warehouse's stock.
    pub struct CheckedLevel in "invariant_levels" {
        key { sku: String, warehouse: String }
        fields { on_hand: i64, available: i64, reserved: i64, committed: i64 }
        indexes []
    }
}

table! {
    /// A broken invariant, with the event that broke it.
    pub struct Violation in "invariant_violations" {
        key { commit_pos: i64, prepare_pos: i64, warehouse: String }
        fields {
            sku: String,
            event_type: String,
            event_id: String,
            detail: String,
            at: i64,
        }
        indexes [["sku"]]
    }
}

/// The invariant checker projection.
#[derive(Debug, Clone, Copy)]
pub struct InvariantChecker;

/// Signed changes to a level: (on_hand, available, reserved, committed).
type Delta = (i64, i64, i64, i64);

fn deltas(event: &InventoryEvent) -> Vec<(String, Delta)> {
    let each = |allocations: &[Allocation], f: &dyn Fn(i64) -> Delta| {
        allocations
            .iter()
            .map(|a| (a.warehouse.to_string(), f(i64::from(a.quantity))))
            .collect::<Vec<_>>()
    };
    match event {
        InventoryEvent::StockReceived {
            warehouse,
            quantity,
            ..
        } => {
            let q = i64::from(*quantity);
            vec![(warehouse.to_string(), (q, q, 0, 0))]
        }
        InventoryEvent::StockAdjusted {
            warehouse, delta, ..
        } => {
            let d = i64::from(*delta);
            vec![(warehouse.to_string(), (d, d, 0, 0))]
        }
        InventoryEvent::StockReserved { allocations, .. } => each(allocations, &|q| (0, -q, q, 0)),
        InventoryEvent::ReservationReleased {
            allocations, stage, ..
        } => match stage {
            ReservationStage::Reserved => each(allocations, &|q| (0, q, -q, 0)),
            ReservationStage::Committed => each(allocations, &|q| (0, q, 0, -q)),
        },
        InventoryEvent::ReservationCommitted { allocations, .. } => {
            each(allocations, &|q| (0, 0, -q, q))
        }
        InventoryEvent::StockShipped {
            allocations,
            backorder_allocations,
            ..
        } => {
            let mut out = each(allocations, &|q| (-q, 0, 0, -q));
            out.extend(each(backorder_allocations, &|q| (-q, -q, 0, 0)));
            out
        }
        InventoryEvent::BackorderPolicySet { .. }
        | InventoryEvent::BackorderPolicyCleared { .. } => {
            vec![]
        }
    }
}

#[async_trait]
impl Projection for InvariantChecker {
    fn name(&self) -> &'static str {
        "invariants"
    }

    fn tables(&self) -> &'static [&'static TableDef] {
        &[CheckedLevel::TABLE, Violation::TABLE]
    }

    fn categories(&self) -> &'static [&'static str] {
        &["inventory"]
    }

    async fn apply(&self, event: &RecordedEvent, rows: &mut Rows<'_>) -> Result<(), ApplyError> {
        let decoded = rows.decode::<InventoryEvent>(event)?;
        let sku = decoded.sku().to_string();
        for (warehouse, (h, a, r, c)) in deltas(&decoded) {
            let mut level = rows
                .get::<CheckedLevel>(vec![text(&sku), text(&warehouse)])
                .await?
                .unwrap_or(CheckedLevel {
                    sku: sku.clone(),
                    warehouse: warehouse.clone(),
                    on_hand: 0,
                    available: 0,
                    reserved: 0,
                    committed: 0,
                });
            level.on_hand += h;
            level.available += a;
            level.reserved += r;
            level.committed += c;
            let balanced = level.on_hand == level.available + level.reserved + level.committed;
            let non_negative = level.available >= 0 && level.reserved >= 0 && level.committed >= 0;
            let counts = (
                level.on_hand,
                level.available,
                level.reserved,
                level.committed,
            );
            rows.put(level);
            if !balanced || !non_negative {
                rows.put(Violation {
                    commit_pos: event.position.commit() as i64,
                    prepare_pos: event.position.prepare() as i64,
                    warehouse: warehouse.clone(),
                    sku: sku.clone(),
                    event_type: event.event_type.clone(),
                    event_id: event.event_id.to_string(),
                    detail: format!(
                        "on_hand {} vs available {} + reserved {} + committed {}",
                        counts.0, counts.1, counts.2, counts.3
                    ),
                    at: millis(event.metadata.occurred_at),
                });
            }
        }
        Ok(())
    }
}
