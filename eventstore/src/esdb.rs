//! The EventStoreDB/KurrentDB adapter, through the official `kurrentdb` gRPC client.
//!
//! # What maps to what
//!
//! | Port                               | EventStoreDB                                                       |
//! |------------------------------------|--------------------------------------------------------------------|
//! | [`StreamName`]                     | the stream name, as is                                             |
//! | [`ExpectedRevision`]               | `StreamState` (`Any`, `NoStream`, `StreamExists`, `StreamRevision`) |
//! | [`EventData`]                      | event id, type, JSON data (`application/json`), and our [`Metadata`] serialised as the custom metadata |
//! | [`Position`] `(commit, prepare)`   | the `$all` position `(commit, prepare)`, unchanged                 |
//! | [`RecordedEvent::recorded_at`]     | the server's `created` timestamp (100 ns ticks, kept to the tick)   |
//! | [`EventStore::read_all`]           | a read of `$all`, paged, with a server-side filter                 |
//! | [`EventStore::subscribe_all`]      | a catch-up subscription to `$all` with the same server-side filter |
//! | [`EventStore::delete_stream`]      | a soft delete (`$tb` set to `i64::MAX`), never a tombstone         |
//! | [`StreamMetadata`]                 | `$maxCount`, `$maxAge` (whole seconds) and `$tb` in `$$<stream>`   |
//!
//! `$all` on EventStoreDB also holds the server's own records (`$metadata` events in `$$…`
//! streams, `$>` links written by projections, `$statsCollected`, …). Every read and subscription
//! asks the server to filter (by stream prefix when the [`AllFilter`] has prefixes, else by an
//! exact-type regex, else by "no `$` types") and then applies [`AllFilter::matches`] itself, which
//! also drops anything in a `$` stream. The server accepts one filter only, so when both prefixes
//! and types are given the types are checked here only.
//!
//! # How it differs from the SQL adapters
//!
//! - **`$all` keeps soft-deleted and truncated events until a scavenge.** A soft delete, `$tb`,
//!   `$maxCount` and `$maxAge` hide events from stream reads at once (the server enforces them),
//!   but their records stay in `$all` — and so in [`EventStore::read_all`] and subscriptions —
//!   until an operator runs a scavenge, which then removes them from `$all` for good. The SQL
//!   adapters keep soft-deleted events in `$all` forever.
//! - **Soft deletion is `$tb = i64::MAX`.** While a stream is deleted,
//!   [`EventStore::stream_metadata`] reports `truncate_before: Some(9223372036854775807)`; when the
//!   stream is started again the server sets `$tb` to its first new revision and keeps the other
//!   metadata keys.
//! - **Expected revisions are the server's.** They are passed through unchanged, so the server's
//!   own rules apply where they are looser than the port's: `Exact(last)` on a soft-deleted stream
//!   starts it again (like `NoStream`), and `StreamExists` is satisfied by a stream that has
//!   metadata but no events. `StreamExists` on a soft-deleted stream is refused (reported as
//!   [`Error::WrongExpectedVersion`] with `actual: NoStream`); a wrong-version refusal on a
//!   soft-deleted stream reports its old last revision as `actual`.
//! - **Idempotency.** A retried batch (same ids, same expectation) returns the original
//!   [`AppendResult`]. With `NoStream` and `Exact(n)` the server checks the ids against the stream
//!   itself; with `Any` and `StreamExists` it only remembers recently written ids (best effort, as
//!   the server documents). Event ids are unique per stream, not store-wide, so
//!   [`Error::DuplicateEventId`] is never returned.
//! - **Append results cost one read.** The server's append reply does not carry the `$all`
//!   position of the last event of the batch (its prepare part is the transaction's first record,
//!   and a recognised retry reports no position at all), so the adapter reads that event back.
//!   Stream reads carry `$all` positions since kurrent-io/KurrentDB#3459 (2022; EventStoreDB 22.10
//!   LTS and KurrentDB have it). On older servers the append falls back to finding the event in
//!   `$all`, and stream reads fail with a clear error instead of inventing positions.
//! - **Hard-deleted (tombstoned) streams**, which shop never creates, read as
//!   [`Error::StreamNotFound`].
//! - **Append size.** The server also caps a whole append (`MaxAppendSize`, 1 MiB by default); a
//!   batch within [`Limits`] but above it is refused as [`ValidationError::InvalidOption`]. Raise
//!   the server's setting to match the limits you configure.

use std::{fmt, time::Duration};

