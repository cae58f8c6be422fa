//! The durable deadline scheduler: deadlines fire once due on the clock, cancelled ones never,
//! a restarted scheduler finds pending deadlines in the log, and two schedulers at once fire each
//! deadline exactly once.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use shop_commands::ManualClock;
use shop_commands::deadlines::{DeadlineScheduler, SchedulerOptions};
use shop_domain::DeadlineId;
use shop_eventstore::{EventStore, ReadStream, StreamName};
use support::*;
use tokio::sync::watch;
use uuid::Uuid;

fn id(n: u32) -> DeadlineId {
    DeadlineId::new(format!("d{n}")).unwrap()
}

fn options() -> SchedulerOptions {
    SchedulerOptions {
        tick: Duration::from_millis(5),
        ..SchedulerOptions::default()
    }
}

/// The event types in `deadline-<id>`.
async fn trail(store: &Arc<dyn EventStore>, n: u32) -> Vec<String> {
    let stream = StreamName::new(format!("deadline-d{n}")).unwrap();
    match store.read_stream(&stream, ReadStream::forwards()).await {
        Ok(events) => events.into_iter().map(|e| e.event_type).collect(),
        Err(_) => Vec::new(),
    }
}

async fn fired(store: &Arc<dyn EventStore>, n: u32) -> usize {
    trail(store, n)
        .await
        .iter()
        .filter(|t| t.as_str() == "deadline.DeadlineFired.v1")
        .count()
}

/// Waits (up to 10 s) until deadline `n` has fired.
async fn until_fired(store: &Arc<dyn EventStore>, n: u32) {
    for _ in 0..1_000 {
        if fired(store, n).await > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("deadline d{n} never fired: {:?}", trail(store, n).await);
}

async fn schedule(scheduler: &DeadlineScheduler, n: u32, minutes: i64) {
    scheduler
        .schedule(
            Uuid::new_v4(),
            &id(n),
            t0() + Span::minutes(minutes),
            "checkout.reservation_expiry",
            &format!("checkout-order-{n}"),
            admin(),
        )
        .await
        .unwrap();
}

fn start(scheduler: DeadlineScheduler) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(async move { scheduler.run(stopped).await.unwrap() });
    (stop, task)
}

#[tokio::test]
async fn deadlines_fire_when_due_never_when_cancelled_and_survive_a_restart() {
    let (store, _dir) = sqlite_store().await;
    let clock = Arc::new(ManualClock::new(t0()));
    let scheduler = DeadlineScheduler::new(store.clone(), clock.clone(), options());
    schedule(&scheduler, 1, 1).await;
    schedule(&scheduler, 2, 2).await;
    schedule(&scheduler, 3, 10).await;
    scheduler
        .cancel(Uuid::new_v4(), &id(2), "order confirmed", admin())
        .await
        .unwrap();

    let (stop, task) = start(scheduler.clone());
    // Nothing is due yet.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(fired(&store, 1).await, 0);

    clock.set(t0() + Span::minutes(5));
    until_fired(&store, 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(fired(&store, 2).await, 0, "a cancelled deadline fired");
    assert_eq!(fired(&store, 3).await, 0, "fired before it was due");
    stop.send(true).unwrap();
    task.await.unwrap();

    // A new scheduler (nothing in memory) learns deadline 3 from the log.
    clock.set(t0() + Span::minutes(11));
    let (stop, task) = start(DeadlineScheduler::new(
        store.clone(),
        clock.clone(),
        options(),
    ));
    until_fired(&store, 3).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(fired(&store, 1).await, 1);
    assert_eq!(fired(&store, 3).await, 1);
    assert_eq!(
        trail(&store, 2).await,
        [
            "deadline.DeadlineScheduled.v1",
            "deadline.DeadlineCancelled.v1"
        ]
    );
}

#[tokio::test]
async fn two_schedulers_fire_each_deadline_once() {
    let (store, _dir) = sqlite_store().await;
    let clock = Arc::new(ManualClock::new(t0()));
    let a = DeadlineScheduler::new(store.clone(), clock.clone(), options());
    let b = DeadlineScheduler::new(store.clone(), clock.clone(), options());
    for n in 0..20 {
        schedule(&a, n, i64::from(n % 5)).await;
    }
    let (stop_a, task_a) = start(a);
    let (stop_b, task_b) = start(b);
    clock.set(t0() + Span::minutes(10));
    for n in 0..20 {
        until_fired(&store, n).await;
    }
    // Let both go on ticking for a while: nothing more is written.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for stop in [stop_a, stop_b] {
        stop.send(true).unwrap();
    }
    task_a.await.unwrap();
    task_b.await.unwrap();
    for n in 0..20 {
        assert_eq!(fired(&store, n).await, 1, "d{n}");
    }
}

#[tokio::test]
async fn two_schedulers_in_two_processes_on_postgres_fire_each_deadline_once() {
    let Some((store_a, store_b)) = postgres_pair("deadlines").await else {
        return;
    };
    let clock = Arc::new(ManualClock::new(t0()));
    let a = DeadlineScheduler::new(store_a.clone(), clock.clone(), options());
    let b = DeadlineScheduler::new(store_b, clock.clone(), options());
    for n in 0..10 {
        schedule(&a, n, i64::from(n % 3)).await;
    }
    let (stop_a, task_a) = start(a);
    let (stop_b, task_b) = start(b);
    clock.set(t0() + Span::minutes(5));
    for n in 0..10 {
        until_fired(&store_a, n).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for stop in [stop_a, stop_b] {
        stop.send(true).unwrap();
    }
    task_a.await.unwrap();
    task_b.await.unwrap();
    for n in 0..10 {
        assert_eq!(fired(&store_a, n).await, 1, "d{n}");
    }
}
