//! Snapshots of long streams, kept in the event store itself: the newest snapshot of stream `s` is
//! the last event of `snapshot-<s>` (the stream keeps only one, `$maxCount` 1). A snapshot records
//! the aggregate's snapshot version; one taken under another version, or that no longer decodes, is
//! ignored and the stream is folded from the start (and snapshotted again under the new version).
//!
//! Snapshots are an optimisation only: every load still reads the tail after the snapshot's
//! revision, and a missing or unreadable snapshot costs time, never correctness.

use serde::{Deserialize, Serialize};
use shop_domain::Aggregate;
use shop_eventstore::{
    Actor, EventData, EventStore, ExpectedRevision, Json, Metadata, Position, ReadStream,
    StreamMetadata, StreamName,
};
use uuid::Uuid;

use crate::{recent::RecentSnapshot, stream::StreamState};

/// Event type of a snapshot.
pub const SNAPSHOT_EVENT_TYPE: &str = "snapshot.Taken.v1";
/// Category of snapshot streams.
pub const SNAPSHOT_CATEGORY: &str = "snapshot";

/// Command ids kept in a snapshot (the rest of the recent window refills from the tail).
const RECENT_IN_SNAPSHOT: usize = 1_000;

const NAMESPACE: Uuid = Uuid::from_u128(0x0b5e_7a4c_13f2_4d8e_a1c9_55e0_2f4b_9d37);

#[derive(Serialize, Deserialize)]
struct Document<S> {
    category: String,
    snapshot_version: u32,
    revision: u64,
    position: Option<Position>,
    recent: RecentSnapshot,
    state: S,
}

/// The snapshot stream of `stream`, if its name fits.
pub fn snapshot_stream(stream: &StreamName) -> Option<StreamName> {
    StreamName::new(format!("{SNAPSHOT_CATEGORY}-{stream}")).ok()
}

/// Loads the newest usable snapshot of `stream` for aggregate `A`.
pub(crate) async fn load<A: Aggregate>(
    store: &dyn EventStore,
    stream: &StreamName,
    recent_window: usize,
) -> Option<StreamState<A>> {
    let name = snapshot_stream(stream)?;
    let events = store
        .read_stream(&name, ReadStream::backwards().limit(1))
        .await
        .ok()?;
    let event = events.first()?;
    let doc: Document<A::State> = match event.data.decode() {
        Ok(doc) => doc,
        Err(e) => {
            tracing::info!(%stream, error = %e, "ignoring a snapshot that does not decode");
            return None;
        }
    };
    if doc.category != A::CATEGORY || doc.snapshot_version != A::SNAPSHOT_VERSION {
        tracing::info!(%stream, version = doc.snapshot_version, current = A::SNAPSHOT_VERSION, "ignoring a snapshot of another version");
        return None;
    }
    Some(StreamState::restore(
        recent_window,
        doc.state,
        doc.revision,
        doc.position,
        doc.recent,
    ))
}

/// A snapshot serialised and ready to write.
#[derive(Debug)]
pub(crate) struct Pending {
    stream: StreamName,
    revision: u64,
    data: Json,
}

/// What a snapshot is made of, copied out of the worker so serialising it (which takes time in
/// proportion to the state) happens off the stream's hot path.
#[derive(Debug)]
pub(crate) struct Taken<S> {
    pub stream: StreamName,
    pub revision: u64,
    pub position: Option<Position>,
    pub recent: RecentSnapshot,
    pub state: S,
}

/// Copies what a snapshot of the held state needs; `None` for a stream with no events.
pub(crate) fn take<A: Aggregate>(
    stream: &StreamName,
    held: &StreamState<A>,
) -> Option<Taken<A::State>> {
    Some(Taken {
        stream: stream.clone(),
        revision: held.revision?,
        position: held.last_position,
        recent: held.recent.snapshot(RECENT_IN_SNAPSHOT),
        state: held.state.clone(),
    })
}

/// Serialises a taken snapshot; `None` if it is larger than `max_bytes`.
pub(crate) fn prepare<A: Aggregate>(taken: Taken<A::State>, max_bytes: usize) -> Option<Pending> {
    let doc = Document {
        category: A::CATEGORY.to_owned(),
        snapshot_version: A::SNAPSHOT_VERSION,
        revision: taken.revision,
        position: taken.position,
        recent: taken.recent,
        state: &taken.state,
    };
    let data = Json::encode(&doc).ok()?;
    if data.len() > max_bytes {
        tracing::debug!(stream = %taken.stream, bytes = data.len(), "state too large to snapshot");
        return None;
    }
    Some(Pending {
        stream: taken.stream,
        revision: taken.revision,
        data,
    })
}

/// Writes a prepared snapshot; says whether it was written. Failures are logged, not returned: a
/// snapshot is an optimisation.
pub(crate) async fn write(
    store: &dyn EventStore,
    pending: Pending,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    let Some(name) = snapshot_stream(&pending.stream) else {
        return false;
    };
    let id = Uuid::new_v5(
        &NAMESPACE,
        format!("{}@{}", pending.stream, pending.revision).as_bytes(),
    );
    let metadata = Metadata::new(Uuid::nil(), Uuid::nil(), Actor::system("snapshotter"), now);
    let event = EventData {
        event_id: id,
        event_type: SNAPSHOT_EVENT_TYPE.to_owned(),
        data: pending.data,
        metadata,
    };
    match store
        .append(&name, ExpectedRevision::Any, vec![event])
        .await
    {
        Ok(result) if result.next_expected_revision == 0 => {
            let keep_one = StreamMetadata {
                max_count: Some(1),
                ..StreamMetadata::default()
            };
            if let Err(e) = store.set_stream_metadata(&name, keep_one).await {
                tracing::warn!(stream = %name, error = %e, "could not limit the snapshot stream");
            }
            true
        }
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(stream = %pending.stream, error = %e, "snapshot not written");
            false
        }
    }
}
