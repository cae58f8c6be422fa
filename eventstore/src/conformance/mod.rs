//! The port's conformance suite: the executable form of the `EventStore` contract, run unchanged
//! against every adapter (`eventstore/tests/conformance_*.rs`).
//!
//! Written to EventStoreDB's documented semantics, not to any one adapter, and written to share a
//! store with other tests: every case works in its own random category (`c<uuid>-…`) and reads
//! `$all` only through a filter on it, so the suite can run against a long-lived server.
//!
//! Use it with [`conformance_tests!`](crate::conformance_tests), giving an async factory from
//! [`Limits`] to a fresh store.

mod append;
mod concurrency;
mod read;
mod streams;
mod subscribe;

pub use append::*;
pub use concurrency::*;
pub use read::*;
pub use streams::*;
pub use subscribe::*;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Actor, EventData, EventStore, Limits, Metadata, ReadAll, RecordedEvent, StreamName};

/// Generates one `#[tokio::test]` per conformance case for a store factory
/// `async fn(Limits) -> impl EventStore + Clone`. With `, optional`, the factory returns an
/// `Option` and `None` (no server configured) skips the case with a note on stderr.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:path, optional) => {
        $crate::conformance_tests!(@list $factory, optional);
    };
    ($factory:path) => {
        $crate::conformance_tests!(@list $factory, required);
    };
    (@list $factory:path, $mode:ident) => {
        $crate::conformance_tests!(@cases $factory, $mode;
            no_stream_creates_once,
            exact_checks_the_revision,
            stream_exists_needs_a_stream,
            any_always_appends,
            batch_is_atomic_and_numbered,
            refused_append_writes_nothing,
            retried_append_returns_the_original_result,
            read_stream_directions_and_limits,
            missing_stream_is_not_found,
            all_order_is_commit_order,
            all_pages_in_both_directions,
            all_filters_by_stream_prefix_and_type,
            envelope_round_trips,
            subscription_catches_up_then_goes_live,
            subscription_resumes_after_checkpoint,
            selective_subscription_misses_nothing,
            read_all_page_reports_how_far_it_looked,
            racing_exact_appends_have_one_winner_per_revision,
            soft_delete_hides_the_stream_but_keeps_all,
            soft_deleted_stream_can_start_again,
            soft_delete_survives_metadata_changes,
            racing_creators_have_one_winner,
            metadata_and_envelope_input_is_validated,
            stream_metadata_limits_reads,
            size_and_input_limits_refuse_before_writing,
            upcasters_bring_old_versions_to_current,
            unknown_upcaster_is_an_error,
            head_position_follows_appends
        );
    };
    (@cases $factory:path, $mode:ident; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let store = $factory($crate::conformance::limits_for(stringify!($case))).await;
                $crate::conformance_tests!(@run $mode, store, $case);
            }
        )*
    };
    (@run required, $store:ident, $case:ident) => {
        $crate::conformance::$case($store).await;
    };
    (@run optional, $store:ident, $case:ident) => {
        match $store {
            Some(store) => $crate::conformance::$case(store).await,
            None => eprintln!("skipped {}: no server configured", stringify!($case)),
        }
    };
}

/// The limits a case wants its store built with.
pub fn limits_for(case: &str) -> Limits {
    match case {
        "size_and_input_limits_refuse_before_writing" => Limits {
            max_event_bytes: 64 * 1024,
            max_batch_events: 16,
        },
        _ => Limits::default(),
    }
}

/// A case's private corner of the store.
#[derive(Debug, Clone)]
pub struct Scope {
    category: String,
}

impl Scope {
    /// A fresh random category.
    pub fn new() -> Self {
        Self {
            category: format!("c{}", Uuid::new_v4().simple()),
        }
    }

    /// The category name.
    pub fn category(&self) -> &str {
        &self.category
    }

    /// A stream of this scope's category.
    pub fn stream(&self, id: &str) -> StreamName {
        StreamName::from_parts(&self.category, id).expect("valid stream name")
    }

    /// A filter on this scope's category.
    pub fn filter(&self) -> crate::AllFilter {
        crate::AllFilter::category(&self.category)
    }

    /// Everything this scope wrote, in `$all` order.
    pub async fn all<S: EventStore>(&self, store: &S) -> Vec<RecordedEvent> {
        store
            .read_all(ReadAll::forwards().filter(self.filter()))
            .await
            .expect("read $all")
    }
}

impl Default for Scope {
    fn default() -> Self {
        Self::new()
    }
}

/// A fixed instant for metadata, to the microsecond (what every adapter keeps).
pub fn instant() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(1_790_000_000_123_456).expect("valid instant")
}

/// An event of type `test.Happened.v1` carrying `{"n": n}`.
pub fn event(n: u64) -> EventData {
    typed("test.Happened.v1", serde_json::json!({ "n": n }))
}

/// An event of the given type and payload, with fresh ids.
pub fn typed(event_type: &str, data: serde_json::Value) -> EventData {
    let metadata = Metadata::new(
        Uuid::new_v4(),
        Uuid::new_v4(),
        Actor::new("customer", "c-42"),
        instant(),
    );
    EventData {
        event_id: Uuid::new_v4(),
        event_type: event_type.to_owned(),
        data: data.into(),
        metadata,
    }
}

/// `n` events numbered from `from`.
pub fn events(from: u64, n: u64) -> Vec<EventData> {
    (from..from + n).map(event).collect()
}

/// The `n` field of each event's payload.
pub fn numbers(events: &[RecordedEvent]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e.data.to_value()["n"].as_u64().expect("payload has n"))
        .collect()
}
