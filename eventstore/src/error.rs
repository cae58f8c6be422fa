//! Errors of the port. The caller's mistakes ([`ValidationError`]) and the stream's state
//! ([`Error::WrongExpectedVersion`], [`Error::StreamNotFound`]) are kept apart from the store being
//! unavailable ([`Error::Backend`]), which is the only retryable kind.

use uuid::Uuid;

use crate::{CurrentRevision, ExpectedRevision, StreamName, UpcastError};

/// Result of a port operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Bad input: refused before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The stream name is not acceptable.
    #[error("invalid stream name {name:?}: {reason}")]
    InvalidStreamName {
        /// The name (its first 64 characters).
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The event type name is not acceptable.
    #[error("invalid event type {event_type:?}: {reason}")]
    InvalidEventType {
        /// The type (its first 64 characters).
        event_type: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An append with no events.
    #[error("an append needs at least one event")]
    EmptyBatch,
    /// An append with more events than the configured limit.
    #[error("an append may carry at most {limit} events, this one has {count}")]
    BatchTooLarge {
        /// Events in the batch.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// One event is larger than the configured limit.
    #[error("event {event_id} is {size} bytes, more than the limit of {limit} bytes")]
    EventTooLarge {
        /// The event.
        event_id: Uuid,
        /// Its size (payload plus metadata).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The same event id twice in one batch.
    #[error("event id {0} appears twice in one append")]
    DuplicateEventInBatch(Uuid),
    /// The payload is not JSON.
    #[error("event data is not valid JSON: {0}")]
    InvalidJson(String),
    /// A limit of zero or a similar nonsense option.
    #[error("invalid option: {0}")]
    InvalidOption(&'static str),
}

/// Everything a port operation can fail with.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The caller's input was refused; nothing was written.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The stream is not at the expected revision; nothing was written.
    #[error("wrong expected version on stream {stream}: expected {expected}, actual {actual}")]
    WrongExpectedVersion {
        /// The stream.
        stream: StreamName,
        /// What the append expected.
        expected: ExpectedRevision,
        /// What the stream has.
        actual: CurrentRevision,
    },
    /// An event id of the batch is already stored, but not as this same batch on this stream, so
    /// the append is neither new nor a retry; nothing was written.
    #[error(
        "event {event_id} is already stored elsewhere; the append is not a retry of that write"
    )]
    DuplicateEventId {
        /// The clashing id.
        event_id: Uuid,
    },
    /// The stream does not exist or was soft-deleted.
    #[error("stream {0} not found")]
    StreamNotFound(StreamName),
    /// An event's stored version could not be brought to the current one.
    #[error(transparent)]
    Upcast(#[from] UpcastError),
    /// The store failed or could not be reached. Retry later; an append that failed this way may or
    /// may not have been written, and retrying it with the same event ids is safe.
    // The whole cause chain is in the message (`{:#}`), and not repeated as `source()`, so the
    // error prints once whether a caller shows it with `{}` or walks its chain.
    // Shared, so one failure can be reported to every command of a batch.
    #[error("event store failure: {0:#}")]
    Backend(std::sync::Arc<anyhow::Error>),
}

impl Error {
    /// Wraps an adapter failure.
    pub fn backend(err: impl Into<anyhow::Error>) -> Self {
        Self::Backend(std::sync::Arc::new(err.into()))
    }

    /// True for failures worth retrying as they are (the store, not the request, was at fault).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Backend(_))
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Self::backend(err)
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        Self::backend(err)
    }
}
