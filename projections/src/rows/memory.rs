//! The working set of a bulk rebuild: every row a group of projections writes, kept as its own
//! struct in a map per table for the whole pass over the log, and written out once at the end.
//!
//! The row path (batch changes over a row cache over the database) pays for what a live runner
//! needs: reading rows back from the database, an undo journal per event, committing every batch.
//! A rebuild from position 0 needs none of it: the shadow tables start empty, so a key that is not
//! in memory is not in the table, and nothing is committed until the end. Here a read is one hash
//! lookup and a clone of the struct, a write one insert, and a row becomes SQL values only once,
//! when it is written. Append-only rows are final when made: they are handed out in chunks
//! ([`MemoryRows::take_appends`]) to be written while the pass goes on.
//!
//! There is no undo: an event that fails half-way leaves its partial writes here, so a bulk
//! rebuild that meets a poison event gives up and the rebuild starts again on the row path.

use std::any::Any;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use foldhash::HashMap;
use hashbrown::Equivalent;

use super::{Row, TableDef, TableRow, Value};

/// A row's key values with their hash, computed once. The maps rehash every entry each time they
/// grow, and hashing the values again every time was a tenth of a lane's time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    hash: u64,
    values: Row,
}

/// A key to look up, borrowed (no copy of its text).
struct Lookup<'a> {
    hash: u64,
    values: &'a [Value],
}

impl<'a> Lookup<'a> {
    fn new(values: &'a [Value]) -> Self {
        Self {
            hash: hash_of(values),
            values,
        }
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl Equivalent<Key> for Lookup<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.hash == key.hash && self.values == key.values.as_slice()
    }
}

fn hash_of(values: &[Value]) -> u64 {
    foldhash::fast::FixedState::with_seed(0x5eed).hash_one(values)
}

/// Hands the precomputed hash of a [`Key`] to the map.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only keys, which write one u64, are hashed here; this keeps any other input correct.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type KeyMap<R> = hashbrown::HashMap<Key, R, BuildHasherDefault<PassThrough>>;

/// One table's rows, typed.
trait MemTable: Send + std::fmt::Debug {
    fn len(&self) -> usize;
    /// The rows as SQL values, sorted by key (so a B-tree is filled in order).
    fn into_rows(self: Box<Self>) -> Vec<Row>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

struct Typed<R> {
    rows: KeyMap<R>,
}

impl<R> std::fmt::Debug for Typed<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rows", self.rows.len())
    }
}

impl<R: TableRow> MemTable for Typed<R> {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn into_rows(self: Box<Self>) -> Vec<Row> {
        // Sorted as rows (three words each) by their leading key columns, rather than as
        // (key, struct) pairs: a sort moves its elements many times, and the structs are
        // hundreds of bytes.
        let key_len = R::TABLE.key_len;
        let mut rows: Vec<Row> = self.rows.into_values().map(R::into_row).collect();
        rows.sort_unstable_by(|a, b| a[..key_len].cmp(&b[..key_len]));
        rows
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// One table of a [`MemoryRows`] at the end of the pass.
#[derive(Debug)]
pub struct MemoryTable {
    def: &'static TableDef,
    rows: Box<dyn MemTable>,
}

impl MemoryTable {
    /// The table and its rows as SQL values, sorted by key.
    pub fn sorted(self) -> (&'static TableDef, Vec<Row>) {
        (self.def, self.rows.into_rows())
    }
}

/// Every row of a group of projections during a bulk rebuild (see the module doc).
#[derive(Default)]
pub struct MemoryRows {
    tables: HashMap<&'static str, (&'static TableDef, Box<dyn MemTable>)>,
    appends: Vec<(&'static TableDef, Row)>,
    rows: usize,
}

impl std::fmt::Debug for MemoryRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRows")
            .field("tables", &self.tables.len())
            .field("rows", &self.rows)
            .field("appends", &self.appends.len())
            .finish()
    }
}

impl MemoryRows {
    /// Rows held (appended rows not counted: they are handed out).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appended rows waiting to be handed out.
    pub fn appends(&self) -> usize {
        self.appends.len()
    }

    /// The appended rows so far, in order (each is final: write it once).
    pub fn take_appends(&mut self) -> Vec<(&'static TableDef, Row)> {
        std::mem::take(&mut self.appends)
    }

    /// Every table, smallest first, for the final write ([`MemoryTable::sorted`] turns each
    /// into rows, when its turn comes).
    pub fn into_tables(self) -> Vec<MemoryTable> {
        let mut tables: Vec<MemoryTable> = self
            .tables
            .into_values()
            .map(|(def, rows)| MemoryTable { def, rows })
            .collect();
        tables.sort_by_key(|t| t.rows.len());
        tables
    }

    pub(crate) fn get<R: TableRow>(&self, key: &[Value]) -> Option<R> {
        let (_, table) = self.tables.get(R::TABLE.name)?;
        table
            .as_any()
            .downcast_ref::<Typed<R>>()
            .expect("one row type per table")
            .rows
            .get(&Lookup::new(key))
            .cloned()
    }

    pub(crate) fn put<R: TableRow>(&mut self, row: R) {
        let values = row.key();
        let key = Key {
            hash: hash_of(&values),
            values,
        };
        if self.typed::<R>().rows.insert(key, row).is_none() {
            self.rows += 1;
        }
    }

    pub(crate) fn delete<R: TableRow>(&mut self, key: &[Value]) {
        if self.typed::<R>().rows.remove(&Lookup::new(key)).is_some() {
            self.rows -= 1;
        }
    }

    pub(crate) fn append(&mut self, def: &'static TableDef, row: Row) {
        self.appends.push((def, row));
    }

    fn typed<R: TableRow>(&mut self) -> &mut Typed<R> {
        let (_, table) = self.tables.entry(R::TABLE.name).or_insert_with(|| {
            let table: Box<dyn MemTable> = Box::new(Typed::<R> {
                rows: KeyMap::default(),
            });
            (R::TABLE, table)
        });
        table
            .as_any_mut()
            .downcast_mut::<Typed<R>>()
            .expect("one row type per table")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::text;
    use crate::table;

    table! {
        /// A test row.
        pub struct Thing in "things" {
            key { id: String }
            fields { n: i64 }
            indexes []
        }
    }

    #[test]
    fn rows_are_kept_typed_and_come_out_sorted_by_key() {
        let mut memory = MemoryRows::default();
        for (id, n) in [("b", 2), ("a", 1), ("c", 3)] {
            memory.put(Thing { id: id.into(), n });
        }
        memory.put(Thing {
            id: "a".into(),
            n: 10,
        });
        memory.delete::<Thing>(&[text("c")]);
        memory.delete::<Thing>(&[text("nothing")]);
        assert_eq!(memory.rows(), 2);
        assert_eq!(
            memory.get::<Thing>(&[text("a")]),
            Some(Thing {
                id: "a".into(),
                n: 10
            })
        );
        assert_eq!(memory.get::<Thing>(&[text("c")]), None);
        let tables: Vec<_> = memory
            .into_tables()
            .into_iter()
            .map(MemoryTable::sorted)
            .collect();
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].0.name, "things");
        assert_eq!(
            tables[0].1,
            vec![
                vec![text("a"), Value::Int(10)],
                vec![text("b"), Value::Int(2)]
            ]
        );
    }
}
