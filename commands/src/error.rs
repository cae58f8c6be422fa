//! Why a command did not go through.

use shop_eventstore::StreamName;

/// A command's failure. `Rejected` is the business saying no; everything else is the machinery.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<R> {
    /// The aggregate refused the command; nothing was written.
    #[error(transparent)]
    Rejected(R),
    /// The stream kept changing under the command (another writer) for every attempt; nothing was
    /// written. Retrying later with the same command id is safe.
    #[error(
        "stream {stream} kept changing while the command was decided ({attempts} attempts); try again"
    )]
    Conflict {
        /// The stream.
        stream: StreamName,
        /// Attempts made.
        attempts: u32,
    },
    /// The command's `If-Match` style expectation did not hold.
    #[error("stream {stream} is at revision {actual:?}, not the expected {expected}")]
    RevisionMismatch {
        /// The stream.
        stream: StreamName,
        /// What the caller expected.
        expected: u64,
        /// What the stream has.
        actual: Option<u64>,
    },
    /// Too many commands are queued for this stream; nothing was written. Retry after a pause.
    #[error("too many commands are waiting for stream {stream}; try again shortly")]
    Overloaded {
        /// The stream.
        stream: StreamName,
    },
    /// The id does not make a valid stream name.
    #[error("invalid stream name: {0}")]
    InvalidStream(shop_eventstore::ValidationError),
    /// An event in the stream could not be read as this aggregate's event (unknown type or shape).
    #[error(
        "stream {stream} holds an event this version cannot read at revision {revision}: {reason}"
    )]
    Corrupt {
        /// The stream.
        stream: StreamName,
        /// The event's revision.
        revision: u64,
        /// What went wrong.
        reason: String,
    },
    /// The event store failed. An append that failed this way may or may not have been written;
    /// retrying the command with the same id is safe.
    #[error(transparent)]
    Store(#[from] shop_eventstore::Error),
    /// The handler is shutting down.
    #[error("the command handler is shutting down")]
    ShuttingDown,
}

impl<R> CommandError<R> {
    /// Worth retrying as is (the same command id) after a pause.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Conflict { .. } | Self::Overloaded { .. } => true,
            Self::Store(e) => e.is_transient(),
            _ => false,
        }
    }

    /// The rejection, if the business refused.
    pub fn rejection(&self) -> Option<&R> {
        match self {
            Self::Rejected(r) => Some(r),
            _ => None,
        }
    }
}
