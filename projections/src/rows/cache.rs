//! Committed rows kept in memory between batches. The runner is the only writer of its tables
//! (it holds their lock), so what it committed is what the database holds: a cached row, or a
//! cached absence, can be trusted until it is evicted.
//!
//! Eviction is by generation: when the cache is full, everything goes at once. Keeping an
//! insertion order to evict the oldest row would cost a key copy per row on the hot path of every
//! batch, and a full cache is refilled from the database by the rows the next batches touch.

use foldhash::HashMap;

use super::{Row, Value};

/// A bounded map of (table, key) → committed row (or known absence), emptied when full.
#[derive(Debug)]
pub struct RowCache {
    /// Per table: key → row. Nested so lookups borrow the key instead of building one.
    tables: HashMap<&'static str, HashMap<Vec<Value>, Option<Row>>>,
    len: usize,
    capacity: usize,
    /// Tables created empty by this runner and never evicted from: a miss means "no such row".
    complete: Vec<&'static str>,
    /// Something was evicted since the last [`Self::clear`].
    evicted: bool,
}

impl RowCache {
    /// A cache of at most `capacity` rows.
    pub fn new(capacity: usize) -> Self {
        Self {
            tables: HashMap::default(),
            len: 0,
            capacity: capacity.max(1),
            complete: Vec::new(),
            evicted: false,
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
        match self.tables.get(table).and_then(|t| t.get(key)) {
            Some(row) => Some(row.as_ref()),
            None if self.complete.contains(&table) => Some(None),
            None => None,
        }
    }

    /// Records a committed row (or its absence).
    pub fn put(&mut self, table: &'static str, key: Vec<Value>, row: Option<Row>) {
        if let Some(slot) = self
            .tables
            .get_mut(table)
            .and_then(|rows| rows.get_mut(key.as_slice()))
        {
            *slot = row;
            return;
        }
        if self.len >= self.capacity {
            self.tables.clear();
            self.len = 0;
            self.evicted = true;
            // Something left memory: the database is the only full record now.
            self.complete.clear();
        }
        self.tables.entry(table).or_default().insert(key, row);
        self.len += 1;
    }

    /// Forgets everything (after a failed commit whose outcome is unknown, or a table swap).
    pub fn clear(&mut self) {
        self.tables.clear();
        self.len = 0;
        self.complete.clear();
        self.evicted = false;
    }

    /// Whether rows were evicted: a miss may then have to read a row the database does not hold
    /// until an in-flight commit lands.
    pub fn has_evicted(&self) -> bool {
        self.evicted
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
