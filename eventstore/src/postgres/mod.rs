//! The Postgres event store: for deployments that want one database, and for several processes
//! sharing one store.
//!
//! - One round trip per append: the `shop_append` function (see the migration) locks the stream
//!   row, checks the expected revision, recognises a retried batch and inserts.
//! - Positions are `(transaction id, sequence)`. A reader of `$all` only returns events of
//!   transactions below its snapshot's `xmin` (all of which have finished), after waiting for the
//!   transactions older than the newest visible event to finish. So no reader ever sees a position
//!   and later a smaller one: the classic sequence-gap bug (a subscriber skipping an event whose
//!   transaction committed after a later-numbered one) cannot happen. See
//!   `docs/adr/0002-postgres-positions.md`.
//! - Subscriptions are woken by `LISTEN/NOTIFY` and poll as a fallback.
//! - `schema` in [`PostgresOptions`] keeps a store in its own schema (tests use one per case).

mod read;

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgListener, PgPoolOptions},
};
use tokio::sync::{mpsc, watch};

use crate::{
    AllPage, AppendResult, CurrentRevision, DeleteResult, Error, EventData, EventStore,
    EventStream, ExpectedRevision, Limits, Position, ReadAll, ReadStream, RecordedEvent, Result,
    StreamMetadata, StreamName, SubscribeAll, ValidationError,
    port::{check_read_limit, validate_append, validate_stream_metadata},
    subscription,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Settings for the Postgres store.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Size limits on appends.
    pub limits: Limits,
    /// Connections in the pool.
    pub max_connections: u32,
    /// A schema of its own (created if missing); `None` uses the connection's default.
    pub schema: Option<String>,
    /// How often an idle subscription re-reads, in case a notification was missed.
    pub poll_interval: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_connections: 16,
            schema: None,
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// The Postgres event store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PostgresEventStore {
    pool: PgPool,
    wake: watch::Receiver<u64>,
    /// Wakes this process's subscribers at once after an append.
    local_wake: std::sync::Arc<watch::Sender<u64>>,
    /// Asks the notifier task to tell other processes (coalesced: capacity 1).
    notify: mpsc::Sender<()>,
    options: PostgresOptions,
}

impl PostgresEventStore {
    /// Connects, creates the schema if asked, and runs the migrations.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self> {
        if options.max_connections == 0 {
            return Err(
                ValidationError::InvalidOption("max_connections must be at least 1").into(),
            );
        }
        let mut connect: PgConnectOptions = url.parse().map_err(Error::backend)?;
        if let Some(schema) = &options.schema {
            let valid = !schema.is_empty()
                && schema.len() <= 63
                && schema
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err(ValidationError::InvalidOption(
                    "a schema name is 1 to 63 of a-z, 0-9 and _",
                )
                .into());
            }
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(connect.clone())
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
            .execute(&admin)
            .await?;
            admin.close().await;
            connect = connect.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .connect_with(connect)
            .await?;
        MIGRATOR.run(&pool).await.map_err(|e| {
            Error::backend(anyhow::Error::new(e).context("Failed to migrate the event store"))
        })?;
        check_cluster(&pool).await?;
        // Channel names are at most 63 bytes and schema names may be that long already: both
        // sides hash the schema name the same way (see `shop_append`).
        let channel: String =
            sqlx::query_scalar("SELECT 'shop_events_' || left(md5(current_schema()), 20)")
                .fetch_one(&pool)
                .await?;
        let (wake_tx, wake) = watch::channel(0);
        let local_wake = std::sync::Arc::new(wake_tx);
        tokio::spawn(listen(pool.clone(), channel.clone(), local_wake.clone()));
        let (notify, requests) = mpsc::channel(1);
        tokio::spawn(notifier(pool.clone(), channel, requests));
        Ok(Self {
            pool,
            wake,
            local_wake,
            notify,
            options,
        })
    }

    /// The limits this store enforces.
    pub fn limits(&self) -> &Limits {
        &self.options.limits
    }

    /// The connection pool (for checkpoint tables that want the same database).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Refuses a server the position scheme cannot work on: a standby (its snapshots list no running
