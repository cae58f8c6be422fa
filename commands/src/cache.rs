//! Folded states of streams whose worker stopped, bounded, least recently stored evicted first.

use std::collections::{HashMap, VecDeque};

use shop_domain::Aggregate;
use shop_eventstore::StreamName;

use crate::stream::StreamState;

#[derive(Debug)]
pub(crate) struct StateCache<A: Aggregate> {
    entries: HashMap<StreamName, (u64, StreamState<A>)>,
    order: VecDeque<(u64, StreamName)>,
    next_stamp: u64,
    capacity: usize,
}

impl<A: Aggregate> StateCache<A> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            next_stamp: 0,
            capacity,
        }
    }

    pub fn take(&mut self, stream: &StreamName) -> Option<StreamState<A>> {
        self.entries.remove(stream).map(|(_, s)| s)
    }

    pub fn put(&mut self, stream: StreamName, state: StreamState<A>) {
        if self.capacity == 0 {
            return;
        }
        self.next_stamp += 1;
        self.order.push_back((self.next_stamp, stream.clone()));
        self.entries.insert(stream, (self.next_stamp, state));
        while self.entries.len() > self.capacity {
            let Some((stamp, name)) = self.order.pop_front() else {
                break;
            };
            // Entries re-stored since carry a newer stamp: skip stale order records.
            if self.entries.get(&name).is_some_and(|(s, _)| *s == stamp) {
                self.entries.remove(&name);
            }
        }
        if self.order.len() > 4 * self.capacity.max(16) {
            let entries = &self.entries;
            self.order
                .retain(|(stamp, name)| entries.get(name).is_some_and(|(s, _)| s == stamp));
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}
