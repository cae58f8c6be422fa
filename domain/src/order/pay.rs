//! The rules for paying: payment pending, confirmation, capture, failure and refunds.

use chrono::{DateTime, Utc};

use super::decide::{Decision, check_amount, check_text, placed};
use super::{
    MAX_REASON_CHARS, MAX_REFUNDS, OrderEvent as E, OrderRejection as R, OrderState,
    OrderStatus as S, RefundId,
};
use crate::{Money, OrderId, PaymentId};

pub(super) fn mark_pending(
    state: &OrderState,
    order_id: &OrderId,
    payment_id: &PaymentId,
    at: DateTime<Utc>,
) -> Decision {
    let action = "mark the payment pending for";
    let total = placed(state, action)?.totals.total;
    if let Some(recorded) = state.payment_id() {
        return if recorded == payment_id {
            Ok(vec![])
        } else {
            Err(R::PaymentMismatch {
                expected: recorded.clone(),
                got: payment_id.clone(),
            })
        };
    }
    match state.status() {
        S::Placed if total.is_zero() => Err(R::NothingToPay { total }),
        S::Placed => Ok(vec![E::PaymentPending {
            order_id: order_id.clone(),
            payment_id: payment_id.clone(),
            amount: total,
            at,
        }]),
        status => Err(R::WrongStatus { action, status }),
    }
}

/// `payment_id` must be the order's payment: `None` exactly when the order has none (a zero
/// total).
fn same_payment(state: &OrderState, payment_id: Option<&PaymentId>, total: Money) -> Result<(), R> {
    match (state.payment_id(), payment_id) {
        (Some(expected), Some(got)) if expected != got => Err(R::PaymentMismatch {
            expected: expected.clone(),
            got: got.clone(),
        }),
        (Some(_), Some(_)) | (None, None) => Ok(()),
        (Some(_), None) => Err(R::PaymentRequired { total }),
        (None, Some(_)) if total.is_zero() => Err(R::NothingToPay { total }),
        (None, Some(_)) => Err(R::PaymentRequired { total }),
    }
}

pub(super) fn confirm(
    state: &OrderState,
    order_id: &OrderId,
    payment_id: Option<&PaymentId>,
    at: DateTime<Utc>,
) -> Decision {
    let action = "confirm";
    let total = placed(state, action)?.totals.total;
    let confirmed = || {
        Ok(vec![E::OrderConfirmed {
            order_id: order_id.clone(),
            payment_id: payment_id.cloned(),
            at,
        }])
    };
    match state.status() {
        // Only an order with nothing to pay is confirmed straight from placed.
        S::Placed if total.is_zero() => {
            same_payment(state, payment_id, total)?;
            confirmed()
        }
        S::Placed => Err(R::PaymentRequired { total }),
        S::PaymentPending => {
            same_payment(state, payment_id, total)?;
            confirmed()
        }
        S::Confirmed | S::Shipped | S::Delivered => {
            same_payment(state, payment_id, total)?;
            Ok(vec![])
        }
        status => Err(R::WrongStatus { action, status }),
    }
}

pub(super) fn capture(
    state: &OrderState,
    order_id: &OrderId,
    payment_id: &PaymentId,
    amount: Money,
    at: DateTime<Utc>,
) -> Decision {
    let action = "record a capture for";
    let placement = placed(state, action)?;
    let total = placement.totals.total;
    check_amount(placement, amount)?;
    if let Some(recorded) = state.captured {
        same_payment(state, Some(payment_id), total)?;
        return if recorded == amount.amount {
            Ok(vec![])
        } else {
            Err(R::CaptureConflict {
                recorded: Money::new(recorded, placement.currency),
            })
        };
    }
    // A capture made while the order was confirmed may be recorded after a cancellation that
    // crossed it: it is a fact, and the cancellation's refund follows it.
    let cancelled_after_confirming =
        state.status() == S::Cancelled && state.timeline().iter().any(|c| c.status == S::Confirmed);
    match state.status() {
        S::Confirmed | S::Shipped => {}
        S::Cancelled if cancelled_after_confirming => {}
        status => return Err(R::WrongStatus { action, status }),
    }
    same_payment(state, Some(payment_id), total)?;
    if amount.amount > total.amount {
        return Err(R::CaptureExceedsTotal {
            requested: amount,
            total,
        });
    }
    Ok(vec![E::PaymentCaptured {
        order_id: order_id.clone(),
        payment_id: payment_id.clone(),
        amount,
        total,
        at,
    }])
}

pub(super) fn fail(
    state: &OrderState,
    order_id: &OrderId,
    reason: &str,
    at: DateTime<Utc>,
) -> Decision {
    let action = "record a payment failure for";
    placed(state, action)?;
    check_text(reason, "payment failure reason", MAX_REASON_CHARS)?;
    match state.status() {
        S::Placed | S::PaymentPending => Ok(vec![E::PaymentFailed {
            order_id: order_id.clone(),
            payment_id: state.payment_id().cloned(),
            reason: reason.to_string(),
            at,
        }]),
        S::PaymentFailed => match state.failure_reason() {
            Some(recorded) if recorded != reason => Err(R::AlreadyFailed {
                reason: recorded.to_string(),
            }),
            _ => Ok(vec![]),
        },
        status => Err(R::WrongStatus { action, status }),
    }
}

pub(super) fn refund(
    state: &OrderState,
    order_id: &OrderId,
    refund_id: &RefundId,
    amount: Money,
    reason: &str,
    at: DateTime<Utc>,
) -> Decision {
    let placement = placed(state, "refund")?;
    check_amount(placement, amount)?;
    check_text(reason, "refund reason", MAX_REASON_CHARS)?;
    if let Some(recorded) = state.refunds.get(refund_id) {
        return if recorded.amount == amount.amount && recorded.reason == reason {
            Ok(vec![])
        } else {
            Err(R::RefundConflict {
                refund_id: refund_id.clone(),
            })
        };
    }
    // A capture is only recorded for a confirmed order's payment, so both are known here.
    let (Some(captured), Some(payment_id)) = (state.captured, state.payment_id()) else {
        return Err(R::NothingCaptured);
    };
    if state.refunds.len() >= MAX_REFUNDS {
        return Err(R::TooManyRefunds { max: MAX_REFUNDS });
    }
    let captured = Money::new(captured, placement.currency);
    let refunded = Money::new(state.refunded, placement.currency);
    let refundable = captured.checked_sub(refunded)?;
    if amount.amount > refundable.amount {
        return Err(R::RefundExceedsCaptured {
            requested: amount,
            refundable,
        });
    }
    Ok(vec![E::OrderRefunded {
        order_id: order_id.clone(),
        refund_id: refund_id.clone(),
        payment_id: payment_id.clone(),
        amount,
        reason: reason.to_string(),
        total_refunded: refunded.checked_add(amount)?,
        captured,
        at,
    }])
}
