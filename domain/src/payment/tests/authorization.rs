//! Authorization attempts and the gateway's answers (authorized, declined, unknown).

use super::*;

// ---- requesting an authorization ---------------------------------------------------------------

#[test]
fn a_new_payment_requests_an_authorization() {
    let state = given::<Payment>([])
        .when(request("k1"))
        .then([requested("k1")]);
    assert_eq!(state.status(), S::AuthorizationRequested);
    assert_eq!(state.requested(), Some(eur(1000)));
    assert_eq!(state.authorized(), Some(eur(0)));
    assert_eq!(state.currency(), Some(Currency::EUR));
    assert_eq!(state.order_id(), Some(&oid()));
    assert_eq!((state.attempts(), state.current_attempt()), (1, Some("k1")));
}

#[test]
fn a_new_payment_has_no_amounts() {
    let state = PaymentState::default();
    assert_eq!(state.status(), S::New);
    assert_eq!(state.authorized(), None);
    assert_eq!(state.captured(), None);
    assert_eq!(state.refunded(), None);
}

#[test]
fn authorization_requests_are_validated() {
    for amount in [0, -5, MAX_AMOUNT_MINOR_UNITS + 1] {
        given::<Payment>([])
            .when(request_with("k1", oid(), eur(amount), "tok"))
            .then_reject(R::InvalidAmount {
                amount: eur(amount),
                max: MAX_AMOUNT_MINOR_UNITS,
            });
    }
    for token in [" ".to_string(), "t".repeat(MAX_TOKEN_CHARS + 1)] {
        given::<Payment>([])
            .when(request_with("k1", oid(), eur(1), &token))
            .then_reject(R::InvalidText {
                field: "payment method token",
                max: MAX_TOKEN_CHARS,
            });
    }
    given::<Payment>([])
        .when(request_with("", oid(), eur(1), "tok"))
        .then_reject(R::InvalidText {
            field: "idempotency key",
            max: MAX_IDEMPOTENCY_KEY_CHARS,
        });
}

#[test]
fn a_repeated_request_is_recorded_once() {
    given::<Payment>(h_requested())
        .when(request("k1"))
        .then_nothing();
    given::<Payment>(h_authorized())
        .when(request("k1"))
        .then_nothing();
    given::<Payment>(h_requested())
        .when(request_with("k1", oid(), eur(999), "tok_visa"))
        .then_reject(R::IdempotencyKeyReused {
            idempotency_key: "k1".into(),
        });
}

#[test]
fn one_attempt_at_a_time() {
    given::<Payment>(h_requested())
        .when(request("k2"))
        .then_reject(R::AuthorizationPending {
            idempotency_key: "k1".into(),
        });
}

#[test]
fn an_unknown_outcome_blocks_new_attempts_until_reconciled() {
    let rejection = given::<Payment>(h_unknown())
        .when(request("k2"))
        .then_rejected();
    assert_eq!(
        rejection,
        R::ReconciliationRequired {
            idempotency_key: "k1".into()
        }
    );
    assert!(rejection.to_string().contains("reconcile it"));
    // Reconciled as declined: a new attempt may start.
    let mut h = h_unknown();
    h.push(declined("k1", true));
    given::<Payment>(h)
        .when(request("k2"))
        .then([requested_n("k2", eur(1000), 2)]);
}

#[test]
fn after_a_decline_a_new_attempt_may_start() {
    let state = given::<Payment>(h_declined())
        .when(request_with("k2", oid(), eur(1000), "tok_master"))
        .then([E::AuthorizationRequested {
            payment_id: pid(),
            order_id: oid(),
            amount: eur(1000),
            method_token: "tok_master".into(),
            idempotency_key: "k2".into(),
            attempt: 2,
        }]);
    assert_eq!(state.status(), S::AuthorizationRequested);
    assert_eq!(state.decline(), None);
    assert_eq!(state.attempts(), 2);
}

