//! Reads: streams in both directions, `$all` order, pages and filters, the envelope.

use chrono::Utc;

use crate::{
    AllFilter, Error, EventStore, ExpectedRevision, ReadAll, ReadStream, ValidationError,
    conformance::{Scope, event, events, instant, numbers, typed},
};

/// Stream reads honour direction, start revision (inclusive) and limit.
pub async fn read_stream_directions_and_limits<S: EventStore>(store: S) {
    let s = Scope::new().stream("a");
    store
        .append(&s, ExpectedRevision::NoStream, events(0, 10))
        .await
        .unwrap();
    let read = |o| {
        let store = &store;
        let s = &s;
        async move { numbers(&store.read_stream(s, o).await.unwrap()) }
    };
    assert_eq!(
        read(ReadStream::forwards()).await,
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(read(ReadStream::forwards().limit(3)).await, [0, 1, 2]);
    assert_eq!(
        read(ReadStream::forwards().from_revision(5)).await,
        [5, 6, 7, 8, 9]
    );
    assert_eq!(
        read(ReadStream::forwards().from_revision(8).limit(1)).await,
        [8]
    );
    assert_eq!(
        read(ReadStream::forwards().from_revision(20)).await,
        Vec::<u64>::new()
    );
    assert_eq!(read(ReadStream::backwards().limit(3)).await, [9, 8, 7]);
    assert_eq!(
        read(ReadStream::backwards().from_revision(4)).await,
        [4, 3, 2, 1, 0]
    );
    assert_eq!(
        read(ReadStream::backwards().from_revision(4).limit(2)).await,
        [4, 3]
    );
    let zero = store.read_stream(&s, ReadStream::forwards().limit(0)).await;
    assert!(
        matches!(zero, Err(Error::Invalid(ValidationError::InvalidOption(_)))),
        "{zero:?}"
    );
    let zero = store.read_all(ReadAll::forwards().limit(0)).await;
    assert!(
        matches!(zero, Err(Error::Invalid(ValidationError::InvalidOption(_)))),
        "{zero:?}"
    );
}

/// Reading a stream that was never written is `StreamNotFound`.
pub async fn missing_stream_is_not_found<S: EventStore>(store: S) {
    let s = Scope::new().stream("nobody");
    match store.read_stream(&s, ReadStream::forwards()).await {
        Err(Error::StreamNotFound(name)) => assert_eq!(name, s),
        other => panic!("wanted StreamNotFound, got {other:?}"),
    }
}

/// `$all` lists events in the order their appends were acknowledged, across streams.
pub async fn all_order_is_commit_order<S: EventStore>(store: S) {
    let scope = Scope::new();
    let mut expected = Vec::new();
    for n in 0..12u64 {
        let s = scope.stream(&format!("s{}", n % 3));
        store
            .append(&s, ExpectedRevision::Any, vec![event(n)])
            .await
            .unwrap();
        expected.push(n);
    }
    let all = scope.all(&store).await;
    assert_eq!(numbers(&all), expected);
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    let backwards = store
        .read_all(ReadAll::backwards().filter(scope.filter()))
        .await
        .unwrap();
    assert_eq!(
        numbers(&backwards),
        expected.iter().rev().copied().collect::<Vec<_>>()
    );
}

/// Paging `$all` with positions as cursors visits each event once, in both directions.
pub async fn all_pages_in_both_directions<S: EventStore>(store: S) {
    let scope = Scope::new();
    store
        .append(&scope.stream("a"), ExpectedRevision::NoStream, events(0, 7))
        .await
        .unwrap();
    store
        .append(&scope.stream("b"), ExpectedRevision::NoStream, events(7, 4))
        .await
        .unwrap();
    for (options, want) in [
        (ReadAll::forwards(), (0..11).collect::<Vec<u64>>()),
        (ReadAll::backwards(), (0..11).rev().collect()),
    ] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let mut page = options.clone().filter(scope.filter()).limit(3);
            page.from = cursor;
            let page = store.read_all(page).await.unwrap();
            assert!(page.len() <= 3);
            let Some(last) = page.last() else { break };
            cursor = Some(last.position);
            seen.extend(numbers(&page));
            assert!(seen.len() <= want.len(), "paging repeats events: {seen:?}");
        }
        assert_eq!(seen, want);
    }
    let all = scope.all(&store).await;
    let after_third = store
        .read_all(
            ReadAll::forwards()
                .filter(scope.filter())
                .from(all[2].position)
                .limit(2),
        )
        .await
        .unwrap();
    assert_eq!(
        numbers(&after_third),
        [3, 4],
        "forwards from a position excludes it"
    );
    let before_third = store
        .read_all(
            ReadAll::backwards()
                .filter(scope.filter())
                .from(all[2].position),
        )
        .await
        .unwrap();
    assert_eq!(
        numbers(&before_third),
        [1, 0],
        "backwards from a position excludes it"
    );
}

