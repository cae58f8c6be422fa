//! `shop serve` on the embedded defaults: it answers `/healthz` and `/readyz`, and runs the
//! projection workers and the process managers in its own process: a checkout started by
//! appending its start (as the API will) is driven to its end by the server's saga runner and
//! shows up in the operators' read model.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shop_api::server::{Server, Settings};
use shop_commands::{Command, CommandHandler, HandlerConfig, SystemClock};
use shop_domain::checkout::{Checkout, CheckoutCommand, CheckoutLine};
use shop_domain::{OrderId, PaymentId, Sku};
use shop_eventstore::Actor;
use shop_projections::models::sagas::sagas_by_state;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// A plain HTTP/1.1 GET; returns the status line and the body.
async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let (status, _, body) = get_with(addr, path, "").await;
    (status, body)
}

/// The same with extra header lines; returns the status line, the head and the body.
async fn get_with(addr: SocketAddr, path: &str, headers: &str) -> (String, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: shop\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
    (status, head.to_lowercase(), body.to_owned())
}

fn settings(dir: &std::path::Path) -> Settings {
    Settings {
        jwt_secret: Some("a test secret that is long enough!!".into()),
        ..Settings::embedded(dir)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_health_checks_and_runs_the_sagas_itself() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings(dir.path())).await.unwrap();
    assert!(
        server.managers.is_some(),
        "process managers run in the server by default"
    );

    let (status, body) = get(server.addr, "/healthz").await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "ok");
    let (status, _) = get(server.addr, "/readyz").await;
    assert!(status.contains("200"), "{status}");
    let (status, _) = get(server.addr, "/nope").await;
    assert!(status.contains("404"), "{status}");
    // Every response names its request id, the client's own when it sent a sensible one.
    let (_, head, _) = get_with(server.addr, "/healthz", "X-Request-Id: probe-7\r\n").await;
    assert!(head.contains("x-request-id: probe-7"), "{head}");

    // Stock, an order, and the checkout's start, as the API will write them.
    let events = server.events.clone();
    let (sku, id) = (Sku::new("TEE").unwrap(), OrderId::new("o1").unwrap());
    support::stock_and_order(&events, &sku, &id).await;
    let eur = support::eur;
    let clock = Arc::new(SystemClock);
    let admin = Actor::new("admin", "setup");
    let checkouts: CommandHandler<Checkout> =
        CommandHandler::new(events.clone(), clock, HandlerConfig::default());
    let start = CheckoutCommand::Start {
        order_id: id.clone(),
        payment_id: PaymentId::new("pay-o1").unwrap(),
        lines: vec![CheckoutLine { sku, quantity: 2 }],
        amount: eur(2_000),
        method_token: "tok_approve".into(),
    };
    checkouts
        .handle(&id, Command::new(Uuid::new_v4(), start, admin))
        .await
        .unwrap();

    // The server's runner drives it; its projections list it as confirmed.
    let mut confirmed = Vec::new();
    for _ in 0..500 {
        confirmed = sagas_by_state(server.reads.as_ref(), "confirmed", None, 10)
            .await
            .unwrap_or_default();
        if !confirmed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        confirmed
            .iter()
            .map(|r| r.order_id.as_str())
            .collect::<Vec<_>>(),
        ["o1"]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bad_settings_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = settings(dir.path());
    bad.eventstore_url = Some("mysql://nope".into());
    let error = Server::start(bad).await.err().expect("refused");
    assert!(format!("{error:#}").contains("EVENTSTORE_URL"), "{error:#}");
    let mut bad = settings(dir.path());
    bad.database_url = Some("mongodb://nope".into());
    let error = Server::start(bad).await.err().expect("refused");
    assert!(format!("{error:#}").contains("DATABASE_URL"), "{error:#}");

    // Settings are checked before anything opens, each with what to fix.
    let refused = |tune: fn(&mut Settings), says: &'static str| {
        let mut bad = settings(dir.path());
        tune(&mut bad);
        async move {
            let error = Server::start(bad).await.err().expect("refused");
            assert!(format!("{error:#}").contains(says), "{error:#}");
        }
    };
    refused(|s| s.jwt_secret = Some("short".into()), "at least 32 bytes").await;
    refused(
        |s| {
            s.jwt_secret = None;
            s.eventstore_url = Some("postgres://127.0.0.1:5432/test".into());
        },
        "SHOP_JWT_SECRET or SHOP_JWT_PUBLIC_KEY is required with EVENTSTORE_URL",
    )
    .await;
    refused(|s| s.max_body_bytes = 10, "SHOP_MAX_BODY_BYTES").await;
    refused(|s| s.tax_rates = Some("DE=19%".into()), "SHOP_TAX_RATES").await;
    refused(|s| s.tax_rates = Some("Germany=1900".into()), "two-letter").await;
    refused(
        |s| s.shipping_methods = Some("standard=-5".into()),
        "SHOP_SHIPPING_METHODS",
    )
    .await;
    refused(|s| s.home_country = "XYZ".into(), "SHOP_HOME_COUNTRY").await;
    refused(
        |s| s.consistency_wait_ms = 600_000,
        "SHOP_CONSISTENCY_WAIT_MS",
    )
    .await;
    refused(
        |s| s.jwt_public_key = Some("/no/such/key.pem".into()),
        "not both",
    )
    .await;
    refused(
        |s| {
            s.jwt_secret = None;
            s.jwt_public_key = Some("/no/such/key.pem".into());
        },
        "SHOP_JWT_PUBLIC_KEY",
    )
    .await;
}
