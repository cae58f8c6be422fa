//! The injected clock and id generator. Nothing on the command side reads the system time or draws
//! a random id directly, so tests (and replays) are deterministic.

use std::fmt::Debug;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to: for tests and simulations.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(Mutex::new(now))
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A source of new unique ids (command ids, order ids, cart ids).
pub trait IdGenerator: Send + Sync + Debug {
    /// A new id, never returned before.
    fn new_id(&self) -> Uuid;
}

/// Random (v4) ids.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn new_id(&self) -> Uuid {
        Uuid::new_v4()
    }
}

/// Ids 1, 2, 3, … under a fixed prefix: deterministic for tests.
#[derive(Debug, Default)]
pub struct SequentialIds {
    prefix: u64,
    next: AtomicU64,
}

impl SequentialIds {
    /// A sequence whose ids carry `prefix` in their high bits (so two sequences never collide).
    pub fn new(prefix: u64) -> Self {
        Self {
            prefix,
            next: AtomicU64::new(1),
        }
    }
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Uuid::from_u128((u128::from(self.prefix) << 64) | u128::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let clock = ManualClock::new(t);
        assert_eq!(clock.now(), t);
        clock.advance(Duration::minutes(15));
        assert_eq!(clock.now(), t + Duration::minutes(15));
    }

    #[test]
    fn sequential_ids_are_distinct_across_prefixes() {
        let (a, b) = (SequentialIds::new(1), SequentialIds::new(2));
        assert_ne!(a.new_id(), b.new_id());
        assert_ne!(a.new_id(), a.new_id());
    }
}
