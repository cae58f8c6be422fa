//! The rules for money after authorization: capture, void and refund.

use super::decide::{Decision, check_amount, check_text, started};
use super::{
    MAX_REFERENCE_CHARS, PaymentEvent as E, PaymentRejection as R, PaymentState,
    PaymentStatus as S, RefundId,
};
use crate::{Money, PaymentId};

pub(super) fn capture(
    state: &PaymentState,
    payment_id: &PaymentId,
    reference: &str,
    amount: Money,
) -> Decision {
    let (order_id, currency) = started(state, "capture")?;
    check_text(reference, "gateway reference", MAX_REFERENCE_CHARS)?;
    check_amount(state, amount)?;
    if let Some(recorded) = &state.capture {
        return if recorded.reference == reference && recorded.amount == amount.amount {
            Ok(vec![])
        } else {
            Err(R::ConflictingResult {
                what: "capture",
                recorded: recorded.reference.clone(),
            })
        };
    }
    match state.status() {
        S::Authorized => {}
        S::OutcomeUnknown => {
            return Err(R::ReconciliationRequired {
                idempotency_key: state.current_attempt().unwrap_or_default().to_string(),
            });
        }
        status => {
            return Err(R::WrongStatus {
                action: "capture",
                status,
            });
        }
    }
    let authorized = Money::new(
        state.authorization.as_ref().map_or(0, |a| a.amount),
        currency,
    );
    if amount.amount > authorized.amount {
        return Err(R::CaptureExceedsAuthorization {
            requested: amount,
            authorized,
        });
    }
    Ok(vec![E::PaymentCaptured {
        payment_id: payment_id.clone(),
        order_id: order_id.clone(),
        gateway_reference: reference.to_string(),
        amount,
        authorized,
    }])
}

pub(super) fn void(state: &PaymentState, payment_id: &PaymentId, reference: &str) -> Decision {
    let (order_id, currency) = started(state, "void")?;
    check_text(reference, "gateway reference", MAX_REFERENCE_CHARS)?;
    if let Some(recorded) = &state.void_reference {
        return if recorded == reference {
            Ok(vec![])
        } else {
            Err(R::ConflictingResult {
                what: "void",
                recorded: recorded.clone(),
            })
        };
    }
    match state.status() {
        S::Authorized => Ok(vec![E::PaymentVoided {
            payment_id: payment_id.clone(),
            order_id: order_id.clone(),
            gateway_reference: reference.to_string(),
            authorized: Money::new(
                state.authorization.as_ref().map_or(0, |a| a.amount),
                currency,
            ),
        }]),
        S::Captured | S::PartiallyRefunded | S::Refunded => Err(R::VoidAfterCapture),
        S::OutcomeUnknown => Err(R::ReconciliationRequired {
            idempotency_key: state.current_attempt().unwrap_or_default().to_string(),
        }),
        status => Err(R::WrongStatus {
            action: "void",
            status,
        }),
    }
}

pub(super) fn refund(
    state: &PaymentState,
    payment_id: &PaymentId,
    refund_id: &RefundId,
    reference: &str,
    amount: Money,
) -> Decision {
    let (order_id, currency) = started(state, "refund")?;
    check_text(reference, "gateway reference", MAX_REFERENCE_CHARS)?;
    check_amount(state, amount)?;
    if let Some(recorded) = state.refunds.get(refund_id) {
        return if recorded.reference == reference && recorded.amount == amount.amount {
            Ok(vec![])
        } else {
            Err(R::RefundConflict {
                refund_id: refund_id.clone(),
            })
        };
    }
    match state.status() {
        S::Captured | S::PartiallyRefunded | S::Refunded => {}
        status => {
            return Err(R::WrongStatus {
                action: "refund",
                status,
            });
        }
    }
    let captured = Money::new(state.capture.as_ref().map_or(0, |c| c.amount), currency);
    let refunded = Money::new(state.refunded, currency);
    let refundable = captured.checked_sub(refunded)?;
    if amount.amount > refundable.amount {
        return Err(R::RefundExceedsCaptured {
            requested: amount,
            refundable,
        });
    }
    Ok(vec![E::PaymentRefunded {
        payment_id: payment_id.clone(),
        order_id: order_id.clone(),
        refund_id: refund_id.clone(),
        gateway_reference: reference.to_string(),
        amount,
        total_refunded: refunded.checked_add(amount)?,
        captured,
    }])
}
