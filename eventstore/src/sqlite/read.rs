//! Reads, as plain functions of a connection: run on reader threads for a file store, on the
//! writer thread for an in-memory one.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter, types::Value};
use uuid::Uuid;

use crate::{
    Actor, AllPage, Direction, Error, Json, Metadata, Position, ReadAll, ReadStream, RecordedEvent,
    Result, StreamMetadata, StreamName, StreamStart,
};

const EVENT_COLUMNS: &str = "e.position, s.name, e.revision, e.event_id, e.event_type, e.data, \
     e.correlation_id, e.causation_id, e.actor_kind, e.actor_id, e.occurred_at_us, \
     e.schema_version, e.extra, e.recorded_at_us";

pub(super) fn micros_to_time(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

fn uuid_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    let bytes: [u8; 16] = row.get(idx)?;
    Ok(Uuid::from_bytes(bytes))
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<RecordedEvent> {
    let position: i64 = row.get(0)?;
    let stream: String = row.get(1)?;
    let extra: Option<Vec<u8>> = row.get(12)?;
    let extra = match extra {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(12, rusqlite::types::Type::Blob, e.into())
        })?,
        None => serde_json::Map::new(),
    };
    Ok(RecordedEvent {
        // Stored names were validated on the way in.
        stream: StreamName::new(stream).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
        })?,
        revision: row.get::<_, i64>(2)? as u64,
        position: Position::new(position as u64, position as u64),
        event_id: uuid_col(row, 3)?,
        event_type: row.get(4)?,
        data: Json::trusted(row.get::<_, Vec<u8>>(5)?),
        metadata: Metadata {
            correlation_id: uuid_col(row, 6)?,
            causation_id: uuid_col(row, 7)?,
            actor: Actor {
                kind: row.get(8)?,
                id: row.get(9)?,
            },
            occurred_at: micros_to_time(row.get(10)?),
            schema_version: row.get(11)?,
            extra,
        },
        recorded_at: micros_to_time(row.get(13)?),
    })
}

/// What a reader needs to know about a stream.
struct StreamRow {
    id: i64,
    deleted: bool,
    truncate_before: Option<i64>,
    max_count: Option<i64>,
    max_age_ms: Option<i64>,
}

fn stream_row(conn: &Connection, name: &str) -> rusqlite::Result<Option<StreamRow>> {
    conn.prepare_cached(
        "SELECT id, deleted, truncate_before, max_count, max_age_ms FROM streams WHERE name = ?1",
    )?
    .query_row([name], |r| {
        Ok(StreamRow {
            id: r.get(0)?,
            deleted: r.get(1)?,
            truncate_before: r.get(2)?,
            max_count: r.get(3)?,
            max_age_ms: r.get(4)?,
        })
    })
    .optional()
}

pub(super) fn last_revision(conn: &Connection, stream_id: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT MAX(revision) FROM events WHERE stream_id = ?1")?
        .query_row([stream_id], |r| r.get(0))
}

