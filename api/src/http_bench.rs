//! The flash-sale benchmark over HTTP (`shop bench http`): a real server on port 0 (embedded
//! stores, or Postgres events and read models) and a crowd of customers driving it with an HTTP
//! client, as a storefront would. One hot SKU with less stock than buyers: every buyer creates a
//! cart and adds one unit, then all of them check out at once, as well-behaved clients (an
//! `Idempotency-Key` per checkout, `Retry-After` honoured on 429/503). It reports requests per
//! second and latency per phase, how many requests were shed, how long until every order had
//! settled, and checks the outcome: exactly `min(stock, buyers)` orders confirmed, the rest
//! cancelled for want of stock, nothing oversold.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use serde_json::{Value, json};
use shop_projections::models::sagas::sagas_by_state;

use crate::auth::{Role, mint_hs256};
use crate::server::{Server, Settings};

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpBenchOptions {
    /// Buyers (each checks out one unit).
    #[arg(long, default_value_t = 2_000)]
    pub buyers: usize,
    /// Units in stock (fewer than buyers: a sell-out).
    #[arg(long, default_value_t = 500)]
    pub stock: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// The server's cap on requests in flight (load shedding beyond it).
    #[arg(long, default_value_t = 1024)]
    pub max_in_flight: usize,
    /// Run on Postgres (events and read models in a fresh schema) instead of the embedded stores.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

const SECRET: &str = "the http benchmark's secret, 32+ bytes";

/// Latencies of one phase.
#[derive(Debug, Default)]
struct Phase {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, usize>,
    elapsed: Duration,
}

impl Phase {
    fn add(&mut self, status: u16, latency: Duration) {
        self.latencies.push(latency);
        *self.statuses.entry(status).or_default() += 1;
    }

    fn report(&mut self, name: &str) {
        self.latencies.sort_unstable();
        let pick = |q: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
            self.latencies.get(i).copied().unwrap_or_default()
        };
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {name} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:?} |",
            self.latencies.len(),
            self.latencies.len() as f64 / self.elapsed.as_secs_f64(),
            ms(pick(0.5)),
            ms(pick(0.99)),
            ms(pick(1.0)),
            self.statuses
        );
    }
}

fn token(role: Role, sub: &str) -> anyhow::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    mint_hs256(SECRET.as_bytes(), sub, role, now, 3600)
}

/// One request; on 429/503 waits `Retry-After` (at most 1 s) and tries again with the same
/// request (and key). Returns the final status and body, and each attempt's status and latency.
async fn send(
    request: impl Fn() -> reqwest::RequestBuilder,
    phase: &tokio::sync::Mutex<Phase>,
) -> anyhow::Result<(u16, Value)> {
    loop {
        let started = Instant::now();
        let response = request().send().await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body: Value = response.json().await.unwrap_or(Value::Null);
        phase.lock().await.add(status, started.elapsed());
        if matches!(status, 429 | 503 | 409) {
            let wait = Duration::from_secs(retry_after.unwrap_or(1).min(1));
            tokio::time::sleep(wait).await;
            continue;
        }
        return Ok((status, body));
    }
}

async fn start(options: &HttpBenchOptions, dir: &std::path::Path) -> anyhow::Result<Server> {
    let settings = Settings {
        jwt_secret: Some(SECRET.into()),
        max_in_flight: options.max_in_flight,
        ..Settings::embedded(dir)
    };
    match &options.database_url {
        None => Server::start(settings).await,
        Some(url) => {
            let schema = format!("bench_http_{}", uuid::Uuid::new_v4().simple());
            let events = shop_eventstore::postgres::PostgresEventStore::connect(
                url,
                shop_eventstore::postgres::PostgresOptions {
                    schema: Some(schema.clone()),
                    ..Default::default()
                },
            )
            .await
            .context("the Postgres event store")?;
            let reads = shop_projections::store::postgres::PostgresReadStore::connect(
                url,
                shop_projections::store::postgres::PostgresReadOptions {
                    schema: Some(format!("{schema}_read")),
                    max_connections: 8,
                },
            )
            .await
            .context("the Postgres read models")?;
            println!("Postgres schemas {schema} and {schema}_read (drop them when done)");
            Server::start_on(settings, Arc::new(events), Arc::new(reads)).await
        }
    }
}

