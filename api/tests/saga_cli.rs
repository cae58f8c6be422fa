//! `shop saga …` as an operator runs it: show a saga's timeline, record a retry and a forced
//! compensation with the operator as actor, list sagas from the read model; bad input gets a
//! readable message and exit status 1, and changes nothing.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use shop_commands::{Command as Cmd, CommandHandler, HandlerConfig, SystemClock};
use shop_domain::checkout::{Checkout, CheckoutCommand, CheckoutLine};
use shop_domain::{Currency, Money, OrderId, PaymentId, Sku};
use shop_eventstore::sqlite::{SqliteEventStore, SqliteOptions};
use shop_eventstore::{Actor, EventStore, ReadStream, StreamName};
use shop_projections::models::sagas::SagasModel;
use shop_projections::runner::{Projection, Runner, RunnerOptions, StatusBoard};
use shop_projections::store::ReadStore;
use shop_projections::store::sqlite::SqliteReadStore;

/// Runs `f` on a runtime of its own, dropped afterwards: every task holding the embedded store
/// ends, so its process lock is free for the `shop` process.
fn on_runtime<F: std::future::Future>(f: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let output = runtime.block_on(f);
    drop(runtime);
    output
}

fn shop(data: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_shop"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("EVENTSTORE_URL")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("shop runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn events(data: &Path) -> Arc<dyn EventStore> {
    Arc::new(
        SqliteEventStore::open(data.join("events.db"), SqliteOptions::default())
            .await
            .unwrap(),
    )
}

/// Writes two checkouts to the embedded store in `data`: o1 running and noted stuck, o2 running.
async fn two_checkouts(data: &Path) {
    let store = events(data).await;
    let checkouts: CommandHandler<Checkout> = CommandHandler::new(
        store.clone(),
        Arc::new(SystemClock),
        HandlerConfig::default(),
    );
    for id in ["o1", "o2"] {
        let start = CheckoutCommand::Start {
            order_id: OrderId::new(id).unwrap(),
            payment_id: PaymentId::new(format!("pay-{id}")).unwrap(),
            lines: vec![CheckoutLine {
                sku: Sku::new("A").unwrap(),
                quantity: 1,
            }],
            amount: Money::new(1_000, Currency::EUR),
            method_token: "tok_approve".into(),
        };
        let command = Cmd::new(uuid::Uuid::new_v4(), start, Actor::system("checkout-saga"));
        checkouts
            .handle(&OrderId::new(id).unwrap(), command)
            .await
            .unwrap();
    }
    let stuck = CheckoutCommand::NoteStuck {
        error: "the payment gateway is unavailable".into(),
        attempts: 10,
    };
    let command = Cmd::new(uuid::Uuid::new_v4(), stuck, Actor::system("checkout-saga"));
    checkouts
        .handle(&OrderId::new("o1").unwrap(), command)
        .await
        .unwrap();
}

/// A real checkout, o3, run to its end by the saga's runner with the sandbox gateway.
async fn a_confirmed_checkout(data: &Path) {
    use shop_commands::checkout::CheckoutRunner;
    use shop_commands::gateway::{SandboxConfig, SandboxGateway};

    let store = events(data).await;
    let (sku, id) = (Sku::new("TEE").unwrap(), OrderId::new("o3").unwrap());
    support::stock_and_order(&store, &sku, &id).await;
    let eur = support::eur;
    let clock = Arc::new(SystemClock);
    let runner = CheckoutRunner::new(
        store,
        clock,
        Arc::new(SandboxGateway::new(SandboxConfig::default())),
        HandlerConfig::default(),
    );
    let lines = vec![CheckoutLine { sku, quantity: 2 }];
    let state = runner
        .start(
            &id,
            &PaymentId::new("pay-o3").unwrap(),
            lines,
            eur(2_000),
            "tok_approve",
        )
        .await
        .unwrap();
    assert!(state.outcome.is_some());
}

async fn saga_events(data: &Path, id: &str) -> Vec<(String, String)> {
    let store = events(data).await;
    store
        .read_stream(
            &StreamName::new(format!("checkout-{id}")).unwrap(),
            ReadStream::forwards(),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.event_type,
                format!("{}:{}", e.metadata.actor.kind, e.metadata.actor.id),
            )
        })
        .collect()
}

