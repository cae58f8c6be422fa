//! The single writer thread and its group commit.
//!
//! Every append, delete and metadata change of the embedded store goes through one bounded queue to
//! one thread that owns the only write connection. The thread drains whatever is queued (up to a
//! batch limit), runs each request in its own savepoint inside one transaction, commits once — one
//! fsync for the whole batch — and only then answers each caller. A request that is refused rolls
//! back its savepoint and changes nothing; the others in the batch are unaffected.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::read::last_revision;
use crate::{
    AppendResult, CurrentRevision, DeleteResult, Error, EventData, ExpectedRevision, Position,
    Result, StreamMetadata, StreamName,
};

/// A job for the writer thread.
pub(super) enum Request {
    Append {
        stream: StreamName,
        expected: ExpectedRevision,
        events: Vec<EventData>,
        reply: oneshot::Sender<Result<AppendResult>>,
    },
    Delete {
        stream: StreamName,
        expected: ExpectedRevision,
        reply: oneshot::Sender<Result<DeleteResult>>,
    },
    SetMetadata {
        stream: StreamName,
        metadata: StreamMetadata,
        reply: oneshot::Sender<Result<()>>,
    },
    /// A read, for the in-memory store whose only connection is the writer's. Run after the batch
    /// commits, so it never sees uncommitted writes.
    Read(Box<dyn FnOnce(&Connection) + Send>),
}

/// What the writer knows of a stream. Authoritative: this thread is the only writer (the store
/// holds an exclusive lock on the database file).
#[derive(Clone, Copy, Debug)]
struct StreamState {
    id: i64,
    last: Option<i64>,
    deleted: bool,
}

impl StreamState {
    fn current(&self) -> CurrentRevision {
        match self.last {
            Some(last) if !self.deleted => CurrentRevision::Current(last as u64),
            _ => CurrentRevision::NoStream,
        }
    }
}

/// A finished request waiting for the commit before its caller is answered.
enum Pending {
    Append(oneshot::Sender<Result<AppendResult>>, Result<AppendResult>),
    Delete(oneshot::Sender<Result<DeleteResult>>, Result<DeleteResult>),
    Meta(oneshot::Sender<Result<()>>, Result<()>),
}

impl Pending {
    fn fail_if_ok(self, why: &str) -> Self {
        let err = || Error::backend(anyhow::anyhow!("commit failed: {why}"));
        match self {
            Self::Append(tx, Ok(_)) => Self::Append(tx, Err(err())),
            Self::Delete(tx, Ok(_)) => Self::Delete(tx, Err(err())),
            Self::Meta(tx, Ok(())) => Self::Meta(tx, Err(err())),
            other => other,
        }
    }

    fn send(self) {
        // A caller that gave up waiting is not an error: its write stands either way.
        match self {
            Self::Append(tx, r) => drop(tx.send(r)),
            Self::Delete(tx, r) => drop(tx.send(r)),
            Self::Meta(tx, r) => drop(tx.send(r)),
        }
    }
}

/// How far from either end of a stream a retried `NoStream`/`Any`/`StreamExists` append is
/// recognised.
const RETRY_WINDOW: i64 = 1024;

/// Streams the writer remembers; cleared when it grows past this (it is only a cache).
const STREAM_CACHE_LIMIT: usize = 200_000;

pub(super) struct Writer {
    conn: Connection,
    cache: HashMap<String, StreamState>,
    head: i64,
    wake: watch::Sender<u64>,
    max_batch: usize,
    last_checkpoint: std::time::Instant,
    /// Set when a savepoint could not be released or rolled back: the batch must not commit.
    broken: Option<String>,
}

/// How often the writer copies the WAL back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

impl Writer {
    pub(super) fn new(
        conn: Connection,
        wake: watch::Sender<u64>,
        max_batch: usize,
    ) -> rusqlite::Result<Self> {
        let head: Option<i64> =
            conn.query_row("SELECT MAX(position) FROM events", [], |r| r.get(0))?;
        Ok(Self {
            conn,
            cache: HashMap::new(),
            head: head.unwrap_or(0),
            wake,
            max_batch,
            last_checkpoint: std::time::Instant::now(),
            broken: None,
        })
    }

