//! The conformance suite against EventStoreDB/KurrentDB, when `EVENTSTORE_URL` is set (e.g.
//! `esdb://localhost:2113?tls=false` with docker-compose.yml's server). Every case works in its own
//! random category, so one long-lived server serves every run.

#![cfg(feature = "esdb")]

use shop_eventstore::{Limits, esdb::EsdbEventStore};

mod support;

async fn server(limits: Limits) -> Option<EsdbEventStore> {
    let url = support::eventstore_url()?;
    Some(
        EsdbEventStore::connect(&url, limits)
            .await
            .expect("connect to EVENTSTORE_URL"),
    )
}

shop_eventstore::conformance_tests!(server, optional);
