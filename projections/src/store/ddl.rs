//! DDL and DML text for both databases, from [`TableDef`]s. The statements differ only in type
//! names and parameter style; keeping them side by side keeps the two adapters in step.

use crate::rows::{ColumnType, TableDef};

use super::index_name;

/// The two SQL dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn type_name(self, ty: ColumnType) -> &'static str {
        match (self, ty) {
            (Dialect::Sqlite, ColumnType::Int | ColumnType::Bool) => "INTEGER",
            (Dialect::Postgres, ColumnType::Int) => "BIGINT",
            (Dialect::Postgres, ColumnType::Bool) => "BOOLEAN",
            (_, ColumnType::Text) => "TEXT",
        }
    }

    /// `$n` works on both (SQLite reads it as a numbered parameter).
    fn param(self, n: usize) -> String {
        format!("${n}")
    }
}

/// `CREATE TABLE IF NOT EXISTS`, plus its indexes when `indexes`.
pub(crate) fn create_table(
    dialect: Dialect,
    def: &TableDef,
    physical: &str,
    indexes: bool,
) -> Vec<String> {
    let columns: Vec<String> = def
        .columns
        .iter()
        .map(|c| {
            format!(
                "{} {}{}",
                c.name,
                dialect.type_name(c.ty),
                if c.nullable { "" } else { " NOT NULL" }
            )
        })
        .collect();
    let keys: Vec<&str> = def.key_columns().iter().map(|c| c.name).collect();
    let mut statements = vec![format!(
        "CREATE TABLE IF NOT EXISTS {physical} ({}, PRIMARY KEY ({}))",
        columns.join(", "),
        keys.join(", ")
    )];
    if indexes {
        statements.extend(create_indexes(def, physical));
    }
    statements
}

/// `CREATE INDEX IF NOT EXISTS` for every secondary index (same text on both databases).
pub(crate) fn create_indexes(def: &TableDef, physical: &str) -> Vec<String> {
    def.indexes
        .iter()
        .enumerate()
        .map(|(i, index)| {
            format!(
                "CREATE INDEX IF NOT EXISTS {} ON {physical} ({})",
                index_name(physical, i),
                index.join(", ")
            )
        })
        .collect()
}

fn key_predicate(dialect: Dialect, def: &TableDef) -> String {
    def.key_columns()
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = {}", c.name, dialect.param(i + 1)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn column_list(def: &TableDef) -> String {
    def.columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row by key.
pub(crate) fn select_one(dialect: Dialect, def: &TableDef, physical: &str) -> String {
    format!(
        "SELECT {} FROM {physical} WHERE {}",
        column_list(def),
        key_predicate(dialect, def)
    )
}

/// Every row, by key.
pub(crate) fn select_all(def: &TableDef, physical: &str) -> String {
    let keys: Vec<&str> = def.key_columns().iter().map(|c| c.name).collect();
    format!(
        "SELECT {} FROM {physical} ORDER BY {}",
        column_list(def),
        keys.join(", ")
    )
}

/// Keyset paging ([`super::ReadStore::page`]): rows ordered by the `keyset` columns, strictly
/// after the tuple `$1..$n` when `after` (n = the keyset's length), at most the last parameter's
/// number of rows. Row-value comparison works on both (SQLite 3.15 and later).
pub(crate) fn select_page(
    dialect: Dialect,
    def: &TableDef,
    physical: &str,
    keyset: &[&str],
    bound: bool,
    descending: bool,
) -> String {
    let tuple = keyset.join(", ");
    let mut sql = format!("SELECT {} FROM {physical}", column_list(def));
    let mut next = 1;
    if bound {
        let params: Vec<String> = (1..=keyset.len()).map(|n| dialect.param(n)).collect();
        let op = if descending { "<" } else { ">" };
        sql.push_str(&format!(" WHERE ({tuple}) {op} ({})", params.join(", ")));
        next += keyset.len();
    }
    let order = if descending {
        keyset
            .iter()
            .map(|c| format!("{c} DESC"))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        tuple
    };
    sql.push_str(&format!(" ORDER BY {order} LIMIT {}", dialect.param(next)));
    sql
}

/// SQLite: insert (or, with `replace`, insert or replace) `rows` rows in one statement (numbered
/// parameters, row-major).
pub(crate) fn sqlite_insert(def: &TableDef, physical: &str, rows: usize, replace: bool) -> String {
    let width = def.columns.len();
    let tuples: Vec<String> = (0..rows.max(1))
        .map(|r| {
            let params: Vec<String> = (1..=width)
                .map(|n| Dialect::Sqlite.param(r * width + n))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!(
        "INSERT{} INTO {physical} ({}) VALUES {}",
        if replace { " OR REPLACE" } else { "" },
        column_list(def),
        tuples.join(", ")
    )
}

/// How many rows of `def` one multi-row SQLite statement carries: many rows per statement save
/// a statement step and reset per row, within SQLite's limit of 32,766 parameters.
pub(crate) fn sqlite_rows_per_statement(def: &TableDef) -> usize {
    // Not more: preparing a statement costs in proportion to its text (a 256-row insert of
    // 13 columns took milliseconds, once per table and form), and running it saves little
    // over 64 rows.
    (32_766 / def.columns.len().max(1)).clamp(1, 64)
}

/// SQLite: delete one row.
pub(crate) fn sqlite_delete(def: &TableDef, physical: &str) -> String {
    format!(
        "DELETE FROM {physical} WHERE {}",
        key_predicate(Dialect::Sqlite, def)
    )
}

fn pg_array_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Int => "bigint[]",
        ColumnType::Text => "text[]",
        ColumnType::Bool => "boolean[]",
    }
}

/// Postgres: upsert many rows, one array parameter per column.
pub(crate) fn postgres_upsert(def: &TableDef, physical: &str) -> String {
    let arrays: Vec<String> = def
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", i + 1, pg_array_type(c.ty)))
        .collect();
    let keys: Vec<&str> = def.key_columns().iter().map(|c| c.name).collect();
    let action = if def.value_columns().is_empty() {
        "DO NOTHING".to_owned()
    } else {
        let sets: Vec<String> = def
            .value_columns()
            .iter()
            .map(|c| format!("{0} = EXCLUDED.{0}", c.name))
            .collect();
        format!("DO UPDATE SET {}", sets.join(", "))
    };
    format!(
        "INSERT INTO {physical} ({}) SELECT * FROM UNNEST({}) ON CONFLICT ({}) {action}",
        column_list(def),
        arrays.join(", "),
        keys.join(", ")
    )
}

/// Postgres: delete many rows by key, one array parameter per key column.
pub(crate) fn postgres_delete(def: &TableDef, physical: &str) -> String {
    let keys: Vec<&str> = def.key_columns().iter().map(|c| c.name).collect();
    let arrays: Vec<String> = def
        .key_columns()
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", i + 1, pg_array_type(c.ty)))
        .collect();
    format!(
        "DELETE FROM {physical} WHERE ({}) IN (SELECT * FROM UNNEST({}))",
        keys.join(", "),
        arrays.join(", ")
    )
}
