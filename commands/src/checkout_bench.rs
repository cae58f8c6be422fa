//! The checkout benchmark (`shop bench checkout`): end-to-end checkouts through the saga's
//! runner on the embedded store and on Postgres. Each checkout places an order (1 to 3 lines) and
//! runs its saga to the end against the sandbox gateway: 5 % of cards decline and 1 % time out
//! after charging (looked up, charged once). The process managers run alongside, as in the
//! server: the deadline scheduler, the runner's own subscription (`CheckoutRunner::run`) and the
//! reservation expiry. It reports confirmed checkouts per second and the time from placing the
//! order to its end, and afterwards checks that no reservation leaked.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use shop_domain::checkout::{CheckoutLine, CheckoutOutcome};
use shop_domain::inventory::{Inventory, InventoryCommand};
use shop_domain::order::{Order, OrderCommand, OrderLine};
use shop_domain::pricing::Totals;
use shop_domain::{
    Address, Aggregate, Currency, Money, OrderId, PaymentId, ProductId, Sku, WarehouseId,
};
use shop_eventstore::postgres::{PostgresEventStore, PostgresOptions};
use shop_eventstore::sqlite::{SqliteEventStore, SqliteOptions};
use shop_eventstore::{Actor, EventStore, ReadStream, StreamName};
use uuid::Uuid;

use crate::bench::Stores;
use crate::checkout::CheckoutRunner;
use crate::gateway::{SandboxConfig, SandboxGateway, test_tokens};
use crate::reservations::ReservationExpiry;
use crate::{Command, CommandHandler, HandlerConfig, SystemClock, codec};

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckoutBenchOptions {
    /// Which stores (Postgres needs --database-url).
    #[arg(long, value_enum, default_value_t = Stores::All)]
    pub store: Stores,
    /// Postgres URL (a fresh schema is created and dropped).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Checkouts per store.
    #[arg(long, default_value_t = 20_000)]
    pub checkouts: u64,
    /// Checkouts in flight at once (more raises throughput a little and latency a lot: at 200,
    /// about 1,100/s at p99 240 ms on the embedded store).
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// The sandbox gateway's latency per call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub gateway_latency_ms: u64,
    /// How long a timed-out gateway call waits, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub gateway_timeout_ms: u64,
    /// Run without the process managers (deadline scheduler, the runner's subscription,
    /// reservation expiry), to see what they cost.
    #[arg(long)]
    pub without_process_managers: bool,
    /// Directory for the SQLite file.
    #[arg(long, default_value = "./data/bench")]
    pub dir: PathBuf,
}

const SKUS: u32 = 100;

fn sku(n: u32) -> Sku {
    Sku::new(format!("BENCH-{n:03}")).expect("a valid SKU")
}

/// Runs the benchmark and prints a markdown report.
pub async fn run(options: CheckoutBenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.checkouts > 0 && options.concurrency > 0,
        "--checkouts and --concurrency must be at least 1"
    );
    anyhow::ensure!(
        options.store != Stores::Postgres || options.database_url.is_some(),
        "--database-url (or DATABASE_URL) is needed to benchmark Postgres"
    );
    println!(
        "| store | checkouts | confirmed | payment failed | cancelled | confirmed/s | p50 | p99 | max | leaked reservations |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let want = |s: Stores| options.store == Stores::All || options.store == s;
    if want(Stores::Sqlite) {
        std::fs::create_dir_all(&options.dir)
            .with_context(|| format!("Failed to create {}", options.dir.display()))?;
        let path = options
            .dir
            .join(format!("checkout-{}.db", Uuid::new_v4().simple()));
        let store = SqliteEventStore::open(&path, SqliteOptions::default()).await?;
        let result = measure("sqlite", Arc::new(store), &options).await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let _ = std::fs::remove_file(path.with_extension("lock"));
        result?;
    }
    if want(Stores::Postgres) {
        let Some(url) = &options.database_url else {
            println!("\n(postgres skipped: no --database-url / DATABASE_URL)");
            return Ok(());
        };
        let schema = format!("bench_{}", Uuid::new_v4().simple());
        let pg = PostgresOptions {
            schema: Some(schema.clone()),
            max_connections: 16,
            ..Default::default()
        };
        let store = PostgresEventStore::connect(url, pg).await?;
        let pool = store.pool().clone();
        let result = measure("postgres", Arc::new(store), &options).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&pool)
            .await?;
        result?;
    }
    Ok(())
}

fn address() -> Box<Address> {
    Box::new(Address {
        name: "Bench Buyer".into(),
        line1: "Hauptstr. 1".into(),
        line2: None,
        city: "Berlin".into(),
        region: None,
        postal_code: "10115".into(),
        country: "DE".into(),
    })
}

/// The lines of checkout `n`: 1 to 3 distinct SKUs, 1 unit each.
fn lines(n: u64) -> Vec<CheckoutLine> {
    let count = 1 + (n % 3) as u32;
    (0..count)
        .map(|i| CheckoutLine {
            sku: sku(((n as u32).wrapping_mul(7) + i * 31) % SKUS),
            quantity: 1,
        })
        .collect()
}

