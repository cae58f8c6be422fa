//! Durability of the embedded store: a child process appends in a loop and reports each
//! acknowledged batch; the parent SIGKILLs it mid-flight, reopens the file and checks that every
//! acknowledged batch is there and no batch is there in part.

use std::{
    collections::{BTreeMap, HashSet},
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use shop_eventstore::{
    EventStore, ExpectedRevision, ReadAll, ReadStream, StreamName,
    conformance::typed,
    sqlite::{SqliteEventStore, SqliteOptions},
};
use uuid::Uuid;

const WRITERS: u64 = 8;
const CHILD_ENV: &str = "SHOP_DURABILITY_CHILD_DIR";

/// Batch `b` of a writer holds `1 + b % 5` events.
fn batch_size(b: u64) -> u64 {
    1 + b % 5
}

fn event_id(writer: u64, batch: u64, i: u64) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("{writer}/{batch}/{i}").as_bytes(),
    )
}

/// The child: runs only when spawned by the parent (it never ends by itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "spawned by acknowledged_appends_survive_sigkill"]
async fn durability_child() {
    let dir = std::env::var(CHILD_ENV).expect("spawned by the parent test");
    let store = SqliteEventStore::open(format!("{dir}/events.db"), SqliteOptions::default())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let stream = StreamName::new(format!("durable-{w}")).unwrap();
                let mut expected = ExpectedRevision::NoStream;
                for b in 0.. {
                    let batch = (0..batch_size(b))
                        .map(|i| {
                            let mut e = typed(
                                "test.Durable.v1",
                                serde_json::json!({"w": w, "b": b, "i": i}),
                            );
                            e.event_id = event_id(w, b, i);
                            e
                        })
                        .collect();
                    let r = store.append(&stream, expected, batch).await.unwrap();
                    expected = ExpectedRevision::Exact(r.next_expected_revision);
                    println!("ACK {w} {b}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "durability_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
    let started = Instant::now();
    let mut lines = stdout.lines();
    // Kill once enough appends were acknowledged (or after a while, whatever came).
    while acked.values().map(|b| b + 1).sum::<u64>() < 3000
        && started.elapsed() < Duration::from_secs(20)
    {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.strip_prefix("ACK ") {
            let (w, b) = rest.split_once(' ').unwrap();
            acked.insert(w.parse().unwrap(), b.parse().unwrap());
        }
    }
    child.kill().unwrap(); // SIGKILL
    // Acknowledgements printed before the kill are still in the pipe.
    for line in lines.map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("ACK ") {
            let (w, b) = rest.split_once(' ').unwrap();
            acked.insert(w.parse().unwrap(), b.parse().unwrap());
        }
    }
    child.wait().unwrap();
    assert!(!acked.is_empty(), "the child acknowledged nothing");

    let store = SqliteEventStore::open(dir.path().join("events.db"), SqliteOptions::default())
        .await
        .expect("reopen after SIGKILL");
    for (&w, &last_acked) in &acked {
        let stream = StreamName::new(format!("durable-{w}")).unwrap();
        let events = store
            .read_stream(&stream, ReadStream::forwards())
            .await
            .unwrap();
        let mut by_batch: BTreeMap<u64, HashSet<Uuid>> = BTreeMap::new();
        for (rev, e) in events.iter().enumerate() {
            assert_eq!(e.revision, rev as u64, "revisions without holes");
            let b = e.data.to_value()["b"].as_u64().unwrap();
            by_batch.entry(b).or_default().insert(e.event_id);
        }
        let batches: Vec<_> = by_batch.keys().copied().collect();
        assert_eq!(
            batches,
            (0..batches.len() as u64).collect::<Vec<_>>(),
            "batches in order"
        );
        assert!(
            batches.len() as u64 > last_acked,
            "writer {w}: batch {last_acked} was acknowledged but only {} batches survived",
            batches.len()
        );
        for (b, ids) in by_batch {
            let want: HashSet<_> = (0..batch_size(b)).map(|i| event_id(w, b, i)).collect();
            assert_eq!(ids, want, "writer {w}: batch {b} is whole");
        }
    }
    let total = store.read_all(ReadAll::forwards()).await.unwrap().len();
    eprintln!(
        "{} batches acknowledged before SIGKILL; {total} events on reopen",
        acked.values().map(|b| b + 1).sum::<u64>()
    );
}