/// transactions, so the frontier would run ahead), or a cluster whose transaction ids are behind
/// the stored events' (a restore into another cluster: new positions would sort before old ones).
async fn check_cluster(pool: &PgPool) -> Result<()> {
    let (standby, newest, next): (bool, Option<i64>, i64) = sqlx::query_as(
        "SELECT pg_is_in_recovery(), (SELECT max(tx_id) FROM events), \
                pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
    )
    .fetch_one(pool)
    .await?;
    if standby {
        return Err(Error::backend(anyhow::anyhow!(
            "the Postgres event store needs the primary server; this one is a standby"
        )));
    }
    if newest.is_some_and(|n| n >= next) {
        return Err(Error::backend(anyhow::anyhow!(
            "stored events carry transaction ids (up to {}) at or beyond this cluster's next one \
             ({next}): the database was probably restored into another cluster, and new events \
             would sort before old ones; see docs/adr/0002-postgres-positions.md",
            newest.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Sends `NOTIFY` for this process's appends, outside their transactions and at most one at a
/// time: appends that land while one is being sent share the next. Ends with the store.
async fn notifier(pool: PgPool, channel: String, mut requests: mpsc::Receiver<()>) {
    while requests.recv().await.is_some() {
        if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(&channel)
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "event store could not notify; other processes will poll");
        }
    }
}

/// Forwards notifications of commits to subscribers until the store is dropped.
async fn listen(pool: PgPool, channel: String, wake: std::sync::Arc<watch::Sender<u64>>) {
    let bump = |wake: &watch::Sender<u64>| wake.send_modify(|n| *n = n.wrapping_add(1));
    let mut listener = loop {
        let attempt = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen(&channel).await?;
            Ok::<_, sqlx::Error>(l)
        };
        tokio::select! {
            () = wake.closed() => return,
            l = attempt => match l {
                Ok(l) => break l,
                Err(e) => {
                    tracing::warn!(error = %e, "event store listener cannot connect; subscriptions poll");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    };
    loop {
        tokio::select! {
            () = wake.closed() => return,
            n = listener.recv() => {
                if let Err(e) = n {
                    tracing::warn!(error = %e, "event store listener lost its connection; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                bump(&wake);
            }
        }
    }
}

fn expected_parts(expected: ExpectedRevision) -> (&'static str, Option<i64>) {
    match expected {
        ExpectedRevision::Any => ("any", None),
        ExpectedRevision::NoStream => ("no_stream", None),
        ExpectedRevision::StreamExists => ("stream_exists", None),
        ExpectedRevision::Exact(n) => ("exact", Some(i64::try_from(n).unwrap_or(i64::MAX))),
    }
}

fn current(revision: Option<i64>) -> CurrentRevision {
    revision.map_or(CurrentRevision::NoStream, |r| {
        CurrentRevision::Current(r as u64)
    })
}

#[derive(sqlx::FromRow)]
struct AppendRow {
    status: String,
    actual: Option<i64>,
    next_revision: Option<i64>,
    pos_tx: Option<i64>,
    pos_seq: Option<i64>,
}

#[async_trait]
impl EventStore for PostgresEventStore {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<EventData>,
    ) -> Result<AppendResult> {
        validate_append(expected, &events, &self.options.limits)?;
        let (kind, revision) = expected_parts(expected);
        let mut extras = Vec::with_capacity(events.len());
        for e in &events {
            extras.push(if e.metadata.extra.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&e.metadata.extra).map_err(Error::backend)?)
            });
        }
        let text = |e: &EventData| String::from_utf8_lossy(e.data.as_bytes()).into_owned();
        let row: std::result::Result<AppendRow, sqlx::Error> = sqlx::query_as(
            "SELECT * FROM shop_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(stream.as_str())
        .bind(kind)
        .bind(revision)
        .bind(events.iter().map(|e| e.event_id).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.event_type.clone())
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(text).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.metadata.correlation_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.metadata.causation_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.metadata.actor.kind.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.metadata.actor.id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.metadata.occurred_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.metadata.schema_version as i32)
                .collect::<Vec<_>>(),
        )
        .bind(extras)
        .fetch_one(&self.pool)
        .await;
        let row = match row {
            Ok(row) => row,
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                // An id of the batch (not its first: that one is checked in the function) is
                // stored already; name it.
                let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
                let clash: Option<uuid::Uuid> = sqlx::query_scalar(
                    "SELECT event_id FROM events WHERE event_id = ANY($1) LIMIT 1",
                )
                .bind(&ids)
                .fetch_optional(&self.pool)
                .await?;
                return Err(Error::DuplicateEventId {
                    event_id: clash.unwrap_or(ids[0]),
                });
            }
            Err(e) => return Err(e.into()),
        };
        match row.status.as_str() {
            "ok" | "retry" => match (row.next_revision, row.pos_tx, row.pos_seq) {
                (Some(next), Some(tx), Some(seq)) => {
                    self.local_wake.send_modify(|n| *n = n.wrapping_add(1));
                    // Full means a notification is already on its way: it covers this append.
                    let _ = self.notify.try_send(());
                    Ok(AppendResult {
                        next_expected_revision: next as u64,
                        position: Position::new(tx as u64, seq as u64),
                    })
                }
                _ => Err(Error::backend(anyhow::anyhow!(
                    "shop_append returned no position"
                ))),
            },
            "wrong_version" => Err(Error::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual: current(row.actual),
            }),
            "duplicate" => Err(Error::DuplicateEventId {
                event_id: events[0].event_id,
            }),
            other => Err(Error::backend(anyhow::anyhow!(
                "shop_append returned status {other:?}"
            ))),
        }
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        options: ReadStream,
    ) -> Result<Vec<RecordedEvent>> {
        check_read_limit(options.limit)?;
        read::read_stream(&self.pool, stream, options).await
    }

    async fn read_all(&self, options: ReadAll) -> Result<Vec<RecordedEvent>> {
        check_read_limit(options.limit)?;
        read::read_all(&self.pool, &options).await
    }

    async fn read_all_page(&self, options: ReadAll) -> Result<AllPage> {
        check_read_limit(options.limit)?;
        read::read_all_page(&self.pool, &options).await
    }

    fn subscribe_all(&self, options: SubscribeAll) -> EventStream {
        subscription::catch_up(
            self.clone(),
            self.wake.clone(),
            options,
            self.options.poll_interval,
        )
    }

    async fn delete_stream(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
    ) -> Result<DeleteResult> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(i64, Option<i64>, bool)> = sqlx::query_as(
            "SELECT id, last_revision, deleted FROM streams WHERE name = $1 FOR UPDATE",
        )
        .bind(stream.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let actual = match row {
            Some((_, last, false)) => current(last),
            _ => CurrentRevision::NoStream,
        };
        if !expected.accepts(actual) {
            return Err(Error::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual,
            });
        }
        let (Some((id, _, _)), CurrentRevision::Current(last)) = (row, actual) else {
            return Err(Error::StreamNotFound(stream.clone()));
        };
        sqlx::query("UPDATE streams SET deleted = true, truncate_before = $2 WHERE id = $1")
            .bind(id)
            .bind(last as i64 + 1)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DeleteResult {
            last_revision: last,
        })
    }

    async fn stream_metadata(&self, stream: &StreamName) -> Result<StreamMetadata> {
        read::stream_metadata(&self.pool, stream).await
    }

    async fn set_stream_metadata(
        &self,
        stream: &StreamName,
        metadata: StreamMetadata,
    ) -> Result<()> {
        validate_stream_metadata(&metadata)?;
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        // `$tb` never moves back: a soft delete is a `$tb`, and lowering it would make the
        // deleted events readable again.
        sqlx::query(
            "INSERT INTO streams (name, max_count, max_age_ms, truncate_before) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET max_count = $2, max_age_ms = $3, \
               truncate_before = CASE \
                 WHEN streams.truncate_before IS NULL THEN $4 \
                 WHEN $4 IS NULL THEN streams.truncate_before \
                 ELSE GREATEST(streams.truncate_before, $4) END",
        )
        .bind(stream.as_str())
        .bind(metadata.max_count.map(as_i64))
        .bind(
            metadata
                .max_age
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
        .bind(metadata.truncate_before.map(as_i64))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn head_position(&self) -> Result<Option<Position>> {
        read::head_position(&self.pool).await
    }
}
