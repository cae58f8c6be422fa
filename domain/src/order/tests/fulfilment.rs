//! Shipping, delivery and cancellation.

use super::*;

fn out_of_stock(skus: &[&str]) -> CancelReason {
    CancelReason::OutOfStock {
        skus: skus.iter().map(|s| sku(s)).collect(),
    }
}

// ---- shipping --------------------------------------------------------------------------------

#[test]
fn a_confirmed_order_ships() {
    let state = given::<Order>(h_captured(TOTAL))
        .when(ship("DHL", "JD0001"))
        .then([shipped()]);
    assert_eq!(state.status(), S::Shipped);
    assert_eq!(state.shipment().map(|s| s.carrier.as_str()), Some("DHL"));
    // Capture may follow shipment: shipping does not wait for it.
    given::<Order>(h_confirmed())
        .when(ship("DHL", "JD0001"))
        .then([shipped()]);
}

#[test]
fn shipping_again_changes_nothing_but_another_shipment_is_refused() {
    for history in [h_shipped(), h_delivered()] {
        given::<Order>(history)
            .when(ship("DHL", "JD0001"))
            .then_nothing();
    }
    let rejection = given::<Order>(h_shipped())
        .when(ship("UPS", "1Z999"))
        .then_rejected();
    assert_eq!(
        rejection,
        R::ShipmentConflict {
            carrier: "DHL".into(),
            tracking_number: "JD0001".into()
        }
    );
    assert_eq!(
        rejection.to_string(),
        "the order already shipped with DHL, tracking number JD0001"
    );
}

#[test]
fn an_unconfirmed_order_does_not_ship() {
    for (history, status) in [
        (h_placed(), S::Placed),
        (h_pending(), S::PaymentPending),
        (h_failed(), S::PaymentFailed),
        (h_cancelled(), S::Cancelled),
    ] {
        given::<Order>(history)
            .when(ship("DHL", "JD0001"))
            .then_reject(wrong("ship", status));
    }
    let rejection = given::<Order>(h_pending())
        .when(ship("DHL", "JD0001"))
        .then_rejected();
    assert_eq!(
        rejection.to_string(),
        "cannot ship an order that is awaiting payment"
    );
}

#[test]
fn a_shipment_names_its_carrier_and_tracking_number() {
    let carrier = R::InvalidText {
        field: "carrier",
        max: MAX_CARRIER_CHARS,
    };
    let tracking = R::InvalidText {
        field: "tracking number",
        max: MAX_TRACKING_CHARS,
    };
    let long_carrier = "x".repeat(MAX_CARRIER_CHARS + 1);
    let long_tracking = "1".repeat(MAX_TRACKING_CHARS + 1);
    for (command, rejection) in [
        (ship("", "JD0001"), carrier.clone()),
        (ship(&long_carrier, "JD0001"), carrier),
        (ship("DHL", " "), tracking.clone()),
        (ship("DHL", &long_tracking), tracking),
    ] {
        given::<Order>(h_confirmed())
            .when(command)
            .then_reject(rejection);
    }
}

// ---- delivery --------------------------------------------------------------------------------

#[test]
fn a_shipped_order_is_delivered_once() {
    let state = given::<Order>(h_shipped())
        .when(deliver())
        .then([delivered()]);
    assert_eq!(state.status(), S::Delivered);
    assert!(state.status().is_closed());
    given::<Order>(h_delivered()).when(deliver()).then_nothing();
}

#[test]
fn only_a_shipped_order_is_delivered() {
    for (history, status) in [
        (h_placed(), S::Placed),
        (h_pending(), S::PaymentPending),
        (h_confirmed(), S::Confirmed),
        (h_failed(), S::PaymentFailed),
        (h_cancelled(), S::Cancelled),
    ] {
        given::<Order>(history)
            .when(deliver())
            .then_reject(wrong("deliver", status));
    }
}

// ---- cancellation ----------------------------------------------------------------------------

#[test]
fn a_placed_or_pending_order_is_cancelled_with_nothing_owed() {
    let state = given::<Order>(h_placed())
        .when(cancel(CancelReason::CustomerRequest))
        .then([cancelled(CancelReason::CustomerRequest, S::Placed, None, 0)]);
    assert_eq!(state.status(), S::Cancelled);
    assert_eq!(state.cancel_reason(), Some(&CancelReason::CustomerRequest));
    given::<Order>(h_pending())
        .when(cancel(CancelReason::Expired))
        .then([cancelled(
            CancelReason::Expired,
            S::PaymentPending,
            Some(pid()),
            0,
        )]);
}

