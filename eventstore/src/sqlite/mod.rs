//! The embedded event store on SQLite: the default, needing no other service.
//!
//! - **Durable.** WAL with `synchronous=FULL`: an append is acknowledged only after the WAL is
//!   synced, so it survives SIGKILL and power loss.
//! - **Fast.** One writer thread with group commit (see `writer`): concurrent appends share one
//!   transaction and one fsync. The queue to it is bounded, so a flood of writers waits instead of
//!   growing memory.
//! - **Readers never block the writer.** Reads run on their own connections (WAL snapshots) on
//!   Tokio's blocking pool.
//! - **One process.** The store takes an exclusive lock on `<file>.lock`; a second process opening
//!   the same file gets a clear error. Several processes on one store is what the Postgres adapter
//!   is for.
//!
//! The in-memory variant (for tests) has one connection, owned by the writer thread, which also runs
//! the reads after each batch commits.

mod read;
mod schema;
mod writer;

use std::{
    fs::File,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot, watch};

use self::writer::{Request, Writer};
use crate::{
    AllPage, AppendResult, DeleteResult, Error, EventData, EventStore, EventStream,
    ExpectedRevision, Limits, Position, ReadAll, ReadStream, RecordedEvent, Result, StreamMetadata,
    StreamName, SubscribeAll,
    port::{check_read_limit, validate_append, validate_stream_metadata},
    subscription,
};

/// Tuning for the embedded store.
#[derive(Clone, Copy, Debug)]
pub struct SqliteOptions {
    /// Size limits on appends.
    pub limits: Limits,
    /// Most requests committed in one transaction.
    pub max_batch: usize,
    /// Requests that may wait for the writer before appends wait to be queued (back-pressure).
    pub queue_capacity: usize,
    /// How often an idle subscription re-reads, in case a wake-up was missed.
    pub poll_interval: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_batch: 2048,
            queue_capacity: 8192,
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// The embedded event store. Cheap to clone; all clones share one writer.
#[derive(Clone, Debug)]
pub struct SqliteEventStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    requests: mpsc::Sender<Request>,
    readers: Option<ReaderPool>,
    wake: watch::Receiver<u64>,
    options: SqliteOptions,
    /// Held for the store's lifetime: the exclusive lock on `<file>.lock`.
    _lock: Option<File>,
}

#[derive(Debug)]
struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<tokio::sync::Semaphore>,
}

/// Reads running at once on a file store (each on its own connection).
const MAX_READERS: usize = 16;

impl ReaderPool {
    fn take(&self) -> rusqlite::Result<Connection> {
        if let Some(conn) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        schema::configure_reader(&conn)?;
        Ok(conn)
    }

    fn put_back(&self, conn: Connection) {
        if !conn.is_autocommit() {
            // Left inside a transaction by a failed read: its snapshot is stale. Drop it.
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_READERS {
            idle.push(conn);
        }
    }
}

impl SqliteEventStore {
    /// Opens (creating if needed) the store in the file at `path`, and its parent directory.
    pub async fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        check_options(&options)?;
        tokio::task::spawn_blocking(move || Self::open_blocking(path, options))
            .await
            .map_err(Error::backend)?
    }

