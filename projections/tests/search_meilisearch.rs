//! The search conformance suite against a real Meilisearch server, each case on a fresh,
//! uniquely named index that is deleted afterwards (even when the case fails), so one
//! long-lived server serves every run.
//!
//! With `MEILI_URL` set when the crate is built (see `projections/build.rs`) the cases run; without
//! a server they are compiled (the adapter must keep compiling and pass clippy) but marked
//! ignored, so a run without one reports them as ignored, never as passed. To run them
//! (`docker-compose up -d meilisearch`, see docs/search.md):
//!
//! ```sh
//! MEILI_URL=http://127.0.0.1:7700 MEILI_KEY=... cargo test -p shop-projections --test search_meilisearch
//! ```

use std::ops::Deref;

use shop_projections::search::{MeiliIndex, SearchSettings};

/// A Meilisearch index made for one case.
struct Fixture {
    index: MeiliIndex,
}

impl Deref for Fixture {
    type Target = MeiliIndex;

    fn deref(&self) -> &MeiliIndex {
        &self.index
    }
}

async fn fresh_index() -> Fixture {
    let url = std::env::var("MEILI_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("MEILI_URL must point at a Meilisearch server to run this suite");
    let key = std::env::var("MEILI_KEY").ok().filter(|k| !k.is_empty());
    let uid = format!("shop_conformance_{}", uuid::Uuid::new_v4().simple());
    let index = MeiliIndex::connect(&url, key, &uid, SearchSettings::default())
        .await
        .expect("connect to MEILI_URL and create the index");
    Fixture { index }
}

async fn delete_index(fixture: Fixture) {
    if let Err(e) = fixture.index.delete_index().await {
        eprintln!(
            "could not delete test index {fixture:?}: {e}",
            fixture = fixture.index
        );
    }
}

#[cfg(meili_server)]
shop_projections::search_conformance_tests!(fresh_index, teardown = delete_index);

#[cfg(not(meili_server))]
shop_projections::search_conformance_tests!(
    fresh_index,
    teardown = delete_index,
    ignore = "needs a Meilisearch server: set MEILI_URL (and MEILI_KEY)"
);
