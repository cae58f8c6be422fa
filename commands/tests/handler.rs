//! The command handler's machinery: conflicts and their retries, rejections checked against the
//! tail, `If-Match`, batching of a hot stream, load shedding, snapshots and the idle cache.

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use shop_commands::snapshot::{SNAPSHOT_EVENT_TYPE, snapshot_stream};
use shop_commands::{CommandError, CommandHandler, HandlerConfig, codec};
use shop_domain::Aggregate;
use shop_domain::inventory::{Inventory, InventoryCommand, InventoryEvent, InventoryRejection};
use shop_eventstore::{
    Actor, EventData, EventStore, ExpectedRevision, Json, Metadata, ReadStream, StreamName,
};
use support::store::Instrumented;
use support::*;
use uuid::Uuid;

/// Another writer's receipt of `quantity` units into `w1`.
fn foreign_receipt(sku_id: &str, quantity: u32) -> EventData {
    let event = InventoryEvent::StockReceived {
        sku: sku(sku_id),
        warehouse: warehouse("w1"),
        quantity,
        note: Some("other process".into()),
    };
    let (event_type, data) = codec::encode(&event).unwrap();
    EventData {
        event_id: Uuid::new_v4(),
        event_type,
        data,
        metadata: Metadata::new(Uuid::new_v4(), Uuid::new_v4(), Actor::system("other"), t0()),
    }
}

fn reserve(sku_id: &str, n: usize, quantity: u32) -> shop_commands::Command<InventoryCommand> {
    command(InventoryCommand::ReserveStock {
        sku: sku(sku_id),
        order_id: order(n),
        quantity,
        expires_at: None,
    })
}

