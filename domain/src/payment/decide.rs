//! The payment's rules.

use super::{
    MAX_AMOUNT_MINOR_UNITS, MAX_AUTHORIZATION_ATTEMPTS, MAX_CODE_CHARS, MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_MESSAGE_CHARS, MAX_REFERENCE_CHARS, MAX_TOKEN_CHARS, PaymentCommand as C,
    PaymentEvent as E, PaymentRejection as R, PaymentState, PaymentStatus as S,
};
use crate::{Context, Currency, Money, OrderId, PaymentId};

pub(super) type Decision = Result<Vec<E>, R>;

pub(super) fn decide(state: &PaymentState, command: &C, _ctx: &Context) -> Decision {
    let id = command.payment_id();
    if let Some(expected) = state.payment_id()
        && expected != id
    {
        return Err(R::WrongPayment {
            expected: expected.clone(),
            got: id.clone(),
        });
    }
    match command {
        C::RequestAuthorization {
            order_id,
            amount,
            method_token,
            idempotency_key,
            ..
        } => request(state, id, order_id, *amount, method_token, idempotency_key),
        C::RecordAuthorization {
            idempotency_key,
            gateway_reference,
            amount,
            ..
        } => authorized(state, id, idempotency_key, gateway_reference, *amount),
        C::RecordDecline {
            idempotency_key,
            code,
            message,
            ..
        } => declined(state, id, idempotency_key, code, message),
        C::RecordOutcomeUnknown {
            idempotency_key,
            detail,
            ..
        } => unknown(state, id, idempotency_key, detail),
        C::CapturePayment {
            gateway_reference,
            amount,
            ..
        } => super::settle::capture(state, id, gateway_reference, *amount),
        C::VoidPayment {
            gateway_reference, ..
        } => super::settle::void(state, id, gateway_reference),
        C::RefundPayment {
            refund_id,
            gateway_reference,
            amount,
            ..
        } => super::settle::refund(state, id, refund_id, gateway_reference, *amount),
    }
}

pub(super) fn check_text(text: &str, field: &'static str, max: usize) -> Result<(), R> {
    if text.trim().is_empty() || text.chars().count() > max {
        return Err(R::InvalidText { field, max });
    }
    Ok(())
}

/// A positive, sane amount in the payment's currency (any currency while the payment is new).
pub(super) fn check_amount(state: &PaymentState, amount: Money) -> Result<(), R> {
    if amount.amount <= 0 || amount.amount > MAX_AMOUNT_MINOR_UNITS {
        return Err(R::InvalidAmount {
            amount,
            max: MAX_AMOUNT_MINOR_UNITS,
        });
    }
    match state.currency() {
        Some(expected) if expected != amount.currency => Err(R::CurrencyMismatch {
            expected,
            got: amount.currency,
        }),
        _ => Ok(()),
    }
}

/// The order and currency of a payment past `new`; a new payment cannot do `action`.
pub(super) fn started<'a>(
    state: &'a PaymentState,
    action: &'static str,
) -> Result<(&'a OrderId, Currency), R> {
    match (state.order_id(), state.currency()) {
        (Some(order_id), Some(currency)) => Ok((order_id, currency)),
        _ => Err(R::WrongStatus {
            action,
            status: state.status(),
        }),
    }
}

fn request(
    state: &PaymentState,
    payment_id: &PaymentId,
    order_id: &OrderId,
    amount: Money,
    method_token: &str,
    idempotency_key: &str,
) -> Decision {
    check_amount(state, amount)?;
    check_text(method_token, "payment method token", MAX_TOKEN_CHARS)?;
    check_text(
        idempotency_key,
        "idempotency key",
        MAX_IDEMPOTENCY_KEY_CHARS,
    )?;
    let key_reused = || R::IdempotencyKeyReused {
        idempotency_key: idempotency_key.to_string(),
    };
    if state.current_attempt() == Some(idempotency_key) {
        let same = state.order_id() == Some(order_id)
            && state.requested() == Some(amount)
            && state.method_token.as_deref() == Some(method_token);
        return if same { Ok(vec![]) } else { Err(key_reused()) };
    }
    if state.attempt_keys.iter().any(|k| k == idempotency_key) {
        return Err(key_reused());
    }
    let current = || state.current_attempt().unwrap_or_default().to_string();
    match state.status() {
        S::New => {}
        S::Declined => {
            if let Some(expected) = state.order_id()
                && expected != order_id
            {
                return Err(R::OrderMismatch {
                    expected: expected.clone(),
                    got: order_id.clone(),
                });
            }
            if state.attempts() >= MAX_AUTHORIZATION_ATTEMPTS as usize {
                return Err(R::TooManyAttempts {
                    max: MAX_AUTHORIZATION_ATTEMPTS,
                });
            }
        }
        S::AuthorizationRequested => {
            return Err(R::AuthorizationPending {
                idempotency_key: current(),
            });
        }
        S::OutcomeUnknown => {
            return Err(R::ReconciliationRequired {
                idempotency_key: current(),
            });
        }
        status => {
            return Err(R::WrongStatus {
                action: "start an authorization attempt for",
                status,
            });
        }
    }
    Ok(vec![E::AuthorizationRequested {
        payment_id: payment_id.clone(),
        order_id: order_id.clone(),
        amount,
        method_token: method_token.to_string(),
        idempotency_key: idempotency_key.to_string(),
        attempt: u32::try_from(state.attempts() + 1).unwrap_or(u32::MAX),
    }])
}

