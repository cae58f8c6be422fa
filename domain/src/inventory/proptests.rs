//! Property tests: random command sequences over three warehouses keep the stock invariants.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use proptest::prelude::*;

use super::*;
use crate::testing::{given, t0};
use crate::{OrderId, Sku, WarehouseId};

const WAREHOUSES: [&str; 3] = ["A", "B", "C"];

#[derive(Clone, Debug)]
enum Step {
    Receive(usize, u32),
    Adjust(usize, i32, u8),
    Reserve(usize, u32, Option<i64>),
    Release(usize, ReleaseReason),
    Commit(usize),
    Ship(usize),
    SetPolicy(u32),
    ClearPolicy,
}

fn step() -> impl Strategy<Value = Step> {
    let wh = 0..WAREHOUSES.len();
    let ord = 0usize..5;
    let reason = prop_oneof![
        Just(ReleaseReason::Cancelled),
        Just(ReleaseReason::PaymentFailed),
        Just(ReleaseReason::Expired),
    ];
    prop_oneof![
        3 => (wh.clone(), 0u32..15).prop_map(|(w, q)| Step::Receive(w, q)),
        2 => (wh, -8i32..8, 0u8..5).prop_map(|(w, d, r)| Step::Adjust(w, d, r)),
        4 => (ord.clone(), 0u32..12, proptest::option::of(-5i64..40))
            .prop_map(|(o, q, e)| Step::Reserve(o, q, e)),
        2 => (ord.clone(), reason).prop_map(|(o, r)| Step::Release(o, r)),
        3 => ord.clone().prop_map(Step::Commit),
        3 => ord.prop_map(Step::Ship),
        2 => (0u32..8).prop_map(Step::SetPolicy),
        1 => Just(Step::ClearPolicy),
    ]
}

fn sku() -> Sku {
    Sku::new("SKU-1").unwrap()
}
fn wh(i: usize) -> WarehouseId {
    WarehouseId::new(WAREHOUSES[i]).unwrap()
}
fn order(i: usize) -> OrderId {
    OrderId::new(format!("o{i}")).unwrap()
}

fn command(step: &Step, now: chrono::DateTime<chrono::Utc>) -> InventoryCommand {
    use InventoryCommand as C;
    match step.clone() {
        Step::Receive(w, quantity) => C::ReceiveStock {
            sku: sku(),
            warehouse: wh(w),
            quantity,
            note: None,
        },
        Step::Adjust(w, delta, r) => C::AdjustStock {
            sku: sku(),
            warehouse: wh(w),
            delta,
            reason: match r {
                0 => AdjustmentReason::Damaged,
                1 => AdjustmentReason::Lost,
                2 => AdjustmentReason::Found,
                3 => AdjustmentReason::CountCorrection,
                _ => AdjustmentReason::Other {
                    text: "audit".into(),
                },
            },
        },
        Step::Reserve(o, quantity, expiry) => C::ReserveStock {
            sku: sku(),
            order_id: order(o),
            quantity,
            expires_at: expiry.map(|m| now + TimeDelta::minutes(m)),
        },
        Step::Release(o, reason) => C::ReleaseReservation {
            sku: sku(),
            order_id: order(o),
            reason,
        },
        Step::Commit(o) => C::CommitReservation {
            sku: sku(),
            order_id: order(o),
        },
        Step::Ship(o) => C::ShipStock {
            sku: sku(),
            order_id: order(o),
        },
        Step::SetPolicy(limit) => C::SetBackorderPolicy { sku: sku(), limit },
        Step::ClearPolicy => C::ClearBackorderPolicy { sku: sku() },
    }
}

/// An independent ledger of the accepted events, in signed arithmetic, so a counter that the
/// state would saturate at zero shows up as a negative here.
#[derive(Default)]
struct Ledger {
    received: i64,
    adjusted: i64,
    shipped: i64,
    levels: BTreeMap<String, [i64; 4]>, // on_hand, available, reserved, committed
}

impl Ledger {
    fn add(&mut self, w: &WarehouseId, delta: [i64; 4]) {
        let level = self.levels.entry(w.to_string()).or_default();
        for (l, d) in level.iter_mut().zip(delta) {
            *l += d;
        }
    }

