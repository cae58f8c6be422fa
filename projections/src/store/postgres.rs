//! The read models on Postgres (sqlx). A batch is one transaction: per table one `DELETE … IN
//! (SELECT * FROM UNNEST(…))` and one `INSERT … SELECT * FROM UNNEST(…) ON CONFLICT DO UPDATE`,
//! whatever the number of rows, then the checkpoints. Ownership of a projection across processes
//! is a session advisory lock held on a dedicated connection: if the process dies, the
//! connection closes and another process takes over.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection as _, PgConnection, Row as _};
use tokio::sync::Mutex;

use super::ddl::{self, Dialect};
use super::{
    Batch, Checkpoint, DeadLetter, LockGuard, ReadStore, StoreError, check_identifier, check_page,
    index_name, position_from, position_parts,
};
use crate::rows::{ColumnType, Row, TableDef, Value};

/// Rows per statement in a batch write.
const CHUNK: usize = 10_000;

/// Settings for the Postgres read models.
#[derive(Clone, Debug)]
pub struct PostgresReadOptions {
    /// A schema of its own (created if missing); `None` uses the connection's default.
    pub schema: Option<String>,
    /// Connections in the pool.
    pub max_connections: u32,
}

impl Default for PostgresReadOptions {
    fn default() -> Self {
        Self {
            schema: None,
            max_connections: 8,
        }
    }
}

/// The read models in Postgres.
#[derive(Clone, Debug)]
pub struct PostgresReadStore {
    pool: PgPool,
    connect: PgConnectOptions,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::backend(e)
    }
}

const META: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS projection_checkpoints (name TEXT PRIMARY KEY, commit_pos BIGINT NOT NULL, prepare_pos BIGINT NOT NULL, version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS projection_dead_letters (projection TEXT NOT NULL, commit_pos BIGINT NOT NULL, prepare_pos BIGINT NOT NULL, event_id UUID NOT NULL, stream TEXT NOT NULL, event_type TEXT NOT NULL, error TEXT NOT NULL, PRIMARY KEY (projection, commit_pos, prepare_pos))",
];

impl PostgresReadStore {
    /// Connects, creating the schema and the bookkeeping tables if missing.
    pub async fn connect(url: &str, options: PostgresReadOptions) -> Result<Self, StoreError> {
        let mut connect: PgConnectOptions = url.parse().map_err(StoreError::backend)?;
        if let Some(schema) = &options.schema {
            check_identifier(schema)?;
            let mut admin = PgConnection::connect_with(&connect).await?;
            // Two processes may create it at once; the loser's error is harmless.
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
            .execute(&mut admin)
            .await;
            admin.close().await?;
            connect = connect.options([("search_path", schema.as_str())]);
        }
        // `CREATE … IF NOT EXISTS` on every start: its "already exists" notices are noise.
        connect = connect.options([("client_min_messages", "warning")]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .connect_with(connect.clone())
            .await?;
        for statement in META {
            sqlx::query(*statement).execute(&pool).await?;
        }
        Ok(Self { pool, connect })
    }

    /// The pool (for queries).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn read_row(def: &TableDef, row: &PgRow) -> Result<Row, StoreError> {
    def.columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(match c.ty {
                ColumnType::Int => row
                    .try_get::<Option<i64>, _>(i)?
                    .map_or(Value::Null, Value::Int),
                ColumnType::Text => row
                    .try_get::<Option<String>, _>(i)?
                    .map_or(Value::Null, Value::Text),
                ColumnType::Bool => row
                    .try_get::<Option<bool>, _>(i)?
                    .map_or(Value::Null, Value::Bool),
            })
        })
        .collect()
}

fn check_table(def: &TableDef, physical: &str) -> Result<(), StoreError> {
    check_identifier(physical)?;
    def.columns
        .iter()
        .try_for_each(|c| check_identifier(c.name))
}

fn bind_value<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ty: ColumnType,
    value: &Value,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    match (ty, value) {
        (ColumnType::Int, Value::Int(i)) => query.bind(*i),
        (ColumnType::Text, Value::Text(t)) => query.bind(t.clone()),
        (ColumnType::Bool, Value::Bool(b)) => query.bind(*b),
        (ColumnType::Int, _) => query.bind(None::<i64>),
        (ColumnType::Text, _) => query.bind(None::<String>),
        (ColumnType::Bool, _) => query.bind(None::<bool>),
    }
}

