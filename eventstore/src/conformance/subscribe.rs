//! The catch-up subscription: history, then live, no gap, no duplicate.

use std::{collections::HashSet, time::Duration};

use futures::StreamExt;

use crate::{
    EventStore, ExpectedRevision, RecordedEvent, SubscribeAll,
    conformance::{Scope, event, events},
};

const DEADLINE: Duration = Duration::from_secs(60);

async fn take<S: futures::Stream<Item = crate::Result<RecordedEvent>> + Unpin>(
    sub: &mut S,
    n: usize,
) -> Vec<RecordedEvent> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match tokio::time::timeout(DEADLINE, sub.next()).await {
            Ok(Some(Ok(e))) => got.push(e),
            Ok(Some(Err(e))) => panic!("subscription failed after {} events: {e}", got.len()),
            Ok(None) => panic!("subscription ended after {} events", got.len()),
            Err(_) => panic!("subscription stalled after {} of {n} events", got.len()),
        }
    }
    got
}

/// A subscription from the start delivers the history, then events appended while it runs by
/// several concurrent writers, in `$all` order, each exactly once.
pub async fn subscription_catches_up_then_goes_live<S: EventStore + Clone>(store: S) {
    let scope = Scope::new();
    // From the head, not the start: on a long-lived shared server the start is far away.
    let start = store.head_position().await.unwrap();
    for w in 0..4u64 {
        store
            .append(
                &scope.stream(&format!("w{w}")),
                ExpectedRevision::NoStream,
                events(w * 1000, 5),
            )
            .await
            .unwrap();
    }
    let mut sub = store.subscribe_all(SubscribeAll {
        after: start,
        filter: scope.filter(),
    });
    let history = take(&mut sub, 20).await;
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let store = store.clone();
            let s = scope.stream(&format!("w{w}"));
            tokio::spawn(async move {
                for i in 5..55u64 {
                    store
                        .append(
                            &s,
                            ExpectedRevision::Exact(i - 1),
                            vec![event(w * 1000 + i)],
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let live = take(&mut sub, 200).await;
    for w in writers {
        w.await.unwrap();
    }
    let delivered: Vec<_> = history.into_iter().chain(live).collect();
    let ids: HashSet<_> = delivered.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), 220, "no duplicates");
    assert!(
        delivered.windows(2).all(|w| w[0].position < w[1].position),
        "in $all order"
    );
    let all = scope.all(&store).await;
    assert_eq!(
        delivered.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        all.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        "exactly $all, no gap"
    );
    let extra = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
    assert!(extra.is_err(), "nothing more: {extra:?}");
}

/// A subscription from a checkpoint starts strictly after it.
pub async fn subscription_resumes_after_checkpoint<S: EventStore + Clone>(store: S) {
    let scope = Scope::new();
    store
        .append(
            &scope.stream("a"),
            ExpectedRevision::NoStream,
            events(0, 10),
        )
        .await
        .unwrap();
    let all = scope.all(&store).await;
    let mut sub = store.subscribe_all(SubscribeAll {
        after: Some(all[6].position),
        filter: scope.filter(),
    });
    let got = take(&mut sub, 3).await;
    assert_eq!(
        got.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        all[7..].iter().map(|e| e.event_id).collect::<Vec<_>>()
    );
    store
        .append(
            &scope.stream("b"),
            ExpectedRevision::NoStream,
            vec![event(10)],
        )
        .await
        .unwrap();
    let live = take(&mut sub, 1).await;
    assert_eq!(live[0].stream, scope.stream("b"));
}
