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

/// A page of `$all` and how far the read looked ([`EventStore::read_all_page`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AllPage {
    /// The events that passed the filter.
    pub events: Vec<RecordedEvent>,
    /// Every event up to here was considered; `None` when nothing was.
    pub scanned_to: Option<Position>,
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

    /// [`Self::read_all`] forwards, also saying how far the read looked: every event up to
    /// `scanned_to` was either returned or did not pass the filter, so the next page may start
    /// after it. Subscriptions with a selective filter use it to move past what does not match
    /// instead of scanning it again at every wake-up. The default knows only the last event.
    async fn read_all_page(&self, options: ReadAll) -> Result<AllPage> {
        let events = self.read_all(options).await?;
        let scanned_to = events.last().map(|e| e.position);
        Ok(AllPage { events, scanned_to })
    }

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

/// Checks what every backend must be able to store of the metadata: a sensible actor and an
/// `occurred_at` within years 1 to 9999.
fn validate_envelope(metadata: &crate::Metadata) -> Result<(), ValidationError> {
    use chrono::Datelike as _;
    let text_ok = |s: &str| !s.is_empty() && s.len() <= 128 && !s.chars().any(|c| c.is_control());
    if !text_ok(&metadata.actor.kind) || !text_ok(&metadata.actor.id) {
        return Err(ValidationError::InvalidOption(
            "actor kind and id must be 1 to 128 bytes without control characters",
        ));
    }
    if !(1..=9999).contains(&metadata.occurred_at.year()) {
        return Err(ValidationError::InvalidOption(
            "occurred_at must be within years 1 to 9999",
        ));
    }
    Ok(())
}

/// Checks stream metadata before any adapter stores it: `$maxCount` at least 1, `$maxAge` from
/// one second to 1,000 years (EventStoreDB counts whole seconds), `$tb` a storable revision.
pub fn validate_stream_metadata(metadata: &StreamMetadata) -> Result<(), ValidationError> {
    if metadata
        .max_count
        .is_some_and(|n| n == 0 || n > MAX_REVISION)
    {
        return Err(ValidationError::InvalidOption(
            "max_count must be from 1 to 2^63 - 2",
        ));
    }
    const THOUSAND_YEARS: u64 = 1000 * 366 * 24 * 3600;
    if metadata
        .max_age
        .is_some_and(|d| d.as_secs() == 0 || d.as_secs() > THOUSAND_YEARS)
    {
        return Err(ValidationError::InvalidOption(
            "max_age must be from 1 second to 1,000 years",
        ));
    }
    if metadata.truncate_before.is_some_and(|n| n > MAX_REVISION) {
        return Err(ValidationError::InvalidOption(
            "truncate_before must be at most 2^63 - 2",
        ));
    }
    Ok(())
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

/// The largest revision a store can hold: they are signed 64-bit integers in every backend.
pub const MAX_REVISION: u64 = i64::MAX as u64 - 1;

/// Checks an append's input against `limits`; shared by every adapter so all refuse the same
/// things the same way, before writing anything.
pub fn validate_append(
    expected: ExpectedRevision,
    events: &[EventData],
    limits: &Limits,
) -> Result<(), ValidationError> {
    if let ExpectedRevision::Exact(n) = expected
        && n >= MAX_REVISION
    {
        return Err(ValidationError::InvalidOption(
            "the expected revision is out of range",
        ));
    }
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
        validate_envelope(&event.metadata)?;
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

    async fn read_all_page(&self, options: ReadAll) -> Result<AllPage> {
        (**self).read_all_page(options).await
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
