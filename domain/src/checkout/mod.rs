//! Checkout: the saga's own state (`checkout-<order_id>`, ADR 0009), as a pure decider. Its
//! commands are what the process manager observed (a line reserved or out of stock, the gateway's
//! answer, the order confirmed, a deadline fired, …) plus operators' actions. Its events record
//! them. [`next_steps`] reads the state and says what to ask of the other aggregates and of the
//! gateway next. The runner that reacts to the log, issues the steps with ids derived from (order
//! id, step) and reports back is on the command side.
//!
//! Flow: reserve every line → (all reserved) request and obtain the payment's authorization →
//! confirm the order, commit every reservation, capture → confirmed. On a line out of stock, a
//! decline, the expiry deadline or an operator's order, the saga compensates: it releases what
//! was reserved, voids an authorization, and closes the order (cancelled, or payment failed). An
//! unknown payment outcome is looked up by its idempotency key before anything else. Once the
//! order is confirmed, only the order's cancellation (by the customer or an administrator, before
//! shipping) undoes it: the saga, reopened by that cancellation, returns the sold stock and
//! refunds the capture. A commit or capture that lands after a compensation began is undone the
//! same way, so every fact the saga learns has its compensation.
//!
//! A runner whose steps for a checkout keep failing notes that it is stuck (visible in the
//! operators' read model until the saga moves again); an operator's retry is recorded too.
//!
//! Every note is idempotent: noting again what is already noted changes nothing, so redelivered
//! events are harmless.

mod steps;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::order::CancelReason;
use crate::{Aggregate, Context, Money, OrderId, PaymentId, Sku};

pub use steps::{CloseAs, Step, next_steps};

/// How long reservations hold and the saga waits before it gives up.
pub const EXPIRY_MINUTES: i64 = 15;
/// The most lines a checkout may have.
pub const MAX_LINES: usize = 100;

/// One line to reserve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutLine {
    /// The SKU.
    pub sku: Sku,
    /// Units.
    pub quantity: u32,
}

/// Why the saga compensates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CompensationReason {
    /// These lines could not be reserved.
    OutOfStock {
        /// The SKUs short of stock.
        skus: Vec<Sku>,
    },
    /// The gateway declined the payment.
    PaymentDeclined {
        /// The decline code.
        code: String,
    },
    /// Nothing completed within the expiry.
    Expired,
    /// An operator said so.
    Operator {
        /// Their words.
        note: String,
    },
    /// The order was cancelled from outside the saga (the customer, an administrator), before
    /// or after its confirmation: whatever was reserved, sold, authorized or captured is undone.
    OrderCancelled {
        /// The order's cancellation reason.
        reason: CancelReason,
    },
}

/// Where one line stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    /// Not reserved yet.
    Pending,
    /// Held for the order.
    Reserved,
    /// Could not be reserved.
    OutOfStock,
    /// The hold was given back.
    Released,
    /// Sold.
    Committed,
}

/// Where the payment stands, as far as the saga knows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PaymentProgress {
    /// Not asked yet.
    #[default]
    NotRequested,
    /// Asked; no answer yet.
    InFlight,
    /// The gateway did not answer: look it up before anything else.
    Unknown,
    /// Authorized.
    Authorized {
        /// The authorization's reference.
        reference: String,
    },
    /// Declined.
    Declined,
    /// Captured.
    Captured {
        /// The authorization's reference.
        reference: String,
    },
    /// The authorization was voided.
    Voided,
    /// The capture was refunded in full.
    Refunded,
}

/// How a checkout ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutOutcome {
    /// Paid and confirmed.
    Confirmed,
    /// Cancelled (out of stock, expired, an operator, or the order cancelled, then refunded).
    Cancelled,
    /// The payment failed.
    PaymentFailed,
}

