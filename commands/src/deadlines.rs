//! The durable deadline scheduler (ADR 0009): deadlines are `deadline-<id>` streams of the pure
//! [`Deadline`] aggregate, and this runs them. It learns every deadline from the log (a catch-up
//! subscription to the `deadline` category from the start, so a restart rebuilds its timers from
//! events, not from memory), and fires each pending one once it is due on the injected clock, by
//! handling `Fire` with a command id derived from the deadline id. Several schedulers may run:
//! the aggregate answers a second `Fire` with nothing, so a deadline fires once however many race
//! for it. Whoever waits for a deadline subscribes to `deadline.DeadlineFired.v1`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use shop_domain::DeadlineId;
use shop_domain::deadline::{Deadline, DeadlineCommand, DeadlineEvent, DeadlineRejection};
use shop_eventstore::{Actor, AllFilter, EventStore, SubscribeAll};
use tokio::sync::watch;
use uuid::Uuid;

use crate::{Clock, Command, CommandError, CommandHandler, HandleResult, HandlerConfig, codec};

/// Names the ids of the scheduler's own commands.
const FIRE_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_2c39_8a4e_4b7d_9c51_0e2f_3a4b_5c6d);

/// The id of the command that fires `deadline`: the same for every scheduler and every retry.
pub fn fire_command_id(deadline: &DeadlineId) -> Uuid {
    Uuid::new_v5(&FIRE_NAMESPACE, deadline.as_str().as_bytes())
}

/// Scheduler tuning.
#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// How often due deadlines are looked for: a deadline fires at most this late.
    pub tick: Duration,
    /// The command handler's settings for deadline streams.
    pub handler: HandlerConfig,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(100),
            handler: HandlerConfig::default(),
        }
    }
}

/// Schedules, cancels and fires durable deadlines (see the module doc).
#[derive(Clone)]
pub struct DeadlineScheduler {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    handler: CommandHandler<Deadline>,
    tick: Duration,
    backlog: Arc<DeadlineBacklog>,
}

impl std::fmt::Debug for DeadlineScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineScheduler")
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

/// How many deadlines a running scheduler holds (for `/metrics`): pending, and of those already
/// due at its last tick (a backlog that grows means firing does not keep up).
#[derive(Debug, Default)]
pub struct DeadlineBacklog {
    pending: AtomicU64,
    overdue: AtomicU64,
}

impl DeadlineBacklog {
    /// Deadlines scheduled and neither fired nor cancelled.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Of those, the ones due at the last tick.
    pub fn overdue(&self) -> u64 {
        self.overdue.load(Ordering::Relaxed)
    }
}

/// Pending deadlines by due time, as learnt from the log.
#[derive(Debug, Default)]
struct Timers {
    by_due: BTreeSet<(DateTime<Utc>, DeadlineId)>,
    due_of: HashMap<DeadlineId, DateTime<Utc>>,
}

impl Timers {
    fn learn(&mut self, event: &DeadlineEvent) {
        match event {
            DeadlineEvent::DeadlineScheduled {
                deadline_id,
                due_at,
                ..
            } => {
                if self.due_of.insert(deadline_id.clone(), *due_at).is_none() {
                    self.by_due.insert((*due_at, deadline_id.clone()));
                }
            }
            DeadlineEvent::DeadlineFired { deadline_id, .. }
            | DeadlineEvent::DeadlineCancelled { deadline_id, .. } => self.forget(deadline_id),
        }
    }

    fn forget(&mut self, deadline_id: &DeadlineId) {
        if let Some(due) = self.due_of.remove(deadline_id) {
            self.by_due.remove(&(due, deadline_id.clone()));
        }
    }