/// Binds column `i` of `rows` as one array parameter.
fn bind_column<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ty: ColumnType,
    rows: &[&[Value]],
    i: usize,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    match ty {
        ColumnType::Int => query.bind(
            rows.iter()
                .map(|r| match r.get(i) {
                    Some(Value::Int(v)) => Some(*v),
                    _ => None,
                })
                .collect::<Vec<Option<i64>>>(),
        ),
        ColumnType::Text => query.bind(
            rows.iter()
                .map(|r| match r.get(i) {
                    Some(Value::Text(v)) => Some(v.clone()),
                    _ => None,
                })
                .collect::<Vec<Option<String>>>(),
        ),
        ColumnType::Bool => query.bind(
            rows.iter()
                .map(|r| match r.get(i) {
                    Some(Value::Bool(v)) => Some(*v),
                    Some(Value::Int(v)) => Some(*v != 0),
                    _ => None,
                })
                .collect::<Vec<Option<bool>>>(),
        ),
    }
}

/// Loads rows known to be new with `COPY … FROM STDIN` (text format): several times faster than
/// `INSERT … SELECT FROM UNNEST` for a rebuild's bulk of new rows.
async fn copy_in(
    conn: &mut PgConnection,
    def: &TableDef,
    physical: &str,
    rows: &[Row],
) -> Result<(), StoreError> {
    let columns: Vec<&str> = def.columns.iter().map(|c| c.name).collect();
    let sql = format!("COPY {physical} ({}) FROM STDIN", columns.join(", "));
    let mut copy = conn.copy_in_raw(&sql).await?;
    let mut buf = Vec::with_capacity(1 << 20);
    for row in rows {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                buf.push(b'\t');
            }
            copy_text(&mut buf, value);
        }
        buf.push(b'\n');
        if buf.len() >= 1 << 20 {
            copy.send(std::mem::take(&mut buf)).await?;
        }
    }
    if !buf.is_empty() {
        copy.send(buf).await?;
    }
    copy.finish().await?;
    Ok(())
}

/// One value in `COPY`'s text format: `\N` for NULL, `t`/`f`, backslash escapes in text.
fn copy_text(buf: &mut Vec<u8>, value: &Value) {
    use std::io::Write as _;
    match value {
        Value::Null => buf.extend_from_slice(b"\\N"),
        Value::Int(i) => {
            let _ = write!(buf, "{i}");
        }
        Value::Bool(b) => buf.push(if *b { b't' } else { b'f' }),
        Value::Text(t) => {
            for &byte in t.as_bytes() {
                match byte {
                    b'\\' => buf.extend_from_slice(b"\\\\"),
                    b'\t' => buf.extend_from_slice(b"\\t"),
                    b'\n' => buf.extend_from_slice(b"\\n"),
                    b'\r' => buf.extend_from_slice(b"\\r"),
                    _ => buf.push(byte),
                }
            }
        }
    }
}

#[derive(Debug)]
struct AdvisoryLock {
    // Holding the connection holds the session, and with it the lock.
    _conn: Mutex<PgConnection>,
}
impl LockGuard for AdvisoryLock {}