use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt as _, stream};
use kurrentdb::{
    AppendToStreamOptions, Client, ClientSettings, DeleteStreamOptions, ReadAllOptions, ReadEvent,
    ReadStreamOptions, ResolvedEvent, StreamPosition, StreamState, SubscribeToAllOptions,
    Subscription, SubscriptionEvent, SubscriptionFilter,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    AllFilter, AppendResult, CurrentRevision, DeleteResult, Direction, Error, EventData,
    EventStore, EventStream, ExpectedRevision, Json, Limits, Metadata, Position, ReadAll,
    ReadStream, RecordedEvent, Result, StreamMetadata, StreamName, StreamStart, SubscribeAll,
    ValidationError,
    port::{check_read_limit, validate_append, validate_stream_metadata},
};

/// Events asked for per request when paging through `$all`.
const PAGE_SIZE: usize = 512;

/// How often a read-modify-write (metadata, delete) is retried when a concurrent write moves the
/// stream under it.
const CONFLICT_ATTEMPTS: usize = 5;

/// The event type of stream metadata events.
const METADATA_EVENT_TYPE: &str = "$metadata";

/// Metadata keys the port manages; all other keys (`$acl`, `$cacheControl`, custom keys) are kept.
const MAX_COUNT_KEY: &str = "$maxCount";
const MAX_AGE_KEY: &str = "$maxAge";
const TRUNCATE_BEFORE_KEY: &str = "$tb";

/// The largest number EventStoreDB stores in a revision or metadata value (a .NET `long`).
const MAX_SERVER_NUMBER: u64 = i64::MAX as u64;

/// The event store on EventStoreDB/KurrentDB. Cheap to clone: clones share the client's
/// connection.
#[derive(Clone)]
pub struct EsdbEventStore {
    client: Client,
    limits: Limits,
}

