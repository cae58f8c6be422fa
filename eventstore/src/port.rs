//! The `EventStore` port.

use std::collections::HashSet;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::{
    AllFilter, EventData, ExpectedRevision, Limits, Position, RecordedEvent, Result, StreamName,
    ValidationError, envelope::validate_event_type,
};

/// The outcome of a successful append (or of a recognised retry of one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendResult {
    /// The revision of the last event written: pass it as `Exact` to the next append.
    pub next_expected_revision: u64,
    /// The position in `$all` of the last event written. A subscriber that has processed this
    /// position has processed the whole batch (read-your-writes waits on it).
    pub position: Position,
}

/// The outcome of a soft delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeleteResult {
    /// The revision of the stream's last event at deletion; a later append continues after it.
    pub last_revision: u64,
}

/// Reading direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Oldest first.
    #[default]
    Forwards,
    /// Newest first.
    Backwards,
}

/// Where a stream read starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamStart {
    /// The first event (forwards) — or the first, read backwards, which yields just it.
    Start,
    /// The last event.
    End,
    /// This revision, inclusive.
    Revision(u64),
}

/// Options for [`EventStore::read_stream`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadStream {
    /// Direction.
    pub direction: Direction,
    /// Where to start (inclusive).
    pub from: StreamStart,
    /// At most this many events.
    pub limit: usize,
}

impl ReadStream {
    /// The whole stream, oldest first.
    pub fn forwards() -> Self {
        Self {
            direction: Direction::Forwards,
            from: StreamStart::Start,
            limit: usize::MAX,
        }
    }

    /// The whole stream, newest first.
    pub fn backwards() -> Self {
        Self {
            direction: Direction::Backwards,
            from: StreamStart::End,
            limit: usize::MAX,
        }
    }

    /// Starts at `revision` (inclusive).
    pub fn from_revision(mut self, revision: u64) -> Self {
        self.from = StreamStart::Revision(revision);
        self
    }

    /// At most `limit` events.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// Options for [`EventStore::read_all`]. Positions are cursors: a read starts strictly after (or,
/// backwards, strictly before) the given position, so the last position of one page is the start
/// of the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadAll {
    /// Direction.
    pub direction: Direction,
    /// Forwards: events after this position (`None`: from the start). Backwards: events before it
    /// (`None`: from the end).
    pub from: Option<Position>,
    /// Which events.
    pub filter: AllFilter,
    /// At most this many events.
    pub limit: usize,
}

impl ReadAll {
    /// From the start, oldest first.
    pub fn forwards() -> Self {
        Self {
            direction: Direction::Forwards,
            from: None,
            filter: AllFilter::default(),
            limit: usize::MAX,
        }
    }

    /// From the end, newest first.
    pub fn backwards() -> Self {
        Self {
            direction: Direction::Backwards,
            ..Self::forwards()
        }
    }

    /// Starts strictly after (forwards) or before (backwards) `position`.
    pub fn from(mut self, position: Position) -> Self {
        self.from = Some(position);
        self
    }

    /// Only events passing `filter`.
    pub fn filter(mut self, filter: AllFilter) -> Self {
        self.filter = filter;
        self
    }

    /// At most `limit` events.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// Options for [`EventStore::subscribe_all`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubscribeAll {
    /// Deliver events after this checkpoint (`None`: from the start).
    pub after: Option<Position>,
    /// Which events.
    pub filter: AllFilter,
}

/// A catch-up subscription: history, then live events, in `$all` order, each once. It is pulled:
/// a slow consumer slows only itself. It ends only with an error (or when dropped).
pub type EventStream = BoxStream<'static, Result<RecordedEvent>>;

/// Stream metadata. Not every adapter supports every key; see `docs/eventstore.md`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamMetadata {
    /// Only the newest `max_count` events of the stream are readable.
    pub max_count: Option<u64>,
    /// Only events younger than this are readable.
    pub max_age: Option<std::time::Duration>,
    /// Events before this revision are not readable (set by a soft delete).
    pub truncate_before: Option<u64>,
}

