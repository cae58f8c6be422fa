//! Given/when/then for every payment transition and rejection: shared helpers here, one file
//! per area.

mod authorization;
mod settlement;

use super::*;
use crate::testing::given;
use crate::{Currency, Money, OrderId, PaymentId};

use PaymentCommand as C;
use PaymentEvent as E;
use PaymentRejection as R;
use PaymentStatus as S;

fn pid() -> PaymentId {
    PaymentId::new("pay-1").unwrap()
}
fn oid() -> OrderId {
    OrderId::new("order-1").unwrap()
}
fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}
fn rid(id: &str) -> RefundId {
    RefundId::new(id).unwrap()
}

// ---- events ----------------------------------------------------------------------------------

fn requested_n(key: &str, amount: Money, attempt: u32) -> E {
    E::AuthorizationRequested {
        payment_id: pid(),
        order_id: oid(),
        amount,
        method_token: "tok_visa".into(),
        idempotency_key: key.into(),
        attempt,
    }
}
fn requested(key: &str) -> E {
    requested_n(key, eur(1000), 1)
}
fn authorized(key: &str, reference: &str, amount: i64, reconciled: bool) -> E {
    E::PaymentAuthorized {
        payment_id: pid(),
        order_id: oid(),
        idempotency_key: key.into(),
        gateway_reference: reference.into(),
        amount: eur(amount),
        requested: eur(1000),
        reconciled,
    }
}
fn declined(key: &str, reconciled: bool) -> E {
    E::PaymentDeclined {
        payment_id: pid(),
        order_id: oid(),
        idempotency_key: key.into(),
        code: "insufficient_funds".into(),
        message: "Insufficient funds".into(),
        reconciled,
    }
}
fn timed_out(key: &str) -> E {
    E::AuthorizationOutcomeUnknown {
        payment_id: pid(),
        order_id: oid(),
        idempotency_key: key.into(),
        detail: "gateway timeout after 30s".into(),
    }
}
fn captured(reference: &str, amount: i64) -> E {
    E::PaymentCaptured {
        payment_id: pid(),
        order_id: oid(),
        gateway_reference: reference.into(),
        amount: eur(amount),
        authorized: eur(1000),
    }
}
fn voided(reference: &str) -> E {
    E::PaymentVoided {
        payment_id: pid(),
        order_id: oid(),
        gateway_reference: reference.into(),
        authorized: eur(1000),
    }
}
fn refunded(id: &str, reference: &str, amount: i64, total: i64, captured: i64) -> E {
    E::PaymentRefunded {
        payment_id: pid(),
        order_id: oid(),
        refund_id: rid(id),
        gateway_reference: reference.into(),
        amount: eur(amount),
        total_refunded: eur(total),
        captured: eur(captured),
    }
}

// ---- commands --------------------------------------------------------------------------------

fn request_with(key: &str, order_id: OrderId, amount: Money, token: &str) -> C {
    C::RequestAuthorization {
        payment_id: pid(),
        order_id,
        amount,
        method_token: token.into(),
        idempotency_key: key.into(),
    }
}
fn request(key: &str) -> C {
    request_with(key, oid(), eur(1000), "tok_visa")
}
fn record_auth(key: &str, reference: &str, amount: Money) -> C {
    C::RecordAuthorization {
        payment_id: pid(),
        idempotency_key: key.into(),
        gateway_reference: reference.into(),
        amount,
    }
}
fn record_decline(key: &str, code: &str, message: &str) -> C {
    C::RecordDecline {
        payment_id: pid(),
        idempotency_key: key.into(),
        code: code.into(),
        message: message.into(),
    }
}
fn decline(key: &str) -> C {
    record_decline(key, "insufficient_funds", "Insufficient funds")
}
fn record_unknown(key: &str, detail: &str) -> C {
    C::RecordOutcomeUnknown {
        payment_id: pid(),
        idempotency_key: key.into(),
        detail: detail.into(),
    }
}
fn capture(reference: &str, amount: Money) -> C {
    C::CapturePayment {
        payment_id: pid(),
        gateway_reference: reference.into(),
        amount,
    }
}
fn void(reference: &str) -> C {
    C::VoidPayment {
        payment_id: pid(),
        gateway_reference: reference.into(),
    }
}
fn refund(id: &str, reference: &str, amount: Money) -> C {
    C::RefundPayment {
        payment_id: pid(),
        refund_id: rid(id),
        gateway_reference: reference.into(),
        amount,
    }
}

fn wrong(action: &'static str, status: S) -> R {
    R::WrongStatus { action, status }
}

// Histories reaching each status.
fn h_requested() -> Vec<E> {
    vec![requested("k1")]
}
fn h_authorized() -> Vec<E> {
    vec![requested("k1"), authorized("k1", "auth-1", 1000, false)]
}
fn h_declined() -> Vec<E> {
    vec![requested("k1"), declined("k1", false)]
}
fn h_unknown() -> Vec<E> {
    vec![requested("k1"), timed_out("k1")]
}
fn h_captured(amount: i64) -> Vec<E> {
    let mut h = h_authorized();
    h.push(captured("cap-1", amount));
    h
}
fn h_voided() -> Vec<E> {
    let mut h = h_authorized();
    h.push(voided("void-1"));
    h
}

// ---- identity and state ----------------------------------------------------------------------

#[test]
fn commands_for_another_payment_are_refused() {
    let other = PaymentId::new("pay-2").unwrap();
    given::<Payment>(h_authorized())
        .when(C::VoidPayment {
            payment_id: other.clone(),
            gateway_reference: "void-1".into(),
        })
        .then_reject(R::WrongPayment {
            expected: pid(),
            got: other,
        });
}

#[test]
fn the_state_survives_a_snapshot_round_trip() {
    let mut h = h_declined();
    h.extend([
        requested_n("k2", eur(1000), 2),
        authorized("k2", "auth-2", 1000, false),
        captured("cap-1", 900),
        refunded("r1", "ref-1", 100, 100, 900),
    ]);
    let state = Payment::fold(&h);
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<PaymentState>(&json).unwrap(), state);
    assert_eq!(state.status(), S::PartiallyRefunded);
    assert_eq!(
        (state.authorized(), state.captured(), state.refunded()),
        (Some(eur(1000)), Some(eur(900)), Some(eur(100)))
    );
}
