//! The conformance suite against the embedded SQLite store, in memory and on a file.

use shop_eventstore::{
    Limits,
    sqlite::{SqliteEventStore, SqliteOptions},
};

async fn in_memory(limits: Limits) -> SqliteEventStore {
    SqliteEventStore::in_memory_with(SqliteOptions {
        limits,
        ..Default::default()
    })
    .await
    .expect("open in-memory store")
}

/// A file store in a fresh directory that lives as long as the test process.
async fn on_file(limits: Limits) -> SqliteEventStore {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    SqliteEventStore::open(
        dir.join("events.db"),
        SqliteOptions {
            limits,
            ..Default::default()
        },
    )
    .await
    .expect("open file store")
}

mod memory {
    shop_eventstore::conformance_tests!(super::in_memory);
}

mod file {
    shop_eventstore::conformance_tests!(super::on_file);
}
