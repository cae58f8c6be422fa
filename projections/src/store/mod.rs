//! The read-model database port: where projections keep their tables, checkpoints and dead
//! letters. Two adapters with the same behaviour, proved by one conformance suite: embedded SQLite
//! (`sqlite`, rusqlite on a thread of its own) and Postgres (`postgres`, sqlx, batched writes with
//! `UNNEST`).
//!
//! A batch's row changes, its projections' checkpoints and any parked events commit in one
//! transaction, so every event's effect is applied exactly once, also across crashes.

#[cfg(feature = "conformance")]
pub mod conformance;
mod ddl;
pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use shop_eventstore::Position;

use crate::rows::{Changes, Column, ColumnType, Row, TableDef, Value};

/// A read-model database failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database failed; the operation may be retried.
    #[error("read-model database: {0}")]
    Backend(String),
    /// A value the database cannot hold (e.g. a position over `i64::MAX`).
    #[error("read-model database: {0}")]
    Invalid(String),
}

impl StoreError {
    pub(crate) fn backend(e: impl std::fmt::Display) -> Self {
        Self::Backend(e.to_string())
    }
}

/// A projection's progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Every event up to here has been applied.
    pub position: Position,
    /// The projection's version when it was written (another version needs a rebuild).
    pub version: u32,
}

/// An event a projection could not apply and set aside (policy `Park`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The projection.
    pub projection: String,
    /// The event's position.
    pub position: Position,
    /// Its id.
    pub event_id: uuid::Uuid,
    /// Its stream.
    pub stream: String,
    /// Its type.
    pub event_type: String,
    /// Why it could not be applied.
    pub error: String,
}

/// One table's share of a batch, under its physical name.
#[derive(Debug)]
pub struct TableWrite {
    /// The table's definition.
    pub def: &'static TableDef,
    /// Where it is stored.
    pub physical: String,
    /// Rows to insert or replace.
    pub upserts: Vec<Row>,
    /// Rows known not to be in the table yet (a rebuild's new rows): written like upserts, or
    /// with a bulk load (`COPY` on Postgres) where that is faster. A key that does exist fails
    /// the commit.
    pub inserts: Vec<Row>,
    /// Keys to delete.
    pub deletes: Vec<Vec<Value>>,
}

/// Everything one batch commits (owned, so a commit can run while the next batch is applied).
#[derive(Debug, Default)]
pub struct Batch {
    /// Row changes.
    pub tables: Vec<TableWrite>,
    /// New checkpoints (projection name, checkpoint).
    pub checkpoints: Vec<(String, Checkpoint)>,
    /// Events set aside.
    pub dead_letters: Vec<DeadLetter>,
    /// The commit may be acknowledged before it is durable (Postgres `synchronous_commit = off`):
    /// a crash of the database can then lose the newest such batches, whole (rows and checkpoint
    /// together), never half of one. For rebuilds, which resume from the checkpoint they find.
    pub relaxed_durability: bool,
}

impl Batch {
    /// The writes of `changes` under the physical names `physical` gives: upserts and deletes
    /// are copied (the runner's cache keeps the rows), appended rows are moved out.
    pub fn from_changes(changes: &mut Changes, physical: &crate::rows::Physical) -> Self {
        Self::from_changes_with(changes, physical, |_, _| false, false)
    }

