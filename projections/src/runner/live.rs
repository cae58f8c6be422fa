//! The live runner: owns a group of projections (their locks), keeps their tables up to date from
//! one `$all` subscription, and recovers from every failure by starting again from the committed
//! checkpoints.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{FutureExt as _, StreamExt as _};
use shop_eventstore::{AllFilter, EventStore, Position, RecordedEvent, SubscribeAll};
use tokio::sync::watch;

use super::rebuild::{RebuildOptions, rebuild};
use super::status::{ProjectionState, StatusBoard};
use super::{PoisonPolicy, Projection, reads};
use crate::rows::{Changes, Physical, RowCache, Rows};
use crate::store::{Batch, Checkpoint, DeadLetter, LockGuard, ReadStore};

/// Runner tuning.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// Most events in one batch (one transaction).
    pub batch_events: usize,
    /// Committed rows kept in memory between batches.
    pub cache_rows: usize,
    /// First pause after a failure; doubled each time, capped by `retry_max`.
    pub retry_base: Duration,
    /// Longest pause after a failure.
    pub retry_max: Duration,
    /// How often the log's head is read for the lag figures.
    pub head_interval: Duration,
    /// Settings for rebuilds the runner starts itself (a projection whose version changed).
    pub rebuild: RebuildOptions,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            batch_events: 2_000,
            cache_rows: 200_000,
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
            head_interval: Duration::from_secs(1),
            rebuild: RebuildOptions::default(),
        }
    }
}

/// Runs a group of projections.
pub struct Runner {
    events: Arc<dyn EventStore>,
    db: Arc<dyn ReadStore>,
    projections: Vec<Arc<dyn Projection>>,
    options: RunnerOptions,
    board: Arc<StatusBoard>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field(
                "projections",
                &self
                    .projections
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>(),
            )
            .field("options", &self.options)
            .finish()
    }
}

/// A projection as the runner tracks it.
struct Member {
    projection: Arc<dyn Projection>,
    checkpoint: Option<Position>,
    /// Stopped at a poison event (policy `Stop`): no more events until restarted.
    halted: bool,
}

impl Runner {
    /// A runner for `projections`, reporting to `board`.
    pub fn new(
        events: Arc<dyn EventStore>,
        db: Arc<dyn ReadStore>,
        projections: Vec<Arc<dyn Projection>>,
        options: RunnerOptions,
        board: Arc<StatusBoard>,
    ) -> Self {
        Self {
            events,
            db,
            projections,
            options,
            board,
        }
    }

    /// Takes the projections' locks (waiting while another process holds them), rebuilds those
    /// whose version changed, then follows the log until `shutdown` turns true. Failures are
    /// retried forever with backoff; only a broken setup (tables that cannot be created) returns
    /// an error.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let mut names = BTreeSet::new();
        for p in &self.projections {
            anyhow::ensure!(
                names.insert(p.name()),
                "projection {} is registered twice",
                p.name()
            );
            self.board
                .update(p.name(), |s| s.state = ProjectionState::Standby);
        }
        // Locks are taken in name order, so two runners with overlapping groups cannot each hold
        // one the other waits for.
        let mut guards: Vec<Box<dyn LockGuard>> = Vec::new();
        for name in &names {
            tokio::select! {
                guard = self.db.lock(name) => guards.push(guard.context("taking a projection's lock")?),
                _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            }
        }
        tracing::info!(projections = ?names, "projection runner active");
        let tables: Vec<_> = self
            .projections
            .iter()
            .flat_map(|p| p.tables().iter().map(|t| (*t, t.name.to_owned())))
            .collect();
        self.db
            .create_tables(&tables, true)
            .await
            .context("creating read-model tables")?;

