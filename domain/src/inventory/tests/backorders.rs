//! The backorder policy and backordered reservations.

use super::*;

// ---- backorders ------------------------------------------------------------------------------

#[test]
fn the_backorder_policy_is_set_and_cleared_idempotently() {
    let state = given::<Inventory>([])
        .when(C::SetBackorderPolicy {
            sku: sku(),
            limit: 10,
        })
        .then([policy(10)]);
    assert_eq!(state.backorder_limit(), Some(10));
    given::<Inventory>([policy(10)])
        .when(C::SetBackorderPolicy {
            sku: sku(),
            limit: 10,
        })
        .then_nothing();
    given::<Inventory>([policy(10)])
        .when(C::SetBackorderPolicy {
            sku: sku(),
            limit: 20,
        })
        .then([policy(20)]);
    let state = given::<Inventory>([policy(10)])
        .when(C::ClearBackorderPolicy { sku: sku() })
        .then([E::BackorderPolicyCleared { sku: sku() }]);
    assert_eq!(state.backorder_limit(), None);
    given::<Inventory>([])
        .when(C::ClearBackorderPolicy { sku: sku() })
        .then_nothing();
    for limit in [0, MAX_BACKORDER_LIMIT + 1] {
        given::<Inventory>([])
            .when(C::SetBackorderPolicy { sku: sku(), limit })
            .then_reject(R::InvalidBackorderLimit {
                limit,
                max: MAX_BACKORDER_LIMIT,
            });
    }
}

#[test]
fn with_backorders_a_reservation_takes_the_stock_and_backorders_the_rest() {
    let state = given::<Inventory>([received("A", 3), policy(10)])
        .when(reserve("o1", 5))
        .then([reserved("o1", 5, &[("A", 3)], 2)]);
    assert_eq!(state.backordered(), 2);
    assert_eq!(state.level(&wh("A")), level(3, 0, 3, 0));
    assert_eq!(state.reservation(&order("o1")).unwrap().backordered, 2);
    // Fully backordered, with no stock at all.
    given::<Inventory>([policy(10)])
        .when(reserve("o1", 4))
        .then([reserved("o1", 4, &[], 4)]);
}

#[test]
fn backorders_stay_within_the_limit() {
    let history = [
        received("A", 3),
        policy(5),
        reserved("o1", 7, &[("A", 3)], 4),
    ];
    let rejection = given::<Inventory>(history.clone())
        .when(reserve("o2", 2))
        .then_rejected();
    assert_eq!(
        rejection,
        R::BackorderLimitExceeded {
            sku: sku(),
            requested: 2,
            available: 0,
            headroom: 1
        }
    );
    assert_eq!(
        rejection.to_string(),
        "only 0 of SKU TSHIRT-RED-M available and 1 more may be backordered, 2 requested"
    );
    given::<Inventory>(history)
        .when(reserve("o2", 1))
        .then([reserved("o2", 1, &[], 1)]);
}

#[test]
fn without_a_policy_nothing_is_backordered() {
    let history = [
        received("A", 3),
        policy(5),
        E::BackorderPolicyCleared { sku: sku() },
    ];
    given::<Inventory>(history)
        .when(reserve("o1", 4))
        .then_reject(R::InsufficientStock {
            sku: sku(),
            requested: 4,
            available: 3,
        });
}

#[test]
fn arriving_stock_is_earmarked_for_backorders_first() {
    // o1 waits for 4 units; 5 arrive: only 1 is sellable to others.
    let history = [policy(10), reserved("o1", 4, &[], 4), received("A", 5)];
    let state = Inventory::fold(&history);
    assert_eq!((state.available(), state.sellable()), (5, 1));
    let mut cleared = history.to_vec();
    cleared.push(E::BackorderPolicyCleared { sku: sku() });
    given::<Inventory>(cleared)
        .when(reserve("o2", 2))
        .then_reject(R::InsufficientStock {
            sku: sku(),
            requested: 2,
            available: 1,
        });
}

#[test]
fn releasing_a_backordered_reservation_drops_its_backorder() {
    let history = [
        received("A", 1),
        policy(10),
        reserved("o1", 3, &[("A", 1)], 2),
    ];
    let state = given::<Inventory>(history)
        .when(release("o1", ReleaseReason::Cancelled))
        .then([E::ReservationReleased {
            sku: sku(),
            order_id: order("o1"),
            quantity: 3,
            allocations: allocs(&[("A", 1)]),
            backordered: 2,
            stage: ReservationStage::Reserved,
            reason: ReleaseReason::Cancelled,
        }]);
    assert_eq!((state.backordered(), state.available()), (0, 1));
}

#[test]
fn backordered_units_ship_once_stock_arrives() {
    let sold = vec![
        received("A", 1),
        policy(10),
        reserved("o1", 3, &[("A", 1)], 2),
        committed("o1", 3, &[("A", 1)], 2),
    ];
    given::<Inventory>(sold.clone())
        .when(ship("o1"))
        .then_reject(R::BackorderNotInStock {
            sku: sku(),
            order_id: order("o1"),
            backordered: 2,
            available: 0,
        });
    let mut arrived = sold;
    arrived.extend([received("B", 1), received("C", 4)]);
    let state = given::<Inventory>(arrived)
        .when(ship("o1"))
        .then([E::StockShipped {
            sku: sku(),
            order_id: order("o1"),
            quantity: 3,
            allocations: allocs(&[("A", 1)]),
            backorder_allocations: allocs(&[("C", 2)]),
        }]);
    assert_eq!(state.backordered(), 0);
    assert_eq!(state.level(&wh("A")), level(0, 0, 0, 0));
    assert_eq!(state.level(&wh("C")), level(2, 2, 0, 0));
    assert_eq!(state.on_hand(), 3);
}
