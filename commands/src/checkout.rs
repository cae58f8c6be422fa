//! The checkout saga's runner (ADR 0009): carries out what [`next_steps`] asks, through the
//! command handlers of the other aggregates, the payment gateway and the deadline scheduler, and
//! notes each answer on the saga's stream (`checkout-<order_id>`), until the saga has nothing
//! left to ask.
//!
//! Every command to another aggregate has an id derived from (order id, step, and the SKU or
//! key), and every gateway call a key derived the same way. A runner that crashed and runs the same saga again
//! therefore re-issues nothing new: the handlers answer repeated ids with their first outcome, and
//! the gateway answers repeated keys with its first outcome.
//!
//! [`CheckoutRunner::drive`] runs one saga to where it waits (the gateway, a deadline) or ends.
//! [`CheckoutRunner::resume`] drives every saga the log shows open (after a restart: a runner that
//! crashed mid-saga left it there). [`CheckoutRunner::run`] follows the log for fired expiry
//! deadlines and compensates their sagas. Still missing: retries of transient failures with
//! backoff and a "stuck" status, and a checkpoint for `run` (it reads the deadline category from
//! the start).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use shop_domain::checkout::{
    Checkout, CheckoutCommand, CheckoutEvent, CheckoutLine, CheckoutState, CloseAs, Step,
    next_steps,
};
use shop_domain::deadline::{Deadline, DeadlineEvent};
use shop_domain::inventory::{Inventory, InventoryCommand, ReleaseReason};
use shop_domain::order::{Order, OrderCommand};
use shop_domain::payment::{Payment, PaymentCommand};
use shop_domain::{Aggregate, DeadlineId, Money, OrderId, PaymentId};
use shop_eventstore::{
    Actor, AllFilter, EventStore, ReadAll, ReadStream, StreamName, SubscribeAll,
};
use tokio::sync::watch;
use uuid::Uuid;

use crate::deadlines::{DeadlineScheduler, SchedulerOptions};
use crate::gateway::{
    AuthorizeRequest, CaptureRequest, GatewayError, GatewayOutcome, OperationKind, PaymentGateway,
    VoidRequest,
};
use crate::{Clock, Command, CommandError, CommandHandler, HandlerConfig, codec};

/// Names the ids of the saga's commands.
const SAGA_NAMESPACE: Uuid = Uuid::from_u128(0x3c6e_0b1f_5d2a_4e8c_a7b9_1c2d_3e4f_5a6b);

/// How often [`CheckoutRunner::run`] tries a failed compensation again.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Failed attempts after which a compensation is reported as stuck.
pub const STUCK_AFTER: u32 = 10;

/// The purpose of a checkout's expiry deadline.
pub const EXPIRY_PURPOSE: &str = "checkout.expiry";

/// The most steps one [`CheckoutRunner::drive`] takes (a saga needs a few dozen).
const MAX_ROUNDS: usize = 64;

/// Why a drive stopped before the saga ended or waited.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// A command failed for another reason than the aggregate's rules (the store, a conflict
    /// that would not settle, load shedding): drive again later.
    #[error("checkout {order_id}: {step} failed: {error}")]
    Step {
        /// The checkout.
        order_id: OrderId,
        /// What was asked.
        step: String,
        /// Why it failed.
        error: String,
    },
    /// The gateway could not be reached: drive again later (same keys).
    #[error("checkout {0}: the payment gateway failed: {1}")]
    Gateway(OrderId, GatewayError),
    /// The saga did not settle within the rounds allowed: a bug; it is reported as stuck.
    #[error("checkout {0} did not settle")]
    Unsettled(OrderId),
}

/// Runs checkout sagas (see the module doc).
#[derive(Clone)]
pub struct CheckoutRunner {
    store: Arc<dyn EventStore>,
    gateway: Arc<dyn PaymentGateway>,
    checkouts: CommandHandler<Checkout>,
    inventory: CommandHandler<Inventory>,
    orders: CommandHandler<Order>,
    payments: CommandHandler<Payment>,
    deadlines: DeadlineScheduler,
}

impl std::fmt::Debug for CheckoutRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckoutRunner")
            .field("gateway", &self.gateway)
            .finish_non_exhaustive()
    }
}

fn saga_id(order_id: &OrderId, step: &str, detail: &str) -> Uuid {
    Uuid::new_v5(
        &SAGA_NAMESPACE,
        format!("{order_id}|{step}|{detail}").as_bytes(),
    )
}

