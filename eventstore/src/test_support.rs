//! For test suites of this and other crates: where the test servers are, whether they are
//! required, and fresh Postgres schemas.

/// The test database, from `TEST_DATABASE_URL`. Missing: `None` (the Postgres cases skip with a
/// note), unless `SHOP_REQUIRE_POSTGRES=1`, which makes it a failure — CI sets that, so a broken
/// CI database can never turn into a green run that tested nothing.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("SHOP_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!("SHOP_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
        }
        _ => None,
    }
}

/// A schema name unique to this test, `<prefix>_<unix seconds>_<random>`; schemas of the same
/// prefix left behind by runs over an hour old are dropped first, so the test database does not
/// fill up.
pub async fn fresh_schema(url: &str, prefix: &str) -> String {
    use sqlx::Connection as _;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    let old: Vec<String> =
        sqlx::query_scalar("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 || '\\_%'")
            .bind(prefix)
            .fetch_all(&mut conn)
            .await
            .expect("list schemas");
    for schema in old {
        let stamp = schema[prefix.len() + 1..]
            .split('_')
            .next()
            .and_then(|s| s.parse::<u64>().ok());
        if stamp.is_some_and(|t| t + 3600 < now) {
            let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut conn)
                .await;
        }
    }
    format!("{prefix}_{now}_{}", uuid::Uuid::new_v4().simple())
}

/// A fresh schema name on the test database (prefix `prefix`), or `None` when no test database
/// is configured (and none is required).
pub async fn postgres_schema(prefix: &str) -> Option<String> {
    let url = postgres_url()?;
    Some(fresh_schema(&url, prefix).await)
}

/// A Postgres event store in `schema` (created if missing). Call it twice with the same schema to
/// get two stores as two processes would open them.
pub async fn postgres_store_in(schema: &str) -> crate::postgres::PostgresEventStore {
    let url = postgres_url().expect("a test database");
    let options = crate::postgres::PostgresOptions {
        schema: Some(schema.to_owned()),
        max_connections: 8,
        ..Default::default()
    };
    crate::postgres::PostgresEventStore::connect(&url, options)
        .await
        .expect("connect to TEST_DATABASE_URL")
}
