//! The generic command handler: one per aggregate type, shared by every caller in a process.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use shop_domain::Aggregate;
use shop_eventstore::{EventStore, StreamName};
use tokio::sync::{mpsc, oneshot};

use crate::{
    Clock, Command, CommandError, HandlerConfig, Outcome, cache::StateCache, snapshot,
    stream::StreamState, worker,
};

/// What a handled command answers.
pub type HandleResult<A> = Result<Outcome, CommandError<<A as Aggregate>::Rejection>>;

/// Decides commands for aggregate `A` against an event store.
///
/// Commands for one stream go through that stream's queue to a single worker task, which decides
/// them in batches against the folded state it holds and writes each batch with one append at the
/// exact expected revision (group commit at the aggregate level: a hot SKU sells a whole batch per
/// write instead of fighting over revisions). Another process writing the same stream makes the
/// append fail with `WrongExpectedVersion`; the worker then reloads and decides again, with
/// bounded, jittered retries. The in-memory state is only ever an optimisation.
pub struct CommandHandler<A: Aggregate> {
    pub(crate) inner: Arc<Inner<A>>,
}

impl<A: Aggregate> Clone for CommandHandler<A> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<A: Aggregate> fmt::Debug for CommandHandler<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandHandler")
            .field("aggregate", &A::CATEGORY)
            .field("stats", &self.stats())
            .finish()
    }
}

pub(crate) struct Job<A: Aggregate> {
    pub command: Command<A::Command>,
    pub reply: oneshot::Sender<HandleResult<A>>,
}

/// A live stream worker: its generation (to tell a restarted worker from a stopped one) and queue.
pub(crate) type WorkerEntry<A> = (u64, mpsc::Sender<Job<A>>);

pub(crate) struct Inner<A: Aggregate> {
    pub store: Arc<dyn EventStore>,
    pub clock: Arc<dyn Clock>,
    pub config: HandlerConfig,
    /// Live workers: stream → (generation, queue).
    pub workers: Mutex<HashMap<StreamName, WorkerEntry<A>>>,
    pub next_generation: AtomicU64,
    pub cache: Mutex<StateCache<A>>,
    pub stats: Counters,
}

/// Counters, for metrics and benchmarks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub commands: AtomicU64,
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub replayed: AtomicU64,
    pub conflicts: AtomicU64,
    pub appends: AtomicU64,
    pub events: AtomicU64,
    pub overloaded: AtomicU64,
    pub loads: AtomicU64,
    /// Shared with the background tasks that write snapshots.
    pub snapshots: Arc<AtomicU64>,
}

impl Counters {
    pub fn snapshots_counter(&self) -> Arc<AtomicU64> {
        self.snapshots.clone()
    }
}

/// A copy of a handler's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandlerStats {
    /// Commands received.
    pub commands: u64,
    /// Commands accepted (including no-ops).
    pub accepted: u64,
    /// Commands rejected by the aggregate.
    pub rejected: u64,
    /// Commands answered from the recent window (retries).
    pub replayed: u64,
    /// Appends that failed on `WrongExpectedVersion` (each followed by a reload).
    pub conflicts: u64,
    /// Successful appends.
    pub appends: u64,
    /// Events written.
    pub events: u64,
    /// Commands refused because a stream's queue was full.
    pub overloaded: u64,
    /// Streams loaded from the store (snapshot and/or events).
    pub loads: u64,
    /// Snapshots written.
    pub snapshots: u64,
}

