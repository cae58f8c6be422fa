//! What a handled command answers.

use shop_eventstore::{Position, StreamName};

/// The outcome of an accepted command. A retry of the same command id answers the same outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The aggregate's stream.
    pub stream: StreamName,
    /// The stream's revision once this command's events are in (for a command that changed
    /// nothing, the revision it was decided at; `None` if the stream has no events). Clients pass it
    /// back for optimistic concurrency (`ETag` / `If-Match`).
    pub revision: Option<u64>,
    /// A `$all` position at or after this command's last event: once a read model has processed
    /// it, the command's effect is visible there (read-your-writes). For a command that changed
    /// nothing, the position of the stream's last event.
    pub position: Option<shop_eventstore::Position>,
    /// How many events the command wrote (0 when its effect was already in place).
    pub events_written: usize,
}

/// What the handler remembers of a decided command, to answer a retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decided {
    pub revision: Option<u64>,
    pub position: Option<Position>,
    pub events_written: usize,
}

impl Decided {
    pub fn outcome(&self, stream: &StreamName) -> Outcome {
        Outcome {
            stream: stream.clone(),
            revision: self.revision,
            position: self.position,
            events_written: self.events_written,
        }
    }
}