/// Where a gateway result's attempt stands.
enum Attempt {
    /// The current attempt.
    Current,
    /// An earlier attempt: it was declined, or no new attempt could have started.
    Earlier,
}

fn attempt(state: &PaymentState, key: &str) -> Result<Attempt, R> {
    check_text(key, "idempotency key", MAX_IDEMPOTENCY_KEY_CHARS)?;
    let current = state.current_attempt().unwrap_or_default();
    if current == key {
        Ok(Attempt::Current)
    } else if state.attempt_keys.iter().any(|k| k == key) {
        Ok(Attempt::Earlier)
    } else {
        Err(R::NotCurrentAttempt {
            idempotency_key: key.to_string(),
            current: current.to_string(),
        })
    }
}

fn not_current(state: &PaymentState, key: &str) -> R {
    R::NotCurrentAttempt {
        idempotency_key: key.to_string(),
        current: state.current_attempt().unwrap_or_default().to_string(),
    }
}

fn authorized(
    state: &PaymentState,
    payment_id: &PaymentId,
    key: &str,
    reference: &str,
    amount: Money,
) -> Decision {
    let action = "record an authorization for";
    let (order_id, currency) = started(state, action)?;
    check_text(reference, "gateway reference", MAX_REFERENCE_CHARS)?;
    check_amount(state, amount)?;
    if let Some(recorded) = &state.authorization {
        return if recorded.reference == reference && recorded.amount == amount.amount {
            Ok(vec![])
        } else {
            Err(R::ConflictingResult {
                what: "authorization",
                recorded: recorded.reference.clone(),
            })
        };
    }
    // An earlier attempt was declined: an authorization for it needs a person, not a record.
    if let Attempt::Earlier = attempt(state, key)? {
        return Err(not_current(state, key));
    }
    let reconciled = match state.status() {
        S::AuthorizationRequested => false,
        S::OutcomeUnknown => true,
        status => return Err(R::WrongStatus { action, status }),
    };
    let requested = Money::new(state.requested, currency);
    if amount.amount > requested.amount {
        return Err(R::AuthorizedMoreThanRequested {
            authorized: amount,
            requested,
        });
    }
    Ok(vec![E::PaymentAuthorized {
        payment_id: payment_id.clone(),
        order_id: order_id.clone(),
        idempotency_key: key.to_string(),
        gateway_reference: reference.to_string(),
        amount,
        requested,
        reconciled,
    }])
}

fn declined(
    state: &PaymentState,
    payment_id: &PaymentId,
    key: &str,
    code: &str,
    message: &str,
) -> Decision {
    let action = "record a decline for";
    let (order_id, _) = started(state, action)?;
    check_text(code, "decline code", MAX_CODE_CHARS)?;
    check_text(message, "decline message", MAX_MESSAGE_CHARS)?;
    // Earlier attempts were all declined: a repeated decline for one changes nothing.
    if let Attempt::Earlier = attempt(state, key)? {
        return Ok(vec![]);
    }
    let reconciled = match state.status() {
        S::AuthorizationRequested => false,
        S::OutcomeUnknown => true,
        S::Declined if state.decline() == Some((code, message)) => return Ok(vec![]),
        S::Declined => {
            return Err(R::WrongStatus {
                action: "record a different decline for",
                status: S::Declined,
            });
        }
        status => return Err(R::WrongStatus { action, status }),
    };
    Ok(vec![E::PaymentDeclined {
        payment_id: payment_id.clone(),
        order_id: order_id.clone(),
        idempotency_key: key.to_string(),
        code: code.to_string(),
        message: message.to_string(),
        reconciled,
    }])
}

fn unknown(state: &PaymentState, payment_id: &PaymentId, key: &str, detail: &str) -> Decision {
    let action = "record an unknown outcome for";
    let (order_id, _) = started(state, action)?;
    check_text(detail, "timeout detail", MAX_MESSAGE_CHARS)?;
    if let Attempt::Earlier = attempt(state, key)? {
        return Err(not_current(state, key));
    }
    match state.status() {
        S::AuthorizationRequested => Ok(vec![E::AuthorizationOutcomeUnknown {
            payment_id: payment_id.clone(),
            order_id: order_id.clone(),
            idempotency_key: key.to_string(),
            detail: detail.to_string(),
        }]),
        S::OutcomeUnknown => Ok(vec![]),
        status => Err(R::WrongStatus { action, status }),
    }
}
