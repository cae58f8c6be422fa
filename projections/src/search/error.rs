//! The one error type of the search port, so callers (the projection worker, the API) can tell a
//! caller's mistake (a 400) from an outage (retry later) without knowing which adapter runs.

/// What can go wrong with a search index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query is malformed: a limit outside 1..=100, an attribute name or a filter value that
    /// cannot be expressed safely. Nothing was searched.
    #[error("invalid search query: {0}")]
    InvalidQuery(String),
    /// A document cannot be indexed (an id or attribute name Meilisearch would refuse). Nothing of
    /// the batch was written.
    #[error("invalid search document: {0}")]
    InvalidDocument(String),
    /// The backend did not finish in time (for Meilisearch, a task still enqueued or processing
    /// when the wait ran out). The write may still happen later; retrying with the same position
    /// is harmless.
    #[error("search backend timed out")]
    Timeout,
    /// The backend could not be reached.
    #[error("search backend unavailable: {0}")]
    Unavailable(String),
    /// The backend answered with an error, or failed internally.
    #[error("search backend error: {0}")]
    Backend(String),
}

impl SearchError {
    /// Whether the same call may succeed later (the projection worker retries these).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Timeout | Self::Unavailable(_))
    }
}
