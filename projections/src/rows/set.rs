//! The working set of one batch: reads go to the batch's own changes, then the cache of committed
//! rows, then the database; writes stay in the batch until the runner commits them, together
//! with the checkpoint, in one transaction. The working set also holds the decoded forms of the
//! event being applied, so the several projections that read one event parse it once.

use std::any::{Any, TypeId};
use std::sync::Arc;

use foldhash::HashMap;
use shop_eventstore::RecordedEvent;

use super::{MemoryRows, Row, RowCache, TableDef, TableRow, Value, ValueError};
use crate::runner::ApplyError;
use crate::store::{ReadStore, StoreError};

/// Why a row could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    /// The database failed (transient: the batch is retried).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored row does not fit its struct (the table needs a rebuild).
    #[error("table {table}: {source}")]
    Shape {
        /// The table.
        table: &'static str,
        /// What did not fit.
        source: ValueError,
    },
    /// A projection tried to read an append-only table.
    #[error("table {0} is append-only: its rows cannot be read back while applying events")]
    AppendOnly(&'static str),
}

/// One table's changes in a batch: the final image of every touched key (`None`: deleted).
#[derive(Debug, Default)]
pub struct TableChanges {
    /// Key → final row, in first-touched order.
    pub rows: HashMap<Vec<Value>, Option<Row>>,
}

/// What a key held in the batch before a change: `None` when the batch had not touched it.
type Undo = (&'static TableDef, Vec<Value>, Option<Option<Row>>);

/// Every table's changes in a batch.
#[derive(Debug, Default)]
pub struct Changes {
    /// Per table (logical name).
    pub tables: HashMap<&'static str, (&'static TableDef, TableChanges)>,
    /// Rows of append-only tables, in order (moved into the batch, never cached).
    pub appends: Vec<(&'static TableDef, Row)>,
    /// Undo log of the event being applied, so an event that fails half-way leaves no trace.
    journal: Vec<Undo>,
    /// How many appends there were when the event began.
    appends_mark: usize,
}

impl Changes {
    /// Starts recording what the next event changes.
    pub fn begin_event(&mut self) {
        self.journal.clear();
        self.appends_mark = self.appends.len();
    }

    /// Undoes everything changed since [`Self::begin_event`].
    pub fn rollback_event(&mut self) {
        self.appends.truncate(self.appends_mark);
        while let Some((def, key, before)) = self.journal.pop() {
            let Some((_, table)) = self.tables.get_mut(def.name) else {
                continue;
            };
            match before {
                Some(row) => {
                    table.rows.insert(key, row);
                }
                None => {
                    table.rows.remove(&key);
                }
            }
        }
    }

    /// Rows changed in all.
    pub fn len(&self) -> usize {
        self.tables
            .values()
            .map(|(_, c)| c.rows.len())
            .sum::<usize>()
            + self.appends.len()
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a logical table is physically stored (the live table, or a shadow during a rebuild).
pub type Physical = std::collections::HashMap<&'static str, String>;

/// The decoded forms of one event (one per target type), shared by the projections that read it.
#[derive(Default)]
pub struct Decoded {
    event: Option<uuid::Uuid>,
    values: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
}

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoded")
            .field("event", &self.event)
            .field("forms", &self.values.len())
            .finish()
    }
}

impl Decoded {
    fn get<E>(&mut self, event: &RecordedEvent) -> Result<Arc<E>, ApplyError>
    where
        E: serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        if self.event != Some(event.event_id) {
            self.event = Some(event.event_id);
            self.values.clear();
        }
        let ty = TypeId::of::<E>();
        if let Some((_, value)) = self.values.iter().find(|(t, _)| *t == ty)
            && let Ok(value) = value.clone().downcast::<E>()
        {
            return Ok(value);
        }
        let value = Arc::new(crate::runner::decode::<E>(event)?);
        self.values.push((ty, value.clone()));
        Ok(value)
    }
}

/// What a projection reads and writes while it applies events.
pub struct Rows<'a> {
    backend: Backend<'a>,
    decoded: &'a mut Decoded,
}

/// Where the rows are.
enum Backend<'a> {
    /// Batch changes over the row cache over the database (the live runner, resumed rebuilds).
    Store {
        store: &'a dyn ReadStore,
        physical: &'a Physical,
        cache: &'a mut RowCache,
        changes: &'a mut Changes,
    },
    /// All in memory (bulk rebuilds from position 0).
    Memory(&'a mut MemoryRows),
}

impl std::fmt::Debug for Rows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Store { cache, changes, .. } => f
                .debug_struct("Rows")
                .field("changed", &changes.len())
                .field("cached", &cache.len())
                .finish(),
            Backend::Memory(memory) => f.debug_struct("Rows").field("memory", memory).finish(),
        }
    }
}

impl<'a> Rows<'a> {
    /// A working set over `store`.
    pub fn new(
        store: &'a dyn ReadStore,
        physical: &'a Physical,
        cache: &'a mut RowCache,
        changes: &'a mut Changes,
        decoded: &'a mut Decoded,
    ) -> Self {
        Self {
            backend: Backend::Store {
                store,
                physical,
                cache,
                changes,
            },
            decoded,
        }
    }

    /// A working set held entirely in `memory` (see [`MemoryRows`]).
    pub fn in_memory(memory: &'a mut MemoryRows, decoded: &'a mut Decoded) -> Self {
        Self {
            backend: Backend::Memory(memory),
            decoded,
        }
    }

