//! Reserving stock: warehouse choice, expiry, idempotency.

use super::*;

// ---- reserving -------------------------------------------------------------------------------

#[test]
fn a_reservation_comes_from_the_one_warehouse_with_most_stock() {
    // B and C tie at 8: B wins by id.
    let history = [received("A", 5), received("C", 8), received("B", 8)];
    let state = given::<Inventory>(history)
        .when(reserve("o1", 6))
        .then([reserved("o1", 6, &[("B", 6)], 0)]);
    assert_eq!(state.level(&wh("B")), level(8, 2, 6, 0));
    assert_eq!((state.available(), state.reserved()), (15, 6));
    let reservation = state.reservation(&order("o1")).unwrap();
    assert_eq!(reservation.allocations, allocs(&[("B", 6)]));
    assert_eq!(
        reservation.status,
        ReservationStatus::Reserved { expires_at: at(15) }
    );
}

#[test]
fn a_reservation_no_warehouse_covers_is_split_largest_first() {
    let history = [received("A", 5), received("B", 3), received("C", 4)];
    given::<Inventory>(history)
        .when(reserve("o1", 10))
        .then([reserved("o1", 10, &[("A", 5), ("C", 4), ("B", 1)], 0)]);
    // Ties in a split are broken by id too.
    given::<Inventory>([received("B", 3), received("A", 3)])
        .when(reserve("o1", 4))
        .then([reserved("o1", 4, &[("A", 3), ("B", 1)], 0)]);
}

#[test]
fn reservations_hold_for_fifteen_minutes_unless_told_otherwise() {
    assert_eq!(DEFAULT_RESERVATION_HOLD, TimeDelta::minutes(15));
    given::<Inventory>([received("A", 5)])
        .at(at(60))
        .when(reserve("o1", 1))
        .then([E::StockReserved {
            sku: sku(),
            order_id: order("o1"),
            quantity: 1,
            allocations: allocs(&[("A", 1)]),
            backordered: 0,
            expires_at: at(75),
        }]);
    given::<Inventory>([received("A", 5)])
        .when(C::ReserveStock {
            sku: sku(),
            order_id: order("o1"),
            quantity: 1,
            expires_at: Some(at(30)),
        })
        .then([E::StockReserved {
            sku: sku(),
            order_id: order("o1"),
            quantity: 1,
            allocations: allocs(&[("A", 1)]),
            backordered: 0,
            expires_at: at(30),
        }]);
}

#[test]
fn expiry_must_be_in_the_future_and_within_thirty_days() {
    for expires_at in [
        at(0),
        at(-1),
        t0() + MAX_RESERVATION_HOLD + TimeDelta::seconds(1),
    ] {
        given::<Inventory>([received("A", 5)])
            .when(C::ReserveStock {
                sku: sku(),
                order_id: order("o1"),
                quantity: 1,
                expires_at: Some(expires_at),
            })
            .then_reject(R::InvalidExpiry {
                expires_at,
                now: t0(),
                max_days: 30,
            });
    }
}

#[test]
fn reservations_are_all_or_nothing() {
    let rejection = given::<Inventory>([received("A", 2), received("B", 1)])
        .when(reserve("o1", 5))
        .then_rejected();
    assert_eq!(
        rejection,
        R::InsufficientStock {
            sku: sku(),
            requested: 5,
            available: 3
        }
    );
    assert_eq!(
        rejection.to_string(),
        "only 3 of SKU TSHIRT-RED-M available, 5 requested"
    );
}

#[test]
fn reservation_quantities_are_bounded() {
    for quantity in [0, MAX_QUANTITY + 1] {
        given::<Inventory>([received("A", 5)])
            .when(reserve("o1", quantity))
            .then_reject(R::InvalidQuantity {
                quantity: i64::from(quantity),
                max: MAX_QUANTITY,
            });
    }
}

#[test]
fn reserving_again_for_the_same_order_is_idempotent() {
    let history = vec![received("A", 5), reserved("o1", 2, &[("A", 2)], 0)];
    given::<Inventory>(history.clone())
        .when(reserve("o1", 2))
        .then_nothing();
    given::<Inventory>(history.clone())
        .when(reserve("o1", 3))
        .then_reject(R::ReservationConflict {
            order_id: order("o1"),
            reserved: 2,
            requested: 3,
        });
    let mut sold = history.clone();
    sold.push(committed("o1", 2, &[("A", 2)], 0));
    given::<Inventory>(sold.clone())
        .when(reserve("o1", 2))
        .then_nothing();
    sold.push(shipped("o1", 2, &[("A", 2)]));
    given::<Inventory>(sold.clone())
        .when(reserve("o1", 2))
        .then_nothing();
    given::<Inventory>(sold)
        .when(reserve("o1", 1))
        .then_reject(R::ReservationConflict {
            order_id: order("o1"),
            reserved: 2,
            requested: 1,
        });
}

#[test]
fn a_released_reservation_is_not_revived() {
    let history = [
        received("A", 5),
        reserved("o1", 2, &[("A", 2)], 0),
        released("o1", 2, &[("A", 2)], ReleaseReason::Expired),
    ];
    given::<Inventory>(history)
        .when(reserve("o1", 2))
        .then_reject(R::ReservationReleased {
            order_id: order("o1"),
            reason: ReleaseReason::Expired,
        });
}
