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
//! [`CheckoutRunner::drive`] runs one saga to where it waits (the gateway, a deadline) or ends;
//! one task of a runner drives a saga at a time, and a drive that fails is tried again with
//! backoff by [`CheckoutRunner::run`], which notes the saga stuck after [`STUCK_AFTER`] failures.
//! [`CheckoutRunner::resume`] drives every saga the log shows open (after a restart: a runner
//! that crashed mid-saga left it there). [`CheckoutRunner::run`] follows the log from its
//! checkpoint (`checkpoint-checkout-saga`): sagas started by another process, fired expiry
//! deadlines, and orders cancelled from outside the saga (which reopen a confirmed saga to
//! restock and refund).
//!
//! Several runners, in one process or many, are safe without a lock: duplicates are harmless by
//! construction (derived command ids, gateway idempotency keys, notes that record facts
//! idempotently, appends with expected revisions). They only cost work; the test runs two
//! runners on the same checkouts.

mod carry;
mod follow;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use shop_domain::checkout::{
    Checkout, CheckoutCommand, CheckoutEvent, CheckoutLine, CheckoutState, CloseAs, Step,
    next_steps,
};
use shop_domain::deadline::{Deadline, DeadlineEvent};
use shop_domain::inventory::{Inventory, InventoryCommand, ReleaseReason};
use shop_domain::order::{CancelReason, Order, OrderCommand};
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

/// The first wait before [`CheckoutRunner::run`] drives a failed saga again; it doubles with
/// every failure, up to [`RETRY_AT_MOST`].
pub const RETRY_EVERY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const RETRY_AT_MOST: Duration = Duration::from_secs(30);
/// Failed attempts after which a saga is noted stuck (and again every 60 attempts after).
pub const STUCK_AFTER: u32 = 10;
/// How [`CheckoutRunner::run`] tries failed sagas again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first wait; it doubles with every failure.
    pub first: Duration,
    /// The longest wait.
    pub at_most: Duration,
    /// Failed attempts after which a saga is noted stuck.
    pub stuck_after: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first: RETRY_EVERY,
            at_most: RETRY_AT_MOST,
            stuck_after: STUCK_AFTER,
        }
    }
}

/// Sagas one runner drives at once from the log.
pub const MAX_DRIVES: usize = 64;
/// The subscriber name of the runner's checkpoint.
pub const CHECKPOINT_NAME: &str = "checkout-saga";

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

