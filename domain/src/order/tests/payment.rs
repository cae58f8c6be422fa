//! Payment pending, confirmation, capture and payment failure.

use super::*;

fn other_payment() -> R {
    R::PaymentMismatch {
        expected: pid(),
        got: PaymentId::new("pay-2").unwrap(),
    }
}

// ---- payment pending -------------------------------------------------------------------------

#[test]
fn a_placed_order_waits_for_its_payment() {
    let state = given::<Order>(h_placed())
        .when(mark_pending("pay-1"))
        .then([pending()]);
    assert_eq!(state.status(), S::PaymentPending);
    assert_eq!(state.payment_id(), Some(&pid()));
}

#[test]
fn marking_the_same_payment_pending_again_changes_nothing() {
    for history in [h_pending(), h_confirmed(), h_shipped(), h_failed()] {
        given::<Order>(history)
            .when(mark_pending("pay-1"))
            .then_nothing();
    }
    given::<Order>(h_pending())
        .when(mark_pending("pay-2"))
        .then_reject(other_payment());
    let rejection = given::<Order>(h_confirmed())
        .when(mark_pending("pay-2"))
        .then_rejected();
    assert_eq!(
        rejection.to_string(),
        "the order is paid by payment pay-1, not pay-2"
    );
}

#[test]
fn only_a_placed_order_gets_a_payment() {
    let action = "mark the payment pending for";
    given::<Order>(h_cancelled())
        .when(mark_pending("pay-1"))
        .then_reject(wrong(action, S::Cancelled));
    given::<Order>(vec![placed(), failed(None, "no payment method")])
        .when(mark_pending("pay-1"))
        .then_reject(wrong(action, S::PaymentFailed));
    let rejection = given::<Order>(h_free_placed())
        .when(mark_pending("pay-1"))
        .then_rejected();
    assert_eq!(rejection, R::NothingToPay { total: eur(0) });
    assert_eq!(
        rejection.to_string(),
        "the order total is 0.00 EUR: there is nothing to pay; confirm it without a payment"
    );
}

// ---- confirmation ----------------------------------------------------------------------------

#[test]
fn an_order_is_confirmed_with_its_pending_payment() {
    let state = given::<Order>(h_pending())
        .when(confirm(Some("pay-1")))
        .then([confirmed(Some(pid()))]);
    assert_eq!(state.status(), S::Confirmed);
    for history in [h_confirmed(), h_shipped(), h_delivered()] {
        given::<Order>(history)
            .when(confirm(Some("pay-1")))
            .then_nothing();
    }
}

#[test]
fn an_order_is_confirmed_with_no_other_payment() {
    given::<Order>(h_pending())
        .when(confirm(Some("pay-2")))
        .then_reject(other_payment());
    given::<Order>(h_confirmed())
        .when(confirm(Some("pay-2")))
        .then_reject(other_payment());
    for history in [h_pending(), h_confirmed()] {
        given::<Order>(history)
            .when(confirm(None))
            .then_reject(R::PaymentRequired { total: eur(TOTAL) });
    }
}

#[test]
fn an_order_that_costs_something_is_not_confirmed_before_its_payment() {
    let rejection = given::<Order>(h_placed())
        .when(confirm(Some("pay-1")))
        .then_rejected();
    assert_eq!(rejection, R::PaymentRequired { total: eur(TOTAL) });
    assert_eq!(
        rejection.to_string(),
        "the order total is 47.84 EUR: mark its payment pending, then confirm it with that payment"
    );
    given::<Order>(h_placed())
        .when(confirm(None))
        .then_reject(R::PaymentRequired { total: eur(TOTAL) });
}

#[test]
fn a_free_order_is_confirmed_without_a_payment() {
    let state = given::<Order>(h_free_placed())
        .when(confirm(None))
        .then([confirmed(None)]);
    assert_eq!(state.status(), S::Confirmed);
    assert_eq!(state.payment_id(), None);
    let mut h = h_free_placed();
    h.push(confirmed(None));
    given::<Order>(h.clone()).when(confirm(None)).then_nothing();
    given::<Order>(h.clone())
        .when(confirm(Some("pay-1")))
        .then_reject(R::NothingToPay { total: eur(0) });
    given::<Order>(h_free_placed())
        .when(confirm(Some("pay-1")))
        .then_reject(R::NothingToPay { total: eur(0) });
    // Nothing to capture or refund either.
    given::<Order>(h.clone())
        .when(capture(eur(1)))
        .then_reject(R::NothingToPay { total: eur(0) });
    given::<Order>(h)
        .when(refund("r1", eur(1), "goodwill"))
        .then_reject(R::NothingCaptured);
}

#[test]
fn a_cancelled_or_failed_order_is_not_confirmed() {
    given::<Order>(h_cancelled())
        .when(confirm(Some("pay-1")))
        .then_reject(wrong("confirm", S::Cancelled));
    given::<Order>(h_failed())
        .when(confirm(Some("pay-1")))
        .then_reject(wrong("confirm", S::PaymentFailed));
}

// ---- capture ---------------------------------------------------------------------------------

#[test]
fn a_confirmed_or_shipped_order_records_its_capture() {
    let state = given::<Order>(h_confirmed())
        .when(capture(eur(TOTAL)))
        .then([captured(TOTAL)]);
    assert_eq!(state.captured(), Some(eur(TOTAL)));
    assert!(state.is_captured());
    assert_eq!(state.status(), S::Confirmed);
    // Capture on shipment, and a partial capture.
    let mut h = h_confirmed();
    h.push(shipped());
    let state = given::<Order>(h)
        .when(capture(eur(4000)))
        .then([captured(4000)]);
    assert_eq!(state.refundable(), Some(eur(4000)));
}

