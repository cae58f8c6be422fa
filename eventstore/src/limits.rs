//! Size limits every adapter enforces before writing anything.

/// Limits on what one append may carry. Checked before anything is written, identically by every
/// adapter, so a refused append writes nothing anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest event accepted: data plus serialised metadata, in bytes. Default 1 MiB.
    pub max_event_bytes: usize,
    /// The most events one append may carry. Default 4,096.
    pub max_batch_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_event_bytes: 1024 * 1024,
            max_batch_events: 4096,
        }
    }
}