/// What the process manager observed, or an operator asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckoutCommand {
    /// Starts the saga for a placed order.
    Start {
        /// The order.
        order_id: OrderId,
        /// The payment that will pay it.
        payment_id: PaymentId,
        /// What to reserve.
        lines: Vec<CheckoutLine>,
        /// How much to authorize.
        amount: Money,
        /// The payment method's token at the gateway.
        method_token: String,
    },
    /// The expiry deadline was set.
    NoteExpiryScheduled,
    /// A line was reserved.
    NoteReserved {
        /// The SKU.
        sku: Sku,
    },
    /// A line could not be reserved.
    NoteOutOfStock {
        /// The SKU.
        sku: Sku,
    },
    /// A reservation was given back.
    NoteReleased {
        /// The SKU.
        sku: Sku,
    },
    /// The authorization was asked of the gateway (recorded on the payment first).
    NotePaymentRequested,
    /// The gateway authorized.
    NoteAuthorized {
        /// The authorization's reference.
        reference: String,
    },
    /// The gateway declined.
    NoteDeclined {
        /// The decline code.
        code: String,
    },
    /// The gateway did not answer in time.
    NoteOutcomeUnknown,
    /// A lookup by the idempotency key found nothing: the same key may be asked again.
    NoteNotFoundAtGateway,
    /// The order was confirmed.
    NoteOrderConfirmed,
    /// A reservation was committed (sold).
    NoteCommitted {
        /// The SKU.
        sku: Sku,
    },
    /// The payment was captured.
    NoteCaptured,
    /// The authorization was voided.
    NoteVoided,
    /// The order was closed (cancelled or payment failed) as the compensation asked.
    NoteOrderClosed,
    /// The expiry deadline fired.
    NoteExpired,
    /// An operator forces compensation.
    ForceCompensate {
        /// Why.
        note: String,
    },
    /// The order was cancelled outside the saga (an `OrderCancelled` the saga did not ask for).
    NoteOrderCancelled {
        /// The order's reason.
        reason: CancelReason,
    },
    /// The capture was refunded.
    NoteRefunded,
    /// The runner's steps for this checkout keep failing.
    NoteStuck {
        /// The last failure.
        error: String,
        /// Failed attempts so far.
        attempts: u32,
    },
    /// An operator asks the runner to try again.
    Retry,
}

/// A fact about one checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CheckoutEvent {
    /// The saga started.
    #[serde(rename = "checkout.CheckoutStarted.v1")]
    CheckoutStarted {
        /// The order.
        order_id: OrderId,
        /// The payment.
        payment_id: PaymentId,
        /// What to reserve.
        lines: Vec<CheckoutLine>,
        /// How much.
        amount: Money,
        /// The payment method's token.
        method_token: String,
        /// When.
        at: DateTime<Utc>,
        /// When it gives up.
        expires_at: DateTime<Utc>,
    },
    /// The expiry deadline is set.
    #[serde(rename = "checkout.ExpiryScheduled.v1")]
    ExpiryScheduled {},
    /// A line is reserved.
    #[serde(rename = "checkout.LineReserved.v1")]
    LineReserved {
        /// The SKU.
        sku: Sku,
    },
    /// A line could not be reserved.
    #[serde(rename = "checkout.LineOutOfStock.v1")]
    LineOutOfStock {
        /// The SKU.
        sku: Sku,
    },
    /// A reservation was given back.
    #[serde(rename = "checkout.LineReleased.v1")]
    LineReleased {
        /// The SKU.
        sku: Sku,
    },
    /// A reservation was committed.
    #[serde(rename = "checkout.LineCommitted.v1")]
    LineCommitted {
        /// The SKU.
        sku: Sku,
    },
    /// The authorization was asked (attempt `attempt`).
    #[serde(rename = "checkout.PaymentRequested.v1")]
    PaymentRequested {
        /// 1, then 2 after a lookup found nothing.
        attempt: u32,
    },
    /// Authorized.
    #[serde(rename = "checkout.PaymentAuthorized.v1")]
    PaymentAuthorized {
        /// The reference.
        reference: String,
    },
    /// Declined.
    #[serde(rename = "checkout.PaymentDeclined.v1")]
    PaymentDeclined {
        /// The code.
        code: String,
    },
    /// No answer: to be looked up.
    #[serde(rename = "checkout.PaymentOutcomeUnknown.v1")]
    PaymentOutcomeUnknown {},
    /// The lookup found nothing: ask again with the same key.
    #[serde(rename = "checkout.PaymentNotFound.v1")]
    PaymentNotFound {},
    /// Captured.
    #[serde(rename = "checkout.PaymentCaptured.v1")]
    PaymentCaptured {},
    /// Voided.
    #[serde(rename = "checkout.PaymentVoided.v1")]
    PaymentVoided {},
    /// The capture was refunded.
    #[serde(rename = "checkout.PaymentRefunded.v1")]
    PaymentRefunded {},
    /// The order is confirmed.
    #[serde(rename = "checkout.OrderConfirmed.v1")]
    OrderConfirmed {},
    /// The order is closed by the compensation.
    #[serde(rename = "checkout.OrderClosed.v1")]
    OrderClosed {},
    /// The saga undoes what it did.
    #[serde(rename = "checkout.CompensationStarted.v1")]
    CompensationStarted {
        /// Why.
        reason: CompensationReason,
        /// When.
        at: DateTime<Utc>,
    },
    /// The runner's steps keep failing; cleared by the saga's next progress.
    #[serde(rename = "checkout.CheckoutStuck.v1")]
    CheckoutStuck {
        /// The last failure (at most 500 characters).
        error: String,
        /// Failed attempts so far.
        attempts: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// An operator asked for a retry (the operator is the event's actor).
    #[serde(rename = "checkout.RetryRequested.v1")]
    RetryRequested {
        /// When.
        at: DateTime<Utc>,
    },
    /// The saga ended (a confirmed one may end again, cancelled, after its order's cancellation).
    #[serde(rename = "checkout.CheckoutCompleted.v1")]
    CheckoutCompleted {
        /// How.
        outcome: CheckoutOutcome,
        /// When.
        at: DateTime<Utc>,
    },
}

