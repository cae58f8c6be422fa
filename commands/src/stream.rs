//! One aggregate stream held in memory: folded state, revision, and the window of recent command
//! ids; loaded from a snapshot and the tail, and kept up with the tail.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use shop_domain::Aggregate;
use shop_eventstore::{
    Error as StoreError, EventStore, Position, ReadStream, RecordedEvent, StreamName,
};

use crate::{
    CommandError, codec,
    recent::{Recent, RecentSnapshot},
};

/// Metadata key naming the revision of the last event of the append an event was part of, so a
/// command found again in the log answers the same position it answered first.
pub(crate) const BATCH_END_KEY: &str = "batchEnd";

/// Events read per request while catching up.
const PAGE: usize = 4096;

/// The in-memory copy of one stream.
#[derive(Debug)]
pub(crate) struct StreamState<A: Aggregate> {
    pub state: A::State,
    /// Revision of the last event folded (`None`: no events).
    pub revision: Option<u64>,
    /// `$all` position of the last event folded.
    pub last_position: Option<Position>,
    pub recent: Recent<A::Rejection>,
    /// Revision the newest snapshot was taken at, and when to try the next one.
    pub snapshot_revision: Option<u64>,
    pub next_snapshot_at: u64,
    /// Set (in the background) when the state was found too large to snapshot.
    pub snapshot_oversized: Arc<AtomicBool>,
}

impl<A: Aggregate> StreamState<A> {
    pub fn empty(recent_window: usize) -> Self {
        Self {
            state: A::State::default(),
            revision: None,
            last_position: None,
            recent: Recent::new(recent_window),
            snapshot_revision: None,
            next_snapshot_at: 0,
            snapshot_oversized: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn restore(
        recent_window: usize,
        state: A::State,
        revision: u64,
        position: Option<Position>,
        recent: RecentSnapshot,
    ) -> Self {
        Self {
            state,
            revision: Some(revision),
            last_position: position,
            recent: Recent::restore(recent_window, recent),
            snapshot_revision: Some(revision),
            next_snapshot_at: 0,
            snapshot_oversized: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Folds events read from the log (in order, each the next revision).
    pub fn fold(
        &mut self,
        stream: &StreamName,
        events: &[RecordedEvent],
    ) -> Result<(), CommandError<A::Rejection>> {
        for recorded in events {
            if self.revision.is_some_and(|r| recorded.revision <= r) {
                continue;
            }
            let event: A::Event =
                codec::decode(&recorded.event_type, &recorded.data).map_err(|e| {
                    CommandError::Corrupt {
                        stream: stream.clone(),
                        revision: recorded.revision,
                        reason: format!("{} ({e})", recorded.event_type),
                    }
                })?;
            A::evolve(&mut self.state, &event);
            let batch_end = recorded
                .metadata
                .extra
                .get(BATCH_END_KEY)
                .and_then(|v| v.as_u64())
                .unwrap_or(recorded.revision);
            self.recent.observe(
                recorded.metadata.causation_id,
                recorded.revision,
                batch_end,
                recorded.position,
            );
            self.revision = Some(recorded.revision);
            self.last_position = Some(recorded.position);
        }
        Ok(())
    }

    /// Reads and folds whatever the stream has after what is held. Returns how many events were
    /// new. A stream that was deleted starts over empty.
    pub async fn catch_up(
        &mut self,
        store: &dyn EventStore,
        stream: &StreamName,
    ) -> Result<usize, CommandError<A::Rejection>> {
        let mut folded = 0;
        loop {
            let from = self.revision.map_or(0, |r| r + 1);
            let options = ReadStream::forwards().from_revision(from).limit(PAGE);
            let page = match store.read_stream(stream, options).await {
                Ok(page) => page,
                Err(StoreError::StreamNotFound(_)) => {
                    if self.revision.is_some() {
                        // Deleted since it was loaded: what was held no longer exists.
                        let window = self.recent_capacity();
                        *self = Self::empty(window);
                    }
                    return Ok(folded);
                }
                Err(e) => return Err(e.into()),
            };
            let n = page.len();
            self.fold(stream, &page)?;
            folded += n;
            if n < PAGE {
                return Ok(folded);
            }
        }
    }

    fn recent_capacity(&self) -> usize {
        self.recent.capacity()
    }
}