#[test]
fn a_confirmed_order_is_cancelled_and_says_what_is_owed() {
    let reason = out_of_stock(&["MUG"]);
    let event = cancelled(reason.clone(), S::Confirmed, Some(pid()), 0);
    let E::OrderCancelled { was_confirmed, .. } = &event else {
        unreachable!()
    };
    assert!(was_confirmed);
    given::<Order>(h_confirmed())
        .when(cancel(reason.clone()))
        .then([event]);
    // Captured money not yet refunded is due.
    given::<Order>(h_captured(TOTAL))
        .when(cancel(reason.clone()))
        .then([cancelled(reason.clone(), S::Confirmed, Some(pid()), TOTAL)]);
    let mut h = h_captured(TOTAL);
    h.push(refunded("r1", 784, 784, TOTAL, "price match"));
    given::<Order>(h)
        .when(cancel(reason.clone()))
        .then([cancelled(reason, S::Confirmed, Some(pid()), 4000)]);
}

#[test]
fn cancelling_again_changes_nothing_but_another_reason_is_refused() {
    given::<Order>(h_cancelled())
        .when(cancel(CancelReason::CustomerRequest))
        .then_nothing();
    let rejection = given::<Order>(h_cancelled())
        .when(cancel(CancelReason::Expired))
        .then_rejected();
    assert_eq!(
        rejection,
        R::AlreadyCancelled {
            reason: CancelReason::CustomerRequest
        }
    );
    assert_eq!(
        rejection.to_string(),
        "the order is already cancelled (reason: customer request)"
    );
}

#[test]
fn a_shipped_or_delivered_order_is_not_cancelled() {
    for (history, status) in [(h_shipped(), S::Shipped), (h_delivered(), S::Delivered)] {
        given::<Order>(history)
            .when(cancel(CancelReason::CustomerRequest))
            .then_reject(R::CancelAfterShipping { status });
    }
    let rejection = given::<Order>(h_delivered())
        .when(cancel(CancelReason::CustomerRequest))
        .then_rejected();
    assert_eq!(
        rejection.to_string(),
        "cannot cancel an order that is delivered: refund it once the goods are returned"
    );
    let rejection = given::<Order>(h_failed())
        .when(cancel(CancelReason::Expired))
        .then_rejected();
    assert_eq!(
        rejection.to_string(),
        "cannot cancel an order that is closed after a failed payment"
    );
}

#[test]
fn a_cancellation_reason_is_checked() {
    given::<Order>(h_confirmed())
        .when(cancel(out_of_stock(&[])))
        .then_reject(R::NoOutOfStockSkus);
    given::<Order>(h_confirmed())
        .when(cancel(out_of_stock(&["MUG", "MUG"])))
        .then_reject(R::DuplicateSku { sku: sku("MUG") });
    let rejection = given::<Order>(h_confirmed())
        .when(cancel(out_of_stock(&["MUG", "HAT"])))
        .then_rejected();
    assert_eq!(rejection, R::SkuNotOnOrder { sku: sku("HAT") });
    assert_eq!(rejection.to_string(), "HAT is not on this order");
    for note in ["", "  "] {
        given::<Order>(h_confirmed())
            .when(cancel(CancelReason::Admin { note: note.into() }))
            .then_reject(R::InvalidText {
                field: "cancellation note",
                max: MAX_REASON_CHARS,
            });
    }
    let admin = CancelReason::Admin {
        note: "suspected fraud".into(),
    };
    given::<Order>(h_placed())
        .when(cancel(admin.clone()))
        .then([cancelled(admin, S::Placed, None, 0)]);
}

#[test]
fn a_cancelled_order_accepts_nothing_but_refunds() {
    let mut h = h_captured(TOTAL);
    h.push(cancelled(
        CancelReason::CustomerRequest,
        S::Confirmed,
        Some(pid()),
        TOTAL,
    ));
    given::<Order>(h.clone())
        .when(ship("DHL", "JD0001"))
        .then_reject(wrong("ship", S::Cancelled));
    given::<Order>(h.clone())
        .when(confirm(Some("pay-1")))
        .then_reject(wrong("confirm", S::Cancelled));
    given::<Order>(h.clone())
        .when(deliver())
        .then_reject(wrong("deliver", S::Cancelled));
    given::<Order>(h.clone())
        .when(capture(eur(TOTAL)))
        .then_nothing();
    let state = given::<Order>(h)
        .when(refund("r1", eur(TOTAL), "order cancelled"))
        .then([refunded("r1", TOTAL, TOTAL, TOTAL, "order cancelled")]);
    assert_eq!(state.refundable(), Some(eur(0)));
    assert_eq!(state.status(), S::Cancelled);
}
