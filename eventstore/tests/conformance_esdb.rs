//! The conformance suite against EventStoreDB/KurrentDB. Compiled only when `EVENTSTORE_URL` is set
//! at build time (e.g. `esdb://localhost:2113?tls=false` with docker-compose.yml's server; see
//! `build.rs`), so a run without a server lists no EventStoreDB tests rather than hollow passes.
//! With `SHOP_REQUIRE_EVENTSTORE=1` and no URL, one test fails and says why. Every case works in its
//! own random category, so one long-lived server serves every run.

#![cfg(feature = "esdb")]

#[cfg(eventstore_server)]
mod server {
    use shop_eventstore::{Limits, esdb::EsdbEventStore};

    async fn server(limits: Limits) -> EsdbEventStore {
        let url = std::env::var("EVENTSTORE_URL").expect("EVENTSTORE_URL was set at build time");
        EsdbEventStore::connect(&url, limits)
            .await
            .expect("connect to EVENTSTORE_URL")
    }

    shop_eventstore::conformance_tests!(server);
}

#[cfg(eventstore_required_but_missing)]
#[test]
fn eventstore_server_is_configured() {
    panic!("SHOP_REQUIRE_EVENTSTORE=1 but EVENTSTORE_URL was not set when the tests were built");
}