#[test]
fn a_new_attempt_keeps_the_order_currency_and_a_fresh_key() {
    given::<Payment>(h_declined())
        .when(request_with(
            "k2",
            OrderId::new("order-2").unwrap(),
            eur(1000),
            "tok",
        ))
        .then_reject(R::OrderMismatch {
            expected: oid(),
            got: OrderId::new("order-2").unwrap(),
        });
    given::<Payment>(h_declined())
        .when(request_with(
            "k2",
            oid(),
            Money::new(1000, Currency::USD),
            "tok",
        ))
        .then_reject(R::CurrencyMismatch {
            expected: Currency::EUR,
            got: Currency::USD,
        });
    let mut h = h_declined();
    h.extend([requested_n("k2", eur(1000), 2), declined("k2", false)]);
    given::<Payment>(h)
        .when(request("k1"))
        .then_reject(R::IdempotencyKeyReused {
            idempotency_key: "k1".into(),
        });
}

#[test]
fn authorization_attempts_are_limited() {
    let mut h = Vec::new();
    for n in 1..=MAX_AUTHORIZATION_ATTEMPTS {
        let key = format!("k{n}");
        h.extend([requested_n(&key, eur(1000), n), declined(&key, false)]);
    }
    given::<Payment>(h)
        .when(request("one-more"))
        .then_reject(R::TooManyAttempts {
            max: MAX_AUTHORIZATION_ATTEMPTS,
        });
}

#[test]
fn no_new_attempt_once_authorized() {
    let action = "start an authorization attempt for";
    given::<Payment>(h_authorized())
        .when(request("k2"))
        .then_reject(wrong(action, S::Authorized));
    given::<Payment>(h_captured(1000))
        .when(request("k2"))
        .then_reject(wrong(action, S::Captured));
    given::<Payment>(h_voided())
        .when(request("k2"))
        .then_reject(wrong(action, S::Voided));
}

// ---- gateway results -------------------------------------------------------------------------

#[test]
fn the_gateway_authorizes_the_attempt() {
    let state = given::<Payment>(h_requested())
        .when(record_auth("k1", "auth-1", eur(1000)))
        .then([authorized("k1", "auth-1", 1000, false)]);
    assert_eq!(state.status(), S::Authorized);
    assert_eq!(state.authorized(), Some(eur(1000)));
    assert_eq!(state.authorization_reference(), Some("auth-1"));
}

#[test]
fn the_gateway_may_authorize_less_but_not_more() {
    given::<Payment>(h_requested())
        .when(record_auth("k1", "auth-1", eur(600)))
        .then([authorized("k1", "auth-1", 600, false)]);
    given::<Payment>(h_requested())
        .when(record_auth("k1", "auth-1", eur(1001)))
        .then_reject(R::AuthorizedMoreThanRequested {
            authorized: eur(1001),
            requested: eur(1000),
        });
    given::<Payment>(h_requested())
        .when(record_auth("k1", "auth-1", Money::new(1000, Currency::GBP)))
        .then_reject(R::CurrencyMismatch {
            expected: Currency::EUR,
            got: Currency::GBP,
        });
    given::<Payment>(h_requested())
        .when(record_auth("k1", "auth-1", eur(0)))
        .then_reject(R::InvalidAmount {
            amount: eur(0),
            max: MAX_AMOUNT_MINOR_UNITS,
        });
    given::<Payment>(h_requested())
        .when(record_auth("k1", " ", eur(10)))
        .then_reject(R::InvalidText {
            field: "gateway reference",
            max: MAX_REFERENCE_CHARS,
        });
}

#[test]
fn the_same_authorization_recorded_twice_changes_nothing() {
    given::<Payment>(h_authorized())
        .when(record_auth("k1", "auth-1", eur(1000)))
        .then_nothing();
    given::<Payment>(h_captured(1000))
        .when(record_auth("k1", "auth-1", eur(1000)))
        .then_nothing();
    for (reference, amount) in [("auth-2", 1000), ("auth-1", 900)] {
        given::<Payment>(h_authorized())
            .when(record_auth("k1", reference, eur(amount)))
            .then_reject(R::ConflictingResult {
                what: "authorization",
                recorded: "auth-1".into(),
            });
    }
}