    fn open_blocking(path: PathBuf, options: SqliteOptions) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("Failed to create the data directory {}", dir.display()))
                .map_err(Error::backend)?;
        }
        let lock_path = path.with_extension("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("Failed to open {}", lock_path.display()))
            .map_err(Error::backend)?;
        lock.try_lock().map_err(|_| {
            Error::backend(anyhow::anyhow!(
                "the event store {} is already open in another process (lock {} is held)",
                path.display(),
                lock_path.display()
            ))
        })?;
        let conn = Connection::open(&path)
            .with_context(|| format!("Failed to open the event store {}", path.display()))
            .map_err(Error::backend)?;
        schema::configure_writer(&conn, true)?;
        let readers = ReaderPool {
            path: path.clone(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
        };
        Self::start(conn, Some(readers), Some(lock), options)
    }

    /// A store in memory, gone when the last clone is dropped. For tests.
    pub async fn in_memory() -> Result<Self> {
        Self::in_memory_with(SqliteOptions::default()).await
    }

    /// [`Self::in_memory`] with options.
    pub async fn in_memory_with(options: SqliteOptions) -> Result<Self> {
        check_options(&options)?;
        let conn = Connection::open_in_memory()?;
        schema::configure_writer(&conn, false)?;
        Self::start(conn, None, None, options)
    }

    fn start(
        conn: Connection,
        readers: Option<ReaderPool>,
        lock: Option<File>,
        options: SqliteOptions,
    ) -> Result<Self> {
        let (requests, queue) = mpsc::channel(options.queue_capacity);
        let (wake_tx, wake) = watch::channel(0);
        let writer = Writer::new(conn, wake_tx, options.max_batch)?;
        std::thread::Builder::new()
            .name("eventstore-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(Error::backend)?;
        Ok(Self {
            inner: Arc::new(Inner {
                requests,
                readers,
                wake,
                options,
                _lock: lock,
            }),
        })
    }

    /// The limits this store enforces.
    pub fn limits(&self) -> &Limits {
        &self.inner.options.limits
    }

    async fn submit<T>(&self, request: Request, reply: oneshot::Receiver<Result<T>>) -> Result<T> {
        let stopped = || Error::backend(anyhow::anyhow!("the event store writer has stopped"));
        self.inner
            .requests
            .send(request)
            .await
            .map_err(|_| stopped())?;
        reply.await.map_err(|_| stopped())?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        match &self.inner.readers {
            Some(readers) => {
                // Bounded: a burst of reads waits here instead of opening a connection (and a
                // blocking thread) each.
                let permit = readers
                    .permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(Error::backend)?;
                let inner = self.inner.clone();
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    let pool = inner.readers.as_ref().expect("file stores have readers");
                    let conn = pool.take()?;
                    let result = f(&conn);
                    pool.put_back(conn);
                    result
                })
                .await
                .map_err(Error::backend)?
            }
            None => {
                let (tx, rx) = oneshot::channel();
                let job = Box::new(move |conn: &Connection| drop(tx.send(f(conn))));
                self.submit(Request::Read(job), rx).await
            }
        }
    }
}

fn check_options(options: &SqliteOptions) -> Result<()> {
    use crate::ValidationError::InvalidOption;
    if options.max_batch == 0 || options.queue_capacity == 0 {
        return Err(InvalidOption("max_batch and queue_capacity must be at least 1").into());
    }
    if options.limits.max_batch_events == 0 || options.limits.max_event_bytes == 0 {
        return Err(InvalidOption("limits must be at least 1").into());
    }
    Ok(())
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        validate_append(expected, &events, &self.inner.options.limits)?;
        let (reply, rx) = oneshot::channel();
        let request = Request::Append {
            stream: stream.clone(),
            expected,
            events,
            reply,
        };
        self.submit(request, rx).await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        options: ReadStream,
    ) -> Result<Vec<RecordedEvent>> {
        check_read_limit(options.limit)?;
        let stream = stream.clone();
        self.read(move |conn| read::read_stream(conn, &stream, options, Utc::now()))
            .await
    }

    async fn read_all(&self, options: ReadAll) -> Result<Vec<RecordedEvent>> {
        check_read_limit(options.limit)?;
        self.read(move |conn| read::read_all(conn, &options)).await
    }

    async fn read_all_page(&self, options: ReadAll) -> Result<AllPage> {
        check_read_limit(options.limit)?;
        self.read(move |conn| read::read_all_page(conn, &options))
            .await
    }

    fn subscribe_all(&self, options: SubscribeAll) -> EventStream {
        subscription::catch_up(
            self.clone(),
            self.inner.wake.clone(),
            options,
            self.inner.options.poll_interval,
        )
    }

    async fn delete_stream(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
    ) -> Result<DeleteResult> {
        let (reply, rx) = oneshot::channel();
        let request = Request::Delete {
            stream: stream.clone(),
            expected,
            reply,
        };
        self.submit(request, rx).await
    }

    async fn stream_metadata(&self, stream: &StreamName) -> Result<StreamMetadata> {
        let stream = stream.clone();
        self.read(move |conn| read::stream_metadata(conn, &stream))
            .await
    }

    async fn set_stream_metadata(
        &self,
        stream: &StreamName,
        metadata: StreamMetadata,
    ) -> Result<()> {
        validate_stream_metadata(&metadata)?;
        let (reply, rx) = oneshot::channel();
        let request = Request::SetMetadata {
            stream: stream.clone(),
            metadata,
            reply,
        };
        self.submit(request, rx).await
    }

    async fn head_position(&self) -> Result<Option<Position>> {
        self.read(read::head_position).await
    }
}
