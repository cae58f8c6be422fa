//! Stream lifecycle and guards: soft delete, metadata, input limits, upcasting, head position.

use std::time::Duration;

use crate::{
    CurrentRevision, Error, EventStore, ExpectedRevision, ReadAll, ReadStream, StreamMetadata,
    StreamName, SubscribeAll, UpcastError, Upcasters, Upcasting, ValidationError,
    conformance::{Scope, event, events, numbers, typed},
};

/// A soft-deleted stream reads as not found, while its events stay in `$all`.
pub async fn soft_delete_hides_the_stream_but_keeps_all<S: EventStore>(store: S) {
    let scope = Scope::new();
    let s = scope.stream("a");
    store
        .append(&s, ExpectedRevision::NoStream, events(0, 3))
        .await
        .unwrap();
    let wrong = store.delete_stream(&s, ExpectedRevision::Exact(1)).await;
    assert!(
        matches!(
            wrong,
            Err(Error::WrongExpectedVersion {
                actual: CurrentRevision::Current(2),
                ..
            })
        ),
        "{wrong:?}"
    );
    let deleted = store
        .delete_stream(&s, ExpectedRevision::Exact(2))
        .await
        .unwrap();
    assert_eq!(deleted.last_revision, 2);
    assert!(matches!(
        store.read_stream(&s, ReadStream::forwards()).await,
        Err(Error::StreamNotFound(_))
    ));
    assert_eq!(
        numbers(&scope.all(&store).await),
        [0, 1, 2],
        "events stay in $all for audit"
    );
}

/// Appending to a soft-deleted stream starts it again after the old revisions; the old events
/// stay unreadable through the stream.
pub async fn soft_deleted_stream_can_start_again<S: EventStore>(store: S) {
    let scope = Scope::new();
    let s = scope.stream("a");
    store
        .append(&s, ExpectedRevision::NoStream, events(0, 3))
        .await
        .unwrap();
    store
        .delete_stream(&s, ExpectedRevision::Any)
        .await
        .unwrap();
    let r = store
        .append(&s, ExpectedRevision::Any, vec![event(3)])
        .await
        .unwrap();
    assert_eq!(
        r.next_expected_revision, 3,
        "revisions continue where the stream left off"
    );
    let read = store.read_stream(&s, ReadStream::forwards()).await.unwrap();
    assert_eq!(numbers(&read), [3]);
    assert_eq!(read[0].revision, 3);
}

/// `$maxCount` and `$tb` limit what a stream read returns; metadata reads back as set.
pub async fn stream_metadata_limits_reads<S: EventStore>(store: S) {
    let s = Scope::new().stream("a");
    store
        .append(&s, ExpectedRevision::NoStream, events(0, 5))
        .await
        .unwrap();
    assert_eq!(
        store.stream_metadata(&s).await.unwrap(),
        StreamMetadata::default()
    );
    let capped = StreamMetadata {
        max_count: Some(2),
        ..Default::default()
    };
    store.set_stream_metadata(&s, capped.clone()).await.unwrap();
    assert_eq!(store.stream_metadata(&s).await.unwrap(), capped);
    assert_eq!(
        numbers(&store.read_stream(&s, ReadStream::forwards()).await.unwrap()),
        [3, 4]
    );
    let truncated = StreamMetadata {
        truncate_before: Some(1),
        max_age: Some(Duration::from_secs(3600)),
        ..Default::default()
    };
    store
        .set_stream_metadata(&s, truncated.clone())
        .await
        .unwrap();
    assert_eq!(store.stream_metadata(&s).await.unwrap(), truncated);
    assert_eq!(
        numbers(&store.read_stream(&s, ReadStream::forwards()).await.unwrap()),
        [1, 2, 3, 4]
    );
}