impl<A: Aggregate> CommandHandler<A> {
    /// A handler writing to `store`, deciding at `clock`'s time unless a command says otherwise.
    pub fn new(store: Arc<dyn EventStore>, clock: Arc<dyn Clock>, config: HandlerConfig) -> Self {
        let cache = StateCache::new(config.cache_capacity);
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                config,
                workers: Mutex::new(HashMap::new()),
                next_generation: AtomicU64::new(1),
                cache: Mutex::new(cache),
                stats: Counters::default(),
            }),
        }
    }

    /// The stream of aggregate `id`.
    pub fn stream_of(id: &A::Id) -> Result<StreamName, CommandError<A::Rejection>> {
        StreamName::from_parts(A::CATEGORY, id).map_err(CommandError::InvalidStream)
    }

    /// Decides `command` for aggregate `id` and writes what it decided. A command id seen before
    /// answers the original outcome (or rejection) without deciding again.
    pub async fn handle(&self, id: &A::Id, command: Command<A::Command>) -> HandleResult<A> {
        let stream = Self::stream_of(id)?;
        self.inner.stats.commands.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let mut job = Job { command, reply };
        // A worker may stop (idle) between our lookup and our send: then start a new one.
        for _ in 0..4 {
            let (generation, sender) = self.inner.sender_for(&stream);
            match sender.try_send(job) {
                Ok(()) => return answer.await.unwrap_or(Err(CommandError::ShuttingDown)),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.inner.stats.overloaded.fetch_add(1, Ordering::Relaxed);
                    return Err(CommandError::Overloaded { stream });
                }
                Err(mpsc::error::TrySendError::Closed(back)) => {
                    job = back;
                    self.inner.forget(&stream, generation);
                }
            }
        }
        Err(CommandError::ShuttingDown)
    }

    /// The aggregate's current state and revision, read from the store (snapshot and tail),
    /// bypassing the cache.
    pub async fn load(
        &self,
        id: &A::Id,
    ) -> Result<(A::State, Option<u64>), CommandError<A::Rejection>> {
        let stream = Self::stream_of(id)?;
        let held = self.inner.load_fresh(&stream).await?;
        Ok((held.state, held.revision))
    }

    /// The handler's counters so far.
    pub fn stats(&self) -> HandlerStats {
        let c = &self.inner.stats;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        HandlerStats {
            commands: get(&c.commands),
            accepted: get(&c.accepted),
            rejected: get(&c.rejected),
            replayed: get(&c.replayed),
            conflicts: get(&c.conflicts),
            appends: get(&c.appends),
            events: get(&c.events),
            overloaded: get(&c.overloaded),
            loads: get(&c.loads),
            snapshots: get(&c.snapshots),
        }
    }

    /// Streams with a live worker, and streams whose state is cached.
    pub fn held_streams(&self) -> (usize, usize) {
        let live = self.inner.workers.lock().map(|w| w.len()).unwrap_or(0);
        let cached = self.inner.cache.lock().map(|c| c.len()).unwrap_or(0);
        (live, cached)
    }
}

impl<A: Aggregate> Inner<A> {
    fn sender_for(self: &Arc<Self>, stream: &StreamName) -> (u64, mpsc::Sender<Job<A>>) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((generation, sender)) = workers.get(stream)
            && !sender.is_closed()
        {
            return (*generation, sender.clone());
        }
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = mpsc::channel(self.config.queue_capacity.max(1));
        workers.insert(stream.clone(), (generation, sender.clone()));
        drop(workers);
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(stream);
        tokio::spawn(worker::run(
            self.clone(),
            stream.clone(),
            generation,
            receiver,
            cached,
        ));
        (generation, sender)
    }

    /// Drops the registration of worker `generation` of `stream`, if it is still the current one.
    pub(crate) fn forget(&self, stream: &StreamName, generation: u64) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        if workers.get(stream).is_some_and(|(g, _)| *g == generation) {
            workers.remove(stream);
        }
    }

    /// Snapshot (if any) plus tail.
    pub(crate) async fn load_fresh(
        &self,
        stream: &StreamName,
    ) -> Result<StreamState<A>, CommandError<A::Rejection>> {
        self.stats.loads.fetch_add(1, Ordering::Relaxed);
        let window = self.config.recent_window;
        let mut held = if self.config.snapshot_every > 0 {
            snapshot::load::<A>(self.store.as_ref(), stream, window).await
        } else {
            None
        }
        .unwrap_or_else(|| StreamState::empty(window));
        held.catch_up(self.store.as_ref(), stream).await?;
        held.next_snapshot_at = match held.snapshot_revision {
            Some(at) => next_snapshot_at(&self.config, Some(at)),
            // No usable snapshot: take one as soon as the stream is long enough.
            None if self.config.snapshot_every > 0 => self.config.snapshot_every,
            None => u64::MAX,
        };
        Ok(held)
    }
}

/// The revision at which the next snapshot is due after one at `revision`.
pub(crate) fn next_snapshot_at(config: &HandlerConfig, revision: Option<u64>) -> u64 {
    if config.snapshot_every == 0 {
        return u64::MAX;
    }
    let r = revision.unwrap_or(0);
    r.saturating_add(config.snapshot_every.max(r / 4))
}