fn actor() -> Actor {
    Actor::system("checkout-saga")
}

/// The reference of an approved capture or void. A provider declines these only for a request
/// it finds wrong, so a decline is an error, like a failed call.
fn approved(
    order_id: &OrderId,
    what: &str,
    answer: Result<GatewayOutcome, GatewayError>,
) -> Result<String, CheckoutError> {
    match answer {
        Ok(GatewayOutcome::Approved { reference, .. }) => Ok(reference),
        Ok(GatewayOutcome::Declined { code, .. }) => Err(CheckoutError::Gateway(
            order_id.clone(),
            GatewayError::Invalid(format!("{what} declined: {code}")),
        )),
        Err(e) => Err(CheckoutError::Gateway(order_id.clone(), e)),
    }
}

/// The expiry deadline of a checkout.
pub fn expiry_deadline(order_id: &OrderId) -> DeadlineId {
    DeadlineId::new(format!("checkout-{order_id}.expiry")).expect("an order id makes a deadline id")
}

impl CheckoutRunner {
    /// A runner over `store`, with the command handlers it needs.
    pub fn new(
        store: Arc<dyn EventStore>,
        clock: Arc<dyn Clock>,
        gateway: Arc<dyn PaymentGateway>,
        config: HandlerConfig,
    ) -> Self {
        Self {
            gateway,
            checkouts: CommandHandler::new(store.clone(), clock.clone(), config.clone()),
            inventory: CommandHandler::new(store.clone(), clock.clone(), config.clone()),
            orders: CommandHandler::new(store.clone(), clock.clone(), config.clone()),
            payments: CommandHandler::new(store.clone(), clock.clone(), config.clone()),
            deadlines: DeadlineScheduler::new(
                store.clone(),
                clock,
                SchedulerOptions {
                    handler: config,
                    ..SchedulerOptions::default()
                },
            ),
            store,
        }
    }

    /// The deadline scheduler the runner schedules expiries with (run it to have them fire).
    pub fn deadlines(&self) -> &DeadlineScheduler {
        &self.deadlines
    }

    /// Starts the saga of a placed order and drives it.
    pub async fn start(
        &self,
        order_id: &OrderId,
        payment_id: &PaymentId,
        lines: Vec<CheckoutLine>,
        amount: Money,
        method_token: &str,
    ) -> Result<CheckoutState, CheckoutError> {
        let start = CheckoutCommand::Start {
            order_id: order_id.clone(),
            payment_id: payment_id.clone(),
            lines,
            amount,
            method_token: method_token.to_owned(),
        };
        self.note(order_id, "start", start).await?;
        self.drive(order_id).await
    }

    /// An operator's retry of a saga that stopped (a gateway outage, a store failure): drives it
    /// again. Asking twice asks nothing new.
    pub async fn retry(&self, order_id: &OrderId) -> Result<CheckoutState, CheckoutError> {
        self.drive(order_id).await
    }

    /// An operator's order to compensate a saga that is not confirmed: recorded on the saga with
    /// the operator as actor, then driven (release, void, cancel with the operator's note).
    pub async fn force_compensate(
        &self,
        order_id: &OrderId,
        note: &str,
        operator: Actor,
    ) -> Result<CheckoutState, CheckoutError> {
        let command = Command::new(
            Uuid::new_v4(),
            CheckoutCommand::ForceCompensate {
                note: note.to_owned(),
            },
            operator,
        );
        self.checkouts
            .handle(order_id, command)
            .await
            .map_err(|e| CheckoutError::Step {
                order_id: order_id.clone(),
                step: "force-compensate".into(),
                error: e.to_string(),
            })?;
        self.drive(order_id).await
    }

    /// Notes that the checkout's expiry fired, and drives on.
    pub async fn expire(&self, order_id: &OrderId) -> Result<CheckoutState, CheckoutError> {
        self.note(order_id, "expired", CheckoutCommand::NoteExpired)
            .await?;
        self.drive(order_id).await
    }