#[test]
fn operators_inspect_and_act_on_sagas_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    on_runtime(two_checkouts(data));

    let (ok, out, err) = shop(data, &["saga", "show", "o1"]);
    assert!(ok, "{err}");
    assert!(out.contains("checkout.CheckoutStarted.v1"), "{out}");
    assert!(out.contains("checkout.CheckoutStuck.v1"), "{out}");
    assert!(out.contains("stuck: true"), "{out}");

    let (ok, out, err) = shop(data, &["saga", "retry", "o1", "--operator", "alice"]);
    assert!(ok, "{err}");
    assert!(out.contains("retry of o1 recorded"), "{out}");
    let (ok, _, err) = shop(
        data,
        &[
            "saga",
            "compensate",
            "o2",
            "--operator",
            "bob",
            "--note",
            "customer called",
        ],
    );
    assert!(ok, "{err}");
    let o1 = on_runtime(saga_events(data, "o1"));
    assert_eq!(
        o1.last().unwrap(),
        &(
            "checkout.RetryRequested.v1".to_owned(),
            "admin:alice".to_owned()
        )
    );
    let o2 = on_runtime(saga_events(data, "o2"));
    assert_eq!(
        o2.last().unwrap(),
        &(
            "checkout.CompensationStarted.v1".to_owned(),
            "admin:bob".to_owned()
        )
    );

    // The read model, as `shop saga run` keeps it.
    on_runtime(project_sagas(data));

    let (ok, out, err) = shop(data, &["saga", "list", "--stuck"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("o1\trunning\t-\tyes\t10\t1\tthe payment gateway is unavailable"),
        "{out}"
    );
    assert!(!out.contains("o2"), "{out}");
    let (ok, out, err) = shop(data, &["saga", "list", "--state", "compensating"]);
    assert!(ok, "{err}");
    assert!(out.contains("o2\tcompensating\toperator"), "{out}");
}

async fn project_sagas(data: &Path) {
    let reads: Arc<dyn ReadStore> =
        Arc::new(SqliteReadStore::open(data.join("read.db")).await.unwrap());
    let store = events(data).await;
    let board = Arc::new(StatusBoard::new());
    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(SagasModel)];
    let runner = Runner::new(
        store.clone(),
        reads,
        projections,
        RunnerOptions::default(),
        board.clone(),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(runner.run(stopped));
    let head = store.head_position().await.unwrap().unwrap();
    assert!(
        board
            .wait_for("checkout_sagas", head, std::time::Duration::from_secs(30))
            .await
    );
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

#[test]
fn a_saga_timeline_spans_its_order_payment_deadline_and_reservations() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    on_runtime(a_confirmed_checkout(data));
    let (ok, out, err) = shop(data, &["saga", "show", "o3"]);
    assert!(ok, "{err}");
    let correlation = shop_commands::checkout::correlation(&OrderId::new("o3").unwrap());
    assert!(
        out.contains(&format!("saga correlation id {correlation}")),
        "{out}"
    );
    for expected in [
        "checkout.CheckoutCompleted.v1",
        "order.OrderConfirmed.v1",
        "payment.PaymentCaptured.v1",
        "deadline.DeadlineScheduled.v1",
        "inventory.StockReserved.v1",
        "inventory.ReservationCommitted.v1",
    ] {
        assert!(out.contains(expected), "{expected} missing:\n{out}");
    }
    // The saga's commands to the order carry the saga's correlation id.
    let confirmed = out
        .lines()
        .find(|l| l.contains("order.OrderConfirmed.v1"))
        .unwrap();
    assert!(confirmed.contains(&correlation.to_string()), "{confirmed}");
    // The receipt of stock is another order's business: not in this timeline.
    assert!(!out.contains("inventory.StockReceived.v1"), "{out}");
    assert!(out.contains("outcome: Some(Confirmed)"), "{out}");
}

#[test]
fn bad_input_is_refused_with_a_readable_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let cases: [(&[&str], &str); 5] = [
        (&["saga", "show", "no such order!"], "invalid"),
        (&["saga", "show", "o404"], "no checkout saga for order o404"),
        (&["saga", "retry", "o1", "--operator", " "], "--operator"),
        (&["saga", "list", "--state", "bogus"], "--state is one of"),
        (
            &[
                "saga",
                "compensate",
                "o404",
                "--operator",
                "bob",
                "--note",
                "x",
            ],
            "has not started",
        ),
    ];
    for (args, expected) in cases {
        let (ok, _, err) = shop(data, args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.starts_with("shop: "), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // Neither ever wrote a saga.
    let (_, _, err) = shop(data, &["saga", "show", "o1"]);
    assert!(err.contains("no checkout saga for order o1"), "{err}");
}