impl fmt::Debug for EsdbEventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client's settings hold credentials: they are deliberately not printed.
        f.debug_struct("EsdbEventStore")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl EsdbEventStore {
    /// Connects to the server(s) named by `url`, a connection string such as
    /// `kurrentdb://admin:changeit@localhost:2113?tls=false` (the `esdb://` and
    /// `esdb+discover://` schemes work too), and checks that a node answers before returning.
    ///
    /// Must be called inside a Tokio runtime: the client's connection runs on it.
    pub async fn connect(url: &str, limits: Limits) -> Result<Self> {
        let settings: ClientSettings = url
            .parse()
            .map_err(|e| Error::backend(anyhow!("invalid EventStoreDB connection string: {e}")))?;
        let runtime = tokio::runtime::Handle::try_current()
            .context("the EventStoreDB client must be created inside a Tokio runtime")
            .map_err(Error::backend)?;
        let client = Client::with_runtime_handle(runtime, settings)
            .map_err(|e| Error::backend(anyhow!("cannot create the EventStoreDB client: {e:#}")))?;
        client
            .server_info()
            .await
            .map_err(|e| client_error(e, "cannot reach EventStoreDB"))?;
        Ok(Self { client, limits })
    }

    /// The limits every append is checked against.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The `$all` position of the event `event_id`, revision `revision` of `stream`, as readers see
    /// it: read back from the stream, or, when the server does not report positions on stream
    /// reads (or the event is already cut from them), found in `$all`.
    async fn position_of(
        &self,
        stream: &StreamName,
        revision: u64,
        event_id: Uuid,
    ) -> Result<Position> {
        let options = ReadStreamOptions::default()
            .position(StreamPosition::Position(revision))
            .backwards()
            .max_count(1)
            .requires_leader(true);
        let found = match self.client.read_stream(stream.as_str(), &options).await {
            Ok(mut read) => read.next().await,
            Err(e) => Err(e),
        };
        match found {
            Ok(Some(resolved)) => {
                if let Some(event) = original_event(resolved)
                    && event.revision == revision
                    && event.id == event_id
                    && has_position(&event)
                {
                    return Ok(from_esdb_position(event.position));
                }
            }
            Ok(None)
            | Err(kurrentdb::Error::ResourceNotFound | kurrentdb::Error::ResourceDeleted) => {}
            Err(e) => {
                return Err(client_error(
                    e,
                    format_args!(
                        "appended to {stream}, but reading back revision {revision} failed"
                    ),
                ));
            }
        }
        self.find_in_all(stream, revision, event_id).await
    }

    /// Searches `$all` backwards (newest first, filtered on the server to `stream`) for the event
    /// `event_id`. Only reached on servers that do not report positions on stream reads (before
    /// 22.10), or when the event was cut from stream reads by metadata right after being written;
    /// it is normally among the newest events.
    async fn find_in_all(
        &self,
        stream: &StreamName,
        revision: u64,
        event_id: Uuid,
    ) -> Result<Position> {
        let filter = SubscriptionFilter::on_stream_name()
            .regex(format!("^{}$", regex_escape(stream.as_str())));
        let options = ReadAllOptions::default()
            .position(StreamPosition::End)
            .backwards()
            .filter(filter)
            .requires_leader(true);
        let context =
            || format!("appended to {stream}, but finding revision {revision} in $all failed");
        let mut read = self
            .client
            .read_all(&options)
            .await
            .map_err(|e| client_error(e, context()))?;
        while let Some(resolved) = read.next().await.map_err(|e| client_error(e, context()))? {
            let Some(event) = original_event(resolved) else {
                continue;
            };
            if event.id == event_id && event.stream_id() == stream.as_str() {
                return Ok(from_esdb_position(event.position));
            }
            if event.revision < revision {
                break;
            }
        }
        Err(Error::backend(anyhow!(
            "appended event {event_id} to {stream} at revision {revision}, but it is in neither \
             the stream nor $all"
        )))
    }

    /// Pages through `$all` in `direction`, strictly after (forwards) or before (backwards)
    /// `from`, returning at most `limit` raw events that pass `filter`.
    async fn read_all_raw(
        &self,
        direction: Direction,
        from: Option<Position>,
        filter: &AllFilter,
        limit: usize,
    ) -> Result<Vec<kurrentdb::RecordedEvent>> {
        let server_filter = server_filter(filter);
        let mut out = Vec::with_capacity(limit.min(PAGE_SIZE));
        let mut cursor = from;
        loop {
            // One more than still needed: the read from a position may include the event at it,
            // which the exclusive cursor drops. Always at least 2, so every full page advances.
            let count = (limit - out.len()).saturating_add(1).min(PAGE_SIZE);
            let position = match (cursor, direction) {
                (Some(p), _) => StreamPosition::Position(to_esdb_position(p)),
                (None, Direction::Forwards) => StreamPosition::Start,
                (None, Direction::Backwards) => StreamPosition::End,
            };
            // `position` first: the client resets the direction for `Start` and `End`.
            let options = ReadAllOptions::default().position(position);
            let options = match direction {
                Direction::Forwards => options.forwards(),
                Direction::Backwards => options.backwards(),
            }
            .max_count(count)
            .filter(server_filter.clone());

            let mut read = self
                .client
                .read_all(&options)
                .await
                .map_err(|e| client_error(e, "reading $all failed"))?;
            let mut received = 0;
            let mut last_seen = None;
            while let Some(resolved) = read
                .next()
                .await
                .map_err(|e| client_error(e, "reading $all failed"))?
            {
                received += 1;
                let Some(event) = original_event(resolved) else {
                    continue;
                };
                let position = from_esdb_position(event.position);
                last_seen = Some(position);
                if !is_past(cursor, position, direction)
                    || !filter.matches(event.stream_id(), &event.event_type)
                {
                    continue;
                }
                out.push(event);
                if out.len() == limit {
                    return Ok(out);
                }
            }
            if received < count {
                return Ok(out); // The end of $all.
            }
            match last_seen {
                Some(position) if is_past(cursor, position, direction) => cursor = Some(position),
                _ => {
                    return Err(Error::backend(anyhow!(
                        "reading $all did not advance past {cursor:?}"
                    )));
                }
            }
        }
    }

    /// The revision of the last event of `stream`; `None` when it does not exist or is
    /// soft-deleted.
    async fn last_revision(&self, stream: &StreamName) -> Result<Option<u64>> {
        let options = ReadStreamOptions::default()
            .position(StreamPosition::End)
            .backwards()
            .max_count(1)
            .requires_leader(true);
        let context = || format!("reading the last revision of {stream} failed");
        let mut read = match self.client.read_stream(stream.as_str(), &options).await {
            Ok(read) => read,
            Err(kurrentdb::Error::ResourceNotFound | kurrentdb::Error::ResourceDeleted) => {
                return Ok(None);
            }
            Err(e) => return Err(client_error(e, context())),
        };
        let mut reported_last = None;
        loop {
            match read.next_read_event().await {
                Ok(Some(ReadEvent::Event(resolved))) => {
                    if let Some(event) = original_event(resolved) {
                        return Ok(Some(event.revision));
                    }
                }
                Ok(Some(ReadEvent::LastStreamPosition(revision))) => reported_last = Some(revision),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(kurrentdb::Error::ResourceNotFound | kurrentdb::Error::ResourceDeleted) => {
                    return Ok(None);
                }
                Err(e) => return Err(client_error(e, context())),
            }
        }
        // The stream exists but metadata ($tb, $maxAge) hides every event.
        reported_last.map(Some).ok_or_else(|| {
            Error::backend(anyhow!(
                "{stream} exists but all its events are cut by its metadata, and the server did not \
                 report its last revision"
            ))
        })
    }

    /// The current metadata document of `stream` (an empty object when none was set) and the
    /// state its metadata stream is in, for an optimistic write of the next version.
    async fn raw_metadata(&self, stream: &StreamName) -> Result<(StreamState, Map<String, Value>)> {
        let metastream = metastream_of(stream);
        let options = ReadStreamOptions::default()
            .position(StreamPosition::End)
            .backwards()
            .max_count(1);
        let context = || format!("reading the metadata of {stream} failed");
        let found = match self.client.read_stream(metastream.as_str(), &options).await {
            Ok(mut read) => read.next().await,
            Err(e) => Err(e),
        };
        match found {
            Ok(Some(resolved)) => {
                let Some(event) = original_event(resolved) else {
                    return Ok((StreamState::Any, Map::new()));
                };
                let document = match serde_json::from_slice::<Value>(&event.data) {
                    Ok(Value::Object(map)) => map,
                    _ => {
                        // The server ignores metadata it cannot parse; so do we.
                        tracing::warn!(%stream, "ignoring stream metadata that is not a JSON object");
                        Map::new()
                    }
                };
                Ok((StreamState::StreamRevision(event.revision), document))
            }
            // The metadata stream exists but its last event is not readable (its own metadata).
            Ok(None) => Ok((StreamState::Any, Map::new())),
            Err(kurrentdb::Error::ResourceNotFound) => Ok((StreamState::NoStream, Map::new())),
            Err(kurrentdb::Error::ResourceDeleted) => Err(Error::StreamNotFound(stream.clone())),
            Err(e) => Err(client_error(e, context())),
        }
    }
}