#[test]
fn gateway_results_must_name_the_current_attempt() {
    given::<Payment>(h_requested())
        .when(record_auth("k9", "auth-1", eur(1000)))
        .then_reject(R::NotCurrentAttempt {
            idempotency_key: "k9".into(),
            current: "k1".into(),
        });
    let mut h = h_declined();
    h.push(requested_n("k2", eur(1000), 2));
    given::<Payment>(h.clone())
        .when(record_auth("k1", "auth-1", eur(1000)))
        .then_reject(R::NotCurrentAttempt {
            idempotency_key: "k1".into(),
            current: "k2".into(),
        });
    given::<Payment>(h.clone())
        .when(record_unknown("k1", "timeout"))
        .then_reject(R::NotCurrentAttempt {
            idempotency_key: "k1".into(),
            current: "k2".into(),
        });
    // A repeated decline of the earlier attempt is simply already recorded.
    given::<Payment>(h).when(decline("k1")).then_nothing();
}

#[test]
fn nothing_is_recorded_for_a_payment_never_requested() {
    given::<Payment>([])
        .when(record_auth("k1", "auth-1", eur(1000)))
        .then_reject(wrong("record an authorization for", S::New));
    given::<Payment>([])
        .when(decline("k1"))
        .then_reject(wrong("record a decline for", S::New));
    given::<Payment>([])
        .when(record_unknown("k1", "timeout"))
        .then_reject(wrong("record an unknown outcome for", S::New));
    given::<Payment>([])
        .when(capture("cap-1", eur(1)))
        .then_reject(wrong("capture", S::New));
    given::<Payment>([])
        .when(void("void-1"))
        .then_reject(wrong("void", S::New));
    given::<Payment>([])
        .when(refund("r1", "ref-1", eur(1)))
        .then_reject(wrong("refund", S::New));
}

#[test]
fn the_gateway_declines_the_attempt() {
    let state = given::<Payment>(h_requested())
        .when(decline("k1"))
        .then([declined("k1", false)]);
    assert_eq!(state.status(), S::Declined);
    assert_eq!(
        state.decline(),
        Some(("insufficient_funds", "Insufficient funds"))
    );
}

#[test]
fn declines_are_recorded_once_and_do_not_contradict() {
    given::<Payment>(h_declined())
        .when(decline("k1"))
        .then_nothing();
    given::<Payment>(h_declined())
        .when(record_decline("k1", "do_not_honor", "Do not honor"))
        .then_reject(wrong("record a different decline for", S::Declined));
    given::<Payment>(h_authorized())
        .when(decline("k1"))
        .then_reject(wrong("record a decline for", S::Authorized));
    given::<Payment>(h_declined())
        .when(record_auth("k1", "auth-1", eur(1000)))
        .then_reject(wrong("record an authorization for", S::Declined));
    given::<Payment>(h_requested())
        .when(record_decline("k1", "", "msg"))
        .then_reject(R::InvalidText {
            field: "decline code",
            max: MAX_CODE_CHARS,
        });
    given::<Payment>(h_requested())
        .when(record_decline(
            "k1",
            "x",
            &"m".repeat(MAX_MESSAGE_CHARS + 1),
        ))
        .then_reject(R::InvalidText {
            field: "decline message",
            max: MAX_MESSAGE_CHARS,
        });
}

#[test]
fn a_gateway_timeout_leaves_the_outcome_unknown() {
    let state = given::<Payment>(h_requested())
        .when(record_unknown("k1", "gateway timeout after 30s"))
        .then([timed_out("k1")]);
    assert_eq!(state.status(), S::OutcomeUnknown);
    given::<Payment>(h_unknown())
        .when(record_unknown("k1", "again"))
        .then_nothing();
    given::<Payment>(h_authorized())
        .when(record_unknown("k1", "late timeout"))
        .then_reject(wrong("record an unknown outcome for", S::Authorized));
    given::<Payment>(h_requested())
        .when(record_unknown("k1", "  "))
        .then_reject(R::InvalidText {
            field: "timeout detail",
            max: MAX_MESSAGE_CHARS,
        });
}

#[test]
fn an_unknown_outcome_is_reconciled_by_the_real_answer() {
    let state = given::<Payment>(h_unknown())
        .when(record_auth("k1", "auth-1", eur(1000)))
        .then([authorized("k1", "auth-1", 1000, true)]);
    assert_eq!(state.status(), S::Authorized);
    let state = given::<Payment>(h_unknown())
        .when(decline("k1"))
        .then([declined("k1", true)]);
    assert_eq!(state.status(), S::Declined);
}
