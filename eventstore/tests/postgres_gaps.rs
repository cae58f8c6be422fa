//! The sequence-gap bug, provoked on purpose: transactions on separate connections commit out of
//! the order of their positions, and a subscriber must still deliver every event, in order, once.
//!
//! A store that numbered events from a plain sequence would let the subscriber see a later number
//! commit first, move its checkpoint past the earlier one, and skip it for ever when it commits.

use std::{collections::HashSet, time::Duration};

use futures::StreamExt;
use rand::Rng;
use shop_eventstore::{
    AllFilter, EventStore, ExpectedRevision, ReadAll, SubscribeAll,
    conformance::{Scope, event},
    postgres::{PostgresEventStore, PostgresOptions},
};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use shop_eventstore::test_support as support;

/// The store's own append function called directly, for one event to `stream`, on a connection
/// whose `search_path` is the store's schema.
async fn raw_append(
    conn: &mut PgConnection,
    stream: &str,
    id: Uuid,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT status FROM shop_append($1, 'any', NULL, ARRAY[$2]::uuid[], \
         ARRAY['test.Raw.v1'], ARRAY['{}'], ARRAY[gen_random_uuid()], ARRAY[gen_random_uuid()], \
         ARRAY['system'], ARRAY['gap-test'], ARRAY[now()], ARRAY[1], ARRAY[NULL]::text[])",
    )
    .bind(stream)
    .bind(id)
    .fetch_one(conn)
    .await
}

async fn use_schema(conn: &mut PgConnection, schema: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!("SET search_path TO {schema}")))
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// Opens a transaction that holds a transaction id without having appended anything.
async fn begin_with_an_id(conn: &mut PgConnection) {
    sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
}

/// Appends one event to `stream` inside an explicit transaction that the caller commits or rolls
/// back: the store's own append function, on a connection of our own.
async fn begin_append(conn: &mut PgConnection, schema: &str, stream: &str) -> Uuid {
    let id = Uuid::new_v4();
    use_schema(conn, schema).await;
    sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    assert_eq!(raw_append(conn, stream, id).await.unwrap(), "ok");
    id
}

async fn setup() -> Option<(String, String, PostgresEventStore)> {
    let url = support::postgres_url()?;
    let schema = support::fresh_schema(&url, "gaps").await;
    let options = PostgresOptions {
        schema: Some(schema.clone()),
        poll_interval: Duration::from_millis(50),
        ..Default::default()
    };
    let store = PostgresEventStore::connect(&url, options).await.unwrap();
    Some((url, schema, store))
}

async fn next_id(sub: &mut shop_eventstore::EventStream) -> Uuid {
    tokio::time::timeout(Duration::from_secs(30), sub.next())
        .await
        .expect("an event in time")
        .expect("subscription open")
        .expect("no error")
        .event_id
}

/// The slow transaction took its position first; the fast one commits first. The subscriber must
/// wait for the slow one rather than pass it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscriber_waits_for_a_transaction_that_commits_late() {
    let Some((url, schema, store)) = setup().await else {
        eprintln!("skipped: TEST_DATABASE_URL not set");
        return;
    };
    let scope = Scope::new();
    let mut sub = store.subscribe_all(SubscribeAll {
        after: None,
        filter: scope.filter(),
    });

    let mut slow = PgConnection::connect(&url).await.unwrap();
    let slow_id = begin_append(&mut slow, &schema, scope.stream("slow").as_str()).await;
    let fast = store
        .append(
            &scope.stream("fast"),
            ExpectedRevision::NoStream,
            vec![event(1)],
        )
        .await
        .unwrap();

    // Longer than a read's bounded wait for in-flight appenders (5 s), so a reader that gave up
    // waiting and read past the slow transaction would be caught here.
    let early = tokio::time::timeout(Duration::from_secs(6), sub.next()).await;
    assert!(
        early.is_err(),
        "delivered before the earlier transaction finished: {early:?}"
    );

    sqlx::query("COMMIT").execute(&mut slow).await.unwrap();
    assert_eq!(
        next_id(&mut sub).await,
        slow_id,
        "the earlier position first"
    );
    let second = tokio::time::timeout(Duration::from_secs(30), sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(second.position, fast.position);
    let all = store
        .read_all(ReadAll::forwards().filter(scope.filter()))
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].position < all[1].position);
}

