//! The bulk path of a rebuild from position 0: the projections' rows are held in memory, typed
//! ([`MemoryRows`]), for the whole pass over the log and written into the (empty) shadow tables
//! once, when their lane is done, in key order, with bulk inserts. Append-only rows are written
//! while the pass goes on. The projections run in lanes (groups that share no tables) on threads
//! of their own, each lane seeing every page of the log, so the pass uses every core.
//!
//! The projections' code is the same as on the row path; only the working set differs, so the
//! tables come out the same (the tests compare them row for row). Nothing is committed with a
//! checkpoint until every row is written: a bulk load that stops half-way leaves shadow tables
//! without a checkpoint, which the next rebuild drops.
//!
//! The bulk path gives up, and the caller rebuilds on the row path, when a projection meets an
//! event it cannot apply (the row path parks it or stops there, per policy, and can undo the
//! event's partial writes) or when the rows outgrow the memory budget.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use shop_eventstore::{AllFilter, EventStore, Position, RecordedEvent};
use tokio::sync::mpsc;

use super::rebuild::read_page;
use super::{Projection, RebuildOptions, reads};
use crate::rows::{Decoded, MemoryRows, Physical, Row, Rows, TableDef};
use crate::store::{Batch, Checkpoint, ReadStore, TableWrite};

/// What a bulk load did.
#[derive(Debug)]
pub(super) enum Bulk {
    /// Every row is in the shadow tables and the rebuild checkpoints are at `position`.
    Loaded {
        /// Events read.
        events: u64,
        /// The last event read.
        position: Option<Position>,
        /// Time spent writing after the last lane was done.
        final_write: Duration,
    },
    /// The bulk path cannot rebuild this log; rebuild on the row path from scratch.
    Fallback(String),
}

/// A lane's end.
enum LaneEnd {
    /// Every row handed to the writers; where its time went.
    Done(LaneTimes),
    Fallback(String),
}

/// Where a lane's time went (logged at debug level, for tuning).
#[derive(Debug, Default)]
struct LaneTimes {
    applying: Duration,
    waiting_for_pages: Duration,
    waiting_for_writer: Duration,
    sorting: Duration,
}

/// Appended rows handed to the writers at a time, and the most rows of one write at the end.
const WRITE_CHUNK: usize = 65_536;

/// Writers: Postgres takes two writes at once (SQLite's single writer takes them in turn).
const WRITERS: usize = 2;