async fn stream_len(store: &dyn EventStore, stream: &str) -> usize {
    store
        .read_stream(&StreamName::new(stream).unwrap(), ReadStream::forwards())
        .await
        .map(|e| e.len())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_conflict_reloads_and_decides_again() {
    let (inner, _dir) = sqlite_store().await;
    let store = Instrumented::new(inner);
    let h: CommandHandler<Inventory> = handler(store.clone());
    receive(&h, &sku("S1"), 10).await;

    store.interfere(1, Box::new(|| foreign_receipt("S1", 5)));
    let outcome = h.handle(&sku("S1"), reserve("S1", 1, 3)).await.unwrap();
    // The foreign receipt took revision 1; the reservation was decided again and landed at 2.
    assert_eq!(outcome.revision, Some(2));
    assert_eq!(h.stats().conflicts, 1);
    let (state, _) = h.load(&sku("S1")).await.unwrap();
    assert_eq!((state.available(), state.reserved()), (12, 3));
}

#[tokio::test]
async fn a_stream_that_keeps_changing_ends_in_a_conflict_and_writes_nothing() {
    let (inner, _dir) = sqlite_store().await;
    let store = Instrumented::new(inner.clone());
    let config = HandlerConfig {
        max_attempts: 3,
        ..HandlerConfig::default()
    };
    let h: CommandHandler<Inventory> = handler_with(store.clone(), config);
    receive(&h, &sku("S1"), 10).await;
    store.interfere(u32::MAX, Box::new(|| foreign_receipt("S1", 1)));
    match h.handle(&sku("S1"), reserve("S1", 1, 3)).await {
        Err(CommandError::Conflict { attempts, .. }) => assert_eq!(attempts, 3),
        other => panic!("expected a conflict, got {other:?}"),
    }
    store.interfere(0, Box::new(|| foreign_receipt("S1", 1)));
    // The receipt and three foreign events; no reservation.
    assert_eq!(stream_len(inner.as_ref(), "inventory-S1").await, 4);
    let (state, _) = h.load(&sku("S1")).await.unwrap();
    assert_eq!(state.reserved(), 0);
}

#[tokio::test]
async fn a_rejection_decided_from_memory_is_checked_against_the_tail() {
    let (store, _dir) = sqlite_store().await;
    let a: CommandHandler<Inventory> = handler(store.clone());
    let b: CommandHandler<Inventory> = handler(store.clone());
    receive(&a, &sku("S1"), 1).await;
    a.handle(&sku("S1"), reserve("S1", 1, 1)).await.unwrap();
    // `a` holds the stream with nothing available; another process receives stock.
    receive(&b, &sku("S1"), 5).await;
    let outcome = a.handle(&sku("S1"), reserve("S1", 2, 1)).await.unwrap();
    assert_eq!(outcome.revision, Some(3));

    // Without the check, the stale state would have refused it (the option exists for a stream's
    // only writer).
    let config = HandlerConfig {
        verify_rejections: false,
        ..HandlerConfig::default()
    };
    let lone: CommandHandler<Inventory> = handler_with(store.clone(), config);
    lone.handle(&sku("S2"), {
        command(InventoryCommand::ReceiveStock {
            sku: sku("S2"),
            warehouse: warehouse("w1"),
            quantity: 1,
            note: None,
        })
    })
    .await
    .unwrap();
    lone.handle(&sku("S2"), reserve("S2", 1, 1)).await.unwrap();
    receive(&b, &sku("S2"), 5).await;
    assert!(matches!(
        lone.handle(&sku("S2"), reserve("S2", 2, 1)).await,
        Err(CommandError::Rejected(
            InventoryRejection::InsufficientStock { .. }
        ))
    ));
}

#[tokio::test]
async fn if_match_decides_only_at_the_expected_revision() {
    let (store, _dir) = sqlite_store().await;
    let h: CommandHandler<Inventory> = handler(store.clone());
    receive(&h, &sku("S1"), 10).await;
    h.handle(&sku("S1"), reserve("S1", 1, 1)).await.unwrap();
    match h.handle(&sku("S1"), reserve("S1", 2, 1).if_match(0)).await {
        Err(CommandError::RevisionMismatch {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (0, Some(1))),
        other => panic!("expected a revision mismatch, got {other:?}"),
    }
    let outcome = h
        .handle(&sku("S1"), reserve("S1", 2, 1).if_match(1))
        .await
        .unwrap();
    assert_eq!(outcome.revision, Some(2));
    assert_eq!(stream_len(store.as_ref(), "inventory-S1").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_for_a_hot_stream_share_appends() {
    let (inner, _dir) = sqlite_store().await;
    let store = Instrumented::new(inner);
    let h: CommandHandler<Inventory> = handler(store.clone());
    receive(&h, &sku("HOT"), 1000).await;
    store.slow_appends(Duration::from_millis(30));
    let results = join_all((0..300).map(|n| {
        let h = h.clone();
        tokio::spawn(async move { h.handle(&sku("HOT"), reserve("HOT", n, 1)).await })
    }))
    .await;
    assert!(results.into_iter().all(|r| r.unwrap().is_ok()));
    let stats = h.stats();
    assert_eq!(stats.events, 301);
    // While one append is in flight the queue fills; each later append carries a whole batch.
    assert!(
        stats.appends <= 20,
        "{} appends for 300 commands",
        stats.appends
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_sheds_load_and_writes_nothing_for_what_it_refused() {
    let (inner, _dir) = sqlite_store().await;
    let store = Instrumented::new(inner.clone());
    let config = HandlerConfig {
        queue_capacity: 4,
        max_batch_commands: 2,
        ..HandlerConfig::default()
    };
    let h: CommandHandler<Inventory> = handler_with(store.clone(), config);
    receive(&h, &sku("S1"), 1000).await;
    store.slow_appends(Duration::from_millis(100));
    let results = join_all((0..40).map(|n| {
        let h = h.clone();
        tokio::spawn(async move { h.handle(&sku("S1"), reserve("S1", n, 1)).await })
    }))
    .await;
    let (mut ok, mut shed) = (0, 0);
    for r in results {
        match r.unwrap() {
            Ok(_) => ok += 1,
            Err(CommandError::Overloaded { .. }) => shed += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(shed > 0 && ok > 0, "ok {ok}, shed {shed}");
    assert_eq!(h.stats().overloaded, shed);
    assert_eq!(
        stream_len(inner.as_ref(), "inventory-S1").await,
        1 + ok as usize
    );
}

/// Waits until the snapshot stream of `stream` holds a snapshot taken at `revision` or later (they
/// are written in the background), and returns its revision.
async fn wait_for_snapshot(store: &dyn EventStore, stream: &str, revision: u64) -> u64 {
    let name = snapshot_stream(&StreamName::new(stream).unwrap()).unwrap();
    for _ in 0..200 {
        if let Ok(events) = store
            .read_stream(&name, ReadStream::backwards().limit(1))
            .await
            && let Some(e) = events.first()
            && let Some(at) = e.data.to_value()["revision"].as_u64()
            && at >= revision
        {
            return at;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no snapshot of {stream} was written")
}

async fn long_stream(store: Arc<dyn EventStore>, reservations: usize) {
    let config = HandlerConfig {
        snapshot_every: 20,
        ..HandlerConfig::default()
    };
    let h: CommandHandler<Inventory> = handler_with(store, config);
    receive(&h, &sku("LONG"), 10_000).await;
    for n in 0..reservations {
        h.handle(&sku("LONG"), reserve("LONG", n, 1)).await.unwrap();
    }
}

#[tokio::test]
async fn snapshots_spare_reading_the_whole_stream() {
    let (inner, _dir) = sqlite_store().await;
    // Snapshots every 20 events at first, then every quarter of the stream's length: at 20, 40,
    // 60, 80, 100, 125, ... The stream ends at revision 110.
    long_stream(inner.clone(), 110).await;
    let at = wait_for_snapshot(inner.as_ref(), "inventory-LONG", 100).await;
    assert_eq!(at, 100);

    let store = Instrumented::new(inner.clone());
    let config = HandlerConfig {
        snapshot_every: 20,
        ..HandlerConfig::default()
    };
    let with_snapshot: CommandHandler<Inventory> = handler_with(store.clone(), config);
    let (state, revision) = with_snapshot.load(&sku("LONG")).await.unwrap();
    assert_eq!(revision, Some(110));
    assert_eq!(
        store.events_read(),
        10,
        "only the tail after the snapshot is read"
    );

    let from_scratch: CommandHandler<Inventory> = handler_with(
        inner,
        HandlerConfig {
            snapshot_every: 0,
            ..HandlerConfig::default()
        },
    );
    let (expected, _) = from_scratch.load(&sku("LONG")).await.unwrap();
    assert_eq!(
        serde_json::to_value(&state).unwrap(),
        serde_json::to_value(&expected).unwrap()
    );
    // A retry of a command from before the snapshot still answers its original outcome.
    let replay = with_snapshot
        .handle(&sku("LONG"), reserve("LONG", 0, 1))
        .await
        .unwrap();
    assert_eq!(replay.events_written, 0);
}

/// Puts a hand-made snapshot document on top of the stream's snapshot stream.
async fn plant_snapshot(store: &dyn EventStore, stream: &str, doc: serde_json::Value) {
    let name = snapshot_stream(&StreamName::new(stream).unwrap()).unwrap();
    let event = EventData {
        event_id: Uuid::new_v4(),
        event_type: SNAPSHOT_EVENT_TYPE.into(),
        data: Json::encode(&doc).unwrap(),
        metadata: Metadata::new(Uuid::nil(), Uuid::nil(), Actor::system("test"), t0()),
    };
    store
        .append(&name, ExpectedRevision::Any, vec![event])
        .await
        .unwrap();
}

#[tokio::test]
async fn snapshots_of_another_version_or_shape_are_ignored() {
    let (inner, _dir) = sqlite_store().await;
    long_stream(inner.clone(), 30).await;
    wait_for_snapshot(inner.as_ref(), "inventory-LONG", 20).await;
    let config = HandlerConfig {
        snapshot_every: 20,
        ..HandlerConfig::default()
    };
    let bad_docs = [
        // Another version of the state's shape, claiming to cover the whole stream.
        serde_json::json!({
            "category": "inventory", "snapshot_version": Inventory::SNAPSHOT_VERSION + 1,
            "revision": 30, "position": null, "recent": {"entries": []}, "state": {}
        }),
        // The current version, but a state that does not decode.
        serde_json::json!({
            "category": "inventory", "snapshot_version": Inventory::SNAPSHOT_VERSION,
            "revision": 30, "position": null, "recent": {"entries": []}, "state": {"nope": 1}
        }),
    ];
    for doc in bad_docs {
        plant_snapshot(inner.as_ref(), "inventory-LONG", doc).await;
        let store = Instrumented::new(inner.clone());
        let h: CommandHandler<Inventory> = handler_with(store.clone(), config.clone());
        let (state, revision) = h.load(&sku("LONG")).await.unwrap();
        assert_eq!(revision, Some(30));
        assert_eq!(state.reserved(), 30);
        assert_eq!(store.events_read(), 31, "folded from the start");
    }
}

#[tokio::test]
async fn an_idle_stream_moves_to_the_cache_and_catches_up_on_return() {
    let (inner, _dir) = sqlite_store().await;
    let store = Instrumented::new(inner.clone());
    let config = HandlerConfig {
        idle_timeout: Duration::from_millis(20),
        ..HandlerConfig::default()
    };
    let a: CommandHandler<Inventory> = handler_with(store.clone(), config);
    receive(&a, &sku("S1"), 5).await;
    a.handle(&sku("S1"), reserve("S1", 1, 1)).await.unwrap();
    for _ in 0..100 {
        if a.held_streams() == (0, 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(a.held_streams(), (0, 1), "worker stopped, state cached");

    // Another process writes meanwhile; the cached state catches up with just the tail.
    let b: CommandHandler<Inventory> = handler(inner.clone());
    receive(&b, &sku("S1"), 5).await;
    let read_before = store.events_read();
    let outcome = a.handle(&sku("S1"), reserve("S1", 2, 9)).await.unwrap();
    assert_eq!(outcome.revision, Some(3));
    assert_eq!(
        store.events_read() - read_before,
        1,
        "only the new event was read"
    );
    assert_eq!(a.stats().loads, 1, "loaded from the store once, in all");
}