#[async_trait]
impl ReadStore for PostgresReadStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn create_tables(
        &self,
        tables: &[(&'static TableDef, String)],
        indexes: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (def, physical) in tables {
            check_table(def, physical)?;
            for statement in ddl::create_table(Dialect::Postgres, def, physical, indexes) {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn drop_tables(&self, physical: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for p in physical {
            check_identifier(p)?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {p}")))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn load(
        &self,
        def: &'static TableDef,
        physical: &str,
        key: &[Value],
    ) -> Result<Option<Row>, StoreError> {
        check_table(def, physical)?;
        let sql = ddl::select_one(Dialect::Postgres, def, physical);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (column, value) in def.key_columns().iter().zip(key) {
            query = bind_value(query, column.ty, value);
        }
        match query.fetch_optional(&self.pool).await? {
            Some(row) => Ok(Some(read_row(def, &row)?)),
            None => Ok(None),
        }
    }

    async fn scan(&self, def: &'static TableDef, physical: &str) -> Result<Vec<Row>, StoreError> {
        check_table(def, physical)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(ddl::select_all(def, physical)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| read_row(def, r)).collect()
    }

    async fn count(&self, physical: &str) -> Result<u64, StoreError> {
        check_identifier(physical)?;
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {physical}"
        )))
        .fetch_one(&self.pool)
        .await?;
        Ok(n.max(0) as u64)
    }

    async fn page(
        &self,
        def: &'static TableDef,
        physical: &str,
        order_by: &[&str],
        after: Option<&[Value]>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.page_in(def, physical, order_by, after, limit, false)
            .await
    }

    async fn page_back(
        &self,
        def: &'static TableDef,
        physical: &str,
        order_by: &[&str],
        before: &[Value],
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.page_in(def, physical, order_by, Some(before), limit, true)
            .await
    }

    async fn checkpoint(&self, projection: &str) -> Result<Option<Checkpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT commit_pos, prepare_pos, version FROM projection_checkpoints WHERE name = $1",
        )
        .bind(projection)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(Checkpoint {
                position: position_from(r.try_get(0)?, r.try_get(1)?),
                version: r.try_get::<i32, _>(2)?.max(0) as u32,
            }),
            None => None,
        })
    }

    async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if batch.relaxed_durability {
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        for table in &batch.tables {
            check_table(table.def, &table.physical)?;
            if !table.deletes.is_empty() {
                let sql = ddl::postgres_delete(table.def, &table.physical);
                let keys: Vec<&[Value]> = table.deletes.iter().map(Vec::as_slice).collect();
                for chunk in keys.chunks(CHUNK) {
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                    for (i, column) in table.def.key_columns().iter().enumerate() {
                        query = bind_column(query, column.ty, chunk, i);
                    }
                    query.execute(&mut *tx).await?;
                }
            }
            if !table.upserts.is_empty() {
                let sql = ddl::postgres_upsert(table.def, &table.physical);
                let rows: Vec<&[Value]> = table.upserts.iter().map(|r| r.as_slice()).collect();
                for chunk in rows.chunks(CHUNK) {
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                    for (i, column) in table.def.columns.iter().enumerate() {
                        query = bind_column(query, column.ty, chunk, i);
                    }
                    query.execute(&mut *tx).await?;
                }
            }
        }
        for table in &batch.tables {
            if !table.inserts.is_empty() {
                copy_in(&mut tx, table.def, &table.physical, &table.inserts).await?;
            }
        }
        for (name, checkpoint) in &batch.checkpoints {
            let (c, p) = position_parts(checkpoint.position)?;
            sqlx::query(
                "INSERT INTO projection_checkpoints (name, commit_pos, prepare_pos, version) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET commit_pos = EXCLUDED.commit_pos, prepare_pos = EXCLUDED.prepare_pos, version = EXCLUDED.version",
            )
            .bind(name)
            .bind(c)
            .bind(p)
            .bind(checkpoint.version as i32)
            .execute(&mut *tx)
            .await?;
        }
        for d in &batch.dead_letters {
            let (c, p) = position_parts(d.position)?;
            sqlx::query(
                "INSERT INTO projection_dead_letters (projection, commit_pos, prepare_pos, event_id, stream, event_type, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(&d.projection)
            .bind(c)
            .bind(p)
            .bind(d.event_id)
            .bind(&d.stream)
            .bind(&d.event_type)
            .bind(&d.error)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn build_indexes(
        &self,
        tables: &[(&'static TableDef, String)],
    ) -> Result<(), StoreError> {
        // Two at a time, each in a transaction of its own: one index sorts on a core while the
        // other is read or written.
        let mut statements = Vec::new();
        for (def, shadow) in tables {
            check_table(def, shadow)?;
            statements.extend(ddl::create_indexes(def, shadow));
        }
        let mut builds = futures::stream::iter(statements.into_iter().map(|statement| {
            let pool = self.pool.clone();
            async move {
                let mut build = pool.begin().await?;
                sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
                    .execute(&mut *build)
                    .await?;
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *build)
                    .await?;
                build.commit().await?;
                Ok::<_, StoreError>(())
            }
        }))
        .buffer_unordered(2);
        while let Some(built) = builds.next().await {
            built?;
        }
        Ok(())
    }

    async fn swap(
        &self,
        tables: &[(&'static TableDef, String)],
        from: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        // The shadows' indexes are built first, outside the switch: dropping the live table
        // locks it until the switch commits, and readers would wait for the index builds. The
        // switch then only renames them. (A rebuild builds every shadow's indexes at once
        // beforehand, so here they usually exist already.)
        self.build_indexes(tables).await?;
        let mut tx = self.pool.begin().await?;
        for (def, shadow) in tables {
            check_table(def, shadow)?;
            let live = def.name;
            let mut statements = vec![
                format!("DROP TABLE IF EXISTS {live}"),
                format!("ALTER TABLE {shadow} RENAME TO {live}"),
            ];
            for i in 0..def.indexes.len() {
                statements.push(format!(
                    "ALTER INDEX IF EXISTS {} RENAME TO {}",
                    index_name(shadow, i),
                    index_name(live, i)
                ));
            }
            // The primary key's index keeps the shadow's name otherwise, and the next rebuild's
            // shadow table would collide with it.
            statements.push(format!(
                "ALTER INDEX IF EXISTS {shadow}_pkey RENAME TO {live}_pkey"
            ));
            statements.extend(ddl::create_indexes(def, live));
            for statement in statements {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
            .bind(to)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE projection_checkpoints SET name = $1 WHERE name = $2")
            .bind(to)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reset_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM projection_checkpoints WHERE name = $1")
            .bind(projection)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn dead_letters(&self, projection: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = sqlx::query(
            "SELECT projection, commit_pos, prepare_pos, event_id, stream, event_type, error \
             FROM projection_dead_letters WHERE projection = $1 ORDER BY commit_pos, prepare_pos",
        )
        .bind(projection)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    projection: r.try_get(0)?,
                    position: position_from(r.try_get(1)?, r.try_get(2)?),
                    event_id: r.try_get(3)?,
                    stream: r.try_get(4)?,
                    event_type: r.try_get(5)?,
                    error: r.try_get(6)?,
                })
            })
            .collect()
    }

    async fn lock(&self, name: &str) -> Result<Box<dyn LockGuard>, StoreError> {
        loop {
            if let Some(guard) = self.try_lock(name).await? {
                return Ok(guard);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn try_lock(&self, name: &str) -> Result<Option<Box<dyn LockGuard>>, StoreError> {
        // A connection of its own: the lock lives as long as this session.
        let mut conn = PgConnection::connect_with(&self.connect).await?;
        // Advisory locks are per database: the schema is part of the key, so read models in
        // different schemas do not exclude each other.
        let key = format!("shop-projection:{name}");
        let taken: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(hashtextextended(current_schema() || ':' || $1, 0))",
        )
        .bind(&key)
        .fetch_one(&mut conn)
        .await?;
        if taken {
            Ok(Some(Box::new(AdvisoryLock {
                _conn: Mutex::new(conn),
            })))
        } else {
            conn.close().await?;
            Ok(None)
        }
    }
}

impl PostgresReadStore {
    /// A keyset page either way ([`ReadStore::page`], [`ReadStore::page_back`]).
    async fn page_in(
        &self,
        def: &'static TableDef,
        physical: &str,
        order_by: &[&str],
        after: Option<&[Value]>,
        limit: usize,
        descending: bool,
    ) -> Result<Vec<Row>, StoreError> {
        let keyset = check_page(def, physical, order_by, after)?;
        let names: Vec<&str> = keyset.iter().map(|c| c.name).collect();
        let sql = ddl::select_page(
            Dialect::Postgres,
            def,
            physical,
            &names,
            after.is_some(),
            descending,
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (column, value) in keyset.iter().zip(after.unwrap_or_default()) {
            query = bind_value(query, column.ty, value);
        }
        let rows = query
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| read_row(def, r)).collect()
    }
}
