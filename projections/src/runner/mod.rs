//! Projections and the runner that feeds them.
//!
//! A [`Projection`] turns events into rows: it names the stream categories it reads and the
//! tables it owns, and applies one event at a time to a [`Rows`] working set. The [`Runner`]
//! drives a group of projections from one `$all` subscription: it reads each event once, gives it
//! to every projection that reads its category and has not applied it yet, and commits a batch's
//! rows together with every projection's checkpoint in one transaction, so each event's effect is
//! applied exactly once, also across crashes. Any failure (database, subscription, a transient
//! error in a projection) discards the batch, clears the row cache, reloads the checkpoints and
//! resumes from them after a pause.

mod apply;
mod bulk;
mod live;
mod rebuild;
mod status;

use async_trait::async_trait;
use shop_eventstore::RecordedEvent;

use crate::rows::{Rows, RowsError, TableDef};

pub use live::{Runner, RunnerHandle, RunnerOptions};
pub use rebuild::{RebuildOptions, RebuildProgress, RebuildReport, TableCount, rebuild};
pub use status::{LAG_COUNT_LIMIT, ProjectionState, ProjectionStatus, StatusBoard};

/// What to do with an event a projection cannot apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoisonPolicy {
    /// Stop the projection at that event, with the error in its status, until an operator acts.
    Stop,
    /// Record it in the dead-letter table and carry on.
    Park,
}

/// Why a projection could not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The event cannot be applied, now or later (it does not decode, it contradicts the rows).
    #[error("cannot apply the event: {0}")]
    Poison(String),
    /// Reading rows failed; the batch is retried.
    #[error(transparent)]
    Rows(#[from] RowsError),
}

impl ApplyError {
    fn is_poison(&self) -> bool {
        matches!(
            self,
            ApplyError::Poison(_)
                | ApplyError::Rows(RowsError::Shape { .. } | RowsError::AppendOnly(_))
        )
    }
}

/// A read model fed from the log.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// A stable name: the checkpoint and the lock are kept under it.
    fn name(&self) -> &'static str;

    /// The shape version of its tables; a checkpoint written by another version makes the
    /// runner rebuild the projection.
    fn version(&self) -> u32 {
        1
    }

    /// The tables it owns (and no other projection writes).
    fn tables(&self) -> &'static [&'static TableDef];

    /// The stream categories it reads (`inventory` for `inventory-…` streams).
    fn categories(&self) -> &'static [&'static str];

    /// The categories whose events it decodes into domain types (all it reads, by default).
    /// A bulk rebuild keeps projections that decode the same categories on one thread, where
    /// each event is decoded once for all of them.
    fn decodes(&self) -> &'static [&'static str] {
        self.categories()
    }

    /// The relative cost of applying its events (measured on the benchmark's history: the
    /// orders model costs about eight times the search feed). A bulk rebuild spreads the
    /// projections over its threads by it, so that they finish together.
    fn rebuild_weight(&self) -> u32 {
        1
    }

    /// What to do with an event it cannot apply.
    fn poison_policy(&self) -> PoisonPolicy {
        PoisonPolicy::Stop
    }

    /// Applies one event (of one of its categories) to its rows.
    async fn apply(&self, event: &RecordedEvent, rows: &mut Rows<'_>) -> Result<(), ApplyError>;
}

/// The pause after the `failures`th failure in a row: `base` doubled each time, at most `max`.
pub(crate) fn backoff(
    base: std::time::Duration,
    max: std::time::Duration,
    failures: u32,
) -> std::time::Duration {
    base.saturating_mul(1 << failures.min(16)).min(max)
}

/// Does `projection` read `event`'s stream?
pub(crate) fn reads(projection: &dyn Projection, event: &RecordedEvent) -> bool {
    let stream = event.stream.as_str();
    projection.categories().iter().any(|c| {
        stream.len() > c.len() && stream.starts_with(c) && stream.as_bytes()[c.len()] == b'-'
    })
}

/// Decodes a domain event from its stored type and payload (the `{"type", "data"}` shape the
/// domain's enums use), in one parse of the stored bytes.
pub fn decode<E: serde::de::DeserializeOwned>(event: &RecordedEvent) -> Result<E, ApplyError> {
    let data = event.data.as_bytes();
    let mut buf = Vec::with_capacity(data.len() + event.event_type.len() + 24);
    buf.extend_from_slice(b"{\"type\":");
    serde_json::to_writer(&mut buf, &event.event_type)
        .map_err(|e| ApplyError::Poison(format!("{}: {e}", event.event_type)))?;
    buf.extend_from_slice(b",\"data\":");
    buf.extend_from_slice(data);
    buf.push(b'}');
    serde_json::from_slice(&buf)
        .map_err(|e| ApplyError::Poison(format!("{}: {e}", event.event_type)))
}