    /// Drives every checkout the log shows open (started, not completed); returns each one's
    /// result. Call it when a runner starts.
    pub async fn resume(
        &self,
    ) -> Result<Vec<(OrderId, Result<CheckoutState, CheckoutError>)>, CheckoutError> {
        let failed = |error: String| CheckoutError::Step {
            order_id: OrderId::new("resume").expect("a valid id"),
            step: "reading open checkouts".into(),
            error,
        };
        let mut open: Vec<OrderId> = Vec::new();
        let mut from = None;
        loop {
            let mut read = ReadAll::forwards()
                .filter(AllFilter::category(Checkout::CATEGORY))
                .limit(4_096);
            if let Some(position) = from {
                read = read.from(position);
            }
            let page = self
                .store
                .read_all(read)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let Some(last) = page.last() else { break };
            from = Some(last.position);
            for event in &page {
                match codec::decode::<CheckoutEvent>(&event.event_type, &event.data) {
                    Ok(CheckoutEvent::CheckoutStarted { order_id, .. }) => open.push(order_id),
                    Ok(CheckoutEvent::CheckoutCompleted { .. }) => {
                        if let Some(id) = event.stream.as_str().strip_prefix("checkout-") {
                            open.retain(|o| o.as_str() != id);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return Err(failed(e.to_string())),
                }
            }
        }
        let mut results = Vec::with_capacity(open.len());
        for order_id in open {
            let result = self.drive(&order_id).await;
            if let Err(e) = &result {
                tracing::warn!(%order_id, error = %e, "a resumed checkout could not go on");
            }
            results.push((order_id, result));
        }
        Ok(results)
    }

    /// Follows the log for fired checkout expiries and compensates their sagas, until `stop`.
    /// Run it beside the deadline scheduler ([`Self::deadlines`]).
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let mut events = self.store.subscribe_all(SubscribeAll {
            after: None,
            filter: AllFilter::category(Deadline::CATEGORY),
        });
        // Expired checkouts whose compensation failed (the store, the gateway): tried again
        // every `RETRY_EVERY`, and reported as stuck after `STUCK_AFTER` attempts.
        let mut failing: HashMap<OrderId, u32> = HashMap::new();
        let mut retries = tokio::time::interval(RETRY_EVERY);
        retries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let next = tokio::select! {
                _ = stop.changed() => continue,
                _ = retries.tick(), if !failing.is_empty() => {
                    let ids: Vec<OrderId> = failing.keys().cloned().collect();
                    for order_id in ids {
                        match self.expire(&order_id).await {
                            Ok(_) => {
                                failing.remove(&order_id);
                            }
                            Err(e) => {
                                let attempts = failing.entry(order_id.clone()).or_default();
                                *attempts += 1;
                                if *attempts == STUCK_AFTER {
                                    tracing::error!(%order_id, error = %e, attempts = *attempts,
                                        "checkout stuck: its compensation keeps failing; still retrying");
                                }
                            }
                        }
                    }
                    continue;
                }
                next = events.next() => next,
            };
            let Some(recorded) = next else {
                anyhow::bail!("the deadline subscription ended");
            };
            let recorded = recorded?;
            let Ok(DeadlineEvent::DeadlineFired {
                purpose, subject, ..
            }) = codec::decode::<DeadlineEvent>(&recorded.event_type, &recorded.data)
            else {
                continue;
            };
            let order = subject
                .strip_prefix("checkout-")
                .filter(|_| purpose == EXPIRY_PURPOSE)
                .and_then(|id| OrderId::new(id).ok());
            if let Some(order_id) = order
                && let Err(e) = self.expire(&order_id).await
            {
                tracing::warn!(%order_id, error = %e, "compensating an expired checkout failed; will retry");
                failing.insert(order_id, 1);
            }
        }
    }

    /// The saga's state, from its stream.
    pub async fn state(&self, order_id: &OrderId) -> Result<CheckoutState, CheckoutError> {
        let failed = |error: String| CheckoutError::Step {
            order_id: order_id.clone(),
            step: "read".into(),
            error,
        };
        let stream = StreamName::new(format!("{}-{order_id}", Checkout::CATEGORY))
            .map_err(|e| failed(e.to_string()))?;
        let events = match self
            .store
            .read_stream(&stream, ReadStream::forwards())
            .await
        {
            Ok(events) => events,
            Err(shop_eventstore::Error::StreamNotFound(_)) => Vec::new(),
            Err(e) => return Err(failed(e.to_string())),
        };
        let mut decoded = Vec::with_capacity(events.len());
        for event in &events {
            decoded.push(
                codec::decode(&event.event_type, &event.data).map_err(|e| failed(e.to_string()))?,
            );
        }
        Ok(Checkout::fold(&decoded))
    }

