//! `Idempotency-Key` records in the event store, on the embedded store and Postgres: a first
//! request runs and a repeat gets its response back; the same key with another request is a
//! mismatch; of 20 concurrent requests with one key exactly one runs; a released claim runs
//! again; keys of two callers never meet; a record lapses after its time to live.

use std::sync::Arc;
use std::time::Duration;

use shop_api::idempotency::{
    Begin, IdempotencyError, IdempotencyStore, StoredResponse, fingerprint,
};
use shop_eventstore::EventStore;
use shop_eventstore::sqlite::{SqliteEventStore, SqliteOptions};

fn created() -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![("location".into(), "/v1/carts/c1".into())],
        body: r#"{"cart_id":"c1"}"#.into(),
    }
}

async fn records_on(store: Arc<dyn EventStore>) {
    let keys = IdempotencyStore::new(store.clone());
    let a = fingerprint("POST", "/v1/carts", br#"{"currency":"EUR"}"#);
    let b = fingerprint("POST", "/v1/carts", br#"{"currency":"USD"}"#);
    assert_ne!(a, b);

    let Begin::Run(claim) = keys.begin("alice", "k-1", &a).await.unwrap() else {
        panic!("the first request runs");
    };
    // While it runs: the same request waits, another is refused.
    assert_eq!(
        keys.begin("alice", "k-1", &a).await.unwrap(),
        Begin::InProgress
    );
    assert_eq!(
        keys.begin("alice", "k-1", &b).await.unwrap(),
        Begin::Mismatch
    );
    keys.complete(claim, created()).await.unwrap();
    assert_eq!(
        keys.begin("alice", "k-1", &a).await.unwrap(),
        Begin::Replay(created())
    );
    assert_eq!(
        keys.begin("alice", "k-1", &b).await.unwrap(),
        Begin::Mismatch
    );
    // Another caller's key of the same text is its own.
    assert!(matches!(
        keys.begin("bob", "k-1", &b).await.unwrap(),
        Begin::Run(_)
    ));

    // A released claim (a failure worth retrying) runs again.
    let Begin::Run(claim) = keys.begin("alice", "k-2", &a).await.unwrap() else {
        panic!("runs");
    };
    keys.release(claim).await.unwrap();
    assert!(matches!(
        keys.begin("alice", "k-2", &a).await.unwrap(),
        Begin::Run(_)
    ));

    // 20 concurrent requests with one key: exactly one runs.
    let runs: Vec<_> = (0..20)
        .map(|_| {
            let keys = keys.clone();
            let a = a.clone();
            tokio::spawn(async move { keys.begin("carol", "k-3", &a).await.unwrap() })
        })
        .collect();
    let mut ran = 0;
    for run in runs {
        match run.await.unwrap() {
            Begin::Run(_) => ran += 1,
            Begin::InProgress => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ran, 1);

    // A claim abandoned by a request that died is taken over once its lease is up, once: the
    // taker runs, the stale claim's late response is not what repeats get, and a second repeat
    // waits for the taker.
    let leased = keys.clone().with_lease(Duration::from_millis(300));
    let Begin::Run(abandoned) = leased.begin("erin", "k-5", &a).await.unwrap() else {
        panic!("runs");
    };
    assert_eq!(
        leased.begin("erin", "k-5", &a).await.unwrap(),
        Begin::InProgress
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let Begin::Run(taker) = leased.begin("erin", "k-5", &a).await.unwrap() else {
        panic!("the abandoned claim is taken over");
    };
    assert_eq!(
        keys.begin("erin", "k-5", &a).await.unwrap(),
        Begin::InProgress,
        "the taker holds it now"
    );
    let mut late = created();
    late.body = "late".into();
    keys.complete(abandoned, late).await.unwrap();
    keys.complete(taker, created()).await.unwrap();
    assert_eq!(
        keys.begin("erin", "k-5", &a).await.unwrap(),
        Begin::Replay(created())
    );

    // Bad keys.
    for key in ["", "has space", &"x".repeat(256), "naïve"] {
        assert!(matches!(
            keys.begin("alice", key, &a).await,
            Err(IdempotencyError::InvalidKey)
        ));
    }

    // A record lapses after its time to live; the key then runs again, once.
    let short = IdempotencyStore::new(store).with_ttl(Duration::from_secs(1));
    let Begin::Run(claim) = short.begin("dave", "k-4", &a).await.unwrap() else {
        panic!("runs");
    };
    short.complete(claim, created()).await.unwrap();
    assert_eq!(
        short.begin("dave", "k-4", &a).await.unwrap(),
        Begin::Replay(created())
    );
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert!(matches!(
        short.begin("dave", "k-4", &b).await.unwrap(),
        Begin::Run(_)
    ));
    assert_eq!(
        short.begin("dave", "k-4", &b).await.unwrap(),
        Begin::InProgress
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEventStore::open(dir.path().join("events.db"), SqliteOptions::default())
        .await
        .unwrap();
    records_on(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_on_postgres() {
    let Some(schema) = shop_eventstore::test_support::postgres_schema("idempotency").await else {
        return;
    };
    let store = shop_eventstore::test_support::postgres_store_in(&schema).await;
    records_on(Arc::new(store)).await;
}
