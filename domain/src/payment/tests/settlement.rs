//! Capture, void and refunds.

use super::*;

// ---- capture ---------------------------------------------------------------------------------

#[test]
fn an_authorized_payment_is_captured_in_full_or_in_part() {
    let state = given::<Payment>(h_authorized())
        .when(capture("cap-1", eur(1000)))
        .then([captured("cap-1", 1000)]);
    assert_eq!(state.status(), S::Captured);
    assert_eq!(state.captured(), Some(eur(1000)));
    let state = given::<Payment>(h_authorized())
        .when(capture("cap-1", eur(700)))
        .then([captured("cap-1", 700)]);
    assert_eq!(state.refundable(), Some(eur(700)));
}

#[test]
fn a_capture_stays_within_the_authorization() {
    let rejection = given::<Payment>(h_authorized())
        .when(capture("cap-1", eur(1001)))
        .then_rejected();
    assert_eq!(
        rejection,
        R::CaptureExceedsAuthorization {
            requested: eur(1001),
            authorized: eur(1000)
        }
    );
    assert_eq!(
        rejection.to_string(),
        "cannot capture 10.01 EUR: only 10.00 EUR is authorized"
    );
    given::<Payment>(h_authorized())
        .when(capture("cap-1", Money::new(1000, Currency::USD)))
        .then_reject(R::CurrencyMismatch {
            expected: Currency::EUR,
            got: Currency::USD,
        });
    given::<Payment>(h_authorized())
        .when(capture("cap-1", eur(-1)))
        .then_reject(R::InvalidAmount {
            amount: eur(-1),
            max: MAX_AMOUNT_MINOR_UNITS,
        });
}

#[test]
fn a_payment_is_captured_once() {
    given::<Payment>(h_captured(700))
        .when(capture("cap-1", eur(700)))
        .then_nothing();
    for (reference, amount) in [("cap-2", 300), ("cap-1", 300)] {
        given::<Payment>(h_captured(700))
            .when(capture(reference, eur(amount)))
            .then_reject(R::ConflictingResult {
                what: "capture",
                recorded: "cap-1".into(),
            });
    }
}

#[test]
fn only_an_authorized_payment_is_captured() {
    given::<Payment>(h_requested())
        .when(capture("cap-1", eur(1)))
        .then_reject(wrong("capture", S::AuthorizationRequested));
    given::<Payment>(h_declined())
        .when(capture("cap-1", eur(1)))
        .then_reject(wrong("capture", S::Declined));
    given::<Payment>(h_voided())
        .when(capture("cap-1", eur(1)))
        .then_reject(wrong("capture", S::Voided));
    given::<Payment>(h_unknown())
        .when(capture("cap-1", eur(1)))
        .then_reject(R::ReconciliationRequired {
            idempotency_key: "k1".into(),
        });
}

// ---- void ------------------------------------------------------------------------------------

#[test]
fn an_authorization_is_voided_before_capture() {
    let state = given::<Payment>(h_authorized())
        .when(void("void-1"))
        .then([voided("void-1")]);
    assert_eq!(state.status(), S::Voided);
    assert_eq!(state.captured(), Some(eur(0)));
    given::<Payment>(h_voided())
        .when(void("void-1"))
        .then_nothing();
    given::<Payment>(h_voided())
        .when(void("void-2"))
        .then_reject(R::ConflictingResult {
            what: "void",
            recorded: "void-1".into(),
        });
}

#[test]
fn a_captured_payment_is_refunded_not_voided() {
    given::<Payment>(h_captured(500))
        .when(void("void-1"))
        .then_reject(R::VoidAfterCapture);
    given::<Payment>(h_unknown())
        .when(void("void-1"))
        .then_reject(R::ReconciliationRequired {
            idempotency_key: "k1".into(),
        });
    given::<Payment>(h_requested())
        .when(void("void-1"))
        .then_reject(wrong("void", S::AuthorizationRequested));
    given::<Payment>(h_declined())
        .when(void("void-1"))
        .then_reject(wrong("void", S::Declined));
    given::<Payment>(h_authorized())
        .when(void(""))
        .then_reject(R::InvalidText {
            field: "gateway reference",
            max: MAX_REFERENCE_CHARS,
        });
}

// ---- refunds ---------------------------------------------------------------------------------

#[test]
fn refunds_add_up_to_at_most_the_captured_amount() {
    let state = given::<Payment>(h_captured(800))
        .when(refund("r1", "ref-1", eur(300)))
        .then([refunded("r1", "ref-1", 300, 300, 800)]);
    assert_eq!(state.status(), S::PartiallyRefunded);
    assert_eq!(state.refunded(), Some(eur(300)));
    assert_eq!(state.refund(&rid("r1")), Some(eur(300)));

    let mut h = h_captured(800);
    h.push(refunded("r1", "ref-1", 300, 300, 800));
    given::<Payment>(h.clone())
        .when(refund("r2", "ref-2", eur(501)))
        .then_reject(R::RefundExceedsCaptured {
            requested: eur(501),
            refundable: eur(500),
        });
    let state = given::<Payment>(h.clone())
        .when(refund("r2", "ref-2", eur(500)))
        .then([refunded("r2", "ref-2", 500, 800, 800)]);
    assert_eq!(state.status(), S::Refunded);
    assert_eq!(state.refundable(), Some(eur(0)));

    h.push(refunded("r2", "ref-2", 500, 800, 800));
    given::<Payment>(h)
        .when(refund("r3", "ref-3", eur(1)))
        .then_reject(R::RefundExceedsCaptured {
            requested: eur(1),
            refundable: eur(0),
        });
}

#[test]
fn a_refund_id_is_recorded_once() {
    let mut h = h_captured(800);
    h.push(refunded("r1", "ref-1", 300, 300, 800));
    given::<Payment>(h.clone())
        .when(refund("r1", "ref-1", eur(300)))
        .then_nothing();
    for (reference, amount) in [("ref-1", 200), ("ref-9", 300)] {
        given::<Payment>(h.clone())
            .when(refund("r1", reference, eur(amount)))
            .then_reject(R::RefundConflict {
                refund_id: rid("r1"),
            });
    }
}

#[test]
fn only_captured_money_is_refunded() {
    given::<Payment>(h_authorized())
        .when(refund("r1", "ref-1", eur(1)))
        .then_reject(wrong("refund", S::Authorized));
    given::<Payment>(h_voided())
        .when(refund("r1", "ref-1", eur(1)))
        .then_reject(wrong("refund", S::Voided));
    given::<Payment>(h_captured(800))
        .when(refund("r1", "ref-1", Money::new(1, Currency::JPY)))
        .then_reject(R::CurrencyMismatch {
            expected: Currency::EUR,
            got: Currency::JPY,
        });
    given::<Payment>(h_captured(800))
        .when(refund("r1", "ref-1", eur(0)))
        .then_reject(R::InvalidAmount {
            amount: eur(0),
            max: MAX_AMOUNT_MINOR_UNITS,
        });
}
