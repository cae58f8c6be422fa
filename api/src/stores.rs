//! Opening the configured stores: the event store from `EVENTSTORE_URL` (embedded SQLite under
//! the data directory when unset) and the read-model database from `DATABASE_URL` (embedded
//! SQLite when unset), as `shop serve`'s settings and the CLI's store arguments name them.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use shop_eventstore::EventStore;
use shop_eventstore::postgres::{PostgresEventStore, PostgresOptions};
use shop_eventstore::sqlite::{SqliteEventStore, SqliteOptions};
use shop_projections::store::ReadStore;
use shop_projections::store::postgres::{PostgresReadOptions, PostgresReadStore};
use shop_projections::store::sqlite::SqliteReadStore;

/// The event store `url` names (`postgres://…`, `esdb://…`/`kurrentdb://…` with the `esdb`
/// feature), or the embedded one in `data_dir/events.db`.
pub async fn event_store(
    url: Option<&str>,
    data_dir: &Path,
) -> anyhow::Result<Arc<dyn EventStore>> {
    match url {
        None => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
            let path = data_dir.join("events.db");
            let store = SqliteEventStore::open(&path, SqliteOptions::default())
                .await
                .with_context(|| format!("opening the embedded event store {}", path.display()))?;
            Ok(Arc::new(store))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PostgresEventStore::connect(url, PostgresOptions::default())
                .await
                .context("connecting to the Postgres event store (EVENTSTORE_URL)")?;
            Ok(Arc::new(store))
        }
        Some(url) if url.starts_with("esdb://") || url.starts_with("kurrentdb://") => {
            esdb(url).await
        }
        Some(url) => anyhow::bail!(
            "EVENTSTORE_URL {url:?} is not understood: use postgres://…, esdb://… or kurrentdb://…, \
             or leave it unset for the embedded store"
        ),
    }
}

#[cfg(feature = "esdb")]
async fn esdb(url: &str) -> anyhow::Result<Arc<dyn EventStore>> {
    let store = shop_eventstore::esdb::EsdbEventStore::connect(url, Default::default())
        .await
        .context("connecting to EventStoreDB (EVENTSTORE_URL)")?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "esdb"))]
async fn esdb(_url: &str) -> anyhow::Result<Arc<dyn EventStore>> {
    anyhow::bail!("this build has no EventStoreDB adapter: build with `--features esdb`")
}

/// The read-model database `url` names (`postgres://…`), or the embedded one in
/// `data_dir/read.db`.
pub async fn read_store(url: Option<&str>, data_dir: &Path) -> anyhow::Result<Arc<dyn ReadStore>> {
    match url {
        None => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
            let path = data_dir.join("read.db");
            let store = SqliteReadStore::open(&path)
                .await
                .with_context(|| format!("opening the embedded read models {}", path.display()))?;
            Ok(Arc::new(store))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PostgresReadStore::connect(url, PostgresReadOptions::default())
                .await
                .context("connecting to the read-model database (DATABASE_URL)")?;
            Ok(Arc::new(store))
        }
        Some(url) => anyhow::bail!(
            "DATABASE_URL {url:?} is not understood: use postgres://…, or leave it unset for the \
             embedded read models"
        ),
    }
}
