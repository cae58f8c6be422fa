//! Reads of the Postgres store, and the frontier that keeps `$all` readers from skipping events.

use std::time::{Duration, Instant};

use sqlx::{PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use crate::{
    Actor, AllPage, Direction, Error, Json, Metadata, Position, ReadAll, ReadStream, RecordedEvent,
    Result, StreamMetadata, StreamName, StreamStart,
};

const EVENT_COLUMNS: &str = "e.tx_id, e.seq, s.name, e.revision, e.event_id, e.event_type, \
     e.data::text AS data, e.correlation_id, e.causation_id, e.actor_kind, e.actor_id, \
     e.occurred_at, e.schema_version, e.extra::text AS extra, e.recorded_at";

/// The longest a read waits for older in-flight transactions before answering with what is
/// stable (a subscription then simply polls again).
const FRONTIER_WAIT: Duration = Duration::from_secs(5);

fn event_from_row(row: &PgRow) -> Result<RecordedEvent> {
    let tx: i64 = row.try_get("tx_id")?;
    let seq: i64 = row.try_get("seq")?;
    let extra: Option<String> = row.try_get("extra")?;
    let extra = match extra {
        Some(text) => serde_json::from_str(&text).map_err(Error::backend)?,
        None => serde_json::Map::new(),
    };
    let data: String = row.try_get("data")?;
    Ok(RecordedEvent {
        stream: StreamName::new(row.try_get::<String, _>("name")?).map_err(Error::backend)?,
        revision: row.try_get::<i64, _>("revision")? as u64,
        position: Position::new(tx as u64, seq as u64),
        recorded_at: row.try_get("recorded_at")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        data: Json::trusted(data.into_bytes()),
        metadata: Metadata {
            correlation_id: row.try_get::<Uuid, _>("correlation_id")?,
            causation_id: row.try_get::<Uuid, _>("causation_id")?,
            actor: Actor {
                kind: row.try_get("actor_kind")?,
                id: row.try_get("actor_id")?,
            },
            occurred_at: row.try_get("occurred_at")?,
            schema_version: row.try_get::<i32, _>("schema_version")? as u32,
            extra,
        },
    })
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Reads a stream, honouring soft delete, `$tb`, `$maxCount` and `$maxAge`. Stream reads need no
/// frontier: the stream row lock orders a stream's appends, and revisions have no gaps.
pub(super) async fn read_stream(
    pool: &PgPool,
    stream: &StreamName,
    options: ReadStream,
) -> Result<Vec<RecordedEvent>> {
    // One snapshot for the stream row and its events, so `$maxCount` counts from the same last
    // revision the events are read at.
    let mut tx = begin_snapshot(pool).await?;
    let row = sqlx::query(
        "SELECT id, last_revision, deleted, truncate_before, max_count, max_age_ms \
         FROM streams WHERE name = $1",
    )
    .bind(stream.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let not_found = || Error::StreamNotFound(stream.clone());
    let row = row.ok_or_else(not_found)?;
    let last: i64 = match row.try_get::<Option<i64>, _>("last_revision")? {
        Some(last) if !row.try_get::<bool, _>("deleted")? => last,
        _ => return Err(not_found()),
    };
    let mut min = row
        .try_get::<Option<i64>, _>("truncate_before")?
        .unwrap_or(0);
    if let Some(max_count) = row.try_get::<Option<i64>, _>("max_count")? {
        min = min.max(last.saturating_sub(max_count) + 1);
    }
    let max_age_ms: Option<i64> = row.try_get("max_age_ms")?;
    let from = match options.from {
        StreamStart::Start => 0,
        StreamStart::End => last,
        StreamStart::Revision(r) => to_i64(r),
    };
    let (bounds, order) = match options.direction {
        Direction::Forwards => ("e.revision >= GREATEST($2, $3)", "ASC"),
        Direction::Backwards => ("e.revision <= $2 AND e.revision >= $3", "DESC"),
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e JOIN streams s ON s.id = e.stream_id \
         WHERE e.stream_id = $1 AND {bounds} \
           AND ($4::bigint IS NULL OR e.recorded_at >= now() - make_interval(secs => $4::bigint / 1000.0)) \
         ORDER BY e.revision {order} LIMIT $5"
    );
    let id: i64 = row.try_get("id")?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(from)
        .bind(min)
        .bind(max_age_ms)
        .bind(to_i64(options.limit as u64))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    rows.iter().map(event_from_row).collect()
}

/// Opens a read-only, repeatable-read transaction.
///
/// A task cancelled while its `BEGIN` was in flight (a subscription dropped mid-read) can hand its
/// connection back to the pool still inside that transaction: sqlx had not counted it yet, so it
/// sends no `ROLLBACK`. The next `BEGIN` on it is then a no-op, and setting the isolation level
/// fails with `active_sql_transaction` (25001). That transaction is ended here and a fresh one
/// begun, instead of failing the read.
async fn begin_snapshot(pool: &PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut healed = false;
    loop {
        let mut tx = pool.begin().await?;
        match sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
        {
            Ok(_) => return Ok(tx),
            Err(sqlx::Error::Database(e)) if !healed && e.code().as_deref() == Some("25001") => {
                tracing::warn!("a pooled connection was left inside a transaction; ending it");
                sqlx::query("ROLLBACK").execute(&mut *tx).await?;
                healed = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Opens a read-only, repeatable-read transaction whose snapshot reaches at least every event
/// visible when the call began: it waits (with backoff, at most [`FRONTIER_WAIT`]) until the
/// frontier of its snapshot has passed the newest visible transaction. Returns the transaction and
/// that frontier; every read in it sees the same snapshot, so "below the frontier" is final.
async fn begin_at_frontier(
    pool: &PgPool,
) -> Result<(sqlx::Transaction<'static, sqlx::Postgres>, i64)> {
    let newest: Option<i64> = sqlx::query_scalar("SELECT max(tx_id) FROM events")
        .fetch_one(pool)
        .await?;
    let started = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        let mut tx = begin_snapshot(pool).await?;
        let frontier: i64 = sqlx::query_scalar("SELECT shop_frontier()")
            .fetch_one(&mut *tx)
            .await?;
        if newest.is_none_or(|n| frontier > n) || started.elapsed() > FRONTIER_WAIT {
            return Ok((tx, frontier));
        }
        tx.rollback().await?;
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Reads a page of `$all`, only ever up to the frontier (see `shop_frontier` in the migration):
/// events of transactions below it, a set no later commit can add to.
/// A forward page shorter than its limit considered everything below the frontier.
pub(super) async fn read_all_page(pool: &PgPool, options: &ReadAll) -> Result<AllPage> {
    let (mut tx, frontier) = begin_at_frontier(pool).await?;
    let events = read_all_in(&mut tx, frontier, options).await?;
    let last = events.last().map(|e| e.position);
    let scanned_to = if options.direction == Direction::Forwards && events.len() < options.limit {
        newest_below(&mut tx, frontier).await?.max(last)
    } else {
        last
    };
    tx.commit().await?;
    Ok(AllPage { events, scanned_to })
}

async fn newest_below(tx: &mut sqlx::PgConnection, frontier: i64) -> Result<Option<Position>> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT tx_id, seq FROM events WHERE tx_id < $1 ORDER BY tx_id DESC, seq DESC LIMIT 1",
    )
    .bind(frontier)
    .fetch_optional(tx)
    .await?;
    Ok(row.map(|(tx, seq)| Position::new(tx as u64, seq as u64)))
}

pub(super) async fn read_all(pool: &PgPool, options: &ReadAll) -> Result<Vec<RecordedEvent>> {
    let (mut tx, frontier) = begin_at_frontier(pool).await?;
    let events = read_all_in(&mut tx, frontier, options).await?;
    tx.commit().await?;
    Ok(events)
}

async fn read_all_in(
    tx: &mut sqlx::PgConnection,
    frontier: i64,
    options: &ReadAll,
) -> Result<Vec<RecordedEvent>> {
    let mut sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e JOIN streams s ON s.id = e.stream_id \
         WHERE e.tx_id < $1"
    );
    let mut n = 1;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let mut binds_i64 = Vec::new();
    if let Some(from) = options.from {
        let (a, b) = (next(), next());
        let op = match options.direction {
            Direction::Forwards => ">",
            Direction::Backwards => "<",
        };
        sql.push_str(&format!(" AND (e.tx_id, e.seq) {op} ({a}, {b})"));
        binds_i64.push(to_i64(from.commit()));
        binds_i64.push(to_i64(from.prepare()));
    }
    let mut binds_text: Vec<Vec<String>> = Vec::new();
    if !options.filter.stream_prefixes.is_empty() {
        let p = next();
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM unnest({p}::text[]) AS p(prefix) \
              WHERE left(s.name, char_length(p.prefix)) = p.prefix)"
        ));
        binds_text.push(options.filter.stream_prefixes.clone());
    }
    if !options.filter.event_types.is_empty() {
        let p = next();
        sql.push_str(&format!(" AND e.event_type = ANY({p}::text[])"));
        binds_text.push(options.filter.event_types.clone());
    }
    let limit = next();
    sql.push_str(&match options.direction {
        Direction::Forwards => format!(" ORDER BY e.tx_id ASC, e.seq ASC LIMIT {limit}"),
        Direction::Backwards => format!(" ORDER BY e.tx_id DESC, e.seq DESC LIMIT {limit}"),
    });
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(frontier);
    for b in binds_i64 {
        query = query.bind(b);
    }
    for b in binds_text {
        query = query.bind(b);
    }
    let rows = query
        .bind(to_i64(options.limit as u64))
        .fetch_all(tx)
        .await?;
    rows.iter().map(event_from_row).collect()
}

/// The newest position readers can see.
pub(super) async fn head_position(pool: &PgPool) -> Result<Option<Position>> {
    let (mut tx, frontier) = begin_at_frontier(pool).await?;
    let head = newest_below(&mut tx, frontier).await?;
    tx.commit().await?;
    Ok(head)
}

/// A stream's metadata (defaults when none was set).
pub(super) async fn stream_metadata(pool: &PgPool, stream: &StreamName) -> Result<StreamMetadata> {
    let row: Option<(Option<i64>, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT max_count, max_age_ms, truncate_before FROM streams WHERE name = $1",
    )
    .bind(stream.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map_or_else(StreamMetadata::default, |(count, age, tb)| StreamMetadata {
            max_count: count.map(|n| n as u64),
            max_age: age.map(|ms| Duration::from_millis(ms as u64)),
            truncate_before: tb.map(|n| n as u64),
        }),
    )
}
