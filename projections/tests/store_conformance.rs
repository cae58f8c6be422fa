//! The read-model store's conformance suite on every adapter: SQLite (file, and memory) always,
//! Postgres when `TEST_DATABASE_URL` is set (required in CI).

use std::sync::Arc;

use shop_eventstore::test_support;
use shop_projections::store::conformance::Pair;
use shop_projections::store::postgres::{PostgresReadOptions, PostgresReadStore};
use shop_projections::store::sqlite::SqliteReadStore;

mod sqlite_file {
    use super::*;

    async fn pair() -> Option<Pair> {
        // The directory outlives the test: it is removed with the OS's temporary files.
        let dir = tempfile::tempdir().unwrap().keep();
        let path = dir.join("read.db");
        let a = SqliteReadStore::open(&path).await.unwrap();
        let b = SqliteReadStore::open(&path).await.unwrap();
        Some((Arc::new(a), Arc::new(b)))
    }

    shop_projections::read_store_conformance!(pair);
}

mod sqlite_memory {
    use super::*;

    async fn pair() -> Option<Pair> {
        // A memory database has one handle; both "processes" share it.
        let a = Arc::new(SqliteReadStore::in_memory().unwrap());
        Some((a.clone(), a))
    }

    shop_projections::read_store_conformance!(pair);
}

mod postgres {
    use super::*;

    async fn pair() -> Option<Pair> {
        let schema = test_support::postgres_schema("rsc").await?;
        let url = test_support::postgres_url()?;
        let open = || async {
            PostgresReadStore::connect(
                &url,
                PostgresReadOptions {
                    schema: Some(schema.clone()),
                    max_connections: 4,
                },
            )
            .await
            .unwrap()
        };
        Some((Arc::new(open().await), Arc::new(open().await)))
    }

    shop_projections::read_store_conformance!(pair);
}