/// Filters by stream prefix, by exact event type, and by both.
pub async fn all_filters_by_stream_prefix_and_type<S: EventStore>(store: S) {
    let scope = Scope::new();
    let orders = format!("{}-order", scope.category());
    let carts = format!("{}-cart", scope.category());
    let stream = |p: &str, id: &str| crate::StreamName::new(format!("{p}-{id}")).unwrap();
    let write = |p: String, id: &'static str, ty: &'static str, n: u64| {
        let store = &store;
        async move {
            let e = typed(ty, serde_json::json!({ "n": n }));
            store
                .append(&stream(&p, id), ExpectedRevision::Any, vec![e])
                .await
                .unwrap();
        }
    };
    write(orders.clone(), "1", "order.Placed.v1", 0).await;
    write(carts.clone(), "1", "cart.ItemAdded.v1", 1).await;
    write(orders.clone(), "2", "order.Placed.v1", 2).await;
    write(orders.clone(), "1", "order.Shipped.v1", 3).await;
    write(carts.clone(), "2", "cart.CheckedOut.v1", 4).await;
    let read = |filter: AllFilter| {
        let store = &store;
        async move {
            numbers(
                &store
                    .read_all(ReadAll::forwards().filter(filter))
                    .await
                    .unwrap(),
            )
        }
    };
    assert_eq!(
        read(AllFilter::stream_prefixes([format!("{orders}-")])).await,
        [0, 2, 3]
    );
    assert_eq!(
        read(AllFilter::stream_prefixes([
            format!("{orders}-"),
            format!("{carts}-2")
        ]))
        .await,
        [0, 2, 3, 4]
    );
    let by_type = AllFilter::stream_prefixes([scope.category().to_owned()])
        .with_event_types(["order.Placed.v1", "cart.CheckedOut.v1"]);
    assert_eq!(read(by_type).await, [0, 2, 4]);
    let both =
        AllFilter::stream_prefixes([format!("{orders}-1")]).with_event_types(["order.Shipped.v1"]);
    assert_eq!(read(both).await, [3]);
}

/// What is appended is what is read, plus revision, position and a recorded time.
pub async fn envelope_round_trips<S: EventStore>(store: S) {
    let scope = Scope::new();
    let s = scope.stream("a");
    let mut sent = typed(
        "test.Described.v2",
        serde_json::json!({"text": "ünïcode ✓", "big": u64::MAX, "nested": {"a": [1, 2]}}),
    );
    sent.metadata = sent.metadata.with("command_id", serde_json::json!("cmd-1"));
    let before = Utc::now() - chrono::Duration::seconds(60);
    let r = store
        .append(&s, ExpectedRevision::NoStream, vec![sent.clone()])
        .await
        .unwrap();
    let after = Utc::now() + chrono::Duration::seconds(60);
    for got in [
        store
            .read_stream(&s, ReadStream::forwards())
            .await
            .unwrap()
            .remove(0),
        scope.all(&store).await.remove(0),
    ] {
        assert_eq!(got.stream, s);
        assert_eq!(got.revision, 0);
        assert_eq!(got.position, r.position);
        assert_eq!(got.event_id, sent.event_id);
        assert_eq!(got.event_type, sent.event_type);
        assert_eq!(got.data.to_value(), sent.data.to_value());
        assert_eq!(got.metadata, sent.metadata);
        assert_eq!(got.metadata.occurred_at, instant());
        assert!(
            got.recorded_at > before && got.recorded_at < after,
            "recorded_at {}",
            got.recorded_at
        );
    }
}