    /// Like [`Self::from_changes`], with the rows `is_new` says are not in the database (and, when
    /// `appends_are_new`, every appended row) as [`TableWrite::inserts`].
    pub fn from_changes_with(
        changes: &mut Changes,
        physical: &crate::rows::Physical,
        is_new: impl Fn(&'static str, &[Value]) -> bool,
        appends_are_new: bool,
    ) -> Self {
        let physical_name = |def: &TableDef| {
            physical
                .get(def.name)
                .cloned()
                .unwrap_or_else(|| def.name.to_owned())
        };
        let mut tables: Vec<TableWrite> = changes
            .tables
            .values()
            .map(|(def, table)| {
                let mut upserts = Vec::with_capacity(table.rows.len());
                let mut inserts = Vec::new();
                let mut deletes = Vec::new();
                for (key, row) in &table.rows {
                    match row {
                        Some(row) if is_new(def.name, key) => inserts.push(row.clone()),
                        Some(row) => upserts.push(row.clone()),
                        None => deletes.push(key.clone()),
                    }
                }
                TableWrite {
                    def,
                    physical: physical_name(def),
                    upserts,
                    inserts,
                    deletes,
                }
            })
            .collect();
        for (def, row) in std::mem::take(&mut changes.appends) {
            let table = match tables.iter().position(|t| std::ptr::eq(t.def, def)) {
                Some(i) => &mut tables[i],
                None => {
                    tables.push(TableWrite {
                        def,
                        physical: physical_name(def),
                        upserts: Vec::new(),
                        inserts: Vec::new(),
                        deletes: Vec::new(),
                    });
                    tables.last_mut().expect("just pushed")
                }
            };
            if appends_are_new {
                table.inserts.push(row);
            } else {
                table.upserts.push(row);
            }
        }
        Self {
            tables,
            checkpoints: Vec::new(),
            dead_letters: Vec::new(),
            relaxed_durability: false,
        }
    }
}

/// Held while a runner owns a projection; dropping it lets another process take over.
pub trait LockGuard: Send + Sync + std::fmt::Debug {}

/// The read-model database.
#[async_trait]
pub trait ReadStore: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;

