//! Given/when/then for every inventory rule: shared helpers here, one file per area.

mod backorders;
mod lifecycle;
mod reserve;
mod stock;

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::testing::{given, t0};
use crate::{OrderId, Sku, WarehouseId};

use InventoryCommand as C;
use InventoryEvent as E;
use InventoryRejection as R;

fn sku() -> Sku {
    Sku::new("TSHIRT-RED-M").unwrap()
}
fn wh(id: &str) -> WarehouseId {
    WarehouseId::new(id).unwrap()
}
fn order(id: &str) -> OrderId {
    OrderId::new(id).unwrap()
}
fn at(minutes: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(minutes)
}
fn allocs(list: &[(&str, u32)]) -> Vec<Allocation> {
    list.iter()
        .map(|(w, q)| Allocation {
            warehouse: wh(w),
            quantity: *q,
        })
        .collect()
}

fn received(w: &str, quantity: u32) -> E {
    E::StockReceived {
        sku: sku(),
        warehouse: wh(w),
        quantity,
        note: None,
    }
}
fn reserved(o: &str, quantity: u32, from: &[(&str, u32)], backordered: u32) -> E {
    E::StockReserved {
        sku: sku(),
        order_id: order(o),
        quantity,
        allocations: allocs(from),
        backordered,
        expires_at: at(15),
    }
}
fn committed(o: &str, quantity: u32, from: &[(&str, u32)], backordered: u32) -> E {
    E::ReservationCommitted {
        sku: sku(),
        order_id: order(o),
        quantity,
        allocations: allocs(from),
        backordered,
    }
}
fn released(o: &str, quantity: u32, from: &[(&str, u32)], reason: ReleaseReason) -> E {
    E::ReservationReleased {
        sku: sku(),
        order_id: order(o),
        quantity,
        allocations: allocs(from),
        backordered: 0,
        stage: ReservationStage::Reserved,
        reason,
    }
}
fn shipped(o: &str, quantity: u32, from: &[(&str, u32)]) -> E {
    E::StockShipped {
        sku: sku(),
        order_id: order(o),
        quantity,
        allocations: allocs(from),
        backorder_allocations: vec![],
    }
}
fn policy(limit: u32) -> E {
    E::BackorderPolicySet { sku: sku(), limit }
}

fn receive(w: &str, quantity: u32) -> C {
    C::ReceiveStock {
        sku: sku(),
        warehouse: wh(w),
        quantity,
        note: None,
    }
}
fn adjust(w: &str, delta: i32, reason: AdjustmentReason) -> C {
    C::AdjustStock {
        sku: sku(),
        warehouse: wh(w),
        delta,
        reason,
    }
}
fn reserve(o: &str, quantity: u32) -> C {
    C::ReserveStock {
        sku: sku(),
        order_id: order(o),
        quantity,
        expires_at: None,
    }
}
fn release(o: &str, reason: ReleaseReason) -> C {
    C::ReleaseReservation {
        sku: sku(),
        order_id: order(o),
        reason,
    }
}
fn commit(o: &str) -> C {
    C::CommitReservation {
        sku: sku(),
        order_id: order(o),
    }
}
fn ship(o: &str) -> C {
    C::ShipStock {
        sku: sku(),
        order_id: order(o),
    }
}
fn level(on_hand: u64, available: u64, reserved: u64, committed: u64) -> StockLevel {
    StockLevel {
        on_hand,
        available,
        reserved,
        committed,
    }
}

// ---- state -----------------------------------------------------------------------------------

#[test]
fn the_state_survives_a_snapshot_round_trip() {
    let history = [
        received("A", 5),
        received("B", 5),
        policy(3),
        reserved("o1", 7, &[("A", 5), ("B", 2)], 0),
        reserved("o2", 4, &[("B", 3)], 1),
        committed("o2", 4, &[("B", 3)], 1),
        reserved("o3", 1, &[], 1),
        released("o3", 1, &[], ReleaseReason::Expired),
    ];
    let state = Inventory::fold(&history);
    let json = serde_json::to_string(&state).unwrap();
    let back: InventoryState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
    assert_eq!(back.reservation(&order("o2")).unwrap().backordered, 1);
}

#[test]
fn a_flash_sale_folds_in_linear_time() {
    // 200k reservations on one SKU: quadratic folding would not finish.
    let n = 200_000u32;
    let mut state = InventoryState::default();
    Inventory::evolve(&mut state, &received("A", n));
    Inventory::evolve(&mut state, &received("B", n));
    for i in 0..n {
        let w = if i % 2 == 0 { "A" } else { "B" };
        let event = reserved(&format!("o{i}"), 1, &[(w, 1)], 0);
        Inventory::evolve(&mut state, &event);
        if i % 4 == 0 {
            let event = released(&format!("o{i}"), 1, &[(w, 1)], ReleaseReason::Expired);
            Inventory::evolve(&mut state, &event);
        }
    }
    assert_eq!(state.reserved(), u64::from(n - n / 4));
    assert_eq!(state.available(), u64::from(n + n / 4));
    let ctx = crate::Context::at(t0());
    let decision = Inventory::decide(&state, &reserve("o1", 1), &ctx);
    assert_eq!(decision, Ok(vec![]));
}