#[async_trait]
impl EventStore for EsdbEventStore {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        validate_append(expected, &events, &self.limits)?;
        let last_event_id = events
            .last()
            .map(|e| e.event_id)
            .ok_or(ValidationError::EmptyBatch)?;
        let proposed = events
            .into_iter()
            .map(to_esdb_event)
            .collect::<Result<Vec<_>>>()?;
        let options = AppendToStreamOptions::default().stream_state(to_stream_state(expected));

        let written = match self
            .client
            .append_to_stream(stream.as_str(), &options, proposed)
            .await
        {
            Ok(written) => written,
            Err(kurrentdb::Error::WrongExpectedVersion { current, .. }) => {
                return Err(Error::WrongExpectedVersion {
                    stream: stream.clone(),
                    expected,
                    actual: from_esdb_revision(current),
                });
            }
            // `StreamExists` on a soft-deleted stream; anything on a tombstoned one.
            Err(kurrentdb::Error::ResourceDeleted) => {
                return Err(if expected == ExpectedRevision::StreamExists {
                    Error::WrongExpectedVersion {
                        stream: stream.clone(),
                        expected,
                        actual: CurrentRevision::NoStream,
                    }
                } else {
                    Error::StreamNotFound(stream.clone())
                });
            }
            Err(kurrentdb::Error::Grpc { message, .. })
                if message.contains("Maximum Append Size") =>
            {
                return Err(ValidationError::InvalidOption(
                    "the batch is larger than the server's maximum append size (MaxAppendSize)",
                )
                .into());
            }
            Err(e) => {
                return Err(client_error(
                    e,
                    format_args!("appending to {stream} failed"),
                ));
            }
        };