/// Many writers on separate connections, each holding its transaction open for a random moment,
/// a fifth of them rolling back, while a subscriber follows `$all`: the subscriber delivers exactly
/// the committed events, strictly in position order, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_out_of_order_commits_are_all_delivered_in_order() {
    const WRITERS: usize = 12;
    const EACH: usize = 25;
    let Some((url, schema, store)) = setup().await else {
        eprintln!("skipped: TEST_DATABASE_URL not set");
        return;
    };
    let scope = Scope::new();
    let mut sub = store.subscribe_all(SubscribeAll {
        after: None,
        filter: AllFilter::category(scope.category()),
    });
    // The subscriber follows while the writers write (a subscription is pulled: it must be polled
    // concurrently to be exposed to commits landing out of order).
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<usize>();
    let follower = tokio::spawn(async move {
        let mut delivered = Vec::new();
        let mut target = None;
        let mut deadline = None;
        loop {
            if let Ok(n) = done_rx.try_recv() {
                target = Some(n);
                // Generous: the frontier also waits for other sessions' open transactions.
                deadline = Some(tokio::time::Instant::now() + Duration::from_secs(30));
            }
            if target.is_some_and(|n| delivered.len() >= n) {
                break;
            }
            match tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
                Ok(Some(Ok(e))) => delivered.push(e),
                Ok(other) => panic!("subscription ended or failed: {other:?}"),
                Err(_) if deadline.is_some_and(|d| tokio::time::Instant::now() > d) => panic!(
                    "stalled: delivered {} of {:?} committed events",
                    delivered.len(),
                    target
                ),
                Err(_) => {}
            }
        }
        let extra = tokio::time::timeout(Duration::from_millis(700), sub.next()).await;
        assert!(extra.is_err(), "more than was committed: {extra:?}");
        delivered
    });
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (url, schema, stream) =
                (url.clone(), schema.clone(), scope.stream(&format!("w{w}")));
            tokio::spawn(async move {
                let mut conn = PgConnection::connect(&url).await.unwrap();
                let mut committed = Vec::new();
                for _ in 0..EACH {
                    let id = begin_append(&mut conn, &schema, stream.as_str()).await;
                    let (pause, roll_back) = {
                        let mut rng = rand::rng();
                        (rng.random_range(0..10), rng.random_bool(0.2))
                    };
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    if roll_back {
                        sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
                    } else {
                        sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
                        committed.push(id);
                    }
                }
                committed
            })
        })
        .collect();
    let mut committed = HashSet::new();
    for w in writers {
        committed.extend(w.await.unwrap());
    }
    done_tx.send(committed.len()).unwrap();
    let delivered = follower.await.unwrap();
    let ids: HashSet<_> = delivered.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), delivered.len(), "no duplicates");
    assert_eq!(ids, committed, "exactly the committed events");
    assert!(
        delivered.windows(2).all(|w| w[0].position < w[1].position),
        "in position order"
    );
}

/// Live events appended by another process (here: another store instance, its own pool) arrive
/// by notification, not by the (here: one minute) polling fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_events_are_pushed_by_notifications() {
    let Some(url) = support::postgres_url() else {
        eprintln!("skipped: TEST_DATABASE_URL not set");
        return;
    };
    let options = PostgresOptions {
        schema: Some(support::fresh_schema(&url, "notify").await),
        poll_interval: Duration::from_secs(60),
        ..Default::default()
    };
    let reader = PostgresEventStore::connect(&url, options.clone())
        .await
        .unwrap();
    let writer = PostgresEventStore::connect(&url, options).await.unwrap();
    let scope = Scope::new();
    let mut sub = reader.subscribe_all(SubscribeAll {
        after: None,
        filter: scope.filter(),
    });
    // Let the subscription go idle (caught up, waiting) before the append.
    let idle = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
    assert!(idle.is_err());
    for n in 0..3 {
        writer
            .append(&scope.stream("a"), ExpectedRevision::Any, vec![event(n)])
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), sub.next()).await;
        assert!(
            matches!(got, Ok(Some(Ok(_)))),
            "event {n} not pushed within 10 s: {got:?}"
        );
    }
}