/// The event store port. Every method states and keeps the same semantics on every adapter; the
/// conformance suite (`conformance` feature) is the executable form of this contract.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream` atomically if the stream is at `expected`. Re-sending the same
    /// batch (same event ids, same expectation) after a lost response returns the original result
    /// and writes nothing.
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<EventData>,
    ) -> Result<AppendResult>;

    /// Reads a stream. A stream that does not exist, or was soft-deleted, is
    /// [`crate::Error::StreamNotFound`]; one whose readable events were all cut by metadata is
    /// empty.
    async fn read_stream(
        &self,
        stream: &StreamName,
        options: ReadStream,
    ) -> Result<Vec<RecordedEvent>>;

    /// Reads a page of `$all`.
    async fn read_all(&self, options: ReadAll) -> Result<Vec<RecordedEvent>>;

    /// Follows `$all` from a checkpoint: history first, then live events, no gap, no duplicate.
    fn subscribe_all(&self, options: SubscribeAll) -> EventStream;

    /// Soft-deletes a stream: it reads as not found and its events stay in `$all` for audit. An
    /// append with `NoStream` or `Any` afterwards starts it again, after the old revisions.
    async fn delete_stream(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
    ) -> Result<DeleteResult>;

    /// The stream's metadata (defaults if none was set).
    async fn stream_metadata(&self, stream: &StreamName) -> Result<StreamMetadata>;

    /// Replaces the stream's metadata.
    async fn set_stream_metadata(
        &self,
        stream: &StreamName,
        metadata: StreamMetadata,
    ) -> Result<()>;

    /// The position of the newest event in `$all` visible to readers (`None` when empty).
    async fn head_position(&self) -> Result<Option<Position>>;
}

/// Refuses a read of zero events (a caller's mistake, not an empty answer).
pub fn check_read_limit(limit: usize) -> Result<(), ValidationError> {
    if limit == 0 {
        return Err(ValidationError::InvalidOption(
            "a read limit must be at least 1",
        ));
    }
    Ok(())
}

/// Checks an append's input against `limits`; shared by every adapter so all refuse the same
/// things the same way, before writing anything.
pub fn validate_append(events: &[EventData], limits: &Limits) -> Result<(), ValidationError> {
    if events.is_empty() {
        return Err(ValidationError::EmptyBatch);
    }
    if events.len() > limits.max_batch_events {
        return Err(ValidationError::BatchTooLarge {
            count: events.len(),
            limit: limits.max_batch_events,
        });
    }
    let mut seen = HashSet::with_capacity(events.len());
    for event in events {
        validate_event_type(&event.event_type)?;
        let size = event.size();
        if size > limits.max_event_bytes {
            return Err(ValidationError::EventTooLarge {
                event_id: event.event_id,
                size,
                limit: limits.max_event_bytes,
            });
        }
        if !seen.insert(event.event_id) {
            return Err(ValidationError::DuplicateEventInBatch(event.event_id));
        }
    }
    Ok(())
}

#[async_trait]
impl<S: EventStore + ?Sized> EventStore for std::sync::Arc<S> {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        (**self).append(stream, expected, events).await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        options: ReadStream,
    ) -> Result<Vec<RecordedEvent>> {
        (**self).read_stream(stream, options).await
    }

    async fn read_all(&self, options: ReadAll) -> Result<Vec<RecordedEvent>> {
        (**self).read_all(options).await
    }

    fn subscribe_all(&self, options: SubscribeAll) -> EventStream {
        (**self).subscribe_all(options)
    }

    async fn delete_stream(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
    ) -> Result<DeleteResult> {
        (**self).delete_stream(stream, expected).await
    }

    async fn stream_metadata(&self, stream: &StreamName) -> Result<StreamMetadata> {
        (**self).stream_metadata(stream).await
    }

    async fn set_stream_metadata(
        &self,
        stream: &StreamName,
        metadata: StreamMetadata,
    ) -> Result<()> {
        (**self).set_stream_metadata(stream, metadata).await
    }

    async fn head_position(&self) -> Result<Option<Position>> {
        (**self).head_position().await
    }
}
