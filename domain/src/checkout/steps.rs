//! The checkout saga's rules: what each note records ([`decide`]) and what to do next
//! ([`next_steps`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Checkout, CheckoutCommand, CheckoutEvent, CheckoutLine, CheckoutOutcome, CheckoutRejection,
    CheckoutState, CompensationReason, LineStatus, MAX_LINES, PaymentProgress, expiry,
};
use crate::order::CancelReason;
use crate::{Aggregate, Context, Money, Sku};

/// How the compensation closes the order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CloseAs {
    /// `CancelOrder` with this reason.
    Cancel(CancelReason),
    /// `MarkPaymentFailed` with this reason.
    PaymentFailed {
        /// The decline code.
        reason: String,
    },
}

/// What to ask next, of the other aggregates and of the gateway. The runner derives each
/// command's id from (order id, step), so asking twice asks once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Set the expiry deadline.
    ScheduleExpiry {
        /// When it is due.
        due_at: DateTime<Utc>,
    },
    /// Reserve a line (`ReserveStock`).
    Reserve {
        /// The SKU.
        sku: Sku,
        /// Units.
        quantity: u32,
        /// When the hold lapses.
        expires_at: DateTime<Utc>,
    },
    /// Give a reservation back (`ReleaseReservation`; none held counts as released). A
    /// committed one (sold) returns its units to stock.
    Release {
        /// The SKU.
        sku: Sku,
    },
    /// Mark the order payment-pending and record the authorization request on the payment.
    RequestPayment {
        /// The attempt's key (also the gateway's).
        idempotency_key: String,
        /// The attempt.
        attempt: u32,
        /// How much.
        amount: Money,
        /// The payment method's token.
        method_token: String,
    },
    /// Ask the gateway to authorize (same key: a repeat charges once).
    Authorize {
        /// The attempt's key.
        idempotency_key: String,
    },
    /// Ask the gateway what happened under the key, before anything else.
    LookUpPayment {
        /// The attempt's key.
        idempotency_key: String,
    },
    /// Confirm the order.
    ConfirmOrder,
    /// Commit a reservation (sold).
    Commit {
        /// The SKU.
        sku: Sku,
    },
    /// Capture the authorization, and record it on the payment and the order.
    Capture {
        /// The capture's key.
        idempotency_key: String,
        /// The authorization.
        authorization: String,
        /// How much.
        amount: Money,
    },
    /// Void the authorization, and record it on the payment.
    Void {
        /// The void's key.
        idempotency_key: String,
        /// The authorization.
        authorization: String,
    },
    /// Refund the capture (the runner refunds what is left of it, should part have been
    /// refunded outside the saga), and record it on the payment and the order.
    Refund {
        /// The refund's key.
        idempotency_key: String,
        /// The authorization the capture was made on.
        authorization: String,
        /// How much (what was captured).
        amount: Money,
    },
    /// Close the order.
    CloseOrder(CloseAs),
    /// Call the expiry deadline off.
    CancelExpiry,
}

fn authorization_key(state: &CheckoutState, attempt: u32) -> String {
    let order = state.order_id.as_ref().map(|o| o.as_str()).unwrap_or("");
    format!("auth-{order}-{attempt}")
}

fn order_key(state: &CheckoutState, step: &str) -> String {
    let order = state.order_id.as_ref().map(|o| o.as_str()).unwrap_or("");
    format!("{step}-{order}")
}

/// The longest failure text a stuck note keeps.
const MAX_ERROR_CHARS: usize = 500;

