//! Appends: expected revisions, atomic batches, idempotent retries.

use crate::{
    CurrentRevision, Error, EventStore, ExpectedRevision, ReadStream,
    conformance::{Scope, event, events, numbers},
};

fn assert_wrong_version<T: std::fmt::Debug>(
    result: Result<T, Error>,
    want_expected: ExpectedRevision,
    want_actual: CurrentRevision,
) {
    match result {
        Err(Error::WrongExpectedVersion {
            expected, actual, ..
        }) => {
            assert_eq!(expected, want_expected, "expected revision in the error");
            assert_eq!(actual, want_actual, "actual revision in the error");
        }
        other => panic!("wanted WrongExpectedVersion, got {other:?}"),
    }
}

/// `NoStream` creates a stream once; a second `NoStream` reports the stream's revision.
pub async fn no_stream_creates_once<S: EventStore>(store: S) {
    let s = Scope::new().stream("a");
    let r = store
        .append(&s, ExpectedRevision::NoStream, vec![event(0)])
        .await
        .unwrap();
    assert_eq!(r.next_expected_revision, 0);
    let again = store
        .append(&s, ExpectedRevision::NoStream, vec![event(1)])
        .await;
    assert_wrong_version(
        again,
        ExpectedRevision::NoStream,
        CurrentRevision::Current(0),
    );
}

/// `Exact(n)` appends only at revision `n` and reports the actual one otherwise.
pub async fn exact_checks_the_revision<S: EventStore>(store: S) {
    let scope = Scope::new();
    let s = scope.stream("a");
    let missing = store
        .append(&s, ExpectedRevision::Exact(0), vec![event(0)])
        .await;
    assert_wrong_version(
        missing,
        ExpectedRevision::Exact(0),
        CurrentRevision::NoStream,
    );
    store
        .append(&s, ExpectedRevision::NoStream, vec![event(0)])
        .await
        .unwrap();
    let r = store
        .append(&s, ExpectedRevision::Exact(0), vec![event(1)])
        .await
        .unwrap();
    assert_eq!(r.next_expected_revision, 1);
    let stale = store
        .append(&s, ExpectedRevision::Exact(0), vec![event(2)])
        .await;
    assert_wrong_version(
        stale,
        ExpectedRevision::Exact(0),
        CurrentRevision::Current(1),
    );
    let ahead = store
        .append(&s, ExpectedRevision::Exact(5), vec![event(2)])
        .await;
    assert_wrong_version(
        ahead,
        ExpectedRevision::Exact(5),
        CurrentRevision::Current(1),
    );
    assert_eq!(
        numbers(&store.read_stream(&s, ReadStream::forwards()).await.unwrap()),
        [0, 1]
    );
}

/// `StreamExists` needs the stream to exist.
pub async fn stream_exists_needs_a_stream<S: EventStore>(store: S) {
    let s = Scope::new().stream("a");
    let missing = store
        .append(&s, ExpectedRevision::StreamExists, vec![event(0)])
        .await;
    assert_wrong_version(
        missing,
        ExpectedRevision::StreamExists,
        CurrentRevision::NoStream,
    );
    store
        .append(&s, ExpectedRevision::Any, vec![event(0)])
        .await
        .unwrap();
    let r = store
        .append(&s, ExpectedRevision::StreamExists, vec![event(1)])
        .await
        .unwrap();
    assert_eq!(r.next_expected_revision, 1);
}

/// `Any` appends to new and existing streams alike.
pub async fn any_always_appends<S: EventStore>(store: S) {
    let s = Scope::new().stream("a");
    let first = store
        .append(&s, ExpectedRevision::Any, vec![event(0)])
        .await
        .unwrap();
    let second = store
        .append(&s, ExpectedRevision::Any, vec![event(1)])
        .await
        .unwrap();
    assert_eq!(
        (first.next_expected_revision, second.next_expected_revision),
        (0, 1)
    );
    assert!(second.position > first.position);
}

/// A batch gets consecutive revisions and increasing positions, and the result names the last.
pub async fn batch_is_atomic_and_numbered<S: EventStore>(store: S) {
    let scope = Scope::new();
    let s = scope.stream("a");
    let r = store
        .append(&s, ExpectedRevision::NoStream, events(0, 3))
        .await
        .unwrap();
    assert_eq!(r.next_expected_revision, 2);
    let read = store.read_stream(&s, ReadStream::forwards()).await.unwrap();
    assert_eq!(
        read.iter().map(|e| e.revision).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(read.windows(2).all(|w| w[0].position < w[1].position));
    assert_eq!(
        read[2].position, r.position,
        "the result's position is the last event's"
    );
    let all = scope.all(&store).await;
    assert_eq!(
        all.iter().map(|e| e.position).collect::<Vec<_>>(),
        read.iter().map(|e| e.position).collect::<Vec<_>>()
    );
}

/// A refused append leaves the stream and `$all` as they were.
pub async fn refused_append_writes_nothing<S: EventStore>(store: S) {
    let scope = Scope::new();
    let s = scope.stream("a");
    store
        .append(&s, ExpectedRevision::NoStream, events(0, 2))
        .await
        .unwrap();
    let before = scope.all(&store).await;
    let refused = store
        .append(&s, ExpectedRevision::Exact(0), events(10, 3))
        .await;
    assert!(refused.is_err());
    assert_eq!(scope.all(&store).await, before);
    assert_eq!(
        numbers(&store.read_stream(&s, ReadStream::forwards()).await.unwrap()),
        [0, 1]
    );
}

/// Re-sending a batch (same ids, same expectation) after a lost response returns the original
/// result and writes nothing, for `NoStream` and `Exact`.
pub async fn retried_append_returns_the_original_result<S: EventStore>(store: S) {
    let scope = Scope::new();
    let s = scope.stream("a");
    let batch = events(0, 2);
    let first = store
        .append(&s, ExpectedRevision::NoStream, batch.clone())
        .await
        .unwrap();
    let retry = store
        .append(&s, ExpectedRevision::NoStream, batch)
        .await
        .unwrap();
    assert_eq!(retry, first);
    let next = vec![event(2)];
    let second = store
        .append(&s, ExpectedRevision::Exact(1), next.clone())
        .await
        .unwrap();
    store
        .append(&s, ExpectedRevision::Exact(2), vec![event(3)])
        .await
        .unwrap();
    let late_retry = store
        .append(&s, ExpectedRevision::Exact(1), next.clone())
        .await
        .unwrap();
    assert_eq!(late_retry, second);
    // The same ids with an expectation they were not written at are no retry.
    let elsewhere = store.append(&s, ExpectedRevision::Exact(0), next).await;
    assert_wrong_version(
        elsewhere,
        ExpectedRevision::Exact(0),
        CurrentRevision::Current(3),
    );
    assert_eq!(numbers(&scope.all(&store).await), [0, 1, 2, 3]);
}