    /// Runs until every sender is gone.
    pub(super) fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(first) = requests.blocking_recv() {
            batch.push(first);
            while batch.len() < self.max_batch {
                match requests.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            // A panic in one batch (a bug) must not take the store down: its callers see their
            // replies dropped (an error), the transaction is rolled back, the writer goes on.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.run_batch(&mut batch);
            }));
            if ran.is_err() {
                tracing::error!("event store writer panicked in a batch; rolled back, continuing");
                batch.clear();
                self.recover();
            }
            self.maybe_checkpoint();
        }
    }

    /// Copies the WAL into the database file, between batches (callers already have their
    /// answers). Done here, by the only writer, so the checkpoint always catches up with the end
    /// of the WAL and the next transaction rewinds it: the WAL is then rewritten in place instead
    /// of growing for ever, which also spares the file system from zeroing fresh blocks on every
    /// commit (that alone halved batch throughput when a separate thread checkpointed).
    fn maybe_checkpoint(&mut self) {
        if self.last_checkpoint.elapsed() < CHECKPOINT_EVERY {
            return;
        }
        self.last_checkpoint = std::time::Instant::now();
        match self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            }) {
            Ok((busy, log, done)) => tracing::debug!(busy, log, done, "event store checkpoint"),
            Err(e) => tracing::warn!(error = %e, "event store checkpoint failed; will retry"),
        }
    }

    fn run_batch(&mut self, batch: &mut Vec<Request>) {
        let now = Utc::now();
        let mut reads = Vec::new();
        let mut pending = Vec::with_capacity(batch.len());
        let mut overlay: HashMap<String, StreamState> = HashMap::new();
        let head_before = self.head;
        let began = self.conn.execute_batch("BEGIN IMMEDIATE");
        for request in batch.drain(..) {
            let request = match request {
                Request::Read(read) => {
                    reads.push(read);
                    continue;
                }
                other => other,
            };
            if let Err(e) = &began {
                pending.push(refused(request, e.to_string()));
                continue;
            }
            if let Some(why) = &self.broken {
                pending.push(refused(request, why.clone()));
                continue;
            }
            pending.push(self.run_one(request, &mut overlay, now));
        }
        let committed = match (began, self.broken.take()) {
            (Err(e), _) => Err(e.to_string()),
            (Ok(()), Some(why)) => Err(why),
            (Ok(()), None) => self.conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
        };
        match committed {
            Ok(()) => {
                if self.cache.len() + overlay.len() > STREAM_CACHE_LIMIT {
                    self.cache.clear();
                }
                self.cache.extend(overlay);
                if self.head != head_before {
                    self.wake.send_modify(|n| *n = n.wrapping_add(1));
                }
                pending.into_iter().for_each(Pending::send);
            }
            Err(why) => {
                tracing::error!(error = %why, "event store commit failed; the batch is rolled back");
                self.recover();
                pending.into_iter().for_each(|p| p.fail_if_ok(&why).send());
            }
        }
        for read in reads {
            read(&self.conn);
        }
    }

    /// Runs one request in its own savepoint.
    fn run_one(
        &mut self,
        request: Request,
        overlay: &mut HashMap<String, StreamState>,
        now: DateTime<Utc>,
    ) -> Pending {
        if let Err(e) = self.conn.execute_batch("SAVEPOINT request") {
            return refused(request, e.to_string());
        }
        let head = self.head;
        let mut changes = None;
        let outcome = match request {
            Request::Append {
                stream,
                expected,
                events,
                reply,
            } => {
                let r = self.append(overlay, &stream, expected, &events, now);
                let r = r.map(|(result, state)| {
                    changes = Some((stream.as_str().to_owned(), state));
                    result
                });
                Pending::Append(reply, r)
            }
            Request::Delete {
                stream,
                expected,
                reply,
            } => {
                let r = self
                    .delete(overlay, &stream, expected)
                    .map(|(result, state)| {
                        changes = Some((stream.as_str().to_owned(), state));
                        result
                    });
                Pending::Delete(reply, r)
            }
            Request::SetMetadata {
                stream,
                metadata,
                reply,
            } => {
                let r = self.set_metadata(overlay, &stream, &metadata).map(|state| {
                    changes = Some((stream.as_str().to_owned(), state));
                });
                Pending::Meta(reply, r)
            }
            Request::Read(_) => unreachable!("reads are set aside before this point"),
        };
        let ok = matches!(
            &outcome,
            Pending::Append(_, Ok(_)) | Pending::Delete(_, Ok(_)) | Pending::Meta(_, Ok(()))
        );
        let end = if ok {
            "RELEASE request"
        } else {
            "ROLLBACK TO request; RELEASE request"
        };
        if let Err(e) = self.conn.execute_batch(end) {
            // The transaction's state is unknown now: the whole batch is rolled back.
            self.head = head;
            self.broken = Some(e.to_string());
            return outcome.fail_if_ok(&e.to_string());
        }
        if ok {
            if let Some((name, state)) = changes {
                overlay.insert(name, state);
            }
        } else {
            self.head = head;
        }
        outcome
    }

    /// Back to a known state after a failed batch (or a panic inside one): no open transaction,
    /// no cached stream state, the head re-read from the file.
    fn recover(&mut self) {
        if !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "event store rollback failed");
        }
        self.cache.clear();
        self.broken = None;
        match self
            .conn
            .query_row("SELECT MAX(position) FROM events", [], |r| {
                r.get::<_, Option<i64>>(0)
            }) {
            Ok(head) => self.head = head.unwrap_or(0),
            Err(e) => tracing::error!(error = %e, "event store cannot re-read its head"),
        }
    }

    fn state(
        &self,
        overlay: &HashMap<String, StreamState>,
        name: &str,
    ) -> rusqlite::Result<Option<StreamState>> {
        if let Some(s) = overlay.get(name).or_else(|| self.cache.get(name)) {
            return Ok(Some(*s));
        }
        let row: Option<(i64, bool)> = self
            .conn
            .prepare_cached("SELECT id, deleted FROM streams WHERE name = ?1")?
            .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(match row {
            None => None,
            Some((id, deleted)) => Some(StreamState {
                id,
                last: last_revision(&self.conn, id)?,
                deleted,
            }),
        })
    }

    fn create_stream(&self, name: &str) -> rusqlite::Result<StreamState> {
        self.conn
            .prepare_cached("INSERT INTO streams (name) VALUES (?1)")?
            .execute([name])?;
        Ok(StreamState {
            id: self.conn.last_insert_rowid(),
            last: None,
            deleted: false,
        })
    }

    fn append(
        &mut self,
        overlay: &HashMap<String, StreamState>,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: &[EventData],
        now: DateTime<Utc>,
    ) -> Result<(AppendResult, StreamState)> {
        let state = self.state(overlay, stream.as_str())?;
        let current = state.map_or(CurrentRevision::NoStream, |s| s.current());
        // A retry can only be accepted again with `Any` or `StreamExists` (with `Exact(n)` or
        // `NoStream` the first write moved the stream past the expectation), so only those look
        // for the batch's first id among the stream's recent events.
        let first_seen = match (state, expected) {
            (Some(s), ExpectedRevision::Any | ExpectedRevision::StreamExists) => {
                self.find_event(s, expected, events[0].event_id)?.is_some()
            }
            _ => false,
        };
        if first_seen || !expected.accepts(current) {
            return match self.find_retry(state, expected, events)? {
                Some(original) => Ok((original, state.expect("a retry has a stream"))),
                None if !expected.accepts(current) => Err(Error::WrongExpectedVersion {
                    stream: stream.clone(),
                    expected,
                    actual: current,
                }),
                None => Err(Error::DuplicateEventId {
                    event_id: events[0].event_id,
                }),
            };
        }
        let mut state = match state {
            Some(s) => s,
            None => self.create_stream(stream.as_str())?,
        };
        if state.deleted {
            self.conn
                .prepare_cached("UPDATE streams SET deleted = 0 WHERE id = ?1")?
                .execute([state.id])?;
            state.deleted = false;
        }
        let first_revision = state.last.map_or(0, |l| l + 1);
        let recorded_at = now.timestamp_micros();
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO events (position, stream_id, revision, event_id, event_type, data, \
             correlation_id, causation_id, actor_kind, actor_id, occurred_at_us, schema_version, \
             extra, recorded_at_us) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        for (i, event) in events.iter().enumerate() {
            let m = &event.metadata;
            let extra = if m.extra.is_empty() {
                None
            } else {
                Some(serde_json::to_vec(&m.extra).map_err(Error::backend)?)
            };
            let inserted = insert.execute(params![
                self.head + 1 + i as i64,
                state.id,
                first_revision + i as i64,
                event.event_id.as_bytes(),
                event.event_type,
                event.data.as_bytes().as_ref(),
                m.correlation_id.as_bytes(),
                m.causation_id.as_bytes(),
                m.actor.kind,
                m.actor.id,
                m.occurred_at.timestamp_micros(),
                m.schema_version,
                extra,
                recorded_at,
            ]);
            inserted?;
        }
        let count = events.len() as i64;
        self.head += count;
        state.last = Some(first_revision + count - 1);
        Ok((
            AppendResult {
                next_expected_revision: (first_revision + count - 1) as u64,
                position: Position::new(self.head as u64, self.head as u64),
            },
            state,
        ))
    }

    /// The revision of `event_id` in the stream, looked for where a retry of an append with
    /// `expected` would have put it: exactly at `n + 1` for `Exact(n)`, otherwise among the
    /// stream's first and last [`RETRY_WINDOW`] events. Like EventStoreDB, the store recognises
    /// retries rather than indexing every event id: an index on random UUIDs dirties one more page
    /// per stream in every group commit.
    fn find_event(
        &self,
        state: StreamState,
        expected: ExpectedRevision,
        event_id: Uuid,
    ) -> rusqlite::Result<Option<i64>> {
        let last = state.last.unwrap_or(-1);
        let (lo, hi, lo2, hi2) = match expected {
            ExpectedRevision::Exact(n) => {
                let at = i64::try_from(n).unwrap_or(i64::MAX).saturating_add(1);
                (at, at, at, at)
            }
            _ => (0, RETRY_WINDOW - 1, last - RETRY_WINDOW + 1, last),
        };
        self.conn
            .prepare_cached(
                "SELECT revision FROM events WHERE stream_id = ?1 AND event_id = ?2 \
                   AND (revision BETWEEN ?3 AND ?4 OR revision BETWEEN ?5 AND ?6) \
                 ORDER BY revision LIMIT 1",
            )?
            .query_row(
                params![state.id, event_id.as_bytes(), lo, hi, lo2, hi2],
                |r| r.get(0),
            )
            .optional()
    }

    /// Is this append a retry of one already stored? Then its original result. As EventStoreDB
    /// does: the batch's ids must be the stream's events, in order, and with `Exact(n)` they must
    /// start at `n + 1`.
    fn find_retry(
        &self,
        state: Option<StreamState>,
        expected: ExpectedRevision,
        events: &[EventData],
    ) -> Result<Option<AppendResult>> {
        let Some(state) = state else { return Ok(None) };
        let stream_id = state.id;
        let Some(first) = self.find_event(state, expected, events[0].event_id)? else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT event_id, position FROM events WHERE stream_id = ?1 AND revision >= ?2 \
             ORDER BY revision LIMIT ?3",
        )?;
        let stored = stmt
            .query_map(params![stream_id, first, events.len() as i64], |r| {
                Ok((r.get::<_, [u8; 16]>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let same = stored.len() == events.len()
            && stored
                .iter()
                .zip(events)
                .all(|((id, _), e)| id == e.event_id.as_bytes());
        Ok(same.then(|| {
            let last = stored.last().map_or(0, |(_, p)| *p) as u64;
            AppendResult {
                next_expected_revision: (first as u64) + events.len() as u64 - 1,
                position: Position::new(last, last),
            }
        }))
    }

    fn delete(
        &mut self,
        overlay: &HashMap<String, StreamState>,
        stream: &StreamName,
        expected: ExpectedRevision,
    ) -> Result<(DeleteResult, StreamState)> {
        let state = self.state(overlay, stream.as_str())?;
        let current = state.map_or(CurrentRevision::NoStream, |s| s.current());
        if !expected.accepts(current) {
            return Err(Error::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual: current,
            });
        }
        let (Some(mut state), CurrentRevision::Current(last)) = (state, current) else {
            return Err(Error::StreamNotFound(stream.clone()));
        };
        self.conn
            .prepare_cached("UPDATE streams SET deleted = 1, truncate_before = ?2 WHERE id = ?1")?
            .execute(params![state.id, last as i64 + 1])?;
        state.deleted = true;
        Ok((
            DeleteResult {
                last_revision: last,
            },
            state,
        ))
    }

    fn set_metadata(
        &mut self,
        overlay: &HashMap<String, StreamState>,
        stream: &StreamName,
        metadata: &StreamMetadata,
    ) -> Result<StreamState> {
        let state = match self.state(overlay, stream.as_str())? {
            Some(s) => s,
            None => self.create_stream(stream.as_str())?,
        };
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                // `$tb` never moves back: a soft delete is a `$tb`, and lowering it would make
                // the deleted events readable again.
                "UPDATE streams SET max_count = ?2, max_age_ms = ?3, \
                   truncate_before = CASE \
                     WHEN truncate_before IS NULL THEN ?4 \
                     WHEN ?4 IS NULL THEN truncate_before \
                     ELSE MAX(truncate_before, ?4) END \
                 WHERE id = ?1",
            )?
            .execute(params![
                state.id,
                metadata.max_count.map(as_i64),
                metadata
                    .max_age
                    .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
                metadata.truncate_before.map(as_i64),
            ])?;
        Ok(state)
    }
}

/// Answers a request that could not even start.
fn refused(request: Request, why: String) -> Pending {
    let err = || Error::backend(anyhow::anyhow!("could not start a transaction: {why}"));
    match request {
        Request::Append { reply, .. } => Pending::Append(reply, Err(err())),
        Request::Delete { reply, .. } => Pending::Delete(reply, Err(err())),
        Request::SetMetadata { reply, .. } => Pending::Meta(reply, Err(err())),
        Request::Read(_) => unreachable!("reads are set aside before this point"),
    }
}