/// What to do next, given the saga's state (see the module doc of `checkout`).
pub fn next_steps(state: &CheckoutState) -> Vec<Step> {
    let mut steps = Vec::new();
    let (Some(amount), Some(expires_at)) = (state.amount, state.expires_at) else {
        return steps;
    };
    if state.outcome.is_some() {
        let expired = state.compensating == Some(CompensationReason::Expired);
        if state.expiry_scheduled && !expired {
            steps.push(Step::CancelExpiry);
        }
        return steps;
    }
    if !state.expiry_scheduled {
        steps.push(Step::ScheduleExpiry { due_at: expires_at });
    }
    if let Some(reason) = &state.compensating {
        for line in &state.lines {
            if matches!(
                line.status,
                LineStatus::Pending | LineStatus::Reserved | LineStatus::Committed
            ) {
                steps.push(Step::Release {
                    sku: line.line.sku.clone(),
                });
            }
        }
        match &state.payment {
            PaymentProgress::InFlight | PaymentProgress::Unknown => {
                steps.push(Step::LookUpPayment {
                    idempotency_key: authorization_key(state, state.attempt),
                });
            }
            PaymentProgress::Authorized { reference } => steps.push(Step::Void {
                idempotency_key: order_key(state, "void"),
                authorization: reference.clone(),
            }),
            PaymentProgress::Captured { reference } => steps.push(Step::Refund {
                idempotency_key: order_key(state, "refund"),
                authorization: reference.clone(),
                amount,
            }),
            _ => {}
        }
        if !state.order_closed {
            steps.push(Step::CloseOrder(match reason {
                CompensationReason::OutOfStock { skus } => {
                    CloseAs::Cancel(CancelReason::OutOfStock { skus: skus.clone() })
                }
                CompensationReason::Expired => CloseAs::Cancel(CancelReason::Expired),
                CompensationReason::Operator { note } => {
                    CloseAs::Cancel(CancelReason::Admin { note: note.clone() })
                }
                CompensationReason::PaymentDeclined { code } => CloseAs::PaymentFailed {
                    reason: code.clone(),
                },
                // Closed already: noted together with the compensation's start.
                CompensationReason::OrderCancelled { reason } => CloseAs::Cancel(reason.clone()),
            }));
        }
        return steps;
    }
    for line in &state.lines {
        if line.status == LineStatus::Pending {
            steps.push(Step::Reserve {
                sku: line.line.sku.clone(),
                quantity: line.line.quantity,
                expires_at,
            });
        }
    }
    let held = state
        .lines
        .iter()
        .all(|l| matches!(l.status, LineStatus::Reserved | LineStatus::Committed));
    if !held {
        return steps;
    }
    let commits = |steps: &mut Vec<Step>| {
        for line in &state.lines {
            if line.status == LineStatus::Reserved {
                steps.push(Step::Commit {
                    sku: line.line.sku.clone(),
                });
            }
        }
    };
    match &state.payment {
        PaymentProgress::NotRequested => steps.push(Step::RequestPayment {
            idempotency_key: authorization_key(state, state.attempt + 1),
            attempt: state.attempt + 1,
            amount,
            method_token: state.method_token.clone(),
        }),
        PaymentProgress::InFlight => steps.push(Step::Authorize {
            idempotency_key: authorization_key(state, state.attempt),
        }),
        PaymentProgress::Unknown => steps.push(Step::LookUpPayment {
            idempotency_key: authorization_key(state, state.attempt),
        }),
        PaymentProgress::Authorized { reference } => {
            if state.order_confirmed {
                commits(&mut steps);
                steps.push(Step::Capture {
                    idempotency_key: order_key(state, "capture"),
                    authorization: reference.clone(),
                    amount,
                });
            } else {
                steps.push(Step::ConfirmOrder);
            }
        }
        PaymentProgress::Captured { .. } => commits(&mut steps),
        // A decline starts the compensation; nothing is voided before it.
        // Only a compensation voids or refunds.
        PaymentProgress::Declined | PaymentProgress::Voided | PaymentProgress::Refunded => {}
    }
    steps
}

fn out_of_order(note: &'static str, state: &CheckoutState) -> CheckoutRejection {
    CheckoutRejection::OutOfOrder {
        note,
        state: format!(
            "payment {:?}, compensating {:?}, outcome {:?}",
            state.payment, state.compensating, state.outcome
        ),
    }
}

