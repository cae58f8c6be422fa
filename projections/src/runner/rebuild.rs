//! Rebuilding projections (one or several, in one pass over the log) without taking their tables
//! away: events from position 0 are applied to
//! shadow tables (`<table>__rebuild`) while the live tables keep answering queries; once the
//! shadow has caught up with the log, the row counts of live and shadow are compared and reported,
//! and one transaction drops the live tables, renames the shadows into their place and moves the
//! rebuild's checkpoint to the projection. A rebuild that is interrupted resumes from its own
//! checkpoint (`<name>@rebuild`) the next time.
//!
//! A rebuild from position 0 takes the bulk path first ([`bulk`](super::bulk): rows in memory,
//! each written once); a resumed one, or one the bulk path gives up on, the row path
//! (batches of changes over a row cache, committed with the checkpoint every `commit_events`).
//!
//! The caller must own the projections (hold their locks): the live runner does when it finds a
//! projection whose version changed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use shop_eventstore::{AllFilter, EventStore, Position, ReadAll};

use super::Projection;
use super::apply::{Target, apply_events};
use super::bulk::{self, Bulk};
use crate::rows::{Changes, Physical, RowCache, TableDef};
use crate::store::{Batch, Checkpoint, ReadStore};

/// Rebuild tuning.
#[derive(Clone, Debug)]
pub struct RebuildOptions {
    /// Events read from the log at a time.
    pub batch_events: usize,
    /// Events applied per transaction (at least one page).
    pub commit_events: usize,
    /// Rows kept in memory (a rebuild that fits never reads its own tables back).
    pub cache_rows: usize,
    /// Refuse to switch when a table's live and rebuilt row counts differ (for a rebuild of an
    /// unchanged projection, where they must agree).
    pub require_equal_counts: bool,
    /// Switch to the rebuilt tables once caught up. Without it the rebuild stops there (its
    /// checkpoint kept), and a later rebuild with it resumes, catches up the rest and switches:
    /// the live runner builds beside the live tables, then switches between two batches.
    pub switch: bool,
    /// Rebuild from position 0 in memory, written once at the end (the bulk path), falling back
    /// to the row path when a projection meets an event it cannot apply or the rows outgrow
    /// `memory_rows`. A resumed rebuild always takes the row path.
    pub in_memory: bool,
    /// Threads the bulk path applies on (projections are split between them).
    pub lanes: usize,
    /// Rows the bulk path may hold in memory (about 300 bytes each) before it falls back.
    pub memory_rows: usize,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        Self {
            batch_events: 4_096,
            commit_events: 32_768,
            cache_rows: 4_000_000,
            require_equal_counts: false,
            switch: true,
            in_memory: true,
            lanes: std::thread::available_parallelism().map_or(2, |n| n.get()),
            memory_rows: 8_000_000,
        }
    }
}

/// How far a rebuild is.
#[derive(Clone, Debug, PartialEq)]
pub struct RebuildProgress {
    /// Events read so far.
    pub events: u64,
    /// Position reached.
    pub position: Option<Position>,
    /// Share of the log (up to the head seen at the start) done, 0 to 1, estimated from positions.
    pub fraction: f64,
    /// Events per second so far.
    pub events_per_sec: f64,
    /// Estimated time left.
    pub eta: Option<Duration>,
}

/// One table's row counts at the switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCount {
    /// The table.
    pub table: &'static str,
    /// Rows in the live table just before the switch.
    pub live: u64,
    /// Rows in the rebuilt table.
    pub rebuilt: u64,
}

/// What a rebuild did.
#[derive(Clone, Debug, PartialEq)]
pub struct RebuildReport {
    /// The projections.
    pub projections: Vec<&'static str>,
    /// Events read.
    pub events: u64,
    /// How long it took.
    pub elapsed: Duration,
    /// Events per second.
    pub events_per_sec: f64,
    /// Row counts per table.
    pub tables: Vec<TableCount>,
    /// The position the rebuilt tables start from.
    pub checkpoint: Option<Position>,
    /// The bulk path loaded the tables (rows in memory, written once).
    pub bulk: bool,
    /// Why the bulk path gave up, if it did (the row path then rebuilt from scratch).
    pub fallback: Option<String>,
}