type Page = Arc<Vec<RecordedEvent>>;
/// New rows of some tables.
type Write = Vec<(&'static TableDef, Vec<Row>)>;

/// Loads `projections` into their (new, empty) shadow tables. `on_page` is told the events read
/// and the position reached after every page.
#[allow(clippy::too_many_arguments)]
pub(super) async fn load(
    events: Arc<dyn EventStore>,
    db: Arc<dyn ReadStore>,
    projections: &[Arc<dyn Projection>],
    rebuild_names: &[String],
    physical: &Physical,
    filter: AllFilter,
    options: &RebuildOptions,
    mut on_page: impl FnMut(u64, Position),
) -> anyhow::Result<Bulk> {
    let lanes = lanes(projections, options.lanes);
    let budget = options.memory_rows / lanes.len().max(1);

    // The writers take appended rows while the pass goes on, and each lane's tables as soon as
    // that lane is done (so they overlap with the lanes still applying).
    let (writes_tx, writes_rx) = mpsc::channel::<Write>(4);
    let writes_rx = Arc::new(tokio::sync::Mutex::new(writes_rx));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (db, physical, writes) = (db.clone(), physical.clone(), writes_rx.clone());
            tokio::spawn(async move {
                let mut busy = Duration::ZERO;
                loop {
                    let Some(write) = writes.lock().await.recv().await else {
                        break;
                    };
                    let started = Instant::now();
                    db.commit(inserts(write, &physical))
                        .await
                        .context("writing rebuilt rows")?;
                    busy += started.elapsed();
                }
                anyhow::Ok(busy)
            })
        })
        .collect();

    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for lane in lanes {
        let (tx, rx) = mpsc::channel::<Page>(4);
        senders.push(tx);
        let writes = writes_tx.clone();
        workers.push(tokio::task::spawn_blocking(move || {
            run_lane(&lane, rx, writes, budget)
        }));
    }
    drop(writes_tx);

    let read_page = |from| read_page(&events, &filter, options.batch_events, from);
    let (mut count, mut position) = (0u64, None);
    let mut next = Some(read_page(None));
    let (mut waiting_for_reads, mut waiting_for_lanes) = (Duration::ZERO, Duration::ZERO);
    'pages: while let Some(reading) = next.take() {
        let clock = Instant::now();
        let page = reading.await?.context("reading the log")?;
        waiting_for_reads += clock.elapsed();
        let Some(last) = page.last().map(|e| e.position) else {
            break;
        };
        next = Some(read_page(Some(last)));
        count += page.len() as u64;
        position = Some(last);
        let page = Arc::new(page);
        let clock = Instant::now();
        for lane in &senders {
            if lane.send(page.clone()).await.is_err() {
                // The lane ended early (it gave up): its end says why.
                break 'pages;
            }
        }
        waiting_for_lanes += clock.elapsed();
        on_page(count, last);
    }
    drop(senders);
    tracing::debug!(
        events = count,
        ?waiting_for_reads,
        ?waiting_for_lanes,
        "bulk rebuild read the log"
    );

    let mut fallback = None;
    for (i, worker) in workers.into_iter().enumerate() {
        match worker.await?? {
            LaneEnd::Done(times) => tracing::debug!(lane = i, ?times, "bulk rebuild lane done"),
            LaneEnd::Fallback(reason) => fallback = fallback.or(Some(reason)),
        }
    }
    let written = Instant::now();
    for writer in writers {
        let busy = writer.await??;
        tracing::debug!(?busy, "bulk rebuild writer done");
    }
    if let Some(reason) = fallback {
        return Ok(Bulk::Fallback(reason));
    }

    // Only now is the load complete: the checkpoints say so.
    if let Some(at) = position {
        let mut batch = Batch {
            relaxed_durability: true,
            ..Batch::default()
        };
        for (p, name) in projections.iter().zip(rebuild_names) {
            batch.checkpoints.push((
                name.clone(),
                Checkpoint {
                    position: at,
                    version: p.version(),
                },
            ));
        }
        db.commit(batch).await?;
    }
    Ok(Bulk::Loaded {
        events: count,
        position,
        final_write: written.elapsed(),
    })
}

/// Splits the projections into at most `lanes` groups. Projections that decode the same
/// categories stay together, so each event is decoded once (that is most of the cost of
/// applying it); the groups are then spread over the lanes, heaviest first
/// ([`Projection::rebuild_weight`]), each onto the lane with the least weight so far.
fn lanes(projections: &[Arc<dyn Projection>], lanes: usize) -> Vec<Vec<Arc<dyn Projection>>> {
    // Connected groups: two projections meet if they decode a category in common.
    let mut groups: Vec<Vec<Arc<dyn Projection>>> = Vec::new();
    for p in projections {
        let (meeting, mut rest): (Vec<_>, Vec<_>) = groups.into_iter().partition(|g| {
            g.iter()
                .any(|q| q.decodes().iter().any(|c| p.decodes().contains(c)))
        });
        let mut merged: Vec<Arc<dyn Projection>> = meeting.into_iter().flatten().collect();
        merged.push(p.clone());
        rest.push(merged);
        groups = rest;
    }
    let weight = |lane: &[Arc<dyn Projection>]| -> u64 {
        lane.iter().map(|p| u64::from(p.rebuild_weight())).sum()
    };
    groups.sort_by_key(|g| std::cmp::Reverse(weight(g)));
    let n = lanes.clamp(1, groups.len().max(1));
    let mut out: Vec<Vec<Arc<dyn Projection>>> = vec![Vec::new(); n];
    for group in groups {
        let lightest = out
            .iter_mut()
            .min_by_key(|lane| weight(lane))
            .expect("at least one lane");
        lightest.extend(group);
    }
    for (i, lane) in out.iter().enumerate() {
        let names: Vec<&str> = lane.iter().map(|p| p.name()).collect();
        tracing::debug!(lane = i, projections = ?names, "bulk rebuild lane");
    }
    out
}

