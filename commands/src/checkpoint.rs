//! Checkpoints of the process managers, kept in the event store itself (the way EventStoreDB's
//! own subscribers keep them): each save appends `checkpoint.Saved.v1` to
//! `checkpoint-<subscriber>`, whose `max_count` metadata keeps only the newest few. A process
//! manager restarts its subscription after the position it saved; correctness never depends on
//! it (its steps are idempotent, and it resumes open work from the log), it only saves rereading
//! history.

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use shop_eventstore::{
    Actor, EventData, EventStore, ExpectedRevision, Metadata, Position, ReadStream, StreamMetadata,
    StreamName,
};
use tokio::sync::Mutex;
use uuid::Uuid;

/// The event type of a saved checkpoint.
pub const CHECKPOINT_EVENT: &str = "checkpoint.Saved.v1";
/// How many saved checkpoints a stream keeps readable.
const KEEP: u64 = 8;

#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    position: Position,
}

/// Where the stream stands, as far as this process knows.
#[derive(Debug, Default)]
struct Known {
    /// The stream's last revision (`None`: no stream yet).
    revision: Option<u64>,
    /// The position saved last.
    position: Option<Position>,
    /// The `max_count` metadata is set.
    trimmed: bool,
}

/// One subscriber's checkpoint (see the module doc).
#[derive(Clone)]
pub struct StreamCheckpoint {
    store: Arc<dyn EventStore>,
    stream: StreamName,
    subscriber: String,
    known: Arc<Mutex<Known>>,
}

impl std::fmt::Debug for StreamCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamCheckpoint")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl StreamCheckpoint {
    /// The checkpoint of `subscriber` (a name such as `checkout-saga`).
    pub fn new(store: Arc<dyn EventStore>, subscriber: &str) -> anyhow::Result<Self> {
        let stream = StreamName::new(format!("checkpoint-{subscriber}"))?;
        Ok(Self {
            store,
            stream,
            subscriber: subscriber.to_owned(),
            known: Arc::new(Mutex::new(Known::default())),
        })
    }

    /// The stream the checkpoint is kept in.
    pub fn stream(&self) -> &StreamName {
        &self.stream
    }

    /// The position saved last (`None`: never saved).
    pub async fn load(&self) -> anyhow::Result<Option<Position>> {
        let mut known = self.known.lock().await;
        self.refresh(&mut known).await?;
        Ok(known.position)
    }

    async fn refresh(&self, known: &mut Known) -> anyhow::Result<()> {
        let last = match self
            .store
            .read_stream(&self.stream, ReadStream::backwards().limit(1))
            .await
        {
            Ok(events) => events.into_iter().next(),
            Err(shop_eventstore::Error::StreamNotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        match last {
            Some(event) => {
                known.revision = Some(event.revision);
                known.position = Some(event.data.decode::<Saved>()?.position);
            }
            None => {
                known.revision = None;
                known.position = None;
            }
        }
        Ok(())
    }

    /// Saves `position`, unless a later one is saved already (by this process or another).
    pub async fn save(&self, position: Position) -> anyhow::Result<()> {
        let mut known = self.known.lock().await;
        for _ in 0..3 {
            if known.position.is_some_and(|saved| saved >= position) {
                return Ok(());
            }
            let expected = match known.revision {
                Some(revision) => ExpectedRevision::Exact(revision),
                None => ExpectedRevision::NoStream,
            };
            let metadata = Metadata::new(
                Uuid::new_v4(),
                Uuid::new_v4(),
                Actor::system(self.subscriber.clone()),
                Utc::now(),
            );
            let event = EventData::new(
                Uuid::new_v4(),
                CHECKPOINT_EVENT,
                &Saved { position },
                metadata,
            )?;
            match self.store.append(&self.stream, expected, vec![event]).await {
                Ok(result) => {
                    known.revision = Some(result.next_expected_revision);
                    known.position = Some(position);
                    if !known.trimmed {
                        let keep = StreamMetadata {
                            max_count: Some(KEEP),
                            ..StreamMetadata::default()
                        };
                        self.store.set_stream_metadata(&self.stream, keep).await?;
                        known.trimmed = true;
                    }
                    return Ok(());
                }
                // Another instance saved meanwhile: learn where it stands and try again.
                Err(shop_eventstore::Error::WrongExpectedVersion { .. }) => {
                    self.refresh(&mut known).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        anyhow::bail!(
            "the checkpoint of {} kept changing under this process",
            self.subscriber
        )
    }
}