/// The shadow name of a table.
pub fn shadow_name(table: &str) -> String {
    format!("{table}__rebuild")
}

/// Rebuilds `projections` (one pass over the log for all of them) into shadow tables and
/// switches to them. See the module doc.
pub async fn rebuild(
    events: Arc<dyn EventStore>,
    db: Arc<dyn ReadStore>,
    projections: &[Arc<dyn Projection>],
    options: &RebuildOptions,
    progress: impl Fn(&RebuildProgress),
) -> anyhow::Result<RebuildReport> {
    anyhow::ensure!(!projections.is_empty(), "nothing to rebuild");
    let started = Instant::now();
    let rebuild_names: Vec<String> = projections
        .iter()
        .map(|p| format!("{}@rebuild", p.name()))
        .collect();
    let shadows: Vec<Vec<(&'static TableDef, String)>> = projections
        .iter()
        .map(|p| {
            p.tables()
                .iter()
                .map(|t| (*t, shadow_name(t.name)))
                .collect()
        })
        .collect();
    let physical: Physical = shadows
        .iter()
        .flatten()
        .map(|(t, s)| (t.name, s.clone()))
        .collect();

    // Resume an interrupted rebuild of the same versions; otherwise start clean.
    let mut resumed = Vec::new();
    for (p, name) in projections.iter().zip(&rebuild_names) {
        resumed.push(
            db.checkpoint(name)
                .await?
                .filter(|c| c.version == p.version()),
        );
    }
    let resume_from = if resumed.iter().all(Option::is_some) {
        resumed.iter().flatten().map(|c| c.position).min()
    } else {
        None
    };
    let flat: Vec<(&'static TableDef, String)> = shadows.iter().flatten().cloned().collect();
    let live: Vec<(&'static TableDef, String)> =
        flat.iter().map(|(t, _)| (*t, t.name.to_owned())).collect();
    db.create_tables(&live, true).await?;
    let mut cache = RowCache::new(options.cache_rows);
    if resume_from.is_none() {
        start_clean(db.as_ref(), &flat, &rebuild_names).await?;
        resumed.iter_mut().for_each(|r| *r = None);
    } else {
        db.create_tables(&flat, false).await?;
    }

    let prefixes: std::collections::BTreeSet<String> = projections
        .iter()
        .flat_map(|p| p.categories().iter().map(|c| format!("{c}-")))
        .collect();
    let filter = AllFilter::stream_prefixes(prefixes);
    let head = events.head_position().await?;
    let mut position = resume_from;
    let mut count = 0u64;
    let mut bulk_write = None;
    let mut fallback = None;
    if resume_from.is_none() && options.in_memory {
        let loaded = bulk::load(
            events.clone(),
            db.clone(),
            projections,
            &rebuild_names,
            &physical,
            filter.clone(),
            options,
            |events, at| progress(&estimate(events, None, Some(at), head, started.elapsed())),
        )
        .await?;
        match loaded {
            Bulk::Loaded {
                events,
                position: at,
                final_write,
            } => {
                count = events;
                position = at;
                bulk_write = Some(final_write);
            }
            Bulk::Fallback(reason) => {
                tracing::warn!(%reason, "bulk rebuild gave up; rebuilding on the row path");
                start_clean(db.as_ref(), &flat, &rebuild_names).await?;
                fallback = Some(reason);
            }
        }
    }
    if resume_from.is_none() {
        // The row path from scratch: the shadows are empty, so a key not cached is not there.
        for (t, _) in &flat {
            cache.mark_complete(t.name);
        }
    }
    // Three stages overlap: the next page of the log is read and the previous batch commits
    // while this one is applied. The cache takes each batch's rows as soon as they are applied;
    // if a commit fails the rebuild stops, and a new one resumes from its checkpoint with an
    // empty cache.
    let read_page = |from| read_page(&events, &filter, options.batch_events, from);
    // The bulk path has read everything: the row path has nothing left.
    let mut next_page = bulk_write.is_none().then(|| read_page(position));
    let mut committing: Option<tokio::task::JoinHandle<Result<(), crate::store::StoreError>>> =
        None;
    // Pages are applied into one set of changes until it holds `commit_events` events: fewer,
    // larger transactions, and a row changed by many of those events is written once.
    let mut changes = Changes::default();
    let mut dead = Vec::new();
    let mut pending = 0usize;
    // Time the applying side spent waiting for the reader and for the previous commit.
    let (mut wait_read, mut wait_commit) = (Duration::ZERO, Duration::ZERO);
    loop {
        let Some(reading) = next_page.take() else {
            break;
        };
        let waited = Instant::now();
        let page = reading.await?.context("reading the log")?;
        wait_read += waited.elapsed();
        let last = page.last().map(|e| e.position);
        if let Some(last) = last {
            next_page = Some(read_page(Some(last)));
            if cache.has_evicted()
                && let Some(previous) = committing.take()
            {
                // Misses now read the database: it must hold every row the cache was given.
                previous.await?.context("committing a rebuild batch")?;
            }
            let mut targets: Vec<Target<'_>> = projections
                .iter()
                .zip(&resumed)
                .map(|(p, done)| Target {
                    projection: p.as_ref(),
                    done: done.map(|c| c.position),
                    halted: false,
                })
                .collect();
            let applied = apply_events(
                &mut targets,
                &page,
                db.as_ref(),
                &physical,
                &mut cache,
                &mut changes,
            )
            .await
            .context("rebuild")?;
            if let Some((i, reason)) = applied.halts.first() {
                anyhow::bail!("rebuild of {} {reason}", projections[*i].name());
            }
            dead.extend(applied.dead);
            pending += page.len();
            count += page.len() as u64;
            position = Some(last);
        }
        let done = last.is_none();
        if pending > 0 && (done || pending >= options.commit_events.max(1)) {
            let at = position.expect("events were applied");
            // Rows the cache knows to be absent from the shadow tables (the previous commit is
            // awaited before this one starts) are bulk-loaded; so are appended rows, which are
            // only ever written once, by the batch that applies their event.
            let mut batch = Batch::from_changes_with(
                &mut changes,
                &physical,
                |table, key| matches!(cache.get(table, key), Some(None)),
                true,
            );
            for (p, name) in projections.iter().zip(&rebuild_names) {
                batch.checkpoints.push((
                    name.clone(),
                    Checkpoint {
                        position: at,
                        version: p.version(),
                    },
                ));
            }
            batch.dead_letters = std::mem::take(&mut dead);
            // A batch lost to a database crash is simply rebuilt again from the checkpoint.
            batch.relaxed_durability = true;
            // Drained rather than dropped: the maps keep their capacity for the next batch,
            // which then grows no tables.
            for (def, table) in changes.tables.values_mut() {
                for (key, row) in table.rows.drain() {
                    cache.put(def.name, key, row);
                }
            }
            pending = 0;
            if let Some(previous) = committing.take() {
                let waited = Instant::now();
                previous.await?.context("committing a rebuild batch")?;
                wait_commit += waited.elapsed();
            }
            let db = db.clone();
            committing = Some(tokio::spawn(async move { db.commit(batch).await }));
        }
        if done {
            break;
        }
        progress(&estimate(
            count,
            resume_from,
            position,
            head,
            started.elapsed(),
        ));
    }
    if let Some(previous) = committing.take() {
        previous.await?.context("committing a rebuild batch")?;
    }
    let loaded = started.elapsed();

    // Counted concurrently (Postgres counts on several connections at once).
    let counting: Vec<_> = flat
        .iter()
        .map(|(t, shadow)| {
            let (db, table, shadow) = (db.clone(), t.name, shadow.clone());
            tokio::spawn(async move {
                anyhow::Ok(TableCount {
                    table,
                    live: db.count(table).await?,
                    rebuilt: db.count(&shadow).await?,
                })
            })
        })
        .collect();
    let mut tables = Vec::with_capacity(counting.len());
    for count in counting {
        tables.push(count.await??);
    }
    let names: Vec<&'static str> = projections.iter().map(|p| p.name()).collect();
    tracing::info!(projections = ?names, ?tables, switch = options.switch, "rebuild caught up");
    if options.require_equal_counts
        && let Some(t) = tables.iter().find(|t| t.live != t.rebuilt)
    {
        anyhow::bail!(
            "rebuild not switched: table {} has {} live rows but {} rebuilt",
            t.table,
            t.live,
            t.rebuilt
        );
    }
    let counted = started.elapsed();
    if options.switch {
        db.build_indexes(&flat).await?;
        for ((p, name), shadow) in projections.iter().zip(&rebuild_names).zip(&shadows) {
            db.swap(shadow, name, p.name()).await?;
        }
    }
    let elapsed = started.elapsed();
    tracing::info!(
        events = count,
        load_ms = loaded.as_millis() as u64,
        waiting_for_reads_ms = wait_read.as_millis() as u64,
        waiting_for_commits_ms = wait_commit.as_millis() as u64,
        bulk = bulk_write.is_some(),
        final_write_ms = bulk_write.map_or(0, |d| d.as_millis() as u64),
        count_ms = (counted - loaded).as_millis() as u64,
        switch_ms = (elapsed - counted).as_millis() as u64,
        "rebuild switched"
    );
    Ok(RebuildReport {
        projections: names,
        events: count,
        elapsed,
        events_per_sec: count as f64 / elapsed.as_secs_f64().max(1e-6),
        tables,
        checkpoint: position,
        bulk: bulk_write.is_some(),
        fallback,
    })
}

/// Reads the next page of the log (after `from`) on a task of its own, so the caller can apply
/// the previous page meanwhile.
pub(super) fn read_page(
    events: &Arc<dyn EventStore>,
    filter: &AllFilter,
    limit: usize,
    from: Option<Position>,
) -> tokio::task::JoinHandle<shop_eventstore::Result<Vec<shop_eventstore::RecordedEvent>>> {
    let (events, filter) = (events.clone(), filter.clone());
    tokio::spawn(async move {
        let mut read = ReadAll::forwards().filter(filter).limit(limit.max(1));
        if let Some(p) = from {
            read = read.from(p);
        }
        events.read_all(read).await
    })
}

/// Drops the shadow tables and the rebuild checkpoints, and creates the shadows again, empty and
/// without secondary indexes (built at the switch).
async fn start_clean(
    db: &dyn ReadStore,
    shadows: &[(&'static TableDef, String)],
    rebuild_names: &[String],
) -> anyhow::Result<()> {
    let names: Vec<String> = shadows.iter().map(|(_, s)| s.clone()).collect();
    db.drop_tables(&names).await?;
    for name in rebuild_names {
        db.reset_checkpoint(name).await?;
    }
    db.create_tables(shadows, false).await?;
    Ok(())
}

fn estimate(
    events: u64,
    from: Option<Position>,
    at: Option<Position>,
    head: Option<Position>,
    elapsed: Duration,
) -> RebuildProgress {
    let start = from.map_or(0, |p| p.commit()) as f64;
    let fraction = match (at, head) {
        (Some(at), Some(head)) if head.commit() as f64 > start => {
            ((at.commit() as f64 - start) / (head.commit() as f64 - start)).clamp(0.0, 1.0)
        }
        _ => 1.0,
    };
    let rate = events as f64 / elapsed.as_secs_f64().max(1e-6);
    let eta =
        (fraction > 0.0 && fraction < 1.0).then(|| elapsed.mul_f64((1.0 - fraction) / fraction));
    RebuildProgress {
        events,
        position: at,
        fraction,
        events_per_sec: rate,
        eta,
    }
}
