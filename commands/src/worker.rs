//! A stream's worker: drains the stream's queue in batches, decides each batch against the state it
//! holds, and writes it with one append at the exact expected revision.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::Rng;
use shop_domain::{Aggregate, Context};
use shop_eventstore::{
    Error as StoreError, EventData, ExpectedRevision, Json, Metadata, Position, StreamName,
};
use tokio::sync::mpsc;

use crate::{
    CommandError, Outcome, codec,
    envelope::event_id,
    handler::{Inner, Job, next_snapshot_at},
    outcome::Decided,
    recent::Answer,
    snapshot,
    stream::{BATCH_END_KEY, StreamState},
};

/// Transient store failures retried for one append (same events, same expectation: safe).
const TRANSIENT_RETRIES: u32 = 3;

pub(crate) async fn run<A: Aggregate>(
    inner: Arc<Inner<A>>,
    stream: StreamName,
    generation: u64,
    mut queue: mpsc::Receiver<Job<A>>,
    cached: Option<StreamState<A>>,
) {
    // State taken from the cache may be behind another process: catch up before first use.
    let mut held = cached;
    let mut must_catch_up = held.is_some();
    let max_batch = inner.config.max_batch_commands.max(1);
    loop {
        let first = match tokio::time::timeout(inner.config.idle_timeout, queue.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => break,
            Err(_idle) => {
                // Deregister under the map's lock so no new sender finds this queue, then close it;
                // anything sent before the close is still drained below.
                let mut workers = inner.workers.lock().unwrap_or_else(|e| e.into_inner());
                if !queue.is_empty() {
                    continue;
                }
                if workers.get(&stream).is_some_and(|(g, _)| *g == generation) {
                    workers.remove(&stream);
                }
                queue.close();
                break;
            }
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if must_catch_up {
            must_catch_up = false;
            if let Some(h) = held.as_mut()
                && h.catch_up(inner.store.as_ref(), &stream).await.is_err()
            {
                held = None;
            }
        }
        process(&inner, &stream, &mut held, batch).await;
    }
    // Jobs that arrived between the last receive and the close.
    while let Ok(job) = queue.try_recv() {
        process(&inner, &stream, &mut held, vec![job]).await;
    }
    inner.forget(&stream, generation);
    if let Some(h) = held {
        inner
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(stream, h);
    }
}

/// What one command came to within an attempt.
enum Decision<R> {
    /// Answered without deciding (a retry of a known command id, or a revision mismatch).
    Answered(Result<Outcome, CommandError<R>>),
    /// Accepted with no events: its effect is already in place.
    NoOp {
        revision: Option<u64>,
    },
    /// Accepted: its events are `events[first..first + count]` of the batch.
    Wrote {
        first: usize,
        count: usize,
    },
    Rejected(R),
    /// Did not fit in this append; decided again in the next one.
    Deferred,
}

async fn process<A: Aggregate>(
    inner: &Inner<A>,
    stream: &StreamName,
    held: &mut Option<StreamState<A>>,
    mut jobs: Vec<Job<A>>,
) {
    let config = &inner.config;
    let mut attempt = 0u32;
    // After a refused batch (an invalid event), commands are decided one per append so only the
    // culprit fails.
    let mut one_by_one = false;
    while !jobs.is_empty() {
        attempt += 1;
        let fresh = held.is_none();
        if held.is_none() {
            match inner.load_fresh(stream).await {
                Ok(h) => *held = Some(h),
                Err(e) => {
                    reply_all(jobs, || clone_error(&e));
                    return;
                }
            }
        }
        let Some(h) = held.as_mut() else { return };

        // Decide every command against the state, folding accepted events in as we go.
        let base = h.revision;
        let mut events: Vec<(A::Event, usize)> = Vec::new(); // (event, index of its job)
        let mut decisions = Vec::with_capacity(jobs.len());
        let mut wrote_any = false;
        for (index, job) in jobs.iter().enumerate() {
            if (one_by_one || events.len() >= config.max_batch_events) && wrote_any {
                decisions.push(Decision::Deferred);
                continue;
            }
            let current = base
                .map(|b| b + events.len() as u64)
                .or_else(|| (!events.is_empty()).then(|| events.len() as u64 - 1));
            if let Some(answer) = h.recent.get(&job.command.id) {
                inner.stats.replayed.fetch_add(1, Ordering::Relaxed);
                decisions.push(Decision::Answered(match answer {
                    Answer::Accepted(d) => Ok(d.outcome(stream)),
                    Answer::Rejected(r) => Err(CommandError::Rejected(r.clone())),
                }));
                continue;
            }
            if let Some(expected) = job.command.if_match
                && current != Some(expected)
            {
                decisions.push(Decision::Answered(Err(CommandError::RevisionMismatch {
                    stream: stream.clone(),
                    expected,
                    actual: current,
                })));
                continue;
            }
            let now = job.command.issued_at.unwrap_or_else(|| inner.clock.now());
            match A::decide(&h.state, &job.command.body, &Context::at(now)) {
                Ok(decided) if decided.is_empty() => {
                    decisions.push(Decision::NoOp { revision: current })
                }
                Ok(decided) => {
                    if !events.is_empty() && events.len() + decided.len() > config.max_batch_events
                    {
                        decisions.push(Decision::Deferred);
                        continue;
                    }
                    let first = events.len();
                    for event in decided {
                        A::evolve(&mut h.state, &event);
                        events.push((event, index));
                    }
                    wrote_any = true;
                    decisions.push(Decision::Wrote {
                        first,
                        count: events.len() - first,
                    });
                }
                Err(rejection) => decisions.push(Decision::Rejected(rejection)),
            }
        }

        if events.is_empty() {
            // Nothing to write. A rejection or no-op decided from memory may rest on a state
            // another process has moved on from: read the tail, and decide again if it grew.
            let from_memory = !fresh
                && config.verify_rejections
                && decisions
                    .iter()
                    .any(|d| matches!(d, Decision::Rejected(_) | Decision::NoOp { .. }));
            if from_memory && attempt < config.max_attempts {
                match h.catch_up(inner.store.as_ref(), stream).await {
                    Ok(0) => {}
                    Ok(_) => continue,
                    Err(e) => {
                        *held = None;
                        reply_all(jobs, || clone_error(&e));
                        return;
                    }
                }
            }
            let position = h.last_position;
            finish(inner, stream, h, jobs, decisions, None, position);
            return;
        }

        // Encode the batch; every event records where the batch ends.
        let batch_end = base.map_or(0, |b| b + 1) + events.len() as u64 - 1;
        let encoded = match encode_batch(&jobs, &events, batch_end, inner) {
            Ok(encoded) => encoded,
            Err(e) => {
                *held = None;
                reply_all(jobs, || {
                    CommandError::Store(StoreError::backend(anyhow::anyhow!("{e}")))
                });
                return;
            }
        };
        let expected = base.map_or(ExpectedRevision::NoStream, ExpectedRevision::Exact);
        match append(inner, stream, expected, encoded).await {
            Ok(result) => {
                inner.stats.appends.fetch_add(1, Ordering::Relaxed);
                inner
                    .stats
                    .events
                    .fetch_add(events.len() as u64, Ordering::Relaxed);
                h.revision = Some(result.next_expected_revision);
                h.last_position = Some(result.position);
                let base_next = base.map_or(0, |b| b + 1);
                let deferred = finish(
                    inner,
                    stream,
                    h,
                    jobs,
                    decisions,
                    Some((base_next, result.position)),
                    Some(result.position),
                );
                maybe_snapshot(inner, stream, h);
                jobs = deferred;
                attempt = 0;
            }
            Err(StoreError::WrongExpectedVersion { .. }) => {
                // Someone else wrote: what we folded in is void. Reload and decide again.
                inner.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                *held = None;
                if attempt >= config.max_attempts {
                    let attempts = attempt;
                    reply_all(jobs, || CommandError::Conflict {
                        stream: stream.clone(),
                        attempts,
                    });
                    return;
                }
                tokio::time::sleep(backoff(config, attempt)).await;
            }
            Err(StoreError::Invalid(e)) if !one_by_one && jobs.len() > 1 => {
                tracing::warn!(%stream, error = %e, "batch refused; deciding its commands one by one");
                *held = None;
                one_by_one = true;
            }
            Err(e) => {
                // Unknown whether it was written: reload before deciding anything else.
                *held = None;
                reply_all(jobs, || CommandError::Store(e.clone()));
                return;
            }
        }
    }
}

/// Replies to every decided command and returns the deferred ones. `written` is the revision of
/// the batch's first event and the position of its last, when the batch was appended.
fn finish<A: Aggregate>(
    inner: &Inner<A>,
    stream: &StreamName,
    h: &mut StreamState<A>,
    jobs: Vec<Job<A>>,
    decisions: Vec<Decision<A::Rejection>>,
    written: Option<(u64, Position)>,
    position: Option<Position>,
) -> Vec<Job<A>> {
    let mut deferred = Vec::new();
    for (job, decision) in jobs.into_iter().zip(decisions) {
        let id = job.command.id;
        let answer = match decision {
            Decision::Deferred => {
                deferred.push(job);
                continue;
            }
            Decision::Answered(answer) => answer,
            Decision::NoOp { revision } => {
                let decided = Decided {
                    revision,
                    position,
                    events_written: 0,
                };
                inner.stats.accepted.fetch_add(1, Ordering::Relaxed);
                h.recent.insert(id, Answer::Accepted(decided.clone()));
                Ok(decided.outcome(stream))
            }
            Decision::Wrote { first, count } => {
                let (base_next, pos) = written.unwrap_or((0, Position::new(0, 0)));
                let decided = Decided {
                    revision: Some(base_next + (first + count) as u64 - 1),
                    position: Some(pos),
                    events_written: count,
                };
                inner.stats.accepted.fetch_add(1, Ordering::Relaxed);
                h.recent.insert(id, Answer::Accepted(decided.clone()));
                Ok(decided.outcome(stream))
            }
            Decision::Rejected(rejection) => {
                inner.stats.rejected.fetch_add(1, Ordering::Relaxed);
                h.recent.insert(id, Answer::Rejected(rejection.clone()));
                Err(CommandError::Rejected(rejection))
            }
        };
        let _ = job.reply.send(answer);
    }
    deferred
}

fn encode_batch<A: Aggregate>(
    jobs: &[Job<A>],
    events: &[(A::Event, usize)],
    batch_end: u64,
    inner: &Inner<A>,
) -> Result<Vec<EventData>, codec::CodecError> {
    let mut out = Vec::with_capacity(events.len());
    let mut index_in_command = 0;
    let mut last_job = usize::MAX;
    for (event, job_index) in events {
        if *job_index != last_job {
            last_job = *job_index;
            index_in_command = 0;
        }
        let command = &jobs[*job_index].command;
        let (event_type, data): (String, Json) = codec::encode(event)?;
        let occurred_at = command.issued_at.unwrap_or_else(|| inner.clock.now());
        let metadata = Metadata::new(
            command.correlation_id,
            command.id,
            command.actor.clone(),
            occurred_at,
        )
        .with(BATCH_END_KEY, batch_end.into());
        out.push(EventData {
            event_id: event_id(command.id, index_in_command),
            event_type,
            data,
            metadata,
        });
        index_in_command += 1;
    }
    Ok(out)
}

async fn append<A: Aggregate>(
    inner: &Inner<A>,
    stream: &StreamName,
    expected: ExpectedRevision,
    events: Vec<EventData>,
) -> shop_eventstore::Result<shop_eventstore::AppendResult> {
    let mut tries = 0;
    loop {
        match inner.store.append(stream, expected, events.clone()).await {
            Err(e) if e.is_transient() && tries < TRANSIENT_RETRIES => {
                tries += 1;
                tracing::warn!(%stream, error = %e, tries, "append failed; retrying the same batch");
                tokio::time::sleep(Duration::from_millis(20 << tries)).await;
            }
            other => return other,
        }
    }
}

/// Takes a snapshot when one is due. Only the copy of the state happens here; serialising and
/// writing it run in the background, so a long stream's snapshot does not stall its commands. A
/// state found too large to snapshot is not copied again while this worker holds it.
fn maybe_snapshot<A: Aggregate>(inner: &Inner<A>, stream: &StreamName, h: &mut StreamState<A>) {
    let Some(revision) = h.revision else { return };
    if revision < h.next_snapshot_at || h.snapshot_oversized.load(Ordering::Relaxed) {
        return;
    }
    h.next_snapshot_at = next_snapshot_at(&inner.config, Some(revision));
    let Some(taken) = snapshot::take(stream, h) else {
        return;
    };
    h.snapshot_revision = Some(revision);
    let store = inner.store.clone();
    let now = inner.clock.now();
    let max_bytes = inner.config.snapshot_max_bytes;
    let oversized = h.snapshot_oversized.clone();
    let written = inner.stats.snapshots_counter();
    tokio::spawn(async move {
        let prepared =
            tokio::task::spawn_blocking(move || snapshot::prepare::<A>(taken, max_bytes)).await;
        match prepared {
            Ok(Some(pending)) => {
                if snapshot::write(store.as_ref(), pending, now).await {
                    written.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(None) => oversized.store(true, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "snapshot task failed"),
        }
    });
}

/// Full jitter: a random pause up to `base × 2^attempt`, capped.
fn backoff(config: &crate::HandlerConfig, attempt: u32) -> Duration {
    let ceiling = config
        .backoff_base
        .saturating_mul(1 << attempt.min(16))
        .min(config.backoff_max);
    let micros = ceiling.as_micros().max(1) as u64;
    Duration::from_micros(rand::rng().random_range(0..=micros))
}

fn reply_all<A: Aggregate>(jobs: Vec<Job<A>>, error: impl Fn() -> CommandError<A::Rejection>) {
    for job in jobs {
        let _ = job.reply.send(Err(error()));
    }
}

fn clone_error<R: Clone>(e: &CommandError<R>) -> CommandError<R> {
    match e {
        CommandError::Rejected(r) => CommandError::Rejected(r.clone()),
        CommandError::Conflict { stream, attempts } => CommandError::Conflict {
            stream: stream.clone(),
            attempts: *attempts,
        },
        CommandError::RevisionMismatch {
            stream,
            expected,
            actual,
        } => CommandError::RevisionMismatch {
            stream: stream.clone(),
            expected: *expected,
            actual: *actual,
        },
        CommandError::Overloaded { stream } => CommandError::Overloaded {
            stream: stream.clone(),
        },
        CommandError::InvalidStream(e) => CommandError::InvalidStream(e.clone()),
        CommandError::Corrupt {
            stream,
            revision,
            reason,
        } => CommandError::Corrupt {
            stream: stream.clone(),
            revision: *revision,
            reason: reason.clone(),
        },
        CommandError::Store(e) => CommandError::Store(e.clone()),
        CommandError::ShuttingDown => CommandError::ShuttingDown,
    }
}