    /// The event decoded as `E` (see [`decode`](crate::runner::decode)), parsed once however
    /// many projections ask for it.
    pub fn decode<E>(&mut self, event: &RecordedEvent) -> Result<Arc<E>, ApplyError>
    where
        E: serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        self.decoded.get(event)
    }

    /// The row of `R` with this key, as this batch left it.
    pub async fn get<R: TableRow>(&mut self, key: Vec<Value>) -> Result<Option<R>, RowsError> {
        let table = R::TABLE;
        if table.append_only {
            return Err(RowsError::AppendOnly(table.name));
        }
        let (store, physical, cache, changes) = match &mut self.backend {
            Backend::Memory(memory) => return Ok(memory.get::<R>(&key)),
            Backend::Store {
                store,
                physical,
                cache,
                changes,
            } => (*store, *physical, &mut **cache, &mut **changes),
        };
        let row = if let Some((_, changes)) = changes.tables.get(table.name)
            && let Some(row) = changes.rows.get(&key)
        {
            row.clone()
        } else if let Some(row) = cache.get(table.name, &key) {
            row.cloned()
        } else {
            let physical = physical
                .get(table.name)
                .map(String::as_str)
                .unwrap_or(table.name);
            let row = store.load(table, physical, &key).await?;
            cache.put(table.name, key, row.clone());
            row
        };
        row.map(R::from_row)
            .transpose()
            .map_err(|source| RowsError::Shape {
                table: table.name,
                source,
            })
    }

    /// Writes (inserts or replaces) a row.
    pub fn put<R: TableRow>(&mut self, row: R) {
        match &mut self.backend {
            Backend::Memory(memory) => memory.put(row),
            Backend::Store { changes, .. } => {
                let row = row.into_row();
                let key = row[..R::TABLE.key_len].to_vec();
                change(changes, R::TABLE, key, Some(row));
            }
        }
    }

    /// Adds a row to an append-only table (one declared `append_only;`): the row is neither
    /// looked up nor cached, only written (a row with the same key is replaced in the database,
    /// so a batch replayed after a crash writes the same rows again). Each event must append
    /// rows with keys of their own.
    pub fn append<R: TableRow>(&mut self, row: R) {
        debug_assert!(R::TABLE.append_only, "{} is not append-only", R::TABLE.name);
        match &mut self.backend {
            Backend::Memory(memory) => memory.append(R::TABLE, row.into_row()),
            Backend::Store { changes, .. } => changes.appends.push((R::TABLE, row.into_row())),
        }
    }

    /// Deletes the row of `R` with this key (nothing if there is none).
    pub fn delete<R: TableRow>(&mut self, key: Vec<Value>) {
        match &mut self.backend {
            Backend::Memory(memory) => memory.delete::<R>(&key),
            Backend::Store { changes, .. } => change(changes, R::TABLE, key, None),
        }
    }
}

fn change(changes: &mut Changes, table: &'static TableDef, key: Vec<Value>, row: Option<Row>) {
    let rows = &mut changes
        .tables
        .entry(table.name)
        .or_insert_with(|| (table, TableChanges::default()))
        .1
        .rows;
    let before = rows.insert(key.clone(), row);
    changes.journal.push((table, key, before));
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_eventstore::{Actor, Json, Metadata, Position, StreamName};

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(tag = "type", content = "data")]
    enum Thing {
        #[serde(rename = "thing.Made.v1")]
        Made { n: u32 },
    }

    fn event(n: u32) -> RecordedEvent {
        RecordedEvent {
            stream: StreamName::new("thing-1").unwrap(),
            revision: 0,
            position: Position::new(u64::from(n), u64::from(n)),
            recorded_at: chrono::DateTime::UNIX_EPOCH,
            event_id: uuid::Uuid::new_v4(),
            event_type: "thing.Made.v1".into(),
            data: Json::encode(&serde_json::json!({ "n": n })).unwrap(),
            metadata: Metadata::new(
                uuid::Uuid::new_v4(),
                uuid::Uuid::new_v4(),
                Actor::system("test"),
                chrono::DateTime::UNIX_EPOCH,
            ),
        }
    }

    #[test]
    fn an_event_is_decoded_once_per_type_and_forgotten_at_the_next() {
        let mut decoded = Decoded::default();
        let first = event(1);
        let a = decoded.get::<Thing>(&first).unwrap();
        let b = decoded.get::<Thing>(&first).unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second projection reuses the first decode"
        );
        assert_eq!(*a, Thing::Made { n: 1 });
        // Another type of the same event is decoded separately (here: a generic value).
        let value = decoded.get::<serde_json::Value>(&first).unwrap();
        assert_eq!(value["data"]["n"], 1);

        let second = event(2);
        let c = decoded.get::<Thing>(&second).unwrap();
        assert_eq!(*c, Thing::Made { n: 2 });
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn a_rolled_back_event_leaves_no_rows_and_no_appends() {
        static DEF: TableDef = TableDef {
            name: "t",
            columns: &[],
            key_len: 1,
            indexes: &[],
            append_only: false,
        };
        let mut changes = Changes::default();
        changes.begin_event();
        changes.appends.push((&DEF, vec![Value::Int(1)]));
        changes
            .tables
            .entry("t")
            .or_insert_with(|| (&DEF, TableChanges::default()))
            .1
            .rows
            .insert(vec![Value::Int(1)], Some(vec![Value::Int(1)]));
        changes.journal.push((&DEF, vec![Value::Int(1)], None));
        assert_eq!(changes.len(), 2);

        changes.begin_event();
        changes.appends.push((&DEF, vec![Value::Int(2)]));
        changes.rollback_event();
        assert_eq!(
            changes.appends.len(),
            1,
            "only the failed event's append goes"
        );
        assert_eq!(changes.len(), 2, "the earlier event's row stays");
    }
}