/// A transaction that holds a transaction id but never appends (another application, a
/// projection's read-model write, a forgotten psql session) does not hold readers back: only
/// appending transactions are waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unrelated_open_transactions_do_not_hold_readers_back() {
    let Some((url, _schema, store)) = setup().await else {
        eprintln!("skipped: TEST_DATABASE_URL not set");
        return;
    };
    let mut bystander = PgConnection::connect(&url).await.unwrap();
    begin_with_an_id(&mut bystander).await;
    let scope = Scope::new();
    let r = store
        .append(
            &scope.stream("a"),
            ExpectedRevision::NoStream,
            vec![event(0)],
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let all = store
        .read_all(ReadAll::forwards().filter(scope.filter()))
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "the acknowledged event is readable at once");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "read took {:?}",
        started.elapsed()
    );
    assert!(
        store
            .head_position()
            .await
            .unwrap()
            .is_some_and(|h| h >= r.position)
    );
    sqlx::query("ROLLBACK")
        .execute(&mut bystander)
        .await
        .unwrap();
}

/// The other half of that bargain: a transaction that already has an id without having taken the
/// append lock cannot append (it could otherwise slip an event below a reader's frontier).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_that_wrote_first_cannot_append() {
    let Some((url, schema, _store)) = setup().await else {
        eprintln!("skipped: TEST_DATABASE_URL not set");
        return;
    };
    let mut conn = PgConnection::connect(&url).await.unwrap();
    use_schema(&mut conn, &schema).await;
    begin_with_an_id(&mut conn).await;
    let refused = raw_append(&mut conn, "late-1", Uuid::new_v4()).await;
    let message = refused.expect_err("refused").to_string();
    assert!(
        message.contains("must come before any other write"),
        "{message}"
    );
}

/// A store whose events carry transaction ids ahead of the cluster's (restored into another
/// cluster) is refused at connect: new positions would sort before the old ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_another_cluster_is_refused() {
    let Some((url, schema, store)) = setup().await else {
        eprintln!("skipped: TEST_DATABASE_URL not set");
        return;
    };
    let scope = Scope::new();
    store
        .append(
            &scope.stream("a"),
            ExpectedRevision::NoStream,
            vec![event(0)],
        )
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {schema}.events SET tx_id = tx_id + 1000000000000"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    let options = PostgresOptions {
        schema: Some(schema),
        ..Default::default()
    };
    let refused = PostgresEventStore::connect(&url, options)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("restored into another cluster"),
        "{refused}"
    );
}

/// A pooled connection handed back still inside a transaction that sqlx does not know about (what
/// a task cancelled while its `BEGIN` was in flight leaves behind) does not fail the next reads:
/// the store ends that transaction and reads from a fresh snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_left_in_a_transaction_does_not_fail_reads() {
    let Some(url) = support::postgres_url() else {
        eprintln!("skipped: TEST_DATABASE_URL not set");
        return;
    };
    let options = PostgresOptions {
        schema: Some(support::fresh_schema(&url, "stuck").await),
        max_connections: 2,
        ..Default::default()
    };
    let store = PostgresEventStore::connect(&url, options).await.unwrap();
    let scope = Scope::new();
    store
        .append(&scope.stream("a"), ExpectedRevision::Any, vec![event(0)])
        .await
        .unwrap();
    for read in ["all", "stream"] {
        {
            // The pool's one free connection (the store holds the other), left inside a
            // transaction that has run a query.
            let mut held = Vec::new();
            for _ in 0..1 {
                let mut conn = store.pool().acquire().await.unwrap();
                sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
                sqlx::query("SELECT 1").execute(&mut *conn).await.unwrap();
                held.push(conn);
            }
        }
        let got = if read == "all" {
            store
                .read_all(ReadAll::forwards().filter(scope.filter()))
                .await
                .map(|e| e.len())
        } else {
            store
                .read_stream(&scope.stream("a"), shop_eventstore::ReadStream::forwards())
                .await
                .map(|e| e.len())
        };
        assert_eq!(got.unwrap(), 1, "read {read}");
    }
}
