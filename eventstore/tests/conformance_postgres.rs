//! The conformance suite against the Postgres store, each case in a fresh schema.
//!
//! Needs `TEST_DATABASE_URL`. Without it the cases pass vacuously with a note — unless
//! `SHOP_REQUIRE_POSTGRES=1` (set by `.ci/run`), which turns a missing or unreachable database into
//! a failure.

use shop_eventstore::{
    Limits,
    postgres::{PostgresEventStore, PostgresOptions},
};

use shop_eventstore::test_support as support;

async fn fresh(limits: Limits) -> Option<PostgresEventStore> {
    let url = support::postgres_url()?;
    let schema = support::fresh_schema(&url, "conformance").await;
    let options = PostgresOptions {
        limits,
        schema: Some(schema),
        max_connections: 8,
        ..Default::default()
    };
    Some(
        PostgresEventStore::connect(&url, options)
            .await
            .expect("connect to TEST_DATABASE_URL"),
    )
}

shop_eventstore::conformance_tests!(fresh, optional);