#[test]
fn a_capture_is_recorded_once() {
    for history in [h_captured(TOTAL), h_shipped(), h_delivered()] {
        given::<Order>(history)
            .when(capture(eur(TOTAL)))
            .then_nothing();
    }
    let rejection = given::<Order>(h_captured(TOTAL))
        .when(capture(eur(100)))
        .then_rejected();
    assert_eq!(
        rejection,
        R::CaptureConflict {
            recorded: eur(TOTAL)
        }
    );
    assert_eq!(
        rejection.to_string(),
        "a capture of 47.84 EUR is already recorded for this order; an order is captured once"
    );
    given::<Order>(h_captured(TOTAL))
        .when(capture_by("pay-2", eur(TOTAL)))
        .then_reject(other_payment());
}

#[test]
fn a_capture_is_positive_in_the_order_currency_and_at_most_the_total() {
    let rejection = given::<Order>(h_confirmed())
        .when(capture(eur(TOTAL + 1)))
        .then_rejected();
    assert_eq!(
        rejection,
        R::CaptureExceedsTotal {
            requested: eur(TOTAL + 1),
            total: eur(TOTAL)
        }
    );
    assert_eq!(
        rejection.to_string(),
        "cannot capture 47.85 EUR: the order's total is 47.84 EUR"
    );
    for amount in [0, -5] {
        given::<Order>(h_confirmed())
            .when(capture(eur(amount)))
            .then_reject(R::InvalidAmount {
                amount: eur(amount),
            });
    }
    given::<Order>(h_confirmed())
        .when(capture(Money::new(TOTAL, Currency::USD)))
        .then_reject(R::CurrencyMismatch {
            expected: Currency::EUR,
            got: Currency::USD,
        });
    given::<Order>(h_confirmed())
        .when(capture_by("pay-2", eur(TOTAL)))
        .then_reject(other_payment());
}

#[test]
fn only_a_confirmed_or_shipped_order_records_a_capture() {
    let action = "record a capture for";
    let cases = [
        (h_placed(), S::Placed),
        (h_pending(), S::PaymentPending),
        (h_failed(), S::PaymentFailed),
        (h_cancelled(), S::Cancelled),
        (
            {
                let mut h = h_confirmed();
                h.extend([shipped(), delivered()]);
                h
            },
            S::Delivered,
        ),
    ];
    for (history, status) in cases {
        given::<Order>(history)
            .when(capture(eur(TOTAL)))
            .then_reject(wrong(action, status));
    }
}

#[test]
fn a_capture_that_crossed_a_cancellation_of_the_confirmed_order_is_still_recorded() {
    // The checkout saga captured while the customer cancelled: the capture is a fact, and the
    // saga refunds it next.
    let mut h = h_confirmed();
    h.push(cancelled(
        CancelReason::CustomerRequest,
        S::Confirmed,
        Some(pid()),
        0,
    ));
    let state = given::<Order>(h)
        .when(capture(eur(TOTAL)))
        .then([captured(TOTAL)]);
    assert_eq!(state.status(), S::Cancelled);
    assert_eq!(state.refundable(), Some(eur(TOTAL)));
}

// ---- payment failure -------------------------------------------------------------------------

#[test]
fn a_payment_failure_closes_a_placed_or_pending_order() {
    let state = given::<Order>(h_pending())
        .when(fail("card declined"))
        .then([failed(Some(pid()), "card declined")]);
    assert_eq!(state.status(), S::PaymentFailed);
    assert_eq!(state.failure_reason(), Some("card declined"));
    assert!(state.status().is_closed());
    given::<Order>(h_placed())
        .when(fail("no payment method"))
        .then([failed(None, "no payment method")]);
}

#[test]
fn a_payment_failure_is_recorded_once() {
    given::<Order>(h_failed())
        .when(fail("card declined"))
        .then_nothing();
    let rejection = given::<Order>(h_failed())
        .when(fail("expired card"))
        .then_rejected();
    assert_eq!(
        rejection,
        R::AlreadyFailed {
            reason: "card declined".into()
        }
    );
    assert_eq!(
        rejection.to_string(),
        "the order's payment failure is already recorded (reason: card declined)"
    );
}

#[test]
fn a_payment_failure_is_not_recorded_after_confirmation() {
    let action = "record a payment failure for";
    for (history, status) in [
        (h_confirmed(), S::Confirmed),
        (h_shipped(), S::Shipped),
        (h_delivered(), S::Delivered),
        (h_cancelled(), S::Cancelled),
    ] {
        given::<Order>(history)
            .when(fail("card declined"))
            .then_reject(wrong(action, status));
    }
    for reason in [String::new(), " ".into(), "x".repeat(MAX_REASON_CHARS + 1)] {
        given::<Order>(h_pending())
            .when(fail(&reason))
            .then_reject(R::InvalidText {
                field: "payment failure reason",
                max: MAX_REASON_CHARS,
            });
    }
}

#[test]
fn nothing_happens_to_an_order_whose_payment_failed() {
    given::<Order>(h_failed())
        .when(ship("DHL", "JD0001"))
        .then_reject(wrong("ship", S::PaymentFailed));
    given::<Order>(h_failed())
        .when(cancel(CancelReason::CustomerRequest))
        .then_reject(wrong("cancel", S::PaymentFailed));
    given::<Order>(h_failed())
        .when(refund("r1", eur(1), "goodwill"))
        .then_reject(R::NothingCaptured);
}
