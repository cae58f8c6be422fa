//! The embedded read-model database: one SQLite file (or memory, for tests) through rusqlite.
//!
//! Writes go through one connection guarded by a mutex and run on Tokio's blocking pool; each
//! batch is one transaction of prepared, cached statements. WAL with `synchronous=NORMAL`: a
//! power cut may lose the newest batches but never splits one, so rows and checkpoint stay
//! together and the runner simply re-applies what was lost. The WAL is checkpointed by a thread
//! of its own (its own connection, `PASSIVE`, after every 16,384 rows written or once a second
//! after any write), not by the writer inside its commits: a checkpoint copies pages and
//! waits for two fsyncs, and the writer is the one thing every projection waits on (a rebuild's
//! writer spent 0.4 s of 5 s in checkpoints). Queries (the API) open their own
//! connections. Ownership of a projection across processes is an exclusive lock on a file next to
//! the database (`<db>.<name>.lock`), released by the OS when the process dies.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::ddl::{self, Dialect};
use super::{
    Batch, Checkpoint, DeadLetter, LockGuard, ReadStore, StoreError, check_identifier, check_page,
    index_name, position_from, position_parts,
};
use crate::rows::{ColumnType, Row, TableDef, Value};

/// The embedded read-model database.
#[derive(Clone, Debug)]
pub struct SqliteReadStore {
    conn: Arc<Mutex<Connection>>,
    /// `None` in memory.
    path: Option<PathBuf>,
    /// Locks held in this process (a memory database has no file to lock).
    held: Arc<Mutex<HashSet<String>>>,
    /// `None` in memory.
    checkpointer: Option<Arc<Checkpointer>>,
}

/// Rows written before the checkpointer is woken.
const CHECKPOINT_ROWS: u64 = 16_384;
/// The longest a written row waits for a checkpoint.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The WAL checkpointer thread's handle (see the module doc); it stops when the last clone of
/// the store is dropped.
#[derive(Debug)]
struct Checkpointer {
    state: Arc<CheckpointState>,
    thread: std::thread::Thread,
}

#[derive(Debug, Default)]
struct CheckpointState {
    stop: AtomicBool,
    /// Rows written since the last checkpoint.
    rows: AtomicU64,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let state = Arc::new(CheckpointState::default());
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&conn, &shared))
            .map_err(StoreError::backend)?
            .thread()
            .clone();
        Ok(Self { state, thread })
    }

    /// Counts rows written, waking the thread when enough are.
    fn written(&self, rows: u64) {
        if self.state.rows.fetch_add(rows, Ordering::Relaxed) + rows >= CHECKPOINT_ROWS {
            self.thread.unpark();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        self.thread.unpark();
    }
}

fn checkpoint_loop(conn: &Connection, state: &CheckpointState) {
    let mut last = Instant::now();
    while !state.stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(CHECKPOINT_EVERY);
        let rows = state.rows.load(Ordering::Relaxed);
        if rows == 0 || (rows < CHECKPOINT_ROWS && last.elapsed() < CHECKPOINT_EVERY) {
            continue;
        }
        state.rows.fetch_sub(rows, Ordering::Relaxed);
        // PASSIVE: copies what no reader still needs and never blocks the writer; what it
        // leaves is copied next time.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "read-model WAL checkpoint failed");
        }
        last = Instant::now();
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::backend(e)
    }
}

const META: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS projection_checkpoints (name TEXT PRIMARY KEY, commit_pos INTEGER NOT NULL, prepare_pos INTEGER NOT NULL, version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS projection_dead_letters (projection TEXT NOT NULL, commit_pos INTEGER NOT NULL, prepare_pos INTEGER NOT NULL, event_id TEXT NOT NULL, stream TEXT NOT NULL, event_type TEXT NOT NULL, error TEXT NOT NULL, PRIMARY KEY (projection, commit_pos, prepare_pos))",
];