    /// Carries out the saga's steps until it ends or has nothing it can do now.
    pub async fn drive(&self, order_id: &OrderId) -> Result<CheckoutState, CheckoutError> {
        for _ in 0..MAX_ROUNDS {
            let state = self.state(order_id).await?;
            let steps = next_steps(&state);
            if steps.is_empty() || (state.outcome.is_some() && steps == [Step::CancelExpiry]) {
                if state.outcome.is_some() && !steps.is_empty() {
                    self.cancel_expiry(order_id).await;
                }
                return Ok(state);
            }
            for step in steps {
                self.carry_out(order_id, &state, step).await?;
            }
        }
        Err(CheckoutError::Unsettled(order_id.clone()))
    }

    /// Notes an answer on the saga. Notes are facts the saga decides idempotently (noting again
    /// what is noted changes nothing), so each gets a fresh id: a note that repeats on purpose
    /// (a second "outcome unknown" after a "not found") must not be taken for a retry.
    async fn note(
        &self,
        order_id: &OrderId,
        step: &str,
        note: CheckoutCommand,
    ) -> Result<(), CheckoutError> {
        let id = Uuid::new_v4();
        match self
            .checkouts
            .handle(order_id, Command::new(id, note, actor()))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(CheckoutError::Step {
                order_id: order_id.clone(),
                step: format!("noting {step}"),
                error: e.to_string(),
            }),
        }
    }

    /// Handles `command` on `handler`. A refusal is an error: the saga notes only what happened.
    async fn ask<A: Aggregate>(
        &self,
        handler: &CommandHandler<A>,
        id: &A::Id,
        order_id: &OrderId,
        step: &str,
        detail: &str,
        body: A::Command,
    ) -> Result<(), CheckoutError> {
        match self
            .ask_or_refused(handler, id, order_id, step, detail, body)
            .await?
        {
            Ok(()) => Ok(()),
            Err(rejection) => Err(CheckoutError::Step {
                order_id: order_id.clone(),
                step: step.to_owned(),
                error: format!("refused: {rejection}"),
            }),
        }
    }

    /// Handles `command` on `handler`; a refusal is returned (for the steps where it has a
    /// meaning: out of stock, nothing left to release, an order already closed), anything else
    /// is an error.
    async fn ask_or_refused<A: Aggregate>(
        &self,
        handler: &CommandHandler<A>,
        id: &A::Id,
        order_id: &OrderId,
        step: &str,
        detail: &str,
        body: A::Command,
    ) -> Result<Result<(), A::Rejection>, CheckoutError> {
        let command = Command::new(saga_id(order_id, step, detail), body, actor());
        match handler.handle(id, command).await {
            Ok(_) => Ok(Ok(())),
            Err(CommandError::Rejected(rejection)) => Ok(Err(rejection)),
            Err(e) => Err(CheckoutError::Step {
                order_id: order_id.clone(),
                step: step.to_owned(),
                error: e.to_string(),
            }),
        }
    }

    async fn cancel_expiry(&self, order_id: &OrderId) {
        // Refused once it fired: nothing to do then.
        let _ = self
            .deadlines
            .cancel(
                saga_id(order_id, "cancel-expiry", ""),
                &expiry_deadline(order_id),
                "checkout ended",
                actor(),
            )
            .await;
    }

    fn payment_id(state: &CheckoutState) -> PaymentId {
        state.payment_id.clone().expect("a started checkout")
    }

    /// Records a gateway outcome for the authorization `key` on the payment, and notes it.
    async fn record_authorization(
        &self,
        order_id: &OrderId,
        state: &CheckoutState,
        key: &str,
        outcome: GatewayOutcome,
    ) -> Result<(), CheckoutError> {
        let payment_id = Self::payment_id(state);
        match outcome {
            GatewayOutcome::Approved { reference, amount } => {
                let record = PaymentCommand::RecordAuthorization {
                    payment_id: payment_id.clone(),
                    idempotency_key: key.to_owned(),
                    gateway_reference: reference.clone(),
                    amount,
                };
                self.ask(
                    &self.payments,
                    &payment_id,
                    order_id,
                    "record-authorization",
                    key,
                    record,
                )
                .await?;
                self.note(
                    order_id,
                    "authorized",
                    CheckoutCommand::NoteAuthorized { reference },
                )
                .await
            }
            GatewayOutcome::Declined { code, message } => {
                let record = PaymentCommand::RecordDecline {
                    payment_id: payment_id.clone(),
                    idempotency_key: key.to_owned(),
                    code: code.clone(),
                    message,
                };
                self.ask(
                    &self.payments,
                    &payment_id,
                    order_id,
                    "record-decline",
                    key,
                    record,
                )
                .await?;
                self.note(order_id, "declined", CheckoutCommand::NoteDeclined { code })
                    .await
            }
        }
    }

    async fn carry_out(
        &self,
        order_id: &OrderId,
        state: &CheckoutState,
        step: Step,
    ) -> Result<(), CheckoutError> {
        use CheckoutCommand as N;
        match step {
            Step::ScheduleExpiry { due_at } => {
                let subject = format!("{}-{order_id}", Checkout::CATEGORY);
                self.deadlines
                    .schedule(
                        saga_id(order_id, "schedule-expiry", ""),
                        &expiry_deadline(order_id),
                        due_at,
                        EXPIRY_PURPOSE,
                        &subject,
                        actor(),
                    )
                    .await
                    .map_err(|e| CheckoutError::Step {
                        order_id: order_id.clone(),
                        step: "schedule-expiry".into(),
                        error: e.to_string(),
                    })?;
                self.note(order_id, "expiry-scheduled", N::NoteExpiryScheduled)
                    .await
            }
            Step::Reserve {
                sku,
                quantity,
                expires_at,
            } => {
                let reserve = InventoryCommand::ReserveStock {
                    sku: sku.clone(),
                    order_id: order_id.clone(),
                    quantity,
                    expires_at: Some(expires_at),
                };
                let answer = self
                    .ask_or_refused(
                        &self.inventory,
                        &sku,
                        order_id,
                        "reserve",
                        sku.as_str(),
                        reserve,
                    )
                    .await?;
                // Any refusal (not enough stock, a SKU never stocked) leaves the line unreserved.
                let note = match answer {
                    Ok(()) => N::NoteReserved { sku: sku.clone() },
                    Err(_) => N::NoteOutOfStock { sku: sku.clone() },
                };
                self.note(order_id, "reserve", note).await
            }
            Step::Release { sku } => {
                let release = InventoryCommand::ReleaseReservation {
                    sku: sku.clone(),
                    order_id: order_id.clone(),
                    reason: match &state.compensating {
                        Some(shop_domain::checkout::CompensationReason::PaymentDeclined {
                            ..
                        }) => ReleaseReason::PaymentFailed,
                        _ => ReleaseReason::Cancelled,
                    },
                };
                // A refusal means nothing is held for the order: released all the same.
                let _ = self
                    .ask_or_refused(
                        &self.inventory,
                        &sku,
                        order_id,
                        "release",
                        sku.as_str(),
                        release,
                    )
                    .await?;
                self.note(order_id, "release", N::NoteReleased { sku: sku.clone() })
                    .await
            }
            Step::RequestPayment {
                idempotency_key,
                amount,
                method_token,
                ..
            } => {
                let payment_id = Self::payment_id(state);
                let pending = OrderCommand::MarkPaymentPending {
                    order_id: order_id.clone(),
                    payment_id: payment_id.clone(),
                };
                self.ask(
                    &self.orders,
                    order_id,
                    order_id,
                    "payment-pending",
                    "",
                    pending,
                )
                .await?;
                let request = PaymentCommand::RequestAuthorization {
                    payment_id: payment_id.clone(),
                    order_id: order_id.clone(),
                    amount,
                    method_token,
                    idempotency_key: idempotency_key.clone(),
                };
                self.ask(
                    &self.payments,
                    &payment_id,
                    order_id,
                    "request-authorization",
                    &idempotency_key,
                    request,
                )
                .await?;
                self.note(order_id, "payment-requested", N::NotePaymentRequested)
                    .await
            }
            Step::Authorize { idempotency_key } => {
                let request = AuthorizeRequest {
                    idempotency_key: idempotency_key.clone(),
                    order_id: order_id.clone(),
                    amount: state.amount.expect("a started checkout"),
                    method_token: state.method_token.clone(),
                };
                match self.gateway.authorize(request).await {
                    Ok(outcome) => {
                        self.record_authorization(order_id, state, &idempotency_key, outcome)
                            .await
                    }
                    Err(GatewayError::Timeout(detail)) => {
                        let payment_id = Self::payment_id(state);
                        let unknown = PaymentCommand::RecordOutcomeUnknown {
                            payment_id: payment_id.clone(),
                            idempotency_key: idempotency_key.clone(),
                            detail,
                        };
                        self.ask(
                            &self.payments,
                            &payment_id,
                            order_id,
                            "outcome-unknown",
                            &idempotency_key,
                            unknown,
                        )
                        .await?;
                        self.note(order_id, "outcome-unknown", N::NoteOutcomeUnknown)
                            .await
                    }
                    Err(e) => Err(CheckoutError::Gateway(order_id.clone(), e)),
                }
            }
            Step::LookUpPayment { idempotency_key } => {
                match self.gateway.lookup(&idempotency_key).await {
                    Ok(Some(operation)) if operation.kind == OperationKind::Authorize => {
                        self.record_authorization(
                            order_id,
                            state,
                            &idempotency_key,
                            operation.outcome,
                        )
                        .await
                    }
                    Ok(_) => {
                        self.note(order_id, "not-found", N::NoteNotFoundAtGateway)
                            .await
                    }
                    Err(e) => Err(CheckoutError::Gateway(order_id.clone(), e)),
                }
            }
            Step::ConfirmOrder => {
                let confirm = OrderCommand::ConfirmOrder {
                    order_id: order_id.clone(),
                    payment_id: Some(Self::payment_id(state)),
                };
                self.ask(&self.orders, order_id, order_id, "confirm", "", confirm)
                    .await?;
                self.note(order_id, "confirmed", N::NoteOrderConfirmed)
                    .await
            }
            Step::Commit { sku } => {
                let commit = InventoryCommand::CommitReservation {
                    sku: sku.clone(),
                    order_id: order_id.clone(),
                };
                self.ask(
                    &self.inventory,
                    &sku,
                    order_id,
                    "commit",
                    sku.as_str(),
                    commit,
                )
                .await?;
                self.note(order_id, "commit", N::NoteCommitted { sku: sku.clone() })
                    .await
            }
            Step::Capture {
                idempotency_key,
                authorization,
                amount,
            } => {
                let request = CaptureRequest {
                    idempotency_key: idempotency_key.clone(),
                    authorization,
                    amount,
                };
                let reference = approved(order_id, "capture", self.gateway.capture(request).await)?;
                let payment_id = Self::payment_id(state);
                let capture = PaymentCommand::CapturePayment {
                    payment_id: payment_id.clone(),
                    gateway_reference: reference,
                    amount,
                };
                self.ask(
                    &self.payments,
                    &payment_id,
                    order_id,
                    "capture",
                    "",
                    capture,
                )
                .await?;
                let captured = OrderCommand::RecordPaymentCaptured {
                    order_id: order_id.clone(),
                    payment_id,
                    amount,
                };
                self.ask(&self.orders, order_id, order_id, "captured", "", captured)
                    .await?;
                self.note(order_id, "captured", N::NoteCaptured).await
            }
            Step::Void {
                idempotency_key,
                authorization,
            } => {
                let request = VoidRequest {
                    idempotency_key: idempotency_key.clone(),
                    authorization,
                };
                let reference = approved(order_id, "void", self.gateway.void(request).await)?;
                let payment_id = Self::payment_id(state);
                let void = PaymentCommand::VoidPayment {
                    payment_id: payment_id.clone(),
                    gateway_reference: reference,
                };
                self.ask(&self.payments, &payment_id, order_id, "void", "", void)
                    .await?;
                self.note(order_id, "voided", N::NoteVoided).await
            }
            Step::CloseOrder(close) => {
                let command = match close {
                    CloseAs::Cancel(reason) => OrderCommand::CancelOrder {
                        order_id: order_id.clone(),
                        reason,
                    },
                    CloseAs::PaymentFailed { reason } => OrderCommand::MarkPaymentFailed {
                        order_id: order_id.clone(),
                        reason,
                    },
                };
                // Refused when already closed: closed all the same.
                let _ = self
                    .ask_or_refused(&self.orders, order_id, order_id, "close", "", command)
                    .await?;
                self.note(order_id, "closed", N::NoteOrderClosed).await
            }
            Step::CancelExpiry => {
                self.cancel_expiry(order_id).await;
                Ok(())
            }
        }
    }
}