        // On success (and on a recognised retry) the reply's revision is the batch's last event's.
        let revision = written.next_expected_version;
        let position = self.position_of(stream, revision, last_event_id).await?;
        Ok(AppendResult {
            next_expected_revision: revision,
            position,
        })
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        options: ReadStream,
    ) -> Result<Vec<RecordedEvent>> {
        check_read_limit(options.limit)?;
        let (position, direction, limit) = stream_read_plan(options);
        // `position` first: the client resets the direction for `Start` and `End`.
        let read_options = ReadStreamOptions::default().position(position);
        let read_options = match direction {
            Direction::Forwards => read_options.forwards(),
            Direction::Backwards => read_options.backwards(),
        }
        .max_count(limit);

        let fail = |e: kurrentdb::Error| match e {
            kurrentdb::Error::ResourceNotFound | kurrentdb::Error::ResourceDeleted => {
                Error::StreamNotFound(stream.clone())
            }
            e => client_error(e, format_args!("reading {stream} failed")),
        };
        let mut read = self
            .client
            .read_stream(stream.as_str(), &read_options)
            .await
            .map_err(fail)?;
        let mut events = Vec::with_capacity(limit.min(PAGE_SIZE));
        while let Some(resolved) = read.next().await.map_err(fail)? {
            if let Some(event) = original_event(resolved) {
                events.push(from_esdb_event(event)?);
            }
        }
        Ok(events)
    }

    async fn read_all(&self, options: ReadAll) -> Result<Vec<RecordedEvent>> {
        check_read_limit(options.limit)?;
        self.read_all_raw(
            options.direction,
            options.from,
            &options.filter,
            options.limit,
        )
        .await?
        .into_iter()
        .map(from_esdb_event)
        .collect()
    }

    fn subscribe_all(&self, options: SubscribeAll) -> EventStream {
        let start = match options.after {
            Some(after) => StreamPosition::Position(to_esdb_position(after)),
            None => StreamPosition::Start,
        };
        let follow = Follow {
            client: self.client.clone(),
            options: SubscribeToAllOptions::default()
                .position(start)
                .filter(server_filter(&options.filter)),
            subscription: None,
            filter: options.filter,
            last: options.after,
            done: false,
        };
        stream::unfold(follow, Follow::next).boxed()
    }

    async fn delete_stream(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
    ) -> Result<DeleteResult> {
        let wrong = |actual| Error::WrongExpectedVersion {
            stream: stream.clone(),
            expected,
            actual,
        };
        for _ in 0..CONFLICT_ATTEMPTS {
            // The server's reply carries no revision: read it first, then delete exactly at it, so
            // the reported last revision is the one deleted at.
            let Some(last) = self.last_revision(stream).await? else {
                return Err(Error::StreamNotFound(stream.clone()));
            };
            match expected {
                ExpectedRevision::NoStream => return Err(wrong(CurrentRevision::Current(last))),
                ExpectedRevision::Exact(n) if n != last => {
                    return Err(wrong(CurrentRevision::Current(last)));
                }
                _ => {}
            }
            let options =
                DeleteStreamOptions::default().stream_state(StreamState::StreamRevision(last));
            match self.client.delete_stream(stream.as_str(), &options).await {
                Ok(_) => {
                    return Ok(DeleteResult {
                        last_revision: last,
                    });
                }
                Err(kurrentdb::Error::ResourceNotFound | kurrentdb::Error::ResourceDeleted) => {
                    return Err(Error::StreamNotFound(stream.clone()));
                }
                Err(e) if is_wrong_expected_version(&e) => {
                    // Written to (or deleted) since the read: an exact expectation has failed,
                    // `Any`/`StreamExists` read again.
                    if let ExpectedRevision::Exact(_) = expected {
                        let actual = match self.last_revision(stream).await? {
                            Some(revision) => CurrentRevision::Current(revision),
                            None => CurrentRevision::NoStream,
                        };
                        return Err(wrong(actual));
                    }
                }
                Err(e) => return Err(client_error(e, format_args!("deleting {stream} failed"))),
            }
        }
        Err(Error::backend(anyhow!(
            "{stream} kept changing while being deleted; gave up after {CONFLICT_ATTEMPTS} attempts"
        )))
    }

    async fn stream_metadata(&self, stream: &StreamName) -> Result<StreamMetadata> {
        let (_, document) = self.raw_metadata(stream).await?;
        Ok(metadata_from_document(&document))
    }

    async fn set_stream_metadata(
        &self,
        stream: &StreamName,
        metadata: StreamMetadata,
    ) -> Result<()> {
        validate_stream_metadata(&metadata)?;
        let managed = metadata_to_document(&metadata)?;
        let metastream = metastream_of(stream);
        for _ in 0..CONFLICT_ATTEMPTS {
            let (state, mut document) = self.raw_metadata(stream).await?;
            // `$tb` never moves back: a soft delete is a `$tb`, and lowering it would make the
            // deleted events readable again.
            let old_tb = document.get(TRUNCATE_BEFORE_KEY).and_then(Value::as_u64);
            for key in [MAX_COUNT_KEY, MAX_AGE_KEY, TRUNCATE_BEFORE_KEY] {
                document.remove(key);
            }
            document.extend(managed.clone());
            let new_tb = document.get(TRUNCATE_BEFORE_KEY).and_then(Value::as_u64);
            if let Some(old) = old_tb
                && new_tb.is_none_or(|new| new < old)
            {
                document.insert(TRUNCATE_BEFORE_KEY.into(), old.into());
            }
            let event = kurrentdb::EventData::json(METADATA_EVENT_TYPE, &document)
                .map_err(Error::backend)?;
            let options = AppendToStreamOptions::default().stream_state(state);
            match self
                .client
                .append_to_stream(metastream.as_str(), &options, event)
                .await
            {
                Ok(_) => return Ok(()),
                // Someone else changed the metadata since the read: merge into theirs.
                Err(kurrentdb::Error::WrongExpectedVersion { .. }) => {}
                Err(kurrentdb::Error::ResourceDeleted) => {
                    return Err(Error::StreamNotFound(stream.clone()));
                }
                Err(e) => {
                    return Err(client_error(
                        e,
                        format_args!("setting the metadata of {stream} failed"),
                    ));
                }
            }
        }
        Err(Error::backend(anyhow!(
            "the metadata of {stream} kept changing; gave up after {CONFLICT_ATTEMPTS} attempts"
        )))
    }

    async fn head_position(&self) -> Result<Option<Position>> {
        let newest = self
            .read_all_raw(Direction::Backwards, None, &AllFilter::all(), 1)
            .await?;
        Ok(newest.first().map(|e| from_esdb_position(e.position)))
    }
}