    fn due(&self, now: DateTime<Utc>) -> Vec<DeadlineId> {
        self.by_due
            .iter()
            .take_while(|(due, _)| *due <= now)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

impl DeadlineScheduler {
    /// A scheduler over `store`, with time from `clock`.
    pub fn new(
        store: Arc<dyn EventStore>,
        clock: Arc<dyn Clock>,
        options: SchedulerOptions,
    ) -> Self {
        let handler = CommandHandler::new(store.clone(), clock.clone(), options.handler);
        Self {
            store,
            clock,
            handler,
            tick: options.tick,
            backlog: Arc::default(),
        }
    }

    /// What this scheduler holds while it runs (shared by its clones).
    pub fn backlog(&self) -> Arc<DeadlineBacklog> {
        self.backlog.clone()
    }

    /// Sets a deadline (idempotent: the same id with the same details changes nothing).
    pub async fn schedule(
        &self,
        command_id: Uuid,
        deadline_id: &DeadlineId,
        due_at: DateTime<Utc>,
        purpose: &str,
        subject: &str,
        actor: Actor,
    ) -> HandleResult<Deadline> {
        let body = DeadlineCommand::Schedule {
            deadline_id: deadline_id.clone(),
            due_at,
            purpose: purpose.to_owned(),
            subject: subject.to_owned(),
        };
        self.handler
            .handle(deadline_id, Command::new(command_id, body, actor))
            .await
    }

    /// Calls a pending deadline off (refused once it fired).
    pub async fn cancel(
        &self,
        command_id: Uuid,
        deadline_id: &DeadlineId,
        reason: &str,
        actor: Actor,
    ) -> HandleResult<Deadline> {
        let body = DeadlineCommand::Cancel {
            deadline_id: deadline_id.clone(),
            reason: reason.to_owned(),
        };
        self.handler
            .handle(deadline_id, Command::new(command_id, body, actor))
            .await
    }

    /// Fires due deadlines until `stop` turns true. Learns deadlines from the log from the start.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let mut events = self.store.subscribe_all(SubscribeAll {
            after: None,
            filter: AllFilter::category(<Deadline as shop_domain::Aggregate>::CATEGORY),
        });
        let mut timers = Timers::default();
        let mut ticker = tokio::time::interval(self.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            tokio::select! {
                changed = stop.changed() => {
                    // A dropped sender means stop, too (and would wake this at once forever).
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                next = events.next() => {
                    let Some(recorded) = next else {
                        anyhow::bail!("the deadline subscription ended");
                    };
                    let recorded = recorded?;
                    match codec::decode::<DeadlineEvent>(&recorded.event_type, &recorded.data) {
                        Ok(event) => {
                            timers.learn(&event);
                            self.backlog.pending.store(timers.due_of.len() as u64, Ordering::Relaxed);
                        }
                        Err(e) => tracing::warn!(
                            stream = %recorded.stream,
                            error = %e,
                            "a deadline event the scheduler cannot read; skipped"
                        ),
                    }
                }
                _ = ticker.tick() => {
                    let due = timers.due(self.clock.now());
                    self.backlog.overdue.store(due.len() as u64, Ordering::Relaxed);
                    for deadline_id in due {
                        self.fire(&deadline_id, &mut timers).await;
                    }
                    self.backlog.pending.store(timers.due_of.len() as u64, Ordering::Relaxed);
                }
            }
        }
    }

    async fn fire(&self, deadline_id: &DeadlineId, timers: &mut Timers) {
        let command = Command::new(
            fire_command_id(deadline_id),
            DeadlineCommand::Fire {
                deadline_id: deadline_id.clone(),
            },
            Actor::system("deadline-scheduler"),
        );
        match self.handler.handle(deadline_id, command).await {
            // Forgotten when its event arrives (also when another scheduler fired it first).
            Ok(_) => {}
            // Cancelled meanwhile: its event is on the way.
            Err(CommandError::Rejected(DeadlineRejection::WrongStatus { .. })) => {
                timers.forget(deadline_id);
            }
            // Not due on the aggregate's clock yet: the next tick tries again.
            Err(CommandError::Rejected(DeadlineRejection::NotDue { .. })) => {}
            Err(e) => {
                tracing::warn!(%deadline_id, error = %e, "firing a deadline failed; will retry");
            }
        }
    }
}