/// The card of checkout `n`: 5 in 100 decline, 1 in 100 times out after charging.
fn token(n: u64) -> &'static str {
    match n % 100 {
        0..=4 => test_tokens::DECLINE,
        5 => test_tokens::TIMEOUT_AFTER_CHARGE,
        _ => test_tokens::APPROVE,
    }
}

async fn measure(
    name: &str,
    store: Arc<dyn EventStore>,
    options: &CheckoutBenchOptions,
) -> anyhow::Result<()> {
    let config = HandlerConfig::default();
    let clock = Arc::new(SystemClock);
    let inventory = CommandHandler::<Inventory>::new(store.clone(), clock.clone(), config.clone());
    let admin = Actor::new("admin", "bench");
    for n in 0..SKUS {
        let receive = InventoryCommand::ReceiveStock {
            sku: sku(n),
            warehouse: WarehouseId::new("w1")?,
            quantity: 1_000_000,
            note: None,
        };
        inventory
            .handle(
                &sku(n),
                Command::new(Uuid::new_v4(), receive, admin.clone()),
            )
            .await?;
    }
    let gateway = Arc::new(SandboxGateway::new(SandboxConfig {
        latency: Duration::from_millis(options.gateway_latency_ms),
        slow_latency: Duration::from_secs(2),
        timeout: Duration::from_millis(options.gateway_timeout_ms),
    }));
    let runner = CheckoutRunner::new(store.clone(), clock.clone(), gateway, config.clone());
    let expiry = ReservationExpiry::new(store.clone(), clock.clone(), config.clone());
    let orders = CommandHandler::<Order>::new(store.clone(), clock, config);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let managers = {
        let (scheduler, follower) = (runner.deadlines().clone(), runner.clone());
        let (s1, s2, s3) = (stopped.clone(), stopped.clone(), stopped);
        let without = options.without_process_managers;
        tokio::spawn(async move {
            if without {
                return Ok(((), (), ()));
            }
            tokio::try_join!(scheduler.run(s1), follower.run(s2), expiry.run(s3))
        })
    };

    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..options.concurrency)
        .map(|_| {
            let (next, runner, orders, admin) =
                (next.clone(), runner.clone(), orders.clone(), admin.clone());
            let total = options.checkouts;
            tokio::spawn(async move {
                let mut results = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let began = Instant::now();
                    let outcome = checkout(&runner, &orders, &admin, n).await;
                    results.push((outcome, began.elapsed()));
                }
                results
            })
        })
        .collect();
    let (mut confirmed, mut failed, mut cancelled) = (0u64, 0u64, 0u64);
    let mut latencies = Vec::new();
    for worker in workers {
        for (outcome, took) in worker.await? {
            match outcome? {
                CheckoutOutcome::Confirmed => {
                    confirmed += 1;
                    latencies.push(took);
                }
                CheckoutOutcome::PaymentFailed => failed += 1,
                CheckoutOutcome::Cancelled => cancelled += 1,
            }
        }
    }
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    managers.await??;

    let mut leaked = 0u64;
    for n in 0..SKUS {
        let stream = StreamName::new(format!("{}-{}", Inventory::CATEGORY, sku(n)))?;
        let events = store.read_stream(&stream, ReadStream::forwards()).await?;
        let decoded: Vec<_> = events
            .iter()
            .map(|e| codec::decode(&e.event_type, &e.data))
            .collect::<Result<_, _>>()?;
        leaked += Inventory::fold(&decoded).reserved();
    }
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {name} | {} | {confirmed} | {failed} | {cancelled} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {leaked} |",
        options.checkouts,
        confirmed as f64 / elapsed.as_secs_f64(),
        ms(pick(0.5)),
        ms(pick(0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    anyhow::ensure!(leaked == 0, "{leaked} units left reserved");
    Ok(())
}

/// Places order `n` and runs its checkout to the end.
async fn checkout(
    runner: &CheckoutRunner,
    orders: &CommandHandler<Order>,
    admin: &Actor,
    n: u64,
) -> anyhow::Result<CheckoutOutcome> {
    let order_id = OrderId::new(format!("bench-{n}"))?;
    let lines = lines(n);
    let eur = |minor| Money::new(minor, Currency::EUR);
    let product = ProductId::new("bench")?;
    let total = eur(1_000 * lines.len() as i64);
    let place = OrderCommand::PlaceOrder {
        order_id: order_id.clone(),
        customer_id: None,
        cart_id: None,
        lines: lines
            .iter()
            .map(|l| OrderLine::new(l.sku.clone(), product.clone(), l.quantity, eur(1_000)))
            .collect::<Result<_, _>>()?,
        currency: Currency::EUR,
        totals: Totals::from_parts(total, eur(0), eur(0), eur(0))?,
        shipping_address: address(),
        billing_address: address(),
        promo_code: None,
        shipping_method: "standard".into(),
    };
    orders
        .handle(
            &order_id,
            Command::new(Uuid::new_v4(), place, admin.clone()),
        )
        .await?;
    let payment_id = PaymentId::new(format!("pay-bench-{n}"))?;
    let state = runner
        .start(&order_id, &payment_id, lines, total, token(n))
        .await?;
    state
        .outcome
        .with_context(|| format!("checkout {n} did not end"))
}
