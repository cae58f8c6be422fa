//! Shared by the adapter test files: where the test servers are, and whether they are required.

#![allow(dead_code)]

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
