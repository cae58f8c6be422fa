//! The process managers' checkpoints kept in the event store: saved and loaded, never moved
//! back, shared safely by two instances, on the embedded store and on Postgres.

mod support;

use std::sync::Arc;

use shop_commands::checkpoint::StreamCheckpoint;
use shop_eventstore::{EventStore, Position, ReadStream};
use support::*;

async fn checkpoints_on(a: Arc<dyn EventStore>, b: Arc<dyn EventStore>) {
    let first = StreamCheckpoint::new(a.clone(), "tests").unwrap();
    assert_eq!(first.load().await.unwrap(), None);
    first.save(Position::new(10, 10)).await.unwrap();
    assert_eq!(first.load().await.unwrap(), Some(Position::new(10, 10)));
    // Never back.
    first.save(Position::new(5, 5)).await.unwrap();
    assert_eq!(first.load().await.unwrap(), Some(Position::new(10, 10)));
    // Another instance (another process) saves in between: both go on, the later position wins.
    let second = StreamCheckpoint::new(b, "tests").unwrap();
    assert_eq!(second.load().await.unwrap(), Some(Position::new(10, 10)));
    second.save(Position::new(30, 30)).await.unwrap();
    first.save(Position::new(20, 20)).await.unwrap();
    assert_eq!(first.load().await.unwrap(), Some(Position::new(30, 30)));
    first.save(Position::new(40, 40)).await.unwrap();
    assert_eq!(second.load().await.unwrap(), Some(Position::new(40, 40)));
    // The stream keeps only the newest few.
    for n in 50..80 {
        first.save(Position::new(n, n)).await.unwrap();
    }
    let readable = a
        .read_stream(first.stream(), ReadStream::forwards())
        .await
        .unwrap();
    assert!(
        readable.len() <= 8,
        "{} checkpoints readable",
        readable.len()
    );
    assert_eq!(first.load().await.unwrap(), Some(Position::new(79, 79)));
    // Another subscriber's checkpoint is its own.
    let other = StreamCheckpoint::new(a, "others").unwrap();
    assert_eq!(other.load().await.unwrap(), None);
}

#[tokio::test]
async fn checkpoints_are_saved_loaded_and_never_moved_back() {
    let (store, _dir) = sqlite_store().await;
    checkpoints_on(store.clone(), store).await;
}

#[tokio::test]
async fn checkpoints_are_saved_loaded_and_never_moved_back_on_postgres() {
    let Some((a, b)) = postgres_pair("checkpoints").await else {
        return;
    };
    checkpoints_on(a, b).await;
}