impl SqliteReadStore {
    /// Opens (or creates) the database file.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        }
        let p = path.clone();
        let (conn, checkpointer) = tokio::task::spawn_blocking(
            move || -> Result<(Connection, Checkpointer), StoreError> {
                let conn = Connection::open(&p)?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                // The checkpointer thread does it (see the module doc).
                conn.pragma_update(None, "wal_autocheckpoint", 0)?;
                Ok((conn, Checkpointer::start(&p)?))
            },
        )
        .await
        .map_err(StoreError::backend)??;
        Self::setup(conn, Some(path), Some(Arc::new(checkpointer)))
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?, None, None)
    }

    fn setup(
        conn: Connection,
        path: Option<PathBuf>,
        checkpointer: Option<Arc<Checkpointer>>,
    ) -> Result<Self, StoreError> {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -65536)?;
        // Lets the sorter use a second thread when a rebuild's switch builds indexes.
        conn.pragma_update(None, "threads", 2)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(512);
        for statement in META {
            conn.execute(statement, [])?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
            held: Arc::new(Mutex::new(HashSet::new())),
            checkpointer,
        })
    }

    /// The database file (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Like [`Self::with`], for a write of `data`, which `f` borrows and which is dropped only
    /// once the connection is released: freeing a bulk batch's rows takes milliseconds that the
    /// next write need not wait for.
    async fn with_data<D: Send + 'static, T: Send + 'static>(
        &self,
        data: D,
        f: impl FnOnce(&mut Connection, &D) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let outcome = {
                let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
                f(&mut conn, &data)
            };
            drop(data);
            outcome
        })
        .await
        .map_err(StoreError::backend)?
    }

    /// Runs `f` on the connection on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(StoreError::backend)?
    }
}

struct Param<'a>(&'a Value);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Int(i) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*i)),
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::Bool(b) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(i64::from(*b))),
        })
    }
}

fn read_row(def: &TableDef, row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    def.columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(match (row.get_ref(i)?, c.ty) {
                (ValueRef::Null, _) => Value::Null,
                (ValueRef::Integer(v), ColumnType::Bool) => Value::Bool(v != 0),
                (ValueRef::Integer(v), _) => Value::Int(v),
                (ValueRef::Text(t), _) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                (ValueRef::Real(f), _) => Value::Int(f as i64),
                (ValueRef::Blob(b), _) => Value::Text(String::from_utf8_lossy(b).into_owned()),
            })
        })
        .collect()
}

/// One statement's share of a commit: single-row SQL, and a multi-row form for full chunks.
struct Work {
    sql: String,
    chunk_sql: Option<String>,
    chunk: usize,
    rows: Vec<Vec<Value>>,
}

fn check_table(def: &TableDef, physical: &str) -> Result<(), StoreError> {
    check_identifier(physical)?;
    def.columns
        .iter()
        .try_for_each(|c| check_identifier(c.name))
}

#[derive(Debug)]
struct FileLock {
    _file: File,
}
impl LockGuard for FileLock {}

#[derive(Debug)]
struct MemoryLock {
    name: String,
    held: Arc<Mutex<HashSet<String>>>,
}
impl LockGuard for MemoryLock {}
impl Drop for MemoryLock {
    fn drop(&mut self) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.name);
    }
}

