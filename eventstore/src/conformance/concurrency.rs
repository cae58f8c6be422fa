//! Racing writers on one stream.

use std::collections::HashSet;

use crate::{
    CurrentRevision, Error, EventStore, ExpectedRevision, ReadStream,
    conformance::{Scope, event},
};

/// 32 tasks race `Exact(n)` appends on one stream, each retrying from the revision the conflict
/// reports until it has written 4 events: exactly one winner per revision, no holes, nothing lost.
pub async fn racing_exact_appends_have_one_winner_per_revision<S: EventStore + Clone>(store: S) {
    const TASKS: u64 = 32;
    const EACH: u64 = 4;
    let s = Scope::new().stream("hot");
    store
        .append(&s, ExpectedRevision::NoStream, vec![event(u64::MAX)])
        .await
        .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (store, s) = (store.clone(), s.clone());
            tokio::spawn(async move {
                let mut won = Vec::new();
                let mut expected = 0;
                let mut conflicts = 0u32;
                while (won.len() as u64) < EACH {
                    let e = event(t * 100 + won.len() as u64);
                    let id = e.event_id;
                    match store
                        .append(&s, ExpectedRevision::Exact(expected), vec![e])
                        .await
                    {
                        Ok(r) => {
                            assert_eq!(r.next_expected_revision, expected + 1);
                            won.push((r.next_expected_revision, id));
                            expected = r.next_expected_revision;
                        }
                        Err(Error::WrongExpectedVersion {
                            actual: CurrentRevision::Current(c),
                            ..
                        }) => {
                            assert!(c > expected, "a conflict reports a newer revision");
                            expected = c;
                            conflicts += 1;
                            assert!(conflicts < 10_000, "no progress");
                        }
                        Err(other) => panic!("unexpected error {other}"),
                    }
                }
                won
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        winners.extend(t.await.unwrap());
    }
    let revisions: HashSet<_> = winners.iter().map(|(r, _)| *r).collect();
    assert_eq!(
        revisions.len() as u64,
        TASKS * EACH,
        "one winner per revision"
    );
    let stored = store.read_stream(&s, ReadStream::forwards()).await.unwrap();
    assert_eq!(stored.len() as u64, TASKS * EACH + 1);
    for (i, e) in stored.iter().enumerate() {
        assert_eq!(e.revision, i as u64, "no holes");
    }
    for (revision, id) in winners {
        assert_eq!(
            stored[revision as usize].event_id, id,
            "the winner's event is at its revision"
        );
    }
}
