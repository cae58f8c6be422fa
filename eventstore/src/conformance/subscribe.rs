//! The catch-up subscription: history, then live, no gap, no duplicate.

use std::{collections::HashSet, time::Duration};

use futures::StreamExt;

use crate::{
    EventStore, ExpectedRevision, RecordedEvent, SubscribeAll,
    conformance::{Scope, event, events, numbers},
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

/// A subscription whose filter matches a few events among many others (which the SQL stores skip
/// over by how far each read looked) still delivers every match, in order, while writers of both
/// kinds keep committing.
pub async fn selective_subscription_misses_nothing<S: EventStore + Clone>(store: S) {
    let wanted = Scope::new();
    let noise = Scope::new();
    let start = store.head_position().await.unwrap();
    let mut sub = store.subscribe_all(SubscribeAll {
        after: start,
        filter: wanted.filter(),
    });
    let noisy = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..200u64 {
                let s = noise.stream(&format!("n{}", n % 7));
                store
                    .append(&s, ExpectedRevision::Any, vec![event(n)])
                    .await
                    .unwrap();
            }
        })
    };
    let mut ids = Vec::new();
    for n in 0..20u64 {
        let r = store
            .append(&wanted.stream("w"), ExpectedRevision::Any, vec![event(n)])
            .await
            .unwrap();
        ids.push(r.position);
        tokio::task::yield_now().await;
    }
    let got = take(&mut sub, 20).await;
    noisy.await.unwrap();
    assert_eq!(got.iter().map(|e| e.position).collect::<Vec<_>>(), ids);
    let extra = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
    assert!(extra.is_err(), "nothing more: {extra:?}");
}

/// [`EventStore::read_all_page`] keeps its promise: what it returns is what `read_all` returns,
/// and `scanned_to` is at or past the last event returned, so resuming after it loses nothing.
pub async fn read_all_page_reports_how_far_it_looked<S: EventStore>(store: S) {
    let wanted = Scope::new();
    let noise = Scope::new();
    store
        .append(&wanted.stream("a"), ExpectedRevision::Any, events(0, 2))
        .await
        .unwrap();
    store
        .append(&noise.stream("b"), ExpectedRevision::Any, events(10, 5))
        .await
        .unwrap();
    let all = wanted.all(&store).await;
    let page = store
        .read_all_page(
            crate::ReadAll::forwards()
                .filter(wanted.filter())
                .from(all[0].position),
        )
        .await
        .unwrap();
    assert_eq!(page.events, all[1..].to_vec());
    let scanned = page.scanned_to.expect("something was scanned");
    assert!(scanned >= all[1].position);
    store
        .append(&wanted.stream("a"), ExpectedRevision::Any, vec![event(2)])
        .await
        .unwrap();
    let next = store
        .read_all_page(
            crate::ReadAll::forwards()
                .filter(wanted.filter())
                .from(scanned),
        )
        .await
        .unwrap();
    assert_eq!(
        numbers(&next.events),
        [2],
        "resuming after scanned_to loses nothing"
    );
}
