//! Committed rows kept in memory between batches. The runner is the only writer of its tables
//! (it holds their lock), so what it committed is what the database holds: a cached row, or a
//! cached absence, can be trusted until it is evicted.

use std::collections::{HashMap, VecDeque};

use super::{Row, Value};

type Key = (&'static str, Vec<Value>);

/// A bounded map of (table, key) → committed row (or known absence), oldest inserted evicted first.
#[derive(Debug)]
pub struct RowCache {
    rows: HashMap<Key, Option<Row>>,
    order: VecDeque<Key>,
    capacity: usize,
    /// Tables created empty by this runner and never evicted from: a miss means "no such row".
    complete: Vec<&'static str>,
}

impl RowCache {
    /// A cache of at most `capacity` rows.
    pub fn new(capacity: usize) -> Self {
        Self {
            rows: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            complete: Vec::new(),
        }
    }

    /// Declares that `table` was created empty by this runner: until something is evicted, a key
    /// not in the cache is not in the table either (rebuilds then never read the database).
    pub fn mark_complete(&mut self, table: &'static str) {
        if !self.complete.contains(&table) {
            self.complete.push(table);
        }
    }

    /// `Some(row or absence)` when known without asking the database.
    pub fn get(&self, table: &'static str, key: &[Value]) -> Option<Option<&Row>> {
        match self.rows.get(&(table, key.to_vec())) {
            Some(row) => Some(row.as_ref()),
            None if self.complete.contains(&table) => Some(None),
            None => None,
        }
    }

    /// Records a committed row (or its absence).
    pub fn put(&mut self, table: &'static str, key: Vec<Value>, row: Option<Row>) {
        let k = (table, key);
        if self.rows.insert(k.clone(), row).is_none() {
            self.order.push_back(k);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.rows.remove(&old);
                    // Something left memory: the database is the only full record now.
                    self.complete.clear();
                }
            }
        }
    }

    /// Forgets everything (after a failed commit whose outcome is unknown, or a table swap).
    pub fn clear(&mut self) {
        self.rows.clear();
        self.order.clear();
        self.complete.clear();
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}
