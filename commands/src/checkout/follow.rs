//! How the runner follows the log: which sagas it drives and when, its retries with backoff, the
//! "stuck" notes, and its checkpoint.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use shop_domain::order::OrderEvent;
use shop_eventstore::{Position, RecordedEvent};

use super::*;
use crate::checkpoint::StreamCheckpoint;

/// How often the checkpoint is saved while events arrive.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How often due retries are looked for.
const RETRY_TICK: Duration = Duration::from_millis(250);
/// A stuck saga is noted again after this many more failures.
const STUCK_AGAIN_EVERY: u32 = 60;

/// What a runner knows in memory about the sagas it drives. Losing it loses nothing: the log
/// says which sagas are open, and [`CheckoutRunner::run`] resumes them.
#[derive(Debug, Default)]
pub(super) struct Tracking {
    /// Sagas a task of this runner is driving, and whether news arrived meanwhile.
    driving: HashMap<OrderId, bool>,
    /// Sagas whose last drive failed.
    failing: HashMap<OrderId, Failing>,
}

#[derive(Debug)]
struct Failing {
    attempts: u32,
    next_at: Instant,
    error: String,
    /// Note it stuck before the next attempt.
    report: bool,
}

fn backoff(policy: &RetryPolicy, attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    policy
        .first
        .saturating_mul(1 << doublings)
        .min(policy.at_most)
}

/// What the runner does with an event of its subscription.
enum Reaction {
    /// Drive the saga (started elsewhere).
    Drive(OrderId),
    /// Drive the saga; a task driving it already must look again (an operator's action).
    News(OrderId),
    /// Note this first, then drive.
    Note(OrderId, &'static str, CheckoutCommand),
}

/// The events the runner reacts to.
fn subscription_filter() -> AllFilter {
    AllFilter::stream_prefixes([
        format!("{}-", Checkout::CATEGORY),
        format!("{}-", Order::CATEGORY),
        format!("{}-", Deadline::CATEGORY),
    ])
    .with_event_types([
        "checkout.CheckoutStarted.v1",
        "checkout.RetryRequested.v1",
        "checkout.CompensationStarted.v1",
        "order.OrderCancelled.v1",
        "deadline.DeadlineFired.v1",
    ])
}

fn reaction(event: &RecordedEvent) -> Option<Reaction> {
    match event.event_type.as_str() {
        "checkout.CheckoutStarted.v1" => {
            match codec::decode::<CheckoutEvent>(&event.event_type, &event.data) {
                Ok(CheckoutEvent::CheckoutStarted { order_id, .. }) => {
                    Some(Reaction::Drive(order_id))
                }
                _ => None,
            }
        }
        // Operators' actions, recorded by another process (the API, the CLI): drive on them.
        "checkout.RetryRequested.v1" | "checkout.CompensationStarted.v1"
            if event.metadata.actor != actor() =>
        {
            let id = event.stream.as_str().strip_prefix("checkout-")?;
            Some(Reaction::News(OrderId::new(id).ok()?))
        }
        // The saga's own cancellations need no note: it closed the order itself.
        "order.OrderCancelled.v1" if event.metadata.actor != actor() => {
            match codec::decode::<OrderEvent>(&event.event_type, &event.data) {
                Ok(OrderEvent::OrderCancelled {
                    order_id, reason, ..
                }) => Some(Reaction::Note(
                    order_id,
                    "order-cancelled",
                    CheckoutCommand::NoteOrderCancelled { reason },
                )),
                _ => None,
            }
        }
        "deadline.DeadlineFired.v1" => {
            let Ok(DeadlineEvent::DeadlineFired {
                purpose, subject, ..
            }) = codec::decode::<DeadlineEvent>(&event.event_type, &event.data)
            else {
                return None;
            };
            let order_id = subject
                .strip_prefix("checkout-")
                .filter(|_| purpose == EXPIRY_PURPOSE)
                .and_then(|id| OrderId::new(id).ok())?;
            Some(Reaction::Note(
                order_id,
                "expired",
                CheckoutCommand::NoteExpired,
            ))
        }
        _ => None,
    }
}

impl CheckoutRunner {
    /// Claims a saga for this task. When another task has it, news (`true`) tell that task to
    /// look again, and the claim fails.
    pub(super) fn claim(&self, order_id: &OrderId, news: bool) -> bool {
        let mut tracking = self.tracking.lock().expect("not poisoned");
        match tracking.driving.get_mut(order_id) {
            Some(again) => {
                *again |= news;
                false
            }
            None => {
                tracking.driving.insert(order_id.clone(), false);
                true
            }
        }
    }