/// One line's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineState {
    /// The line.
    pub line: CheckoutLine,
    /// Where it stands.
    pub status: LineStatus,
}

/// A checkout's folded state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutState {
    /// The order (once started).
    pub order_id: Option<OrderId>,
    /// The payment.
    pub payment_id: Option<PaymentId>,
    /// The lines.
    pub lines: Vec<LineState>,
    /// How much to authorize.
    pub amount: Option<Money>,
    /// The payment method's token.
    pub method_token: String,
    /// When the saga gives up.
    pub expires_at: Option<DateTime<Utc>>,
    /// The expiry deadline is set.
    pub expiry_scheduled: bool,
    /// The authorization attempt (0 before the first).
    pub attempt: u32,
    /// The payment.
    pub payment: PaymentProgress,
    /// The order is confirmed.
    pub order_confirmed: bool,
    /// The order is closed by the compensation.
    pub order_closed: bool,
    /// Why it compensates, once it does.
    pub compensating: Option<CompensationReason>,
    /// How it ended (`None` again while a cancelled confirmed order is undone).
    pub outcome: Option<CheckoutOutcome>,
    /// The runner noted that its steps keep failing, and nothing moved since.
    pub stuck: bool,
}

impl CheckoutState {
    fn line_mut(&mut self, sku: &Sku) -> Option<&mut LineState> {
        self.lines.iter_mut().find(|l| &l.line.sku == sku)
    }

    fn status_of(&self, sku: &Sku) -> Option<LineStatus> {
        self.lines
            .iter()
            .find(|l| &l.line.sku == sku)
            .map(|l| l.status)
    }

    /// Every line is in `status`.
    pub fn all_lines(&self, status: LineStatus) -> bool {
        self.lines.iter().all(|l| l.status == status)
    }

    /// The authorization's reference, while it holds money.
    pub fn authorization(&self) -> Option<&str> {
        match &self.payment {
            PaymentProgress::Authorized { reference } | PaymentProgress::Captured { reference } => {
                Some(reference)
            }
            _ => None,
        }
    }
}

/// Why a checkout command is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutRejection {
    /// The saga has not started.
    #[error("the checkout has not started")]
    NotStarted,
    /// Started already, for something else.
    #[error("the checkout already started with other details")]
    StartedDifferently,
    /// A start without lines, with too many, with a repeated SKU, zero quantities, a non-positive
    /// amount or an empty token.
    #[error("invalid checkout: {0}")]
    Invalid(String),
    /// The SKU is not on the order.
    #[error("{0} is not on this checkout")]
    UnknownSku(Sku),
    /// The note does not fit where the saga stands.
    #[error("cannot note {note} now: {state}")]
    OutOfOrder {
        /// The note.
        note: &'static str,
        /// Where the saga stands.
        state: String,
    },
}