/// The state of one [`EventStore::subscribe_all`] stream: created lazily on the first poll, then
/// pulled one server message at a time (gRPC flow control is the back-pressure).
struct Follow {
    client: Client,
    options: SubscribeToAllOptions,
    subscription: Option<Subscription>,
    filter: AllFilter,
    /// The newest position delivered or skipped: nothing at or before it is delivered again.
    last: Option<Position>,
    done: bool,
}

impl Follow {
    /// The next matching event, or the error that ends the stream.
    async fn next(mut self) -> Option<(Result<RecordedEvent>, Self)> {
        if self.done {
            return None;
        }
        if self.subscription.is_none() {
            self.subscription = Some(self.client.subscribe_to_all(&self.options).await);
        }
        let subscription = self.subscription.as_mut()?;
        loop {
            match subscription.next_subscription_event().await {
                Ok(SubscriptionEvent::EventAppeared(resolved)) => {
                    let Some(event) = original_event(resolved) else {
                        continue;
                    };
                    let position = from_esdb_position(event.position);
                    // The server starts after the checkpoint; this also guards against a replay.
                    if self.last.is_some_and(|last| position <= last) {
                        continue;
                    }
                    self.last = Some(position);
                    if !self.filter.matches(event.stream_id(), &event.event_type) {
                        continue;
                    }
                    let item = from_esdb_event(event);
                    self.done = item.is_err();
                    return Some((item, self));
                }
                // Confirmation, checkpoints of the server-side filter, caught-up/fell-behind notices.
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some((Err(client_error(e, "the $all subscription failed")), self));
                }
            }
        }
    }
}

/// How a port stream read is asked of the server: (where, which way, how many).
fn stream_read_plan(options: ReadStream) -> (StreamPosition<u64>, Direction, usize) {
    match (options.direction, options.from) {
        // "Forwards from the last event" is just the last event; the server does not read
        // forwards from `End`.
        (Direction::Forwards, StreamStart::End) => (StreamPosition::End, Direction::Backwards, 1),
        (Direction::Backwards, StreamStart::Start) => (
            StreamPosition::Position(0),
            Direction::Backwards,
            options.limit,
        ),
        (direction, StreamStart::Start) => (StreamPosition::Start, direction, options.limit),
        (direction, StreamStart::End) => (StreamPosition::End, direction, options.limit),
        (direction, StreamStart::Revision(revision)) => {
            (StreamPosition::Position(revision), direction, options.limit)
        }
    }
}

/// The one server-side filter for `filter`: stream prefixes if any, else the exact types, else
/// "no system event types". [`AllFilter::matches`] is applied on top in every case.
fn server_filter(filter: &AllFilter) -> SubscriptionFilter {
    if !filter.stream_prefixes.is_empty() {
        filter
            .stream_prefixes
            .iter()
            .fold(SubscriptionFilter::on_stream_name(), |f, prefix| {
                f.add_prefix(prefix)
            })
    } else if !filter.event_types.is_empty() {
        SubscriptionFilter::on_event_type().regex(exact_types_regex(&filter.event_types))
    } else {
        SubscriptionFilter::on_event_type().exclude_system_events()
    }
}

/// A .NET regex matching exactly one of `types`: `^(?:a|b)$`, each escaped.
fn exact_types_regex(types: &[String]) -> String {
    let alternatives: Vec<String> = types.iter().map(|t| regex_escape(t)).collect();
    format!("^(?:{})$", alternatives.join("|"))
}

