//! What each projection is doing, for `/readyz`, `/metrics`, operators and read-your-writes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use shop_eventstore::Position;
use tokio::sync::watch;

/// Where a projection stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectionState {
    /// Waiting for the lock another process holds (a standby).
    Standby,
    /// Applying events.
    Running,
    /// Building shadow tables.
    Rebuilding,
    /// Stopped at an event it cannot apply (policy `Stop`).
    Stopped,
    /// Retrying after a failure.
    Retrying,
}

/// One projection's status.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionStatus {
    /// The projection.
    pub name: String,
    /// What it is doing.
    pub state: ProjectionState,
    /// Every event up to here is applied.
    pub checkpoint: Option<Position>,
    /// The newest position of the log the runner knows of.
    pub head: Option<Position>,
    /// How long ago the newest applied event was recorded, when the projection is behind the
    /// head; zero when caught up.
    pub lag: Duration,
    /// Events applied per second, over the last batches.
    pub events_per_sec: f64,
    /// Events applied since start.
    pub applied: u64,
    /// Events parked in the dead-letter table since start.
    pub parked: u64,
    /// The newest error, with when it happened.
    pub last_error: Option<(DateTime<Utc>, String)>,
    /// Events of its categories between its checkpoint and the head, counted up to
    /// [`LAG_COUNT_LIMIT`] (at the limit: at least that many).
    pub lag_events: u64,
    /// A rebuild in progress (an operator's, beside the live tables, or a version change's).
    pub rebuild: Option<super::RebuildProgress>,
}

/// The most events the runner counts for [`ProjectionStatus::lag_events`] (one read a second).
pub const LAG_COUNT_LIMIT: usize = 10_000;

impl ProjectionStatus {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            state: ProjectionState::Standby,
            checkpoint: None,
            head: None,
            lag: Duration::ZERO,
            events_per_sec: 0.0,
            applied: 0,
            parked: 0,
            last_error: None,
            lag_events: 0,
            rebuild: None,
        }
    }
}

/// Every projection's status, shared by runners and readers.
#[derive(Debug)]
pub struct StatusBoard {
    statuses: Mutex<BTreeMap<String, ProjectionStatus>>,
    positions: Mutex<BTreeMap<String, watch::Sender<Option<Position>>>>,
}

impl Default for StatusBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusBoard {
    /// An empty board.
    pub fn new() -> Self {
        Self {
            statuses: Mutex::new(BTreeMap::new()),
            positions: Mutex::new(BTreeMap::new()),
        }
    }

    /// A copy of every status.
    pub fn all(&self) -> Vec<ProjectionStatus> {
        self.statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// One projection's status.
    pub fn get(&self, name: &str) -> Option<ProjectionStatus> {
        self.statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Changes one projection's status.
    pub(crate) fn update(&self, name: &str, f: impl FnOnce(&mut ProjectionStatus)) {
        let mut statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        let status = statuses
            .entry(name.to_owned())
            .or_insert_with(|| ProjectionStatus::new(name));
        f(status);
        if let Some(checkpoint) = status.checkpoint {
            let sender = self.sender(name);
            sender.send_if_modified(|p| {
                if *p < Some(checkpoint) {
                    *p = Some(checkpoint);
                    true
                } else {
                    false
                }
            });
        }
    }

    fn sender(&self, name: &str) -> watch::Sender<Option<Position>> {
        self.positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_owned())
            .or_insert_with(|| watch::channel(None).0)
            .clone()
    }

    /// Waits until projection `name` has applied everything up to `position`, for at most
    /// `timeout`. True when it has (read-your-writes); false on timeout.
    pub async fn wait_for(&self, name: &str, position: Position, timeout: Duration) -> bool {
        let mut receiver = self.sender(name).subscribe();
        let reached = receiver.wait_for(|p| p.is_some_and(|p| p >= position));
        matches!(tokio::time::timeout(timeout, reached).await, Ok(Ok(_)))
    }

    /// Waits until projection `name`'s checkpoint is past `seen` (any checkpoint when `None`),
    /// for at most `timeout`. True when it moved; false on timeout. For workers that follow a
    /// projection's tables (the search feed) and want to wake when a batch commits.
    pub async fn wait_past(&self, name: &str, seen: Option<Position>, timeout: Duration) -> bool {
        let mut receiver = self.sender(name).subscribe();
        let moved = receiver.wait_for(|p| *p > seen);
        matches!(tokio::time::timeout(timeout, moved).await, Ok(Ok(_)))
    }
}