    /// Releases a claim; `true` when news arrived during a successful drive and the caller must
    /// drive again (it keeps the claim).
    pub(super) fn release(&self, order_id: &OrderId, ok: bool) -> bool {
        let mut tracking = self.tracking.lock().expect("not poisoned");
        if ok
            && let Some(again) = tracking.driving.get_mut(order_id)
            && *again
        {
            *again = false;
            return true;
        }
        tracking.driving.remove(order_id);
        false
    }

    /// Remembers how a drive ended: a failure is tried again later.
    pub(super) fn track(&self, order_id: &OrderId, result: &Result<CheckoutState, CheckoutError>) {
        let mut tracking = self.tracking.lock().expect("not poisoned");
        match result {
            Ok(_) => {
                tracking.failing.remove(order_id);
            }
            Err(e) => {
                let failing = tracking
                    .failing
                    .entry(order_id.clone())
                    .or_insert_with(|| Failing {
                        attempts: 0,
                        next_at: Instant::now(),
                        error: String::new(),
                        report: false,
                    });
                failing.attempts += 1;
                failing.next_at = Instant::now() + backoff(&self.retry, failing.attempts);
                failing.error = e.to_string();
                let attempts = failing.attempts;
                let stuck_after = self.retry.stuck_after;
                failing.report = attempts == stuck_after
                    || (attempts > stuck_after
                        && (attempts - stuck_after).is_multiple_of(STUCK_AGAIN_EVERY));
                if failing.report {
                    tracing::error!(%order_id, error = %e, attempts,
                        "checkout stuck: its steps keep failing; still retrying");
                } else {
                    tracing::warn!(%order_id, error = %e, attempts,
                        "a checkout step failed; will retry");
                }
            }
        }
    }

    /// Sagas whose drive failed, with their failed attempts (for operators and tests).
    pub fn failing(&self) -> Vec<(OrderId, u32)> {
        let tracking = self.tracking.lock().expect("not poisoned");
        let mut failing: Vec<_> = tracking
            .failing
            .iter()
            .map(|(id, f)| (id.clone(), f.attempts))
            .collect();
        failing.sort();
        failing
    }

    /// Drives a saga in a task of its own (at most [`MAX_DRIVES`] at once), unless a task of
    /// this runner has it already; `news` tells that task to look again.
    fn spawn_drive(&self, order_id: OrderId, news: bool) {
        if !self.claim(&order_id, news) {
            return;
        }
        let runner = self.clone();
        tokio::spawn(async move {
            let Ok(_permit) = runner.drives.clone().acquire_owned().await else {
                return;
            };
            // Failures are tracked and retried; nothing to do with the result here.
            let _ = runner.drive_claimed(&order_id).await;
        });
    }

    /// Notes the stuck sagas due for it, and drives again the failed sagas whose wait is over.
    async fn retry_due(&self) {
        let now = Instant::now();
        let due: Vec<(OrderId, Option<(String, u32)>)> = {
            let mut tracking = self.tracking.lock().expect("not poisoned");
            tracking
                .failing
                .iter_mut()
                .filter(|(_, f)| f.next_at <= now)
                .map(|(id, f)| {
                    let report =
                        std::mem::take(&mut f.report).then(|| (f.error.clone(), f.attempts));
                    // Not again before this attempt ends (it sets the next time).
                    f.next_at = now + self.retry.at_most;
                    (id.clone(), report)
                })
                .collect()
        };
        for (order_id, report) in due {
            if let Some((error, attempts)) = report
                && let Err(e) = self
                    .note(
                        &order_id,
                        "stuck",
                        CheckoutCommand::NoteStuck { error, attempts },
                    )
                    .await
            {
                tracing::warn!(%order_id, error = %e, "could not note a checkout stuck");
            }
            self.spawn_drive(order_id, true);
        }
    }

