//! The live runner: owns a group of projections (their locks), keeps their tables up to date from
//! one `$all` subscription, and recovers from every failure by starting again from the committed
//! checkpoints.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{FutureExt as _, StreamExt as _};
use shop_eventstore::{AllFilter, EventStore, Position, ReadAll, RecordedEvent, SubscribeAll};
use tokio::sync::{mpsc, oneshot, watch};

use super::apply::{Applied, Target, apply_events};
use super::rebuild::{RebuildOptions, RebuildReport, rebuild};
use super::status::LAG_COUNT_LIMIT;
use super::status::{ProjectionState, StatusBoard};
use super::{Projection, backoff, reads};
use crate::rows::{Changes, Physical, RowCache};
use crate::store::{Batch, Checkpoint, LockGuard, ReadStore};

/// Runner tuning.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// Most events in one batch (one transaction).
    pub batch_events: usize,
    /// Longest wait for more events once a batch has its first one. Zero (the default): a batch
    /// is the first event and whatever else is ready at once, so a quiet log is applied event by
    /// event and a busy one in large batches; a few milliseconds trade lag for fewer
    /// transactions.
    pub batch_wait: Duration,
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
            batch_wait: Duration::ZERO,
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
    control_tx: mpsc::Sender<Control>,
    control: mpsc::Receiver<Control>,
}

/// A request to a running runner.
enum Control {
    Rebuild {
        names: Vec<String>,
        reply: oneshot::Sender<anyhow::Result<RebuildReport>>,
    },
}

/// Asks a running [`Runner`] to do things (what the admin API and operators use). Cheap to clone.
#[derive(Clone, Debug)]
pub struct RunnerHandle {
    control: mpsc::Sender<Control>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Control::Rebuild { names, .. } => {
                f.debug_struct("Rebuild").field("names", names).finish()
            }
        }
    }
}

impl RunnerHandle {
    /// Rebuilds these projections (of the runner's group) without downtime and returns when the
    /// rebuilt tables are live: shadow tables are built from position 0 while the live tables keep
    /// serving and keep being updated; once the shadows have caught up, the runner pauses between
    /// two batches, applies the few events the shadows still miss, compares row counts, switches
    /// in one transaction and carries on from the rebuilt tables. Progress (fraction, events/s,
    /// ETA) is in each projection's status. One rebuild at a time per runner.
    pub async fn rebuild(&self, names: &[&str]) -> anyhow::Result<RebuildReport> {
        let (reply, answer) = oneshot::channel();
        self.control
            .send(Control::Rebuild {
                names: names.iter().map(|n| (*n).to_owned()).collect(),
                reply,
            })
            .await
            .map_err(|_| anyhow::anyhow!("the projection runner is not running"))?;
        answer.await.map_err(|_| {
            anyhow::anyhow!("the projection runner stopped before the rebuild ended")
        })?
    }
}

/// How `follow` ended.
enum Flow {
    /// Shutdown (or every projection stopped at a poison event and shutdown came).
    Stop,
    /// Start again from the checkpoints (after a switch to rebuilt tables).
    Restart,
}

/// What woke the follow loop.
enum Woke {
    Event(Option<shop_eventstore::Result<RecordedEvent>>),
    Shutdown,
    Control(Control),
    Built(Result<anyhow::Result<RebuildReport>, tokio::task::JoinError>),
}