fn check_start(
    lines: &[CheckoutLine],
    amount: Money,
    method_token: &str,
) -> Result<(), CheckoutRejection> {
    let invalid = |why: &str| Err(CheckoutRejection::Invalid(why.to_owned()));
    if lines.is_empty() || lines.len() > MAX_LINES {
        return invalid("a checkout has 1 to 100 lines");
    }
    if lines.iter().any(|l| l.quantity == 0) {
        return invalid("every line needs at least one unit");
    }
    for (i, line) in lines.iter().enumerate() {
        if lines[..i].iter().any(|l| l.sku == line.sku) {
            return invalid("a SKU appears on two lines");
        }
    }
    if amount.amount <= 0 {
        return invalid("the amount must be positive");
    }
    if method_token.trim().is_empty() {
        return invalid("a payment method token is required");
    }
    Ok(())
}

/// The checkout's decisions (see the module doc of `checkout`).
pub(super) fn decide(
    state: &CheckoutState,
    command: &CheckoutCommand,
    ctx: &Context,
) -> Result<Vec<CheckoutEvent>, CheckoutRejection> {
    use CheckoutCommand as C;
    use CheckoutEvent as E;
    if let C::Start {
        order_id,
        payment_id,
        lines,
        amount,
        method_token,
    } = command
    {
        check_start(lines, *amount, method_token)?;
        if state.order_id.is_some() {
            let same = state.order_id.as_ref() == Some(order_id)
                && state.payment_id.as_ref() == Some(payment_id)
                && state.amount == Some(*amount)
                && state.method_token == *method_token
                && state.lines.iter().map(|l| &l.line).eq(lines.iter());
            return if same {
                Ok(Vec::new())
            } else {
                Err(CheckoutRejection::StartedDifferently)
            };
        }
        return Ok(vec![E::CheckoutStarted {
            order_id: order_id.clone(),
            payment_id: payment_id.clone(),
            lines: lines.clone(),
            amount: *amount,
            method_token: method_token.clone(),
            at: ctx.now,
            expires_at: expiry(ctx.now),
        }]);
    }
    if state.order_id.is_none() {
        return Err(CheckoutRejection::NotStarted);
    }
    let line = |sku: &Sku| {
        state
            .status_of(sku)
            .ok_or_else(|| CheckoutRejection::UnknownSku(sku.clone()))
    };
    let compensate = |reason| E::CompensationStarted {
        reason,
        at: ctx.now,
    };
    let active = state.compensating.is_none() && state.outcome.is_none();
    let mut events = match command {
        C::Start { .. } => unreachable!("handled above"),
        C::NoteExpiryScheduled => {
            if state.expiry_scheduled {
                vec![]
            } else {
                vec![E::ExpiryScheduled {}]
            }
        }
        C::NoteReserved { sku } => match line(sku)? {
            LineStatus::Pending => vec![E::LineReserved { sku: sku.clone() }],
            LineStatus::Reserved | LineStatus::Committed => vec![],
            LineStatus::OutOfStock | LineStatus::Released => {
                return Err(out_of_order("a reservation", state));
            }
        },
        C::NoteOutOfStock { sku } => match line(sku)? {
            LineStatus::Pending => {
                let mut events = vec![E::LineOutOfStock { sku: sku.clone() }];
                if active && !state.order_confirmed {
                    let mut skus: Vec<Sku> = state
                        .lines
                        .iter()
                        .filter(|l| l.status == LineStatus::OutOfStock)
                        .map(|l| l.line.sku.clone())
                        .collect();
                    skus.push(sku.clone());
                    events.push(compensate(CompensationReason::OutOfStock { skus }));
                }
                events
            }
            LineStatus::OutOfStock => vec![],
            _ => return Err(out_of_order("a line out of stock", state)),
        },
        C::NoteReleased { sku } => match line(sku)? {
            LineStatus::Pending | LineStatus::Reserved => {
                vec![E::LineReleased { sku: sku.clone() }]
            }
            // Sold units go back only when the sale is undone.
            LineStatus::Committed if state.compensating.is_some() => {
                vec![E::LineReleased { sku: sku.clone() }]
            }
            LineStatus::Released | LineStatus::OutOfStock => vec![],
            LineStatus::Committed => return Err(out_of_order("a release", state)),
        },
        C::NotePaymentRequested => match state.payment {
            // Also a fact while a compensation runs: it then looks the payment up.
            PaymentProgress::NotRequested
                if state.outcome.is_none() && state.all_lines(LineStatus::Reserved) =>
            {
                vec![E::PaymentRequested {
                    attempt: state.attempt + 1,
                }]
            }
            PaymentProgress::InFlight => vec![],
            _ => return Err(out_of_order("a payment request", state)),
        },
        C::NoteAuthorized { reference } => match &state.payment {
            PaymentProgress::InFlight | PaymentProgress::Unknown => {
                vec![E::PaymentAuthorized {
                    reference: reference.clone(),
                }]
            }
            PaymentProgress::Authorized { reference: held }
            | PaymentProgress::Captured { reference: held }
                if held == reference =>
            {
                vec![]
            }
            _ => return Err(out_of_order("an authorization", state)),
        },
        C::NoteDeclined { code } => match &state.payment {
            PaymentProgress::InFlight | PaymentProgress::Unknown => {
                let mut events = vec![E::PaymentDeclined { code: code.clone() }];
                if active {
                    events.push(compensate(CompensationReason::PaymentDeclined {
                        code: code.clone(),
                    }));
                }
                events
            }
            PaymentProgress::Declined => vec![],
            _ => return Err(out_of_order("a decline", state)),
        },
        C::NoteOutcomeUnknown => match &state.payment {
            PaymentProgress::InFlight => vec![E::PaymentOutcomeUnknown {}],
            PaymentProgress::Unknown => vec![],
            _ => return Err(out_of_order("an unknown outcome", state)),
        },
        C::NoteNotFoundAtGateway => match &state.payment {
            PaymentProgress::Unknown => vec![E::PaymentNotFound {}],
            // While compensating, "not found" means nothing to void.
            PaymentProgress::InFlight if state.compensating.is_some() => {
                vec![E::PaymentNotFound {}]
            }
            PaymentProgress::InFlight | PaymentProgress::NotRequested => vec![],
            _ => return Err(out_of_order("a lookup that found nothing", state)),
        },
        // A fact, also while compensating (the expiry fired between confirming and noting it):
        // the compensation then cancels the confirmed order, which the order allows.
        C::NoteOrderConfirmed => {
            if state.order_confirmed {
                vec![]
            } else if state.outcome.is_none() && state.authorization().is_some() {
                vec![E::OrderConfirmed {}]
            } else {
                return Err(out_of_order("a confirmation", state));
            }
        }
        // Commits and captures are only asked while not compensating, but one asked just before
        // a compensation began (the order cancelled meanwhile) is still a fact: the compensation
        // then returns the units and refunds the capture.
        C::NoteCommitted { sku } => match line(sku)? {
            LineStatus::Reserved if state.order_confirmed => {
                vec![E::LineCommitted { sku: sku.clone() }]
            }
            LineStatus::Committed => vec![],
            _ => return Err(out_of_order("a commit", state)),
        },
        C::NoteCaptured => match &state.payment {
            PaymentProgress::Authorized { .. } if state.order_confirmed => {
                vec![E::PaymentCaptured {}]
            }
            PaymentProgress::Captured { .. } | PaymentProgress::Refunded => vec![],
            _ => return Err(out_of_order("a capture", state)),
        },
        C::NoteRefunded => match &state.payment {
            PaymentProgress::Captured { .. } if state.compensating.is_some() => {
                vec![E::PaymentRefunded {}]
            }
            PaymentProgress::Refunded => vec![],
            _ => return Err(out_of_order("a refund", state)),
        },
        C::NoteOrderCancelled { reason } => {
            if state.compensating.is_some() {
                // The saga's own cancellation, or a second one: closed, whoever closed it.
                if state.order_closed {
                    vec![]
                } else {
                    vec![E::OrderClosed {}]
                }
            } else if matches!(
                state.outcome,
                Some(CheckoutOutcome::Cancelled | CheckoutOutcome::PaymentFailed)
            ) {
                vec![]
            } else {
                // Running, or confirmed: undo whatever was done, the order is closed already.
                vec![
                    compensate(CompensationReason::OrderCancelled {
                        reason: reason.clone(),
                    }),
                    E::OrderClosed {},
                ]
            }
        }
        C::NoteStuck { error, attempts } => {
            if state.outcome.is_some() {
                vec![]
            } else {
                vec![E::CheckoutStuck {
                    error: error.chars().take(MAX_ERROR_CHARS).collect(),
                    attempts: *attempts,
                    at: ctx.now,
                }]
            }
        }
        C::Retry => {
            if state.outcome.is_some() {
                return Err(out_of_order("a retry (the checkout has ended)", state));
            }
            vec![E::RetryRequested { at: ctx.now }]
        }
        C::NoteVoided => match &state.payment {
            PaymentProgress::Authorized { .. } if state.compensating.is_some() => {
                vec![E::PaymentVoided {}]
            }
            PaymentProgress::Voided => vec![],
            _ => return Err(out_of_order("a void", state)),
        },
        C::NoteOrderClosed => {
            if state.order_closed {
                vec![]
            } else if state.compensating.is_some() {
                vec![E::OrderClosed {}]
            } else {
                return Err(out_of_order("a closed order", state));
            }
        }
        C::NoteExpired => {
            if active && !state.order_confirmed {
                vec![compensate(CompensationReason::Expired)]
            } else {
                // Too late to matter: confirmed, compensating or over.
                vec![]
            }
        }
        C::ForceCompensate { note } => {
            if state.compensating.is_some() {
                vec![]
            } else if state.outcome.is_some() || state.order_confirmed {
                return Err(out_of_order(
                    "a forced compensation (confirmed orders are refunded by cancelling them)",
                    state,
                ));
            } else if note.trim().is_empty() || note.chars().count() > 500 {
                return Err(CheckoutRejection::Invalid(
                    "an operator's note is 1 to 500 characters".into(),
                ));
            } else {
                vec![compensate(CompensationReason::Operator {
                    note: note.clone(),
                })]
            }
        }
    };
    if !events.is_empty() {
        let mut after = state.clone();
        for event in &events {
            Checkout::evolve(&mut after, event);
        }
        if after.outcome.is_none()
            && let Some(outcome) = completed(&after)
        {
            events.push(E::CheckoutCompleted {
                outcome,
                at: ctx.now,
            });
        }
    }
    Ok(events)
}

/// The outcome, once everything the saga asked is done.
fn completed(state: &CheckoutState) -> Option<CheckoutOutcome> {
    match &state.compensating {
        None => (state.order_confirmed
            && state.all_lines(LineStatus::Committed)
            && matches!(state.payment, PaymentProgress::Captured { .. }))
        .then_some(CheckoutOutcome::Confirmed),
        Some(reason) => {
            let released = state.lines.iter().all(|l| {
                !matches!(
                    l.status,
                    LineStatus::Pending | LineStatus::Reserved | LineStatus::Committed
                )
            });
            let unpaid = matches!(
                state.payment,
                PaymentProgress::NotRequested
                    | PaymentProgress::Declined
                    | PaymentProgress::Voided
                    | PaymentProgress::Refunded
            );
            let outcome = match reason {
                CompensationReason::PaymentDeclined { .. } => CheckoutOutcome::PaymentFailed,
                _ => CheckoutOutcome::Cancelled,
            };
            (released && unpaid && state.order_closed).then_some(outcome)
        }
    }
}
