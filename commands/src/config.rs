//! Handler tuning, with defaults for a production shop.

use std::time::Duration;

/// How a [`crate::CommandHandler`] batches, retries, caches and snapshots.
#[derive(Clone, Debug)]
pub struct HandlerConfig {
    /// Attempts per command before answering [`crate::CommandError::Conflict`] (each attempt
    /// reloads the stream and decides again).
    pub max_attempts: u32,
    /// First pause after a conflict; doubled each attempt, jittered (full jitter), capped by
    /// `backoff_max`.
    pub backoff_base: Duration,
    /// Longest pause between attempts.
    pub backoff_max: Duration,
    /// Most commands decided into one append.
    pub max_batch_commands: usize,
    /// Most events in one append (at most the store's batch limit).
    pub max_batch_events: usize,
    /// Commands that may wait for one stream; beyond it a command is refused as
    /// [`crate::CommandError::Overloaded`] (load shedding, so a flash sale degrades instead of
    /// queueing without bound).
    pub queue_capacity: usize,
    /// A stream's worker stops after this long without commands; its state moves to the cache.
    pub idle_timeout: Duration,
    /// Streams whose folded state is kept after their worker stopped.
    pub cache_capacity: usize,
    /// Command ids remembered per stream to answer retries.
    pub recent_window: usize,
    /// Take a snapshot once this many events were folded since the last one (0: never). The
    /// interval grows with the stream (at least a quarter of its length), so snapshotting a long
    /// stream costs amortised constant time per event.
    pub snapshot_every: u64,
    /// Largest snapshot written; larger states are folded from the log instead.
    pub snapshot_max_bytes: usize,
    /// Before answering a rejection or a no-op from memory, read the stream's tail to make sure no
    /// other process changed it (accepted commands are checked by the append's expected revision
    /// anyway). Turn off only when this handler is the stream's only writer.
    pub verify_rejections: bool,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        Self {
            max_attempts: 12,
            backoff_base: Duration::from_millis(2),
            backoff_max: Duration::from_millis(200),
            max_batch_commands: 512,
            max_batch_events: 2048,
            queue_capacity: 20_000,
            idle_timeout: Duration::from_secs(30),
            cache_capacity: 10_000,
            recent_window: 10_000,
            snapshot_every: 500,
            snapshot_max_bytes: 1024 * 1024 - 4096,
            verify_rejections: true,
        }
    }
}