        let head_task = tokio::spawn(watch_head(
            self.events.clone(),
            self.board.clone(),
            self.projections.iter().map(|p| p.name()).collect(),
            self.options.head_interval,
        ));
        let mut members: Vec<Member> = self
            .projections
            .iter()
            .map(|p| Member {
                projection: p.clone(),
                checkpoint: None,
                halted: false,
            })
            .collect();
        let mut failures = 0u32;
        let result = loop {
            if *shutdown.borrow() {
                break Ok(());
            }
            match self.follow(&mut members, &mut shutdown).await {
                Ok(()) => break Ok(()),
                Err(e) => {
                    failures += 1;
                    let pause = self
                        .options
                        .retry_base
                        .saturating_mul(1 << failures.min(16))
                        .min(self.options.retry_max);
                    tracing::warn!(error = %format!("{e:#}"), ?pause, "projection runner failed; resuming from the checkpoints");
                    for m in &members {
                        self.board.update(m.projection.name(), |s| {
                            if s.state != ProjectionState::Stopped {
                                s.state = ProjectionState::Retrying;
                            }
                            s.last_error = Some((chrono::Utc::now(), format!("{e:#}")));
                        });
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.wait_for(|stop| *stop) => break Ok(()),
                    }
                }
            }
        };
        head_task.abort();
        drop(guards);
        result
    }

    /// Reloads the checkpoints and follows the log from the oldest of them.
    async fn follow(
        &self,
        members: &mut [Member],
        shutdown: &mut watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        for m in members.iter_mut() {
            let name = m.projection.name();
            let checkpoint = self.db.checkpoint(name).await?;
            if let Some(c) = checkpoint
                && c.version != m.projection.version()
            {
                tracing::info!(
                    projection = name,
                    from = c.version,
                    to = m.projection.version(),
                    "projection version changed: rebuilding"
                );
                self.board
                    .update(name, |s| s.state = ProjectionState::Rebuilding);
                rebuild(
                    self.events.clone(),
                    self.db.clone(),
                    std::slice::from_ref(&m.projection),
                    &self.options.rebuild,
                    |_| {},
                )
                .await?;
                m.checkpoint = self.db.checkpoint(name).await?.map(|c| c.position);
            } else {
                m.checkpoint = checkpoint.map(|c| c.position);
            }
            let checkpoint = m.checkpoint;
            let halted = m.halted;
            self.board.update(name, |s| {
                s.checkpoint = checkpoint;
                if !halted {
                    s.state = ProjectionState::Running;
                }
            });
        }
        let active: Vec<&Member> = members.iter().filter(|m| !m.halted).collect();
        if active.is_empty() {
            // Everything stopped at a poison event: wait for an operator (and shutdown).
            let _ = shutdown.wait_for(|stop| *stop).await;
            return Ok(());
        }
        let start = if active.iter().any(|m| m.checkpoint.is_none()) {
            None
        } else {
            active.iter().filter_map(|m| m.checkpoint).min()
        };
        let prefixes: BTreeSet<String> = active
            .iter()
            .flat_map(|m| m.projection.categories().iter().map(|c| format!("{c}-")))
            .collect();
        let mut subscription = self.events.subscribe_all(SubscribeAll {
            after: start,
            filter: AllFilter::stream_prefixes(prefixes),
        });
        let physical = Physical::new();
        let mut cache = RowCache::new(self.options.cache_rows);
        loop {
            let first = tokio::select! {
                next = subscription.next() => next,
                _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            };
            let first = first.context("the subscription ended")??;
            let mut batch = vec![first];
            while batch.len() < self.options.batch_events.max(1) {
                match subscription.next().now_or_never() {
                    Some(Some(event)) => batch.push(event?),
                    Some(None) => break,
                    None => break,
                }
            }
            self.apply_batch(members, &batch, &physical, &mut cache)
                .await?;
            if members.iter().all(|m| m.halted) {
                return Ok(());
            }
        }
    }

    /// Applies one batch to every member and commits it with their checkpoints.
    async fn apply_batch(
        &self,
        members: &mut [Member],
        batch: &[RecordedEvent],
        physical: &Physical,
        cache: &mut RowCache,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut changes = Changes::default();
        let mut checkpoints: Vec<(usize, Position)> = Vec::new();
        let mut dead = Vec::new();
        let mut applied = vec![0u64; members.len()];
        let mut halts: Vec<(usize, String)> = Vec::new();
        for (i, m) in members.iter().enumerate() {
            if m.halted {
                continue;
            }
            let mut last = None;
            for event in batch {
                if m.checkpoint.is_some_and(|c| event.position <= c) {
                    continue;
                }
                if reads(m.projection.as_ref(), event) {
                    changes.begin_event();
                    let mut rows = Rows::new(self.db.as_ref(), physical, cache, &mut changes);
                    match m.projection.apply(event, &mut rows).await {
                        Ok(()) => applied[i] += 1,
                        Err(e) if e.is_poison() => {
                            changes.rollback_event();
                            let error = format!("{e}");
                            match m.projection.poison_policy() {
                                PoisonPolicy::Park => dead.push(DeadLetter {
                                    projection: m.projection.name().to_owned(),
                                    position: event.position,
                                    event_id: event.event_id,
                                    stream: event.stream.to_string(),
                                    event_type: event.event_type.clone(),
                                    error,
                                }),
                                PoisonPolicy::Stop => {
                                    halts.push((
                                        i,
                                        format!(
                                            "stopped at {} ({} in {}): {error}",
                                            event.position, event.event_type, event.stream
                                        ),
                                    ));
                                    break;
                                }
                            }
                        }
                        Err(e) => {
                            return Err(anyhow::Error::new(e).context(format!(
                                "projection {} at {}",
                                m.projection.name(),
                                event.position
                            )));
                        }
                    }
                }
                last = Some(event.position);
            }
            if let Some(p) = last {
                checkpoints.push((i, p));
            }
        }
        let mut commit = Batch::from_changes(&changes, physical);
        for (i, p) in &checkpoints {
            let m = &members[*i];
            commit.checkpoints.push((
                m.projection.name().to_owned(),
                Checkpoint {
                    position: *p,
                    version: m.projection.version(),
                },
            ));
        }
        let parked: Vec<String> = dead.iter().map(|d| d.projection.clone()).collect();
        commit.dead_letters = dead;
        self.db.commit(commit).await.context("committing a batch")?;

        // Committed: the cache learns the new rows, the members their checkpoints.
        for (def, table) in changes.tables.into_values() {
            for (key, row) in table.rows {
                cache.put(def.name, key, row);
            }
        }
        let elapsed = started.elapsed().as_secs_f64().max(1e-6);
        let newest = batch.last().map(|e| e.recorded_at);
        for (i, p) in checkpoints {
            members[i].checkpoint = Some(p);
        }
        for (i, reason) in &halts {
            members[*i].halted = true;
            tracing::error!(projection = members[*i].projection.name(), %reason, "projection stopped");
        }
        for (i, m) in members.iter().enumerate() {
            let name = m.projection.name();
            let checkpoint = m.checkpoint;
            let halt = halts.iter().find(|(h, _)| *h == i).map(|(_, r)| r.clone());
            let parked_here = parked.iter().filter(|p| *p == name).count() as u64;
            self.board.update(name, |s| {
                s.checkpoint = checkpoint;
                s.applied += applied[i];
                s.parked += parked_here;
                if applied[i] > 0 {
                    s.events_per_sec = applied[i] as f64 / elapsed;
                }
                if let Some(reason) = halt {
                    s.state = ProjectionState::Stopped;
                    s.last_error = Some((chrono::Utc::now(), reason));
                } else if s.state != ProjectionState::Stopped {
                    s.state = ProjectionState::Running;
                }
                s.lag = match (s.head, checkpoint, newest) {
                    (Some(head), Some(c), Some(at)) if c < head => {
                        (chrono::Utc::now() - at).to_std().unwrap_or_default()
                    }
                    _ => Duration::ZERO,
                };
            });
        }
        Ok(())
    }
}

/// Keeps the board's head positions fresh.
async fn watch_head(
    events: Arc<dyn EventStore>,
    board: Arc<StatusBoard>,
    names: Vec<&'static str>,
    every: Duration,
) {
    loop {
        if let Ok(head) = events.head_position().await {
            for name in &names {
                board.update(name, |s| s.head = head);
            }
        }
        tokio::time::sleep(every).await;
    }
}