/// Applies every page to one lane's projections, in memory.
fn run_lane(
    lane: &[Arc<dyn Projection>],
    mut pages: mpsc::Receiver<Page>,
    writes: mpsc::Sender<Write>,
    budget: usize,
) -> anyhow::Result<LaneEnd> {
    let stopped = || Ok(LaneEnd::Fallback("the writers stopped".into()));
    let mut memory = MemoryRows::default();
    let mut decoded = Decoded::default();
    let mut times = LaneTimes::default();
    let mut clock = Instant::now();
    while let Some(page) = pages.blocking_recv() {
        times.waiting_for_pages += clock.elapsed();
        clock = Instant::now();
        for event in page.iter() {
            for projection in lane {
                if !reads(projection.as_ref(), event) {
                    continue;
                }
                let mut rows = Rows::in_memory(&mut memory, &mut decoded);
                match now(projection.apply(event, &mut rows)) {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        return Ok(LaneEnd::Fallback(format!(
                            "{} at {} ({} in {}): {e}",
                            projection.name(),
                            event.position,
                            event.event_type,
                            event.stream
                        )));
                    }
                    None => {
                        return Ok(LaneEnd::Fallback(format!(
                            "{} waits on something other than its rows",
                            projection.name()
                        )));
                    }
                }
            }
        }
        times.applying += clock.elapsed();
        clock = Instant::now();
        if memory.appends() >= WRITE_CHUNK {
            if writes
                .blocking_send(by_table(memory.take_appends()))
                .is_err()
            {
                // A write failed; the writer reports it.
                return stopped();
            }
            times.waiting_for_writer += clock.elapsed();
            clock = Instant::now();
        }
        if memory.rows() > budget {
            return Ok(LaneEnd::Fallback(format!(
                "more than {budget} rows in memory in one lane"
            )));
        }
    }
    if memory.appends() > 0
        && writes
            .blocking_send(by_table(memory.take_appends()))
            .is_err()
    {
        return stopped();
    }
    // Sorted here, on the lane's thread, so lanes sort in parallel; one table at a time,
    // smallest first, so the writers start at once and write each table while the lane sorts
    // the next; written in chunks, so the writers share big tables.
    for table in memory.into_tables() {
        let sorting = Instant::now();
        let (def, mut rows) = table.sorted();
        times.sorting += sorting.elapsed();
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(WRITE_CHUNK));
            if writes.blocking_send(vec![(def, rows)]).is_err() {
                return stopped();
            }
            rows = rest;
        }
    }
    Ok(LaneEnd::Done(times))
}

/// Runs a future that must not wait: applying in memory never does. `None` if it would.
fn now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

fn by_table(rows: Vec<(&'static TableDef, Row)>) -> Write {
    let mut tables: Vec<(&'static TableDef, Vec<Row>)> = Vec::new();
    for (def, row) in rows {
        match tables.iter_mut().find(|(d, _)| std::ptr::eq(*d, def)) {
            Some((_, rows)) => rows.push(row),
            None => tables.push((def, vec![row])),
        }
    }
    tables
}

/// A batch inserting new rows (no checkpoint: see the module doc).
fn inserts(tables: Write, physical: &Physical) -> Batch {
    Batch {
        tables: tables
            .into_iter()
            .map(|(def, rows)| TableWrite {
                def,
                physical: physical
                    .get(def.name)
                    .cloned()
                    .unwrap_or_else(|| def.name.to_owned()),
                upserts: Vec::new(),
                inserts: rows,
                deletes: Vec::new(),
            })
            .collect(),
        relaxed_durability: true,
        ..Batch::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{ModelOptions, all};

    fn names(lanes: &[Vec<Arc<dyn Projection>>]) -> Vec<Vec<&'static str>> {
        lanes
            .iter()
            .map(|lane| {
                let mut names: Vec<&str> = lane.iter().map(|p| p.name()).collect();
                names.sort_unstable();
                names
            })
            .collect()
    }

    #[test]
    fn projections_that_decode_the_same_events_share_a_lane() {
        let projections = all(&ModelOptions::default());
        let two = names(&lanes(&projections, 2));
        assert_eq!(two.len(), 2);
        assert_eq!(two.iter().map(Vec::len).sum::<usize>(), projections.len());
        let lane_of = |name: &str| two.iter().position(|l| l.contains(&name)).unwrap();
        // Product and inventory events: decoded once for all four.
        for name in ["search", "inventory", "invariants"] {
            assert_eq!(lane_of(name), lane_of("catalog"), "{name}");
        }
        // Order events.
        assert_eq!(lane_of("analytics"), lane_of("orders"));
        // Both lanes have work.
        assert!(two.iter().all(|l| !l.is_empty()));

        // One lane holds everything; more lanes than groups leaves none empty.
        assert_eq!(names(&lanes(&projections, 1))[0].len(), projections.len());
        let many = lanes(&projections, 64);
        assert!(many.iter().all(|l| !l.is_empty()));
        assert!(many.len() < projections.len(), "groups stay whole");
    }
}