/// A rebuild's first phase, running beside the live runner.
struct Build {
    projections: Vec<Arc<dyn Projection>>,
    task: tokio::task::JoinHandle<anyhow::Result<RebuildReport>>,
    reply: oneshot::Sender<anyhow::Result<RebuildReport>>,
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
        let (control_tx, control) = mpsc::channel(8);
        Self {
            events,
            db,
            projections,
            options,
            board,
            control_tx,
            control,
        }
    }

    /// A handle to control the runner once it runs.
    pub fn handle(&self) -> RunnerHandle {
        RunnerHandle {
            control: self.control_tx.clone(),
        }
    }

    /// Takes the projections' locks (waiting while another process holds them), rebuilds those
    /// whose version changed, then follows the log until `shutdown` turns true. Failures are
    /// retried forever with backoff; only a broken setup (tables that cannot be created) returns
    /// an error.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
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
            self.projections.clone(),
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
        // `follow` borrows the runner; the control requests it serves are taken out of it once.
        let mut control = std::mem::replace(&mut self.control, mpsc::channel(1).1);
        let result = loop {
            if *shutdown.borrow() {
                break Ok(());
            }
            match self.follow(&mut members, &mut shutdown, &mut control).await {
                Ok(Flow::Stop) => break Ok(()),
                Ok(Flow::Restart) => failures = 0,
                Err(e) => {
                    failures += 1;
                    let pause = backoff(self.options.retry_base, self.options.retry_max, failures);
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
        control: &mut mpsc::Receiver<Control>,
    ) -> anyhow::Result<Flow> {
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
            return Ok(Flow::Stop);
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
        let mut building: Option<Build> = None;
        loop {
            let woke = tokio::select! {
                next = subscription.next() => Woke::Event(next),
                _ = shutdown.wait_for(|stop| *stop) => Woke::Shutdown,
                Some(request) = control.recv() => Woke::Control(request),
                built = wait_build(&mut building) => Woke::Built(built),
            };
            let first = match woke {
                Woke::Event(next) => next,
                Woke::Shutdown => return Ok(Flow::Stop),
                Woke::Control(request) => {
                    self.start_rebuild(request, members, &mut building);
                    continue;
                }
                Woke::Built(built) => {
                    let build = building.take().expect("a build was running");
                    let outcome = match built {
                        Ok(Ok(first)) => {
                            self.finish_rebuild(&build.projections).await.map(|second| {
                                RebuildReport {
                                    events: first.events + second.events,
                                    elapsed: first.elapsed + second.elapsed,
                                    events_per_sec: (first.events + second.events) as f64
                                        / (first.elapsed + second.elapsed).as_secs_f64().max(1e-6),
                                    bulk: first.bulk,
                                    fallback: first.fallback,
                                    ..second
                                }
                            })
                        }
                        Ok(Err(e)) => Err(e),
                        Err(e) => Err(anyhow::Error::new(e)),
                    };
                    let switched = outcome.is_ok();
                    for p in &build.projections {
                        self.board.update(p.name(), |s| s.rebuild = None);
                    }
                    if let Err(e) = &outcome {
                        tracing::error!(error = %format!("{e:#}"), "projection rebuild failed");
                    }
                    let _ = build.reply.send(outcome);
                    if switched {
                        return Ok(Flow::Restart);
                    }
                    continue;
                }
            };
            let first = first.context("the subscription ended")??;
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + self.options.batch_wait;
            while batch.len() < self.options.batch_events.max(1) {
                match subscription.next().now_or_never() {
                    Some(Some(event)) => batch.push(event?),
                    Some(None) => break,
                    None if self.options.batch_wait.is_zero() => break,
                    None => match tokio::time::timeout_at(deadline, subscription.next()).await {
                        Ok(Some(event)) => batch.push(event?),
                        Ok(None) | Err(_) => break,
                    },
                }
            }
            self.apply_batch(members, &batch, &physical, &mut cache)
                .await?;
            if members.iter().all(|m| m.halted) && building.is_none() {
                return Ok(Flow::Stop);
            }
        }
    }

    /// Starts the first phase of an operator's rebuild beside the live runner.
    fn start_rebuild(&self, request: Control, members: &[Member], building: &mut Option<Build>) {
        let Control::Rebuild { names, reply } = request;
        if building.is_some() {
            let _ = reply.send(Err(anyhow::anyhow!("a rebuild is already running")));
            return;
        }
        let mut projections = Vec::new();
        for name in &names {
            match members.iter().find(|m| m.projection.name() == name) {
                Some(m)
                    if !projections
                        .iter()
                        .any(|p: &Arc<dyn Projection>| p.name() == name) =>
                {
                    projections.push(m.projection.clone())
                }
                Some(_) => {}
                None => {
                    let _ = reply.send(Err(anyhow::anyhow!(
                        "no projection {name:?} in this runner"
                    )));
                    return;
                }
            }
        }
        if projections.is_empty() {
            let _ = reply.send(Err(anyhow::anyhow!("nothing to rebuild")));
            return;
        }
        tracing::info!(projections = ?names, "rebuild requested");
        let (events, db, board) = (self.events.clone(), self.db.clone(), self.board.clone());
        let options = RebuildOptions {
            switch: false,
            ..self.options.rebuild.clone()
        };
        let group = projections.clone();
        let task = tokio::spawn(async move {
            let names: Vec<&'static str> = group.iter().map(|p| p.name()).collect();
            rebuild(events, db, &group, &options, |progress| {
                for name in &names {
                    board.update(name, |s| s.rebuild = Some(progress.clone()));
                }
            })
            .await
        });
        *building = Some(Build {
            projections,
            task,
            reply,
        });
    }

    /// The second phase, between two batches: the shadows catch up with the few events they
    /// miss and replace the live tables.
    async fn finish_rebuild(
        &self,
        projections: &[Arc<dyn Projection>],
    ) -> anyhow::Result<RebuildReport> {
        let names: Vec<&'static str> = projections.iter().map(|p| p.name()).collect();
        let board = self.board.clone();
        rebuild(
            self.events.clone(),
            self.db.clone(),
            projections,
            &self.options.rebuild,
            |progress| {
                for name in &names {
                    board.update(name, |s| s.rebuild = Some(progress.clone()));
                }
            },
        )
        .await
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
        let mut targets: Vec<Target<'_>> = members
            .iter()
            .map(|m| Target {
                projection: m.projection.as_ref(),
                done: m.checkpoint,
                halted: m.halted,
            })
            .collect();
        let Applied {
            applied,
            last,
            halts,
            dead,
        } = apply_events(
            &mut targets,
            batch,
            self.db.as_ref(),
            physical,
            cache,
            &mut changes,
        )
        .await?;
        drop(targets);
        let checkpoints: Vec<(usize, Position)> = last
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| (i, p)))
            .collect();
        let mut commit = Batch::from_changes(&mut changes, physical);
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

/// Waits for a running build to end (forever when there is none).
async fn wait_build(
    building: &mut Option<Build>,
) -> Result<anyhow::Result<RebuildReport>, tokio::task::JoinError> {
    match building {
        Some(build) => (&mut build.task).await,
        None => std::future::pending().await,
    }
}

/// Keeps the board's head positions and event lags fresh: once per `every`, reads the head, then
/// counts (up to [`LAG_COUNT_LIMIT`]) the events of each projection's categories past its
/// checkpoint, in one read from the oldest checkpoint that is behind.
async fn watch_head(
    events: Arc<dyn EventStore>,
    board: Arc<StatusBoard>,
    projections: Vec<Arc<dyn Projection>>,
    every: Duration,
) {
    loop {
        if let Ok(head) = events.head_position().await {
            let checkpoints: Vec<Option<Position>> = projections
                .iter()
                .map(|p| {
                    board.update(p.name(), |s| s.head = head);
                    board.get(p.name()).and_then(|s| s.checkpoint)
                })
                .collect();
            let behind = |c: &Option<Position>| head.is_some_and(|h| c.is_none_or(|c| c < h));
            let mut lags = vec![0u64; projections.len()];
            if checkpoints.iter().any(behind) {
                let from = checkpoints
                    .iter()
                    .filter(|c| behind(c))
                    .min()
                    .copied()
                    .flatten();
                let prefixes: BTreeSet<String> = projections
                    .iter()
                    .flat_map(|p| p.categories().iter().map(|c| format!("{c}-")))
                    .collect();
                let mut read = ReadAll::forwards()
                    .filter(AllFilter::stream_prefixes(prefixes))
                    .limit(LAG_COUNT_LIMIT);
                if let Some(from) = from {
                    read = read.from(from);
                }
                if let Ok(page) = events.read_all(read).await {
                    for event in &page {
                        for (i, p) in projections.iter().enumerate() {
                            if checkpoints[i].is_none_or(|c| event.position > c)
                                && reads(p.as_ref(), event)
                            {
                                lags[i] += 1;
                            }
                        }
                    }
                }
            }
            for (p, lag) in projections.iter().zip(lags) {
                board.update(p.name(), |s| s.lag_events = lag);
            }
        }
        tokio::time::sleep(every).await;
    }
}