    /// The checkouts the log shows open: started and not completed, or reopened by a
    /// cancellation after they completed.
    async fn open_checkouts(&self) -> Result<Vec<OrderId>, CheckoutError> {
        let failed = |error: String| CheckoutError::Step {
            order_id: OrderId::new("resume").expect("a valid id"),
            step: "reading open checkouts".into(),
            error,
        };
        let filter = AllFilter::category(Checkout::CATEGORY).with_event_types([
            "checkout.CheckoutStarted.v1",
            "checkout.CompensationStarted.v1",
            "checkout.CheckoutCompleted.v1",
        ]);
        let mut open: BTreeSet<String> = BTreeSet::new();
        let mut from = None;
        loop {
            let mut read = ReadAll::forwards().filter(filter.clone()).limit(4_096);
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
                let Some(id) = event.stream.as_str().strip_prefix("checkout-") else {
                    continue;
                };
                if event.event_type == "checkout.CheckoutCompleted.v1" {
                    open.remove(id);
                } else {
                    open.insert(id.to_owned());
                }
            }
        }
        open.into_iter()
            .map(|id| OrderId::new(id).map_err(|e| failed(e.to_string())))
            .collect()
    }

    /// Drives every checkout the log shows open (see [`Self::run`], which does it in the
    /// background when it starts); returns each one's result.
    pub async fn resume(
        &self,
    ) -> Result<Vec<(OrderId, Result<CheckoutState, CheckoutError>)>, CheckoutError> {
        let open = self.open_checkouts().await?;
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

    /// Notes `note` on a saga, trying again until it is written or `stop`: the subscription
    /// must not move past an event whose note is not written.
    async fn note_until_written(
        &self,
        order_id: &OrderId,
        step: &'static str,
        note: CheckoutCommand,
        stop: &watch::Receiver<bool>,
    ) -> bool {
        let mut wait = Duration::from_millis(50);
        loop {
            let command = Command::new(Uuid::new_v4(), note.clone(), actor())
                .correlated(correlation(order_id));
            match self.checkouts.handle(order_id, command).await {
                Ok(_) => return true,
                // No saga for this order (an order placed without one), or nothing to note.
                Err(CommandError::Rejected(rejection)) => {
                    tracing::debug!(%order_id, %rejection, "{step}: nothing to note");
                    return true;
                }
                Err(e) => {
                    tracing::warn!(%order_id, error = %e, "noting {step} failed; trying again");
                }
            }
            if *stop.borrow() {
                return false;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RETRY_EVERY);
        }
    }

    /// Follows the log until `stop`, from the checkpoint `checkpoint-checkout-saga`: drives the
    /// sagas the log shows open, sagas started by another process, notes fired expiries and
    /// orders cancelled from outside the saga, and tries failed sagas again with backoff
    /// (noting them stuck after [`STUCK_AFTER`] failures). Run it beside the deadline scheduler
    /// ([`Self::deadlines`]).
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let checkpoint = StreamCheckpoint::new(self.store.clone(), CHECKPOINT_NAME)?;
        let after = checkpoint.load().await?;
        for order_id in self.open_checkouts().await? {
            self.spawn_drive(order_id, false);
        }
        let mut events = self.store.subscribe_all(SubscribeAll {
            after,
            filter: subscription_filter(),
        });
        let mut handled: Option<Position> = after;
        let mut saved = after;
        let mut saves = tokio::time::interval(SAVE_EVERY);
        saves.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut retries = tokio::time::interval(RETRY_TICK.min(self.retry.first));
        retries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let save = |position: Option<Position>| {
            let checkpoint = checkpoint.clone();
            async move {
                if let Some(position) = position
                    && let Err(e) = checkpoint.save(position).await
                {
                    tracing::warn!(error = %e, "saving the checkout saga's checkpoint failed");
                }
            }
        };
        loop {
            if *stop.borrow() {
                save(handled).await;
                return Ok(());
            }
            let next = tokio::select! {
                changed = stop.changed() => {
                    // A dropped sender means stop, too (and would wake this at once forever).
                    if changed.is_err() {
                        save(handled).await;
                        return Ok(());
                    }
                    continue;
                }
                _ = saves.tick() => {
                    if handled != saved {
                        save(handled).await;
                        saved = handled;
                    }
                    continue;
                }
                _ = retries.tick() => {
                    self.retry_due().await;
                    continue;
                }
                next = events.next() => next,
            };
            let Some(recorded) = next else {
                anyhow::bail!("the checkout saga's subscription ended");
            };
            let recorded = recorded?;
            match reaction(&recorded) {
                Some(Reaction::Drive(order_id)) => self.spawn_drive(order_id, false),
                Some(Reaction::News(order_id)) => self.spawn_drive(order_id, true),
                Some(Reaction::Note(order_id, step, note)) => {
                    if !self.note_until_written(&order_id, step, note, &stop).await {
                        continue;
                    }
                    self.spawn_drive(order_id, true);
                }
                None => {}
            }
            handled = Some(recorded.position);
        }
    }
}