/// Escapes `text` for a .NET regex: every ASCII punctuation character but `_` gets a backslash
/// (.NET reads a backslash before any non-word character as that character; before `_` or a
/// letter it would be an error or a class).
fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_ascii_punctuation() && c != '_' {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Is `position` past `cursor` in `direction` (after it forwards, before it backwards)?
fn is_past(cursor: Option<Position>, position: Position, direction: Direction) -> bool {
    match (cursor, direction) {
        (None, _) => true,
        (Some(cursor), Direction::Forwards) => position > cursor,
        (Some(cursor), Direction::Backwards) => position < cursor,
    }
}

/// The record a read returned. Links are never resolved, so it is the event itself (a `$>` link
/// record for links).
fn original_event(resolved: ResolvedEvent) -> Option<kurrentdb::RecordedEvent> {
    resolved.link.or(resolved.event)
}

/// Does the server report a real `$all` position for this event? Servers without
/// kurrent-io/KurrentDB#3459 send `u64::MAX` on stream reads.
fn has_position(event: &kurrentdb::RecordedEvent) -> bool {
    event.position.commit != u64::MAX && event.position.prepare != u64::MAX
}

fn from_esdb_position(position: kurrentdb::Position) -> Position {
    Position::new(position.commit, position.prepare)
}

fn to_esdb_position(position: Position) -> kurrentdb::Position {
    kurrentdb::Position {
        commit: position.commit(),
        prepare: position.prepare(),
    }
}

fn to_stream_state(expected: ExpectedRevision) -> StreamState {
    match expected {
        ExpectedRevision::Any => StreamState::Any,
        ExpectedRevision::NoStream => StreamState::NoStream,
        ExpectedRevision::StreamExists => StreamState::StreamExists,
        ExpectedRevision::Exact(revision) => StreamState::StreamRevision(revision),
    }
}

fn from_esdb_revision(current: kurrentdb::CurrentRevision) -> CurrentRevision {
    match current {
        kurrentdb::CurrentRevision::Current(revision) => CurrentRevision::Current(revision),
        kurrentdb::CurrentRevision::NoStream => CurrentRevision::NoStream,
    }
}

/// A wrong-expected-version refusal. Appends report it as such; deletes only as a
/// `FailedPrecondition` status whose message names it.
fn is_wrong_expected_version(err: &kurrentdb::Error) -> bool {
    match err {
        kurrentdb::Error::WrongExpectedVersion { .. } => true,
        kurrentdb::Error::Grpc { message, .. } => message.contains("WrongExpectedVersion"),
        _ => false,
    }
}

/// The name of the stream holding `stream`'s metadata.
fn metastream_of(stream: &StreamName) -> String {
    format!("$${stream}")
}

/// A port event as the client's proposed event: its id, type, JSON payload (sent byte for byte,
/// marked `application/json`) and our metadata as the custom metadata.
fn to_esdb_event(event: EventData) -> Result<kurrentdb::EventData> {
    let invalid = |e: &dyn fmt::Display| ValidationError::InvalidJson(e.to_string());
    let text = String::from_utf8(event.data.as_bytes().to_vec()).map_err(|e| invalid(&e))?;
    // `RawValue` (enabled in this build by sqlx's `json` feature) keeps the bytes as given.
    let payload = serde_json::value::RawValue::from_string(text).map_err(|e| invalid(&e))?;
    kurrentdb::EventData::json(&event.event_type, &payload)
        .map_err(|e| invalid(&e))?
        .id(event.event_id)
        .metadata_as_json(&event.metadata)
        .map_err(|e| {
            Error::backend(anyhow!(
                "cannot serialise the metadata of event {}: {e}",
                event.event_id
            ))
        })
}

/// A record read back as a port event.
fn from_esdb_event(event: kurrentdb::RecordedEvent) -> Result<RecordedEvent> {
    let stream_id = event.stream_id();
    let stream = StreamName::new(stream_id).map_err(|e| {
        Error::backend(anyhow!(
            "event {} is in stream {stream_id:?}, which shop cannot name: {e}",
            event.id
        ))
    })?;
    if !has_position(&event) {
        return Err(Error::backend(anyhow!(
            "the server did not report the $all position of event {} in {stream}; stream reads \
             need EventStoreDB 22.10 or later",
            event.id
        )));
    }
    let metadata: Metadata = serde_json::from_slice(&event.custom_metadata).map_err(|e| {
        Error::backend(anyhow!(
            "event {} in {stream} has metadata that is not shop's envelope ({e}); was it written \
             by another application?",
            event.id
        ))
    })?;
    Ok(RecordedEvent {
        stream,
        revision: event.revision,
        position: from_esdb_position(event.position),
        recorded_at: created_at(&event),
        event_id: event.id,
        event_type: event.event_type,
        data: Json::trusted(event.data),
        metadata,
    })
}

/// The server's `created` time to the tick: the client rounds it down to whole seconds, so the
/// raw value (100 ns ticks since the Unix epoch) is read from the system metadata when present.
fn created_at(event: &kurrentdb::RecordedEvent) -> DateTime<Utc> {
    event
        .metadata
        .get("created")
        .and_then(|ticks| ticks.parse::<i64>().ok())
        .and_then(datetime_from_ticks)
        .unwrap_or(event.created)
}

/// 100 ns ticks since the Unix epoch as a time.
fn datetime_from_ticks(ticks: i64) -> Option<DateTime<Utc>> {
    const TICKS_PER_SECOND: i64 = 10_000_000;
    let seconds = ticks.div_euclid(TICKS_PER_SECOND);
    let nanos = u32::try_from(ticks.rem_euclid(TICKS_PER_SECOND) * 100).ok()?;
    DateTime::from_timestamp(seconds, nanos)
}

/// The port's view of a metadata document. Values the server would not accept either are ignored.
fn metadata_from_document(document: &Map<String, Value>) -> StreamMetadata {
    let number = |key| document.get(key).and_then(Value::as_u64);
    StreamMetadata {
        max_count: number(MAX_COUNT_KEY),
        max_age: number(MAX_AGE_KEY).map(Duration::from_secs),
        truncate_before: number(TRUNCATE_BEFORE_KEY),
    }
}

/// The keys of a metadata document the port manages, checked against what the server accepts:
/// `$maxCount` and `$maxAge` at least 1, `$maxAge` in whole seconds (rounded up), every value a
/// .NET `long`.
fn metadata_to_document(metadata: &StreamMetadata) -> Result<Map<String, Value>, ValidationError> {
    let mut document = Map::new();
    if let Some(max_count) = metadata.max_count {
        if max_count == 0 || max_count > MAX_SERVER_NUMBER {
            return Err(ValidationError::InvalidOption(
                "max_count must be between 1 and i64::MAX",
            ));
        }
        document.insert(MAX_COUNT_KEY.into(), max_count.into());
    }
    if let Some(max_age) = metadata.max_age {
        let seconds = max_age.as_secs() + u64::from(max_age.subsec_nanos() > 0);
        if seconds == 0 || seconds > MAX_SERVER_NUMBER {
            return Err(ValidationError::InvalidOption(
                "max_age must be at least one second (EventStoreDB keeps it in whole seconds)",
            ));
        }
        document.insert(MAX_AGE_KEY.into(), seconds.into());
    }
    if let Some(truncate_before) = metadata.truncate_before {
        if truncate_before > MAX_SERVER_NUMBER {
            return Err(ValidationError::InvalidOption(
                "truncate_before must be at most i64::MAX",
            ));
        }
        document.insert(TRUNCATE_BEFORE_KEY.into(), truncate_before.into());
    }
    Ok(document)
}

/// A client error with what was being done.
fn client_error(err: kurrentdb::Error, doing: impl fmt::Display) -> Error {
    Error::backend(anyhow::Error::new(err).context(doing.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_match_names_literally() {
        assert_eq!(regex_escape("cart.ItemAdded.v1"), r"cart\.ItemAdded\.v1");
        assert_eq!(regex_escape("a_b-c(d)"), r"a_b\-c\(d\)");
        assert_eq!(
            exact_types_regex(&["a.v1".into(), "b+.v2".into()]),
            r"^(?:a\.v1|b\+\.v2)$"
        );
    }

    #[test]
    fn stream_reads_start_where_the_port_says() {
        let last = stream_read_plan(ReadStream {
            direction: Direction::Forwards,
            from: StreamStart::End,
            limit: 10,
        });
        assert_eq!(last, (StreamPosition::End, Direction::Backwards, 1));
        let first = stream_read_plan(ReadStream::backwards().limit(3).from_revision(0));
        assert_eq!(
            first,
            (StreamPosition::Position(0), Direction::Backwards, 3)
        );
        let all = stream_read_plan(ReadStream::forwards());
        assert_eq!(
            all,
            (StreamPosition::Start, Direction::Forwards, usize::MAX)
        );
    }

    #[test]
    fn cursors_are_exclusive() {
        let p = Position::new(10, 10);
        assert!(!is_past(Some(p), p, Direction::Forwards));
        assert!(!is_past(Some(p), p, Direction::Backwards));
        assert!(is_past(Some(p), Position::new(11, 11), Direction::Forwards));
        assert!(is_past(Some(p), Position::new(9, 9), Direction::Backwards));
        assert!(is_past(None, p, Direction::Backwards));
    }

    #[test]
    fn ticks_keep_sub_second_precision() {
        let t = datetime_from_ticks(16_000_000_000_000_123).unwrap();
        assert_eq!(t.timestamp(), 1_600_000_000);
        assert_eq!(t.timestamp_subsec_nanos(), 12_300);
    }

    #[test]
    fn metadata_round_trips_in_server_units() {
        let metadata = StreamMetadata {
            max_count: Some(5),
            max_age: Some(Duration::from_millis(1500)),
            truncate_before: Some(3),
        };
        let document = metadata_to_document(&metadata).unwrap();
        assert_eq!(
            Value::Object(document.clone()),
            serde_json::json!({"$maxCount": 5, "$maxAge": 2, "$tb": 3})
        );
        let back = metadata_from_document(&document);
        assert_eq!(back.max_age, Some(Duration::from_secs(2)));
        assert_eq!(back.max_count, Some(5));
        assert!(
            metadata_to_document(&StreamMetadata {
                max_count: Some(0),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            metadata_to_document(&StreamMetadata {
                max_age: Some(Duration::ZERO),
                ..Default::default()
            })
            .is_err()
        );
    }
}