/// A saga's state folded up to a revision.
#[derive(Debug, Default)]
struct Folded {
    state: CheckoutState,
    /// The next revision to read.
    next: u64,
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
    tracking: Arc<std::sync::Mutex<follow::Tracking>>,
    drives: Arc<tokio::sync::Semaphore>,
    retry: RetryPolicy,
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

/// The correlation id of everything a checkout's saga writes or asks (its notes, the commands to
/// the order, payment and inventory, operators' actions on it): one id per checkout, derived
/// from the order id, so an auditor can pull the whole trail of a saga by it.
pub fn correlation(order_id: &OrderId) -> Uuid {
    saga_id(order_id, "correlation", "")
}

fn actor() -> Actor {
    Actor::system("checkout-saga")
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
            tracking: Arc::default(),
            drives: Arc::new(tokio::sync::Semaphore::new(MAX_DRIVES)),
            retry: RetryPolicy::default(),
        }
    }

    /// The same runner, retrying failed sagas by `policy`.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The deadline scheduler the runner schedules expiries with (run it to have them fire).
    pub fn deadlines(&self) -> &DeadlineScheduler {
        &self.deadlines
    }

    /// Starts the saga of a placed order and drives it (another task of this runner driving it
    /// already is told to look again, and this returns the state as it stands).
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
        // Claimed before the start is written, so this runner's own subscription, reading the
        // start, leaves the saga to this call.
        if !self.claim(order_id, true) {
            self.note(order_id, "start", start).await?;
            return self.state(order_id).await;
        }
        if let Err(e) = self.note(order_id, "start", start).await {
            self.release(order_id, false);
            return Err(e);
        }
        self.drive_claimed(order_id).await
    }

    /// Records the start of a placed order's saga without driving it: a process running
    /// [`Self::run`] drives it when it reads the start (so the REST API answers `202 Accepted` at
    /// once and a crash after the answer loses nothing). The start's command id is derived from
    /// the order, so submitting twice records one start. Returns where the start was written.
    pub async fn submit(
        &self,
        order_id: &OrderId,
        payment_id: &PaymentId,
        lines: Vec<CheckoutLine>,
        amount: Money,
        method_token: &str,
    ) -> Result<crate::Outcome, CheckoutError> {
        let start = CheckoutCommand::Start {
            order_id: order_id.clone(),
            payment_id: payment_id.clone(),
            lines,
            amount,
            method_token: method_token.to_owned(),
        };
        let id = saga_id(order_id, "submit", "");
        self.checkouts
            .handle(
                order_id,
                Command::new(id, start, actor()).correlated(correlation(order_id)),
            )
            .await
            .map_err(|e| CheckoutError::Step {
                order_id: order_id.clone(),
                step: "noting start".into(),
                error: e.to_string(),
            })
    }

    /// Records an operator's retry without driving: a process running [`Self::run`] drives it
    /// when it reads the record (for operators' tools in another process).
    pub async fn request_retry(
        &self,
        order_id: &OrderId,
        operator: Actor,
    ) -> Result<(), CheckoutError> {
        self.operator_note(order_id, "retry", CheckoutCommand::Retry, operator)
            .await
    }

    /// Records an operator's forced compensation without driving (see [`Self::request_retry`]).
    pub async fn request_compensation(
        &self,
        order_id: &OrderId,
        note: &str,
        operator: Actor,
    ) -> Result<(), CheckoutError> {
        let force = CheckoutCommand::ForceCompensate {
            note: note.to_owned(),
        };
        self.operator_note(order_id, "force-compensate", force, operator)
            .await
    }

    /// An operator's retry of a saga that stopped (a gateway outage, a store failure): recorded
    /// on the saga with the operator as actor, then driven. Asking twice asks nothing new.
    /// Refused for a saga that has ended.
    pub async fn retry(
        &self,
        order_id: &OrderId,
        operator: Actor,
    ) -> Result<CheckoutState, CheckoutError> {
        self.operator_note(order_id, "retry", CheckoutCommand::Retry, operator)
            .await?;
        self.drive(order_id).await
    }

    async fn operator_note(
        &self,
        order_id: &OrderId,
        step: &str,
        note: CheckoutCommand,
        operator: Actor,
    ) -> Result<(), CheckoutError> {
        self.checkouts
            .handle(
                order_id,
                Command::new(Uuid::new_v4(), note, operator).correlated(correlation(order_id)),
            )
            .await
            .map(|_| ())
            .map_err(|e| CheckoutError::Step {
                order_id: order_id.clone(),
                step: step.to_owned(),
                error: e.to_string(),
            })
    }

    /// Notes that the order was cancelled from outside the saga (its `OrderCancelled`), and
    /// drives on: a running saga compensates, a confirmed one returns its stock and refunds.
    pub async fn order_cancelled(
        &self,
        order_id: &OrderId,
        reason: CancelReason,
    ) -> Result<CheckoutState, CheckoutError> {
        self.note(
            order_id,
            "order-cancelled",
            CheckoutCommand::NoteOrderCancelled { reason },
        )
        .await?;
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
        let force = CheckoutCommand::ForceCompensate {
            note: note.to_owned(),
        };
        self.operator_note(order_id, "force-compensate", force, operator)
            .await?;
        self.drive(order_id).await
    }

    /// Notes that the checkout's expiry fired, and drives on.
    pub async fn expire(&self, order_id: &OrderId) -> Result<CheckoutState, CheckoutError> {
        self.note(order_id, "expired", CheckoutCommand::NoteExpired)
            .await?;
        self.drive(order_id).await
    }

    /// The saga's state, from its stream.
    pub async fn state(&self, order_id: &OrderId) -> Result<CheckoutState, CheckoutError> {
        let mut folded = Folded::default();
        self.catch_up(order_id, &mut folded).await?;
        Ok(folded.state)
    }

    /// Folds the events of the saga's stream written since `folded` was last caught up: a drive
    /// reads each event once, not the whole stream every round.
    async fn catch_up(&self, order_id: &OrderId, folded: &mut Folded) -> Result<(), CheckoutError> {
        let failed = |error: String| CheckoutError::Step {
            order_id: order_id.clone(),
            step: "read".into(),
            error,
        };
        let stream = StreamName::new(format!("{}-{order_id}", Checkout::CATEGORY))
            .map_err(|e| failed(e.to_string()))?;
        let events = match self
            .store
            .read_stream(&stream, ReadStream::forwards().from_revision(folded.next))
            .await
        {
            Ok(events) => events,
            Err(shop_eventstore::Error::StreamNotFound(_)) => Vec::new(),
            Err(e) => return Err(failed(e.to_string())),
        };
        for event in &events {
            let decoded: CheckoutEvent =
                codec::decode(&event.event_type, &event.data).map_err(|e| failed(e.to_string()))?;
            Checkout::evolve(&mut folded.state, &decoded);
            folded.next = event.revision + 1;
        }
        Ok(())
    }

    /// Carries out the saga's steps until it ends or has nothing it can do now. When another
    /// task of this runner is driving it, that one is told to look again and this returns the
    /// saga's state as it stands. A failure is tried again by [`Self::run`].
    pub async fn drive(&self, order_id: &OrderId) -> Result<CheckoutState, CheckoutError> {
        if !self.claim(order_id, true) {
            return self.state(order_id).await;
        }
        self.drive_claimed(order_id).await
    }

    /// Drives a saga this task has claimed, again while news arrive, and releases it.
    async fn drive_claimed(&self, order_id: &OrderId) -> Result<CheckoutState, CheckoutError> {
        loop {
            let result = self.drive_steps(order_id).await;
            if self.release(order_id, result.is_ok()) {
                continue;
            }
            self.track(order_id, &result);
            return result;
        }
    }

    async fn drive_steps(&self, order_id: &OrderId) -> Result<CheckoutState, CheckoutError> {
        let mut folded = Folded::default();
        for _ in 0..MAX_ROUNDS {
            self.catch_up(order_id, &mut folded).await?;
            let state = folded.state.clone();
            let steps = next_steps(&state);
            if steps.is_empty() || (state.outcome.is_some() && steps == [Step::CancelExpiry]) {
                if state.outcome.is_some() && !steps.is_empty() {
                    self.cancel_expiry(order_id).await;
                }
                return Ok(state);
            }
            if state.compensating.is_none() {
                // A forward round's steps are independent (reserve every line; commit every
                // line and capture): asked at once, and their notes share the saga's appends.
                let asked = steps
                    .into_iter()
                    .map(|step| self.carry_out(order_id, &state, step));
                for answer in futures::future::join_all(asked).await {
                    answer?;
                }
            } else {
                // Compensations go one after another, in the order the saga lists them.
                for step in steps {
                    self.carry_out(order_id, &state, step).await?;
                }
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
            .handle(
                order_id,
                Command::new(id, note, actor()).correlated(correlation(order_id)),
            )
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
        let command = Command::new(saga_id(order_id, step, detail), body, actor())
            .correlated(correlation(order_id));
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
}
