//! The window of recently decided command ids per stream, so a retried command answers its
//! original outcome instead of being decided again.
//!
//! Accepted commands are found again in the stream itself (every event's `$causationId` is the id
//! of the command that wrote it), so they survive restarts and are seen by every process. Rejections
//! and no-ops wrote nothing; they are remembered only by the process that decided them, for as long
//! as they stay in this window (the API's stored `Idempotency-Key` responses make client retries
//! durable across processes).

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use shop_eventstore::Position;
use uuid::Uuid;

use crate::outcome::Decided;

/// An answer to replay for a command id.
#[derive(Clone, Debug)]
pub(crate) enum Answer<R> {
    Accepted(Decided),
    Rejected(R),
}

/// A bounded map of command id → answer, oldest evicted first.
#[derive(Debug)]
pub(crate) struct Recent<R> {
    map: HashMap<Uuid, Answer<R>>,
    order: VecDeque<Uuid>,
    capacity: usize,
    /// Commands read from the log whose batch's last event is not folded yet: (command, batch end).
    open_batch: Vec<(Uuid, u64)>,
}

/// The serialisable part of the window (accepted commands), kept in snapshots.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct RecentSnapshot {
    pub entries: Vec<(Uuid, Option<u64>, Option<Position>, usize)>,
}

impl<R: Clone> Recent<R> {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            open_batch: Vec::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn get(&self, id: &Uuid) -> Option<&Answer<R>> {
        self.map.get(id)
    }

    pub fn insert(&mut self, id: Uuid, answer: Answer<R>) {
        if self.map.insert(id, answer).is_none() {
            self.order.push_back(id);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }

    /// Records an event read from the log: written by command `causation` as part of an append
    /// whose last event has revision `batch_end` (the event's own revision if unknown). Once the
    /// batch's last event is seen, its position completes the outcome of every command in it.
    pub fn observe(&mut self, causation: Uuid, revision: u64, batch_end: u64, position: Position) {
        let written = match self.map.get(&causation) {
            Some(Answer::Accepted(d)) if d.revision.is_some_and(|r| r < revision) => {
                d.events_written + 1
            }
            _ => 1,
        };
        self.insert(
            causation,
            Answer::Accepted(Decided {
                revision: Some(revision),
                position: None,
                events_written: written,
            }),
        );
        if revision >= batch_end {
            self.open_batch.retain(|(id, end)| {
                if *end <= revision {
                    if let Some(Answer::Accepted(d)) = self.map.get_mut(id) {
                        d.position = Some(position);
                    }
                    false
                } else {
                    true
                }
            });
            if let Some(Answer::Accepted(d)) = self.map.get_mut(&causation) {
                d.position = Some(position);
            }
        } else if !self.open_batch.iter().any(|(id, _)| *id == causation) {
            self.open_batch.push((causation, batch_end));
        }
    }

    pub fn snapshot(&self, max: usize) -> RecentSnapshot {
        let entries = self
            .order
            .iter()
            .rev()
            .filter_map(|id| match self.map.get(id) {
                Some(Answer::Accepted(d)) if d.position.is_some() => {
                    Some((*id, d.revision, d.position, d.events_written))
                }
                _ => None,
            })
            .take(max)
            .collect::<Vec<_>>();
        RecentSnapshot {
            entries: entries.into_iter().rev().collect(),
        }
    }

    pub fn restore(capacity: usize, snapshot: RecentSnapshot) -> Self {
        let mut recent = Self::new(capacity);
        for (id, revision, position, events_written) in snapshot.entries {
            recent.insert(
                id,
                Answer::Accepted(Decided {
                    revision,
                    position,
                    events_written,
                }),
            );
        }
        recent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_outcomes_take_the_position_of_the_batch_end() {
        let mut r = Recent::<()>::new(10);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        r.observe(a, 0, 2, Position::new(10, 0));
        r.observe(b, 1, 2, Position::new(10, 1));
        r.observe(b, 2, 2, Position::new(10, 2));
        let Some(Answer::Accepted(da)) = r.get(&a) else {
            panic!()
        };
        assert_eq!(
            (da.revision, da.position),
            (Some(0), Some(Position::new(10, 2)))
        );
        let Some(Answer::Accepted(db)) = r.get(&b) else {
            panic!()
        };
        assert_eq!((db.revision, db.events_written), (Some(2), 2));
    }

    #[test]
    fn the_window_is_bounded() {
        let mut r = Recent::<()>::new(2);
        for i in 0..5u128 {
            r.insert(Uuid::from_u128(i), Answer::Rejected(()));
        }
        assert!(r.get(&Uuid::from_u128(0)).is_none());
        assert!(r.get(&Uuid::from_u128(4)).is_some());
    }
}
