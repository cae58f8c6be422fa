//! Releasing, committing and shipping reservations.

use super::*;

// ---- releasing -------------------------------------------------------------------------------

#[test]
fn releasing_returns_stock_to_the_warehouses_it_came_from() {
    let history = [
        received("A", 5),
        received("B", 3),
        reserved("o1", 7, &[("A", 5), ("B", 2)], 0),
    ];
    for reason in [ReleaseReason::Cancelled, ReleaseReason::PaymentFailed] {
        let state = given::<Inventory>(history.clone())
            .when(release("o1", reason))
            .then([released("o1", 7, &[("A", 5), ("B", 2)], reason)]);
        assert_eq!(state.level(&wh("A")), level(5, 5, 0, 0));
        assert_eq!(state.level(&wh("B")), level(3, 3, 0, 0));
        let reservation = state.reservation(&order("o1")).unwrap();
        assert_eq!(reservation.status, ReservationStatus::Released { reason });
        assert!(reservation.allocations.is_empty());
    }
}

#[test]
fn expiring_waits_for_the_hold_to_lapse() {
    let history = [received("A", 5), reserved("o1", 2, &[("A", 2)], 0)];
    given::<Inventory>(history.clone())
        .at(at(14))
        .when(release("o1", ReleaseReason::Expired))
        .then_reject(R::NotYetExpired {
            order_id: order("o1"),
            expires_at: at(15),
        });
    given::<Inventory>(history)
        .at(at(15))
        .when(release("o1", ReleaseReason::Expired))
        .then([released("o1", 2, &[("A", 2)], ReleaseReason::Expired)]);
}

#[test]
fn releasing_twice_changes_nothing() {
    let history = [
        received("A", 5),
        reserved("o1", 2, &[("A", 2)], 0),
        released("o1", 2, &[("A", 2)], ReleaseReason::PaymentFailed),
    ];
    for reason in [ReleaseReason::PaymentFailed, ReleaseReason::Expired] {
        given::<Inventory>(history.clone())
            .when(release("o1", reason))
            .then_nothing();
    }
}

#[test]
fn releasing_an_unknown_reservation_is_refused() {
    given::<Inventory>([received("A", 5)])
        .when(release("nope", ReleaseReason::Cancelled))
        .then_reject(R::UnknownReservation {
            order_id: order("nope"),
        });
}

#[test]
fn a_committed_reservation_is_released_only_by_cancelling() {
    let history = [
        received("A", 5),
        reserved("o1", 2, &[("A", 2)], 0),
        committed("o1", 2, &[("A", 2)], 0),
    ];
    for reason in [ReleaseReason::Expired, ReleaseReason::PaymentFailed] {
        given::<Inventory>(history.clone())
            .at(at(60))
            .when(release("o1", reason))
            .then_reject(R::ReservationCommitted {
                order_id: order("o1"),
                reason,
            });
    }
    let state = given::<Inventory>(history)
        .when(release("o1", ReleaseReason::Cancelled))
        .then([E::ReservationReleased {
            sku: sku(),
            order_id: order("o1"),
            quantity: 2,
            allocations: allocs(&[("A", 2)]),
            backordered: 0,
            stage: ReservationStage::Committed,
            reason: ReleaseReason::Cancelled,
        }]);
    assert_eq!(state.level(&wh("A")), level(5, 5, 0, 0));
}

#[test]
fn shipped_stock_cannot_be_released() {
    let history = [
        received("A", 5),
        reserved("o1", 2, &[("A", 2)], 0),
        committed("o1", 2, &[("A", 2)], 0),
        shipped("o1", 2, &[("A", 2)]),
    ];
    given::<Inventory>(history)
        .when(release("o1", ReleaseReason::Cancelled))
        .then_reject(R::AlreadyShipped {
            order_id: order("o1"),
        });
}

// ---- committing and shipping -----------------------------------------------------------------