#[async_trait]
impl ReadStore for SqliteReadStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn create_tables(
        &self,
        tables: &[(&'static TableDef, String)],
        indexes: bool,
    ) -> Result<(), StoreError> {
        let mut statements = Vec::new();
        for (def, physical) in tables {
            check_table(def, physical)?;
            statements.extend(ddl::create_table(Dialect::Sqlite, def, physical, indexes));
        }
        self.with(move |conn| {
            let tx = conn.transaction()?;
            for s in &statements {
                tx.execute(s, [])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn drop_tables(&self, physical: &[String]) -> Result<(), StoreError> {
        for p in physical {
            check_identifier(p)?;
        }
        let physical = physical.to_vec();
        self.with(move |conn| {
            let tx = conn.transaction()?;
            for p in &physical {
                tx.execute(&format!("DROP TABLE IF EXISTS {p}"), [])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn load(
        &self,
        def: &'static TableDef,
        physical: &str,
        key: &[Value],
    ) -> Result<Option<Row>, StoreError> {
        check_table(def, physical)?;
        let sql = ddl::select_one(Dialect::Sqlite, def, physical);
        let key = key.to_vec();
        self.with(move |conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            Ok(statement
                .query_row(params_from_iter(key.iter().map(Param)), |r| {
                    read_row(def, r)
                })
                .optional()?)
        })
        .await
    }

    async fn scan(&self, def: &'static TableDef, physical: &str) -> Result<Vec<Row>, StoreError> {
        check_table(def, physical)?;
        let sql = ddl::select_all(def, physical);
        self.with(move |conn| {
            let mut statement = conn.prepare(&sql)?;
            let rows = statement.query_map([], |r| read_row(def, r))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn count(&self, physical: &str) -> Result<u64, StoreError> {
        check_identifier(physical)?;
        let sql = format!("SELECT COUNT(*) FROM {physical}");
        self.with(move |conn| {
            let n: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn page(
        &self,
        def: &'static TableDef,
        physical: &str,
        order_by: &[&str],
        after: Option<&[Value]>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.page_in(def, physical, order_by, after, limit, false)
            .await
    }

    async fn page_back(
        &self,
        def: &'static TableDef,
        physical: &str,
        order_by: &[&str],
        before: &[Value],
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.page_in(def, physical, order_by, Some(before), limit, true)
            .await
    }

    async fn checkpoint(&self, projection: &str) -> Result<Option<Checkpoint>, StoreError> {
        let name = projection.to_owned();
        self.with(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT commit_pos, prepare_pos, version FROM projection_checkpoints WHERE name = ?1",
                    [&name],
                    |r| {
                        Ok(Checkpoint {
                            position: position_from(r.get(0)?, r.get(1)?),
                            version: r.get::<_, i64>(2)?.clamp(0, i64::from(u32::MAX)) as u32,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let mut work: Vec<Work> = Vec::new();
        for table in batch.tables {
            check_table(table.def, &table.physical)?;
            if !table.deletes.is_empty() {
                work.push(Work {
                    sql: ddl::sqlite_delete(table.def, &table.physical),
                    chunk_sql: None,
                    chunk: 1,
                    rows: table.deletes,
                });
            }
            // SQLite's bulk path is its multi-row insert: new rows go the same way, without
            // `OR REPLACE`, so that an existing key fails the batch as it does on Postgres.
            for (rows, replace) in [(table.upserts, true), (table.inserts, false)] {
                if rows.is_empty() {
                    continue;
                }
                let chunk = ddl::sqlite_rows_per_statement(table.def);
                work.push(Work {
                    sql: ddl::sqlite_insert(table.def, &table.physical, 1, replace),
                    chunk_sql: (rows.len() >= chunk)
                        .then(|| ddl::sqlite_insert(table.def, &table.physical, chunk, replace)),
                    chunk,
                    rows,
                });
            }
        }
        let mut checkpoints = Vec::new();
        for (name, checkpoint) in &batch.checkpoints {
            let (c, p) = position_parts(checkpoint.position)?;
            checkpoints.push((name.to_string(), c, p, i64::from(checkpoint.version)));
        }
        let mut dead = Vec::new();
        for d in batch.dead_letters {
            let (c, p) = position_parts(d.position)?;
            dead.push((d, c, p));
        }
        let written = work.iter().map(|w| w.rows.len()).sum::<usize>() + checkpoints.len();
        let checkpointer = self.checkpointer.clone();
        self.with_data(work, move |conn, work| {
            let tx = conn.transaction()?;
            for w in work {
                let mut rest = w.rows.as_slice();
                if let Some(sql) = &w.chunk_sql {
                    let mut statement = tx.prepare_cached(sql)?;
                    while rest.len() >= w.chunk {
                        let (chunk, tail) = rest.split_at(w.chunk);
                        statement.execute(params_from_iter(chunk.iter().flatten().map(Param)))?;
                        rest = tail;
                    }
                }
                let mut statement = tx.prepare_cached(&w.sql)?;
                for params in rest {
                    statement.execute(params_from_iter(params.iter().map(Param)))?;
                }
            }
            for (name, c, p, v) in &checkpoints {
                tx.prepare_cached(
                    "INSERT INTO projection_checkpoints (name, commit_pos, prepare_pos, version) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (name) DO UPDATE SET commit_pos = excluded.commit_pos, prepare_pos = excluded.prepare_pos, version = excluded.version",
                )?
                .execute(rusqlite::params![name, c, p, v])?;
            }
            for (d, c, p) in &dead {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO projection_dead_letters (projection, commit_pos, prepare_pos, event_id, stream, event_type, error) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(rusqlite::params![
                    d.projection,
                    c,
                    p,
                    d.event_id.to_string(),
                    d.stream,
                    d.event_type,
                    d.error
                ])?;
            }
            tx.commit()?;
            if let Some(checkpointer) = checkpointer {
                checkpointer.written(written as u64 + dead.len() as u64);
            }
            Ok(())
        })
        .await
    }

    async fn swap(
        &self,
        tables: &[(&'static TableDef, String)],
        from: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        let mut statements = Vec::new();
        for (def, shadow) in tables {
            check_table(def, shadow)?;
            let live = def.name;
            statements.push(format!("DROP TABLE IF EXISTS {live}"));
            statements.push(format!("ALTER TABLE {shadow} RENAME TO {live}"));
            // SQLite cannot rename an index: (re)create it under the live table's name.
            for i in 0..def.indexes.len() {
                statements.push(format!("DROP INDEX IF EXISTS {}", index_name(shadow, i)));
            }
            statements.extend(ddl::create_indexes(def, live));
        }
        let (from, to) = (from.to_owned(), to.to_owned());
        self.with(move |conn| {
            let tx = conn.transaction()?;
            for s in &statements {
                let started = std::time::Instant::now();
                tx.execute(s, [])?;
                tracing::debug!(statement = %s, elapsed = ?started.elapsed(), "switch");
            }
            tx.execute("DELETE FROM projection_checkpoints WHERE name = ?1", [&to])?;
            tx.execute(
                "UPDATE projection_checkpoints SET name = ?1 WHERE name = ?2",
                [&to, &from],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn reset_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        let name = projection.to_owned();
        self.with(move |conn| {
            conn.execute(
                "DELETE FROM projection_checkpoints WHERE name = ?1",
                [&name],
            )?;
            Ok(())
        })
        .await
    }

    async fn dead_letters(&self, projection: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let name = projection.to_owned();
        self.with(move |conn| {
            let mut statement = conn.prepare(
                "SELECT projection, commit_pos, prepare_pos, event_id, stream, event_type, error \
                 FROM projection_dead_letters WHERE projection = ?1 ORDER BY commit_pos, prepare_pos",
            )?;
            let rows = statement.query_map([&name], |r| {
                Ok(DeadLetter {
                    projection: r.get(0)?,
                    position: position_from(r.get(1)?, r.get(2)?),
                    event_id: r
                        .get::<_, String>(3)?
                        .parse()
                        .unwrap_or_default(),
                    stream: r.get(4)?,
                    event_type: r.get(5)?,
                    error: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn lock(&self, name: &str) -> Result<Box<dyn LockGuard>, StoreError> {
        loop {
            if let Some(guard) = self.try_lock(name).await? {
                return Ok(guard);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn try_lock(&self, name: &str) -> Result<Option<Box<dyn LockGuard>>, StoreError> {
        let Some(path) = &self.path else {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            if !held.insert(name.to_owned()) {
                return Ok(None);
            }
            return Ok(Some(Box::new(MemoryLock {
                name: name.to_owned(),
                held: self.held.clone(),
            })));
        };
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let lock_path = PathBuf::from(format!("{}.{safe}.lock", path.display()));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(StoreError::backend)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Box::new(FileLock { _file: file }))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::backend(e)),
        }
    }
}

impl SqliteReadStore {
    /// A keyset page either way ([`ReadStore::page`], [`ReadStore::page_back`]).
    async fn page_in(
        &self,
        def: &'static TableDef,
        physical: &str,
        order_by: &[&str],
        after: Option<&[Value]>,
        limit: usize,
        descending: bool,
    ) -> Result<Vec<Row>, StoreError> {
        let keyset = check_page(def, physical, order_by, after)?;
        let names: Vec<&str> = keyset.iter().map(|c| c.name).collect();
        let sql = ddl::select_page(
            Dialect::Sqlite,
            def,
            physical,
            &names,
            after.is_some(),
            descending,
        );
        let mut params: Vec<Value> = after.map(<[Value]>::to_vec).unwrap_or_default();
        params.push(Value::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        self.with(move |conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(params_from_iter(params.iter().map(Param)), |r| {
                read_row(def, r)
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}