    fn record(&mut self, event: &InventoryEvent) {
        use InventoryEvent as E;
        match event {
            E::StockReceived {
                warehouse,
                quantity,
                ..
            } => {
                let q = i64::from(*quantity);
                self.received += q;
                self.add(warehouse, [q, q, 0, 0]);
            }
            E::StockAdjusted {
                warehouse, delta, ..
            } => {
                let d = i64::from(*delta);
                self.adjusted += d;
                self.add(warehouse, [d, d, 0, 0]);
            }
            E::StockReserved { allocations, .. } => {
                for a in allocations {
                    let q = i64::from(a.quantity);
                    self.add(&a.warehouse, [0, -q, q, 0]);
                }
            }
            E::ReservationCommitted { allocations, .. } => {
                for a in allocations {
                    let q = i64::from(a.quantity);
                    self.add(&a.warehouse, [0, 0, -q, q]);
                }
            }
            E::ReservationReleased {
                allocations, stage, ..
            } => {
                for a in allocations {
                    let q = i64::from(a.quantity);
                    match stage {
                        ReservationStage::Reserved => self.add(&a.warehouse, [0, q, -q, 0]),
                        ReservationStage::Committed => self.add(&a.warehouse, [0, q, 0, -q]),
                    }
                }
            }
            E::StockShipped {
                allocations,
                backorder_allocations,
                quantity,
                ..
            } => {
                self.shipped += i64::from(*quantity);
                for a in allocations {
                    let q = i64::from(a.quantity);
                    self.add(&a.warehouse, [-q, 0, 0, -q]);
                }
                for a in backorder_allocations {
                    let q = i64::from(a.quantity);
                    self.add(&a.warehouse, [-q, -q, 0, 0]);
                }
            }
            E::BackorderPolicySet { .. } | E::BackorderPolicyCleared { .. } => {}
        }
    }
}

fn check(state: &InventoryState, ledger: &Ledger) -> Result<(), TestCaseError> {
    // Per warehouse: the invariant, and agreement with the signed ledger (nothing went negative).
    for (id, level) in state.levels() {
        prop_assert_eq!(
            level.on_hand,
            level.available + level.reserved + level.committed,
            "invariant broken in {}",
            id
        );
        let [on_hand, available, reserved, committed] = ledger.levels[id.as_str()];
        prop_assert!(on_hand >= 0 && available >= 0 && reserved >= 0 && committed >= 0);
        prop_assert_eq!(
            [
                level.on_hand,
                level.available,
                level.reserved,
                level.committed
            ],
            [on_hand, available, reserved, committed].map(|v| v as u64)
        );
    }
    // Conservation: what came in is either still on hand or shipped.
    prop_assert_eq!(
        ledger.received + ledger.adjusted,
        state.on_hand() as i64 + ledger.shipped
    );
    // Open reservations account for every reserved, committed and backordered unit.
    let mut held: BTreeMap<(String, bool), u64> = BTreeMap::new();
    let mut backordered = 0u64;
    for r in state.reservations() {
        if !r.status.is_open() {
            prop_assert!(r.allocations.is_empty() && r.backordered == 0);
            continue;
        }
        let allocated: u32 = r.allocations.iter().map(|a| a.quantity).sum();
        prop_assert_eq!(r.quantity, allocated + r.backordered);
        backordered += u64::from(r.backordered);
        let is_committed = r.status == ReservationStatus::Committed;
        for a in &r.allocations {
            *held
                .entry((a.warehouse.to_string(), is_committed))
                .or_default() += u64::from(a.quantity);
        }
    }
    prop_assert_eq!(state.backordered(), backordered);
    for (id, level) in state.levels() {
        let get = |c| held.get(&(id.to_string(), c)).copied().unwrap_or(0);
        prop_assert_eq!(level.reserved, get(false));
        prop_assert_eq!(level.committed, get(true));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_inventory_histories_keep_the_invariants(
        steps in proptest::collection::vec((step(), 0i64..20), 1..80)
    ) {
        let mut now = t0();
        let mut history: Vec<InventoryEvent> = Vec::new();
        let mut state = InventoryState::default();
        let mut ledger = Ledger::default();
        for (step, minutes) in &steps {
            now += TimeDelta::minutes(*minutes);
            let outcome = given::<Inventory>(history.clone())
                .at(now)
                .when(command(step, now))
                .outcome();
            let Ok(events) = outcome else { continue };
            for event in &events {
                Inventory::evolve(&mut state, event);
                ledger.record(event);
            }
            history.extend(events);
            check(&state, &ledger)?;
        }
        // Folding from scratch and a snapshot round trip give the same state.
        prop_assert_eq!(&Inventory::fold(&history), &state);
        let json = serde_json::to_string(&state).unwrap();
        prop_assert_eq!(&serde_json::from_str::<InventoryState>(&json).unwrap(), &state);
    }
}