#[test]
fn committing_moves_reserved_stock_to_committed() {
    let history = [
        received("A", 5),
        received("B", 3),
        reserved("o1", 7, &[("A", 5), ("B", 2)], 0),
    ];
    let state = given::<Inventory>(history)
        .when(commit("o1"))
        .then([committed("o1", 7, &[("A", 5), ("B", 2)], 0)]);
    assert_eq!(state.level(&wh("A")), level(5, 0, 0, 5));
    assert_eq!(state.level(&wh("B")), level(3, 1, 0, 2));
    assert_eq!((state.committed(), state.reserved()), (7, 0));
    assert_eq!(
        state.reservation(&order("o1")).unwrap().status,
        ReservationStatus::Committed
    );
}

#[test]
fn a_lapsed_but_unreleased_hold_may_still_be_committed() {
    given::<Inventory>([received("A", 5), reserved("o1", 2, &[("A", 2)], 0)])
        .at(at(600))
        .when(commit("o1"))
        .then([committed("o1", 2, &[("A", 2)], 0)]);
}

#[test]
fn committing_is_idempotent_and_needs_a_live_reservation() {
    let reserve_commit = vec![
        received("A", 5),
        reserved("o1", 2, &[("A", 2)], 0),
        committed("o1", 2, &[("A", 2)], 0),
    ];
    given::<Inventory>(reserve_commit.clone())
        .when(commit("o1"))
        .then_nothing();
    let mut shipped_too = reserve_commit;
    shipped_too.push(shipped("o1", 2, &[("A", 2)]));
    given::<Inventory>(shipped_too)
        .when(commit("o1"))
        .then_nothing();
    given::<Inventory>([
        received("A", 5),
        reserved("o1", 2, &[("A", 2)], 0),
        released("o1", 2, &[("A", 2)], ReleaseReason::Expired),
    ])
    .when(commit("o1"))
    .then_reject(R::ReservationReleased {
        order_id: order("o1"),
        reason: ReleaseReason::Expired,
    });
    given::<Inventory>([received("A", 5)])
        .when(commit("o1"))
        .then_reject(R::UnknownReservation {
            order_id: order("o1"),
        });
}

#[test]
fn shipping_takes_committed_stock_off_hand() {
    let history = [
        received("A", 5),
        received("B", 3),
        reserved("o1", 7, &[("A", 5), ("B", 2)], 0),
        committed("o1", 7, &[("A", 5), ("B", 2)], 0),
    ];
    let state = given::<Inventory>(history).when(ship("o1")).then([shipped(
        "o1",
        7,
        &[("A", 5), ("B", 2)],
    )]);
    assert_eq!(state.level(&wh("A")), level(0, 0, 0, 0));
    assert_eq!(state.level(&wh("B")), level(1, 1, 0, 0));
    assert_eq!(
        state.reservation(&order("o1")).unwrap().status,
        ReservationStatus::Shipped
    );
}

#[test]
fn shipping_needs_a_committed_reservation_and_is_idempotent() {
    let reserve = vec![received("A", 5), reserved("o1", 2, &[("A", 2)], 0)];
    given::<Inventory>(reserve.clone())
        .when(ship("o1"))
        .then_reject(R::NotCommitted {
            order_id: order("o1"),
        });
    let mut done = reserve.clone();
    done.extend([
        committed("o1", 2, &[("A", 2)], 0),
        shipped("o1", 2, &[("A", 2)]),
    ]);
    given::<Inventory>(done).when(ship("o1")).then_nothing();
    let mut gone = reserve;
    gone.push(released("o1", 2, &[("A", 2)], ReleaseReason::Cancelled));
    given::<Inventory>(gone)
        .when(ship("o1"))
        .then_reject(R::ReservationReleased {
            order_id: order("o1"),
            reason: ReleaseReason::Cancelled,
        });
    given::<Inventory>([])
        .when(ship("o1"))
        .then_reject(R::UnknownReservation {
            order_id: order("o1"),
        });
}