/// Bad input is refused with a clear error and writes nothing: an event over the size limit, a
/// batch over the count limit, an empty batch, an unversioned type, a bad stream name.
pub async fn size_and_input_limits_refuse_before_writing<S: EventStore>(store: S) {
    let scope = Scope::new();
    let s = scope.stream("a");
    let big = typed(
        "test.Big.v1",
        serde_json::json!({ "blob": "x".repeat(70 * 1024) }),
    );
    match store
        .append(&s, ExpectedRevision::Any, vec![event(0), big])
        .await
    {
        Err(Error::Invalid(ValidationError::EventTooLarge { limit, size, .. })) => {
            assert_eq!(limit, 64 * 1024);
            assert!(size > limit);
        }
        other => panic!("wanted EventTooLarge, got {other:?}"),
    }
    let too_many = store.append(&s, ExpectedRevision::Any, events(0, 17)).await;
    assert!(
        matches!(
            too_many,
            Err(Error::Invalid(ValidationError::BatchTooLarge {
                count: 17,
                limit: 16
            }))
        ),
        "{too_many:?}"
    );
    let empty = store.append(&s, ExpectedRevision::Any, vec![]).await;
    assert!(
        matches!(empty, Err(Error::Invalid(ValidationError::EmptyBatch))),
        "{empty:?}"
    );
    let unversioned = typed("test.Happened", serde_json::json!({}));
    let bad_type = store
        .append(&s, ExpectedRevision::Any, vec![unversioned])
        .await;
    assert!(
        matches!(
            bad_type,
            Err(Error::Invalid(ValidationError::InvalidEventType { .. }))
        ),
        "{bad_type:?}"
    );
    let mut twice = events(0, 2);
    twice[1].event_id = twice[0].event_id;
    let dup = store.append(&s, ExpectedRevision::Any, twice).await;
    assert!(
        matches!(
            dup,
            Err(Error::Invalid(ValidationError::DuplicateEventInBatch(_)))
        ),
        "{dup:?}"
    );
    assert!(StreamName::new("$system").is_err() && StreamName::new("has space").is_err());
    assert!(
        matches!(
            store.read_stream(&s, ReadStream::forwards()).await,
            Err(Error::StreamNotFound(_))
        ),
        "nothing was written"
    );
    assert!(scope.all(&store).await.is_empty());
    let fits = typed(
        "test.Big.v1",
        serde_json::json!({ "blob": "x".repeat(60 * 1024) }),
    );
    store
        .append(&s, ExpectedRevision::NoStream, vec![fits])
        .await
        .unwrap();
}

fn upcasters() -> Upcasters {
    Upcasters::new()
        .register("test.Renamed.v1", "test.Renamed.v2", |mut v| {
            let name = v["name"].take();
            Ok(serde_json::json!({ "title": name, "n": v["n"] }))
        })
        .unwrap()
        .register("test.Renamed.v2", "test.Renamed.v3", |mut v| {
            v["locale"] = serde_json::json!("en");
            Ok(v)
        })
        .unwrap()
}

/// Old versions read as the current one through every read path.
pub async fn upcasters_bring_old_versions_to_current<S: EventStore>(store: S) {
    let scope = Scope::new();
    let s = scope.stream("a");
    let old = typed(
        "test.Renamed.v1",
        serde_json::json!({ "name": "lamp", "n": 1 }),
    );
    let mid = typed(
        "test.Renamed.v2",
        serde_json::json!({ "title": "desk", "n": 2 }),
    );
    let start = store.head_position().await.unwrap();
    store
        .append(&s, ExpectedRevision::NoStream, vec![old, mid])
        .await
        .unwrap();
    let store = Upcasting::new(store, upcasters());
    let via_stream = store.read_stream(&s, ReadStream::forwards()).await.unwrap();
    let via_all = store
        .read_all(ReadAll::forwards().filter(scope.filter()))
        .await
        .unwrap();
    // A filter on the current type finds the events stored under older versions too.
    let current_only = scope.filter().with_event_types(["test.Renamed.v3"]);
    let via_type = store
        .read_all(ReadAll::forwards().filter(current_only.clone()))
        .await
        .unwrap();
    let mut sub = store.subscribe_all(SubscribeAll {
        after: start,
        filter: current_only,
    });
    let mut via_sub = Vec::new();
    for _ in 0..2 {
        let next =
            tokio::time::timeout(Duration::from_secs(30), futures::StreamExt::next(&mut sub));
        via_sub.push(next.await.expect("in time").expect("open").expect("upcast"));
    }
    for read in [via_stream, via_all, via_type, via_sub] {
        assert!(read.iter().all(|e| e.event_type == "test.Renamed.v3"));
        assert_eq!(
            read[0].data.to_value(),
            serde_json::json!({"title": "lamp", "n": 1, "locale": "en"})
        );
        assert_eq!(
            read[1].data.to_value(),
            serde_json::json!({"title": "desk", "n": 2, "locale": "en"})
        );
    }
}