/// Runs the benchmark and prints a markdown table.
pub async fn run(options: HttpBenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.buyers >= 1 && options.concurrency >= 1,
        "buyers and concurrency are at least 1"
    );
    let dir = tempfile::tempdir()?;
    let server = start(&options, dir.path()).await?;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .build()?;
    let admin = token(Role::Admin, "bench-admin")?;

    // The hot product and its stock.
    let created = client
        .post(format!("{base}/products"))
        .bearer_auth(&admin)
        .json(
            &json!({"product_id": "flash-tee", "title": "Flash Tee", "brand": "Acme",
            "variants": [{"sku": "FLASH-1", "price": {"amount": 1999, "currency": "EUR"}}]}),
        )
        .send()
        .await?;
    anyhow::ensure!(
        created.status().as_u16() == 201,
        "creating the product: {}",
        created.status()
    );
    let received = client
        .post(format!("{base}/inventory/FLASH-1/receive"))
        .bearer_auth(&admin)
        .json(&json!({"warehouse": "main", "quantity": options.stock}))
        .send()
        .await?;
    anyhow::ensure!(
        received.status().as_u16() == 200,
        "receiving stock: {}",
        received.status()
    );

    // Phase 1: every buyer creates a cart and adds one unit.
    let tokens: Vec<String> = (0..options.buyers)
        .map(|i| token(Role::Customer, &format!("buyer-{i}")))
        .collect::<Result<_, _>>()?;
    let carts_phase = tokio::sync::Mutex::new(Phase::default());
    let started = Instant::now();
    let carts: Vec<String> = futures::stream::iter(tokens.iter())
        .map(|t| {
            let (client, base, phase) = (&client, &base, &carts_phase);
            async move {
                let (status, body) = send(
                    || client.post(format!("{base}/carts")).bearer_auth(t).json(&json!({})),
                    phase,
                )
                .await?;
                anyhow::ensure!(status == 201, "creating a cart: {status} {body}");
                let cart = body["cart_id"].as_str().unwrap_or_default().to_owned();
                let (status, body) = send(
                    || {
                        client
                            .post(format!("{base}/carts/{cart}/items"))
                            .bearer_auth(t)
                            .json(&json!({"product_id": "flash-tee", "sku": "FLASH-1", "quantity": 1}))
                    },
                    phase,
                )
                .await?;
                anyhow::ensure!(status == 200, "adding to a cart: {status} {body}");
                anyhow::Ok(cart)
            }
        })
        .buffered(options.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    carts_phase.lock().await.elapsed = started.elapsed();

    // Phase 2: the sale: everyone checks out at once.
    let sale_phase = tokio::sync::Mutex::new(Phase::default());
    let started = Instant::now();
    let accepted: Vec<String> = futures::stream::iter(tokens.iter().zip(&carts).enumerate())
        .map(|(i, (t, cart))| {
            let (client, base, phase) = (&client, &base, &sale_phase);
            async move {
                let key = format!("flash-{i}");
                let (status, body) = send(
                    || {
                        client
                            .post(format!("{base}/carts/{cart}/checkout"))
                            .bearer_auth(t)
                            .header("Idempotency-Key", &key)
                            .json(&json!({"payment_token": "tok_approve", "shipping_address":
                                {"name": "Buyer", "line1": "1 Way", "city": "Berlin",
                                 "postal_code": "10115", "country": "DE"}}))
                    },
                    phase,
                )
                .await?;
                anyhow::ensure!(status == 202, "checking out: {status} {body}");
                anyhow::Ok(body["order_id"].as_str().unwrap_or_default().to_owned())
            }
        })
        .buffered(options.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    sale_phase.lock().await.elapsed = started.elapsed();

    // Phase 3: until every saga has ended.
    let count = |state: &'static str| {
        let reads = server.reads.clone();
        async move {
            let mut n = 0;
            let mut after: Option<String> = None;
            loop {
                let page = sagas_by_state(reads.as_ref(), state, after.as_deref(), 1000).await?;
                n += page.len();
                match page.last() {
                    Some(last) if page.len() == 1000 => after = Some(last.order_id.clone()),
                    _ => return anyhow::Ok(n),
                }
            }
        }
    };
    let (confirmed, cancelled) = loop {
        let (confirmed, cancelled) = (count("confirmed").await?, count("cancelled").await?);
        if confirmed + cancelled >= accepted.len() {
            break (confirmed, cancelled);
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the sagas did not settle in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let settled = started.elapsed();
    let head = server.events.head_position().await?.map(|p| p.to_string());
    let stock = client
        .get(format!("{base}/inventory/FLASH-1"))
        .bearer_auth(&admin)
        .header("X-Min-Position", head.unwrap_or_default())
        .send()
        .await?
        .json::<Value>()
        .await?;

    println!(
        "\n{} buyers, {} units, {} in flight, store {}\n",
        options.buyers,
        options.stock,
        options.concurrency,
        if options.database_url.is_some() {
            "postgres"
        } else {
            "embedded"
        }
    );
    println!("| phase | requests | requests/s | p50 ms | p99 ms | max ms | statuses |");
    println!("|---|---|---|---|---|---|---|");
    carts_phase.lock().await.report("carts (create + add)");
    sale_phase.lock().await.report("checkout (202 Accepted)");
    println!(
        "\nevery order settled {:.2} s after the sale opened: {confirmed} confirmed, {cancelled} \
         cancelled; available now {}",
        settled.as_secs_f64(),
        stock["levels"][0]["available"]
    );
    let expected = options.buyers.min(options.stock as usize);
    anyhow::ensure!(
        confirmed == expected,
        "{confirmed} confirmed, expected {expected}"
    );
    anyhow::ensure!(
        stock["levels"][0]["available"].as_i64()
            == Some(i64::from(options.stock) - confirmed as i64),
        "stock does not add up: {stock}"
    );
    server.stop().await
}