fn clamp_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Reads a stream, honouring soft delete, `$tb`, `$maxCount` and `$maxAge`.
pub(super) fn read_stream(
    conn: &Connection,
    stream: &StreamName,
    options: ReadStream,
    now: DateTime<Utc>,
) -> Result<Vec<RecordedEvent>> {
    let not_found = || Error::StreamNotFound(stream.clone());
    let row = stream_row(conn, stream.as_str())?.ok_or_else(not_found)?;
    let last = match last_revision(conn, row.id)? {
        Some(last) if !row.deleted => last,
        _ => return Err(not_found()),
    };
    let mut min = row.truncate_before.unwrap_or(0);
    if let Some(max_count) = row.max_count {
        min = min.max(last.saturating_sub(max_count).saturating_add(1));
    }
    let min_recorded = row.max_age_ms.map_or(i64::MIN, |ms| {
        now.timestamp_micros()
            .saturating_sub(ms.saturating_mul(1000))
    });
    let from = match options.from {
        StreamStart::Start => 0,
        StreamStart::End => last,
        StreamStart::Revision(r) => i64::try_from(r).unwrap_or(i64::MAX),
    };
    let (bounds, order) = match options.direction {
        Direction::Forwards => ("e.revision >= MAX(?2, ?3)", "ASC"),
        Direction::Backwards => ("e.revision <= ?2 AND e.revision >= ?3", "DESC"),
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e JOIN streams s ON s.id = e.stream_id \
         WHERE e.stream_id = ?1 AND {bounds} AND e.recorded_at_us >= ?4 \
         ORDER BY e.revision {order} LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        rusqlite::params![row.id, from, min, min_recorded, clamp_limit(options.limit)],
        event_from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Reads a page of `$all`.
pub(super) fn read_all(conn: &Connection, options: &ReadAll) -> Result<Vec<RecordedEvent>> {
    let mut params: Vec<Value> = Vec::new();
    let mut sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e JOIN streams s ON s.id = e.stream_id WHERE 1=1"
    );
    if let Some(from) = options.from {
        let bound = i64::try_from(from.commit()).unwrap_or(i64::MAX);
        sql.push_str(match options.direction {
            Direction::Forwards => " AND e.position > ?",
            Direction::Backwards => " AND e.position < ?",
        });
        params.push(Value::Integer(bound));
    }
    if !options.filter.stream_prefixes.is_empty() {
        let terms: Vec<_> = options
            .filter
            .stream_prefixes
            .iter()
            .map(|prefix| match prefix_end(prefix) {
                // A range on the name (byte-wise comparisons, no function call per row): a
                // rebuild reads a million events through six of these.
                Some(end) => {
                    params.push(Value::Text(prefix.clone()));
                    params.push(Value::Text(end));
                    "(s.name >= ? AND s.name < ?)".to_owned()
                }
                None => {
                    params.push(Value::Text(prefix.clone()));
                    format!("substr(s.name, 1, {}) = ?", prefix.chars().count())
                }
            })
            .collect();
        sql.push_str(&format!(" AND ({})", terms.join(" OR ")));
    }
    if !options.filter.event_types.is_empty() {
        let marks: Vec<_> = options
            .filter
            .event_types
            .iter()
            .map(|t| {
                params.push(Value::Text(t.clone()));
                "?"
            })
            .collect();
        sql.push_str(&format!(" AND e.event_type IN ({})", marks.join(", ")));
    }
    sql.push_str(match options.direction {
        Direction::Forwards => " ORDER BY e.position ASC LIMIT ?",
        Direction::Backwards => " ORDER BY e.position DESC LIMIT ?",
    });
    params.push(Value::Integer(clamp_limit(options.limit)));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(params), event_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The least string above every string that starts with `prefix` (its last character
/// incremented), so that "starts with `prefix`" is `prefix <= name < end` in SQLite's binary
/// collation (UTF-8 bytes sort as code points). `None` when there is no such character (empty
/// prefix, or the next code point is not a character).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars = prefix.chars();
    let last = chars.next_back()?;
    let next = char::from_u32(u32::from(last) + 1)?;
    let mut end = chars.as_str().to_owned();
    end.push(next);
    Some(end)
}

/// [`read_all`] plus how far it looked, in one snapshot: a forward page shorter than its limit
/// considered everything up to the head.
pub(super) fn read_all_page(conn: &Connection, options: &ReadAll) -> Result<AllPage> {
    conn.execute_batch("BEGIN")?;
    let page = (|| -> Result<AllPage> {
        let events = read_all(conn, options)?;
        let scanned_to = if options.direction == Direction::Forwards && events.len() < options.limit
        {
            head_position(conn)?.max(events.last().map(|e| e.position))
        } else {
            events.last().map(|e| e.position)
        };
        Ok(AllPage { events, scanned_to })
    })();
    // A read-only transaction: ending it cannot lose anything, and it must end (the connection
    // goes back to the pool).
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e.into());
    }
    page
}

/// A stream's metadata (defaults when none was set).
pub(super) fn stream_metadata(conn: &Connection, stream: &StreamName) -> Result<StreamMetadata> {
    Ok(match stream_row(conn, stream.as_str())? {
        None => StreamMetadata::default(),
        Some(row) => StreamMetadata {
            max_count: row.max_count.map(|n| n as u64),
            max_age: row
                .max_age_ms
                .map(|ms| std::time::Duration::from_millis(ms as u64)),
            truncate_before: row.truncate_before.map(|n| n as u64),
        },
    })
}

/// The newest position.
pub(super) fn head_position(conn: &Connection) -> Result<Option<Position>> {
    let head: Option<i64> = conn
        .prepare_cached("SELECT MAX(position) FROM events")?
        .query_row([], |r| r.get(0))?;
    Ok(head.map(|p| Position::new(p as u64, p as u64)))
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn a_prefix_ends_at_its_last_character_plus_one() {
        assert_eq!(prefix_end("order-").as_deref(), Some("order."));
        assert_eq!(prefix_end("cart-2").as_deref(), Some("cart-3"));
        assert_eq!(prefix_end("é").as_deref(), Some("ê"));
        assert_eq!(prefix_end(""), None);
        // U+D7FF is followed by the surrogates, which are not characters.
        assert_eq!(prefix_end("a\u{d7ff}"), None);
        for (name, prefix) in [
            ("order-1", "order-"),
            ("order-", "order-"),
            ("cart-29", "cart-2"),
        ] {
            let end = prefix_end(prefix).unwrap();
            assert!(name >= prefix && name < end.as_str(), "{name} {prefix}");
        }
        for (name, prefix) in [
            ("order.1", "order-"),
            ("orders-1", "order-"),
            ("cart-3", "cart-2"),
        ] {
            let end = prefix_end(prefix).unwrap();
            assert!(!(name >= prefix && name < end.as_str()), "{name} {prefix}");
        }
    }
}
