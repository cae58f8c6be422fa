//! An event store wrapper for handler tests: slows appends down, counts what is read, and can
//! slip another writer's event into a stream just before an append (a deterministic conflict).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use shop_eventstore::{
    AppendResult, DeleteResult, EventData, EventStore, EventStream, ExpectedRevision, Position,
    ReadAll, ReadStream, RecordedEvent, Result, StreamMetadata, StreamName, SubscribeAll,
};

/// Makes the event another writer appends.
pub type Foreign = Box<dyn Fn() -> EventData + Send + Sync>;

pub struct Instrumented {
    pub inner: Arc<dyn EventStore>,
    /// Pause before every append.
    pub append_delay: Mutex<Duration>,
    /// Events returned by `read_stream` for non-snapshot streams.
    pub events_read: AtomicU64,
    /// Appends attempted (including failed ones).
    pub appends: AtomicU64,
    /// How many of the next appends find another writer's event in their way.
    pub interfere: AtomicU32,
    pub foreign: Mutex<Option<Foreign>>,
    /// The append (counting from 1) at which the process "dies": that append is written but its
    /// acknowledgement is lost, and every later one fails. 0: never.
    pub crash_at: AtomicU64,
    /// How many of the next appends (to streams starting with `fail_prefix`) fail without
    /// writing anything: a passing outage.
    pub fail_next: AtomicU32,
    pub fail_prefix: Mutex<String>,
}

impl Instrumented {
    pub fn new(inner: Arc<dyn EventStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            append_delay: Mutex::new(Duration::ZERO),
            events_read: AtomicU64::new(0),
            appends: AtomicU64::new(0),
            interfere: AtomicU32::new(0),
            foreign: Mutex::new(None),
            crash_at: AtomicU64::new(0),
            fail_next: AtomicU32::new(0),
            fail_prefix: Mutex::new(String::new()),
        })
    }

    /// The next `times` appends each find `make()`'s event appended just before them.
    pub fn interfere(&self, times: u32, make: Foreign) {
        *self.foreign.lock().unwrap() = Some(make);
        self.interfere.store(times, Ordering::SeqCst);
    }

    pub fn slow_appends(&self, delay: Duration) {
        *self.append_delay.lock().unwrap() = delay;
    }

    pub fn events_read(&self) -> u64 {
        self.events_read.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl EventStore for Instrumented {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        let n = self.appends.fetch_add(1, Ordering::SeqCst) + 1;
        let crash_at = self.crash_at.load(Ordering::SeqCst);
        if crash_at != 0 && n >= crash_at {
            if n == crash_at {
                // Written, but the answer never arrives.
                let _ = self.inner.append(stream, expected, events).await;
            }
            return Err(shop_eventstore::Error::backend(anyhow::anyhow!(
                "the process crashed (append {n})"
            )));
        }
        let prefix = self.fail_prefix.lock().unwrap().clone();
        if stream.as_str().starts_with(&prefix)
            && self
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(shop_eventstore::Error::backend(anyhow::anyhow!(
                "the store is unavailable"
            )));
        }
        let delay = *self.append_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let interfering = self
            .interfere
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if interfering {
            let event = (self.foreign.lock().unwrap().as_ref().unwrap())();
            self.inner
                .append(stream, ExpectedRevision::Any, vec![event])
                .await?;
        }
        self.inner.append(stream, expected, events).await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        options: ReadStream,
    ) -> Result<Vec<RecordedEvent>> {
        let events = self.inner.read_stream(stream, options).await?;
        if !stream.as_str().starts_with("snapshot-") {
            self.events_read
                .fetch_add(events.len() as u64, Ordering::SeqCst);
        }
        Ok(events)
    }

    async fn read_all(&self, options: ReadAll) -> Result<Vec<RecordedEvent>> {
        self.inner.read_all(options).await
    }

    fn subscribe_all(&self, options: SubscribeAll) -> EventStream {
        self.inner.subscribe_all(options)
    }

    async fn delete_stream(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
    ) -> Result<DeleteResult> {
        self.inner.delete_stream(stream, expected).await
    }

    async fn stream_metadata(&self, stream: &StreamName) -> Result<StreamMetadata> {
        self.inner.stream_metadata(stream).await
    }

    async fn set_stream_metadata(
        &self,
        stream: &StreamName,
        metadata: StreamMetadata,
    ) -> Result<()> {
        self.inner.set_stream_metadata(stream, metadata).await
    }

    async fn head_position(&self) -> Result<Option<Position>> {
        self.inner.head_position().await
    }
}
