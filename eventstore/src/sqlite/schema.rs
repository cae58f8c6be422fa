//! The embedded store's tables and connection settings.

use rusqlite::Connection;

/// Tables. `events.position` is the rowid: the single writer assigns it in commit order, so `$all`
/// order is commit order and readers can never see a later position before an earlier one.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS streams (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    deleted          INTEGER NOT NULL DEFAULT 0,
    truncate_before  INTEGER,
    max_count        INTEGER,
    max_age_ms       INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    position        INTEGER PRIMARY KEY,
    stream_id       INTEGER NOT NULL,
    revision        INTEGER NOT NULL,
    event_id        BLOB    NOT NULL,
    event_type      TEXT    NOT NULL,
    data            BLOB    NOT NULL,
    correlation_id  BLOB    NOT NULL,
    causation_id    BLOB    NOT NULL,
    actor_kind      TEXT    NOT NULL,
    actor_id        TEXT    NOT NULL,
    occurred_at_us  INTEGER NOT NULL,
    schema_version  INTEGER NOT NULL,
    extra           BLOB,
    recorded_at_us  INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_stream_revision ON events (stream_id, revision);
";

/// Settings for the writer connection. `synchronous=FULL` in WAL mode syncs the WAL on every
/// commit, so an acknowledged append survives power loss; group commit makes that one fsync per
/// batch of appends rather than per append.
pub(super) fn configure_writer(conn: &Connection, durable: bool) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if durable { "FULL" } else { "OFF" })?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    // Savepoint journals (one savepoint per request in a group commit) stay in memory.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The writer checkpoints between batches itself (see `Writer::maybe_checkpoint`), never inside
    // a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // Kept modest on purpose: SQLite walks the whole page-cache hash at every commit, so a big
    // cache makes each group commit slower; the OS page cache backs it anyway.
    conn.pragma_update(None, "cache_size", -16_000)?;
    conn.set_prepared_statement_cache_capacity(64);
    stable_plans(conn)?;
    conn.execute_batch(SCHEMA)
}

/// Query planner stability: without it SQLite marks a statement's plan as depending on bound
/// values (range bounds, LIMIT) and prepares it again on every run with new bindings, which
/// cost a fifth of the CPU of a checkout run. Our statements have one right plan whatever the
/// values.
fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Settings for reader connections: WAL readers never block the writer.
pub(super) fn configure_reader(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "query_only", "ON")?;
    conn.pragma_update(None, "cache_size", -32_000)?;
    conn.set_prepared_statement_cache_capacity(64);
    stable_plans(conn)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Power-loss durability is a setting, not something a test can cut the power on: pin it.
    #[test]
    fn the_writer_is_durable_wal_with_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("t.db")).unwrap();
        configure_writer(&conn, true).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            (mode.as_str(), sync),
            ("wal", 2),
            "WAL with synchronous=FULL"
        );
    }
}