    /// Creates these tables under these physical names, if missing; with their secondary indexes
    /// when `indexes` (a rebuild loads its shadow tables first and indexes them at the switch,
    /// which is much faster than maintaining the indexes row by row).
    async fn create_tables(
        &self,
        tables: &[(&'static TableDef, String)],
        indexes: bool,
    ) -> Result<(), StoreError>;

    /// Drops these tables, if they exist.
    async fn drop_tables(&self, physical: &[String]) -> Result<(), StoreError>;

    /// One row by primary key.
    async fn load(
        &self,
        def: &'static TableDef,
        physical: &str,
        key: &[Value],
    ) -> Result<Option<Row>, StoreError>;

    /// Every row, ordered by primary key (for comparisons and tests; not for large tables).
    async fn scan(&self, def: &'static TableDef, physical: &str) -> Result<Vec<Row>, StoreError>;

    /// How many rows a table has.
    async fn count(&self, physical: &str) -> Result<u64, StoreError>;

    /// Keyset paging: up to `limit` rows of a table, ordered by the columns `order_by` and then
    /// by the primary key (key columns already named in `order_by` are not repeated), starting
    /// strictly after the tuple `after` in that order, or at the first row when `after` is
    /// `None`. In SQL: `WHERE (c1, c2, k1) > ($1, $2, $3) ORDER BY c1, c2, k1 LIMIT $4`.
    ///
    /// `after` has one value per keyset column ([`keyset_columns`]): the order columns, then the
    /// key. To continue after a row, pass [`keyset_of`] that row (the last of the previous page).
    /// To start at a value of the order columns, pass that value with the smallest key (`""` for
    /// a text key): rows whose order columns equal it are then included. Unlike `OFFSET`, a page
    /// costs the same wherever it starts (given an index on the keyset), and a row is neither
    /// skipped nor returned twice by a walk unless its keyset values change during the walk (a
    /// row moved past the cursor is returned again in its new place; one moved behind it is not).
    ///
    /// Order columns must be `NOT NULL` when `after` is `None`: SQL compares NULL as unknown, and
    /// the two databases sort it at opposite ends. After a given (non-NULL) tuple the first order
    /// column may be nullable, and rows holding NULL in it are left out (the comparison is
    /// unknown on both databases): for lists over the rows with one value, such as one
    /// customer's orders. Later order columns must be `NOT NULL`. Text compares in the database's collation: bytewise on SQLite, and on
    /// Postgres bytewise only under a `C` collation (the official Docker image defaults to
    /// `en_US.utf8`, which orders case and punctuation otherwise). A walk is consistent under any
    /// collation, since the comparison and the order use the same one; only the order of text
    /// may differ between the adapters. Refused with [`StoreError::Invalid`]: a table or column
    /// name that is not a plain identifier or not a column of `def`, a nullable order column, an
    /// `after` of the wrong length, or holding NULL or a value of another type than its column's.
    ///
    /// For walking a table in the order of a changing column (the search feed ships documents in
    /// position order) and for cursor pagination in the API.
    async fn page(
        &self,
        def: &'static TableDef,
        physical: &str,
        order_by: &[&str],
        after: Option<&[Value]>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError>;

    /// [`Self::page`] in the other direction: up to `limit` rows ordered by the keyset columns
    /// descending, strictly before the tuple `before` (`WHERE (c1, k1) < ($1, $2) ORDER BY c1
    /// DESC, k1 DESC`), for lists shown newest first. `before` is required: to start at the
    /// newest row, pass values above every row's (an integer column's `i64::MAX` decides the
    /// comparison whatever follows it). Checked like `page`'s `after`.
    async fn page_back(
        &self,
        def: &'static TableDef,
        physical: &str,
        order_by: &[&str],
        before: &[Value],
        limit: usize,
    ) -> Result<Vec<Row>, StoreError>;

    /// A projection's checkpoint (`None`: it has applied nothing).
    async fn checkpoint(&self, projection: &str) -> Result<Option<Checkpoint>, StoreError>;

    /// Commits a batch in one transaction.
    async fn commit(&self, batch: Batch) -> Result<(), StoreError>;

    /// Builds the secondary indexes of these (shadow) tables ahead of a [`Self::swap`], where
    /// that lets readers of the live tables wait less. Default: nothing (the swap builds them).
    async fn build_indexes(
        &self,
        tables: &[(&'static TableDef, String)],
    ) -> Result<(), StoreError> {
        let _ = tables;
        Ok(())
    }

    /// In one transaction: drops each live table (named `def.name`), renames its shadow to the
    /// live name, creates its secondary indexes under the live name, and moves the checkpoint
    /// `from` to `to`, so the rebuilt tables carry on from where the rebuild stopped.
    async fn swap(
        &self,
        tables: &[(&'static TableDef, String)],
        from: &str,
        to: &str,
    ) -> Result<(), StoreError>;

    /// Removes a projection's checkpoint (before a rebuild from scratch into live tables).
    async fn reset_checkpoint(&self, projection: &str) -> Result<(), StoreError>;

    /// The events a projection set aside, oldest first.
    async fn dead_letters(&self, projection: &str) -> Result<Vec<DeadLetter>, StoreError>;

    /// Waits until this process is the only owner of `name` among all processes using this
    /// database; the guard releases it (also when the process dies).
    async fn lock(&self, name: &str) -> Result<Box<dyn LockGuard>, StoreError>;

    /// Takes the lock of `name` if it is free.
    async fn try_lock(&self, name: &str) -> Result<Option<Box<dyn LockGuard>>, StoreError>;
}

/// Positions are stored as two signed 64-bit integers.
pub(crate) fn position_parts(p: Position) -> Result<(i64, i64), StoreError> {
    let c = i64::try_from(p.commit()).map_err(|_| StoreError::Invalid(format!("position {p}")))?;
    let r = i64::try_from(p.prepare()).map_err(|_| StoreError::Invalid(format!("position {p}")))?;
    Ok((c, r))
}

/// A position from its stored parts.
pub(crate) fn position_from(commit: i64, prepare: i64) -> Position {
    Position::new(commit.max(0) as u64, prepare.max(0) as u64)
}

/// Names are interpolated into SQL: they come from code, but check them anyway.
pub(crate) fn check_identifier(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{name:?} is not a valid table or column name (a-z, 0-9, _; at most 63)"
        )))
    }
}

/// The columns a keyset page of `def` is ordered by ([`ReadStore::page`]): `order_by`, then the
/// key columns not among them. Refuses names that are not plain identifiers or not columns of
/// `def`, and repeated names. (Nullable order columns are refused by [`ReadStore::page`] when it
/// starts at the first row.)
pub fn keyset_columns(
    def: &'static TableDef,
    order_by: &[&str],
) -> Result<Vec<&'static Column>, StoreError> {
    let mut keyset: Vec<&'static Column> = Vec::with_capacity(order_by.len() + def.key_len);
    for name in order_by {
        check_identifier(name)?;
        let column = def
            .columns
            .iter()
            .find(|c| c.name == *name)
            .ok_or_else(|| {
                StoreError::Invalid(format!("table {} has no column {name:?}", def.name))
            })?;
        if keyset.iter().any(|c| c.name == column.name) {
            return Err(StoreError::Invalid(format!(
                "column {name} is named twice in a keyset order"
            )));
        }
        keyset.push(column);
    }
    for key in def.key_columns() {
        check_identifier(key.name)?;
        if !keyset.iter().any(|c| c.name == key.name) {
            keyset.push(key);
        }
    }
    Ok(keyset)
}

/// The keyset values of `row` (a row of `def`, in column order): what to pass as `after` to
/// [`ReadStore::page`] to continue after it.
pub fn keyset_of(
    def: &'static TableDef,
    order_by: &[&str],
    row: &[Value],
) -> Result<Vec<Value>, StoreError> {
    keyset_columns(def, order_by)?
        .into_iter()
        .map(|column| {
            def.columns
                .iter()
                .position(|c| c.name == column.name)
                .and_then(|i| row.get(i))
                .cloned()
                .ok_or_else(|| {
                    StoreError::Invalid(format!("a row of {} without {}", def.name, column.name))
                })
        })
        .collect()
}

/// Checks a page request ([`ReadStore::page`]) and returns its keyset columns.
pub(crate) fn check_page(
    def: &'static TableDef,
    physical: &str,
    order_by: &[&str],
    after: Option<&[Value]>,
) -> Result<Vec<&'static Column>, StoreError> {
    check_identifier(physical)?;
    for column in def.columns {
        check_identifier(column.name)?;
    }
    let keyset = keyset_columns(def, order_by)?;
    // After a given tuple, a NULL in the first column makes the row-value comparison unknown
    // (left out on both databases); a NULL in a later column does not when the earlier ones
    // already decide it, and such rows would sort at opposite ends. So: nullable only first.
    if let Some(column) = keyset.iter().skip(1).find(|c| c.nullable) {
        return Err(StoreError::Invalid(format!(
            "column {} of {} is nullable: only the first column of a keyset order may be",
            column.name, def.name
        )));
    }
    if after.is_none()
        && let Some(column) = keyset.iter().find(|c| c.nullable)
    {
        // NULL compares as unknown and sorts first on SQLite, last on Postgres. After a
        // non-NULL tuple, rows with NULL in an order column compare as unknown on both and are
        // left out alike; from the first row they would not be.
        return Err(StoreError::Invalid(format!(
            "column {} of {} is nullable: it can order a keyset page only after a given tuple",
            column.name, def.name
        )));
    }
    if let Some(after) = after {
        if after.len() != keyset.len() {
            return Err(StoreError::Invalid(format!(
                "a keyset page of {} after {} values: the keyset has {} columns",
                def.name,
                after.len(),
                keyset.len()
            )));
        }
        for (column, value) in keyset.iter().zip(after) {
            let fits = matches!(
                (column.ty, value),
                (ColumnType::Int, Value::Int(_))
                    | (ColumnType::Text, Value::Text(_))
                    | (ColumnType::Bool, Value::Bool(_))
            );
            // A NULL or a value of another type would compare as unknown (an empty page on
            // Postgres) or by SQLite's type order: refuse it rather than answer something.
            if !fits {
                return Err(StoreError::Invalid(format!(
                    "a keyset page of {} after {value} in column {} ({:?})",
                    def.name, column.name, column.ty
                )));
            }
        }
    }
    Ok(keyset)
}

/// Name of the `i`th index of a physical table.
pub(crate) fn index_name(physical: &str, i: usize) -> String {
    let mut name = format!("{physical}_ix{i}");
    name.truncate(63);
    name
}