/// A stored version the registry cannot bring to the current one is an error, not a silent pass.
pub async fn unknown_upcaster_is_an_error<S: EventStore>(store: S) {
    let s = Scope::new().stream("a");
    let newer_than_known = typed("test.Renamed.v7", serde_json::json!({}));
    store
        .append(&s, ExpectedRevision::NoStream, vec![newer_than_known])
        .await
        .unwrap();
    let store = Upcasting::new(store, upcasters());
    match store.read_stream(&s, ReadStream::forwards()).await {
        Err(Error::Upcast(UpcastError::UnknownUpcaster {
            event_type,
            current,
        })) => {
            assert_eq!((event_type.as_str(), current), ("test.Renamed.v7", 3));
        }
        other => panic!("wanted UnknownUpcaster, got {other:?}"),
    }
}

/// The head position is at or after the last acknowledged append.
pub async fn head_position_follows_appends<S: EventStore>(store: S) {
    let s = Scope::new().stream("a");
    let r = store
        .append(&s, ExpectedRevision::NoStream, events(0, 2))
        .await
        .unwrap();
    let head = store.head_position().await.unwrap().expect("not empty");
    assert!(head >= r.position);
}

/// Changing metadata after a soft delete does not bring the deleted events back: `$tb` never
/// moves backwards.
pub async fn soft_delete_survives_metadata_changes<S: EventStore>(store: S) {
    let s = Scope::new().stream("a");
    store
        .append(&s, ExpectedRevision::NoStream, events(0, 3))
        .await
        .unwrap();
    store
        .delete_stream(&s, ExpectedRevision::Exact(2))
        .await
        .unwrap();
    let capped = StreamMetadata {
        max_count: Some(10),
        ..Default::default()
    };
    store.set_stream_metadata(&s, capped).await.unwrap();
    store
        .append(&s, ExpectedRevision::Any, vec![event(3)])
        .await
        .unwrap();
    let lowered = StreamMetadata {
        truncate_before: Some(1),
        ..Default::default()
    };
    store.set_stream_metadata(&s, lowered).await.unwrap();
    assert_eq!(
        numbers(&store.read_stream(&s, ReadStream::forwards()).await.unwrap()),
        [3]
    );
}

/// Sixteen tasks create the same stream with `NoStream` at once: exactly one wins, the others
/// learn the stream exists.
pub async fn racing_creators_have_one_winner<S: EventStore + Clone>(store: S) {
    let s = Scope::new().stream("new");
    let tasks: Vec<_> = (0..16u64)
        .map(|n| {
            let (store, s) = (store.clone(), s.clone());
            tokio::spawn(async move {
                store
                    .append(&s, ExpectedRevision::NoStream, vec![event(n)])
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => {
                winners += 1;
                assert_eq!(r.next_expected_revision, 0);
            }
            Err(Error::WrongExpectedVersion {
                actual: CurrentRevision::Current(0),
                ..
            }) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(
        store
            .read_stream(&s, ReadStream::forwards())
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Metadata and envelope values no backend could keep faithfully are refused up front, with
/// nothing written: `$maxCount` 0, `$maxAge` under a second, an out-of-range expected revision, an
/// actor with control characters.
pub async fn metadata_and_envelope_input_is_validated<S: EventStore>(store: S) {
    let scope = Scope::new();
    let s = scope.stream("a");
    let invalid =
        |r: Result<(), Error>| matches!(r, Err(Error::Invalid(ValidationError::InvalidOption(_))));
    let zero = StreamMetadata {
        max_count: Some(0),
        ..Default::default()
    };
    assert!(invalid(store.set_stream_metadata(&s, zero).await));
    let blink = StreamMetadata {
        max_age: Some(Duration::from_millis(500)),
        ..Default::default()
    };
    assert!(invalid(store.set_stream_metadata(&s, blink).await));
    let far = store
        .append(&s, ExpectedRevision::Exact(u64::MAX), vec![event(0)])
        .await;
    assert!(invalid(far.map(|_| ())));
    let mut odd = event(0);
    odd.metadata.actor.id = "c\u{0}42".into();
    assert!(invalid(
        store
            .append(&s, ExpectedRevision::Any, vec![odd])
            .await
            .map(|_| ())
    ));
    assert!(scope.all(&store).await.is_empty());
    assert_eq!(
        store.stream_metadata(&s).await.unwrap(),
        StreamMetadata::default()
    );
}