/// The checkout saga's state aggregate.
#[derive(Debug)]
pub struct Checkout;

impl Aggregate for Checkout {
    type Id = OrderId;
    const CATEGORY: &'static str = "checkout";
    const SNAPSHOT_VERSION: u32 = 2;

    type State = CheckoutState;
    type Command = CheckoutCommand;
    type Event = CheckoutEvent;
    type Rejection = CheckoutRejection;

    fn evolve(state: &mut CheckoutState, event: &CheckoutEvent) {
        use CheckoutEvent as E;
        match event {
            E::CheckoutStuck { .. } => state.stuck = true,
            E::RetryRequested { .. } => {}
            _ => state.stuck = false,
        }
        let mut set_line = |sku: &Sku, status| {
            if let Some(line) = state.line_mut(sku) {
                line.status = status;
            }
        };
        match event {
            E::LineReserved { sku } => set_line(sku, LineStatus::Reserved),
            E::LineOutOfStock { sku } => set_line(sku, LineStatus::OutOfStock),
            E::LineReleased { sku } => set_line(sku, LineStatus::Released),
            E::LineCommitted { sku } => set_line(sku, LineStatus::Committed),
            E::CheckoutStarted {
                order_id,
                payment_id,
                lines,
                amount,
                method_token,
                expires_at,
                ..
            } => {
                state.order_id = Some(order_id.clone());
                state.payment_id = Some(payment_id.clone());
                state.lines = lines
                    .iter()
                    .map(|line| LineState {
                        line: line.clone(),
                        status: LineStatus::Pending,
                    })
                    .collect();
                state.amount = Some(*amount);
                state.method_token.clone_from(method_token);
                state.expires_at = Some(*expires_at);
            }
            E::ExpiryScheduled {} => state.expiry_scheduled = true,
            E::PaymentRequested { attempt } => {
                state.attempt = *attempt;
                state.payment = PaymentProgress::InFlight;
            }
            E::PaymentAuthorized { reference } => {
                state.payment = PaymentProgress::Authorized {
                    reference: reference.clone(),
                };
            }
            E::PaymentDeclined { .. } => state.payment = PaymentProgress::Declined,
            E::PaymentOutcomeUnknown {} => state.payment = PaymentProgress::Unknown,
            // Not found: ask again with the same key, or, while compensating, nothing to void.
            E::PaymentNotFound {} => {
                state.payment = if state.compensating.is_some() {
                    PaymentProgress::NotRequested
                } else {
                    PaymentProgress::InFlight
                };
            }
            E::PaymentCaptured {} => {
                if let PaymentProgress::Authorized { reference } = &state.payment {
                    state.payment = PaymentProgress::Captured {
                        reference: reference.clone(),
                    };
                }
            }
            E::PaymentVoided {} => state.payment = PaymentProgress::Voided,
            E::PaymentRefunded {} => state.payment = PaymentProgress::Refunded,
            E::OrderConfirmed {} => state.order_confirmed = true,
            E::OrderClosed {} => state.order_closed = true,
            // A cancellation of a confirmed order reopens the ended saga to undo the sale.
            E::CompensationStarted { reason, .. } => {
                state.compensating = Some(reason.clone());
                state.outcome = None;
            }
            E::CheckoutCompleted { outcome, .. } => state.outcome = Some(outcome.clone()),
            E::CheckoutStuck { .. } | E::RetryRequested { .. } => {}
        }
    }

    fn decide(
        state: &CheckoutState,
        command: &CheckoutCommand,
        ctx: &Context,
    ) -> Result<Vec<CheckoutEvent>, CheckoutRejection> {
        steps::decide(state, command, ctx)
    }
}

/// When a checkout started at `at` gives up.
pub fn expiry(at: DateTime<Utc>) -> DateTime<Utc> {
    at + Duration::minutes(EXPIRY_MINUTES)
}
