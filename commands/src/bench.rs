//! The flash-sale benchmark (`shop bench flash-sale`): one SKU, many concurrent buyers, every
//! buyer reserving one unit per command through the real command handler (per-stream queue,
//! batched decisions, one durable append per batch) until the stock is gone.
//!
//! Two runs per store: a **sale** (default 1,000,000 units, 500 buyers, each buying again as soon as
//! its previous reservation is acknowledged) reporting successful reservations per second and the
//! latency of each command from the call to its durable acknowledgement; and a **sell-out** (default
//! 1,000 units, 20,000 buyers at once, one attempt each) that must end with exactly as many
//! reservations as units, checked against a fresh load of the stream.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use shop_domain::inventory::{Inventory, InventoryCommand, InventoryRejection};
use shop_domain::{OrderId, Sku, WarehouseId};
use shop_eventstore::postgres::{PostgresEventStore, PostgresOptions};
use shop_eventstore::sqlite::{SqliteEventStore, SqliteOptions};
use shop_eventstore::{Actor, EventStore};
use uuid::Uuid;

use crate::{Command, CommandError, CommandHandler, HandlerConfig, SystemClock};

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct FlashSaleOptions {
    /// Which stores (Postgres needs --database-url).
    #[arg(long, value_enum, default_value_t = Stores::All)]
    pub store: Stores,
    /// Postgres URL for the Postgres runs (a fresh schema is created and dropped).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Units on sale in the throughput run.
    #[arg(long, default_value_t = 1_000_000)]
    pub units: u32,
    /// Concurrent buyers in the throughput run; each buys one unit at a time until sold out.
    #[arg(long, default_value_t = 500)]
    pub buyers: usize,
    /// Units in the sell-out run.
    #[arg(long, default_value_t = 1_000)]
    pub sellout_units: u32,
    /// Buyers in the sell-out run, all at once, one attempt each.
    #[arg(long, default_value_t = 20_000)]
    pub sellout_buyers: usize,
    /// Directory for the SQLite file.
    #[arg(long, default_value = "./data/bench")]
    pub dir: PathBuf,
}

/// The stores the benchmark can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stores {
    /// The embedded SQLite store.
    Sqlite,
    /// The Postgres store.
    Postgres,
    /// Both (Postgres only when a URL is given).
    All,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct SaleFigures {
    /// Successful reservations.
    pub sold: u64,
    /// Commands refused as out of stock.
    pub out_of_stock: u64,
    /// Commands refused because the stream's queue was full (load shedding).
    pub shed: u64,
    /// Successful reservations per second over the run.
    pub per_sec: f64,
    /// Latency of successful reservations.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Worst.
    pub max: Duration,
    /// Appends the handler made.
    pub appends: u64,
    /// Reserved units according to a fresh load of the stream afterwards.
    pub reserved_in_log: u64,
    /// Available units according to that load.
    pub available_in_log: u64,
}

/// Runs the benchmark and prints a markdown report to stdout.
pub async fn run(options: FlashSaleOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.units > 0 && options.buyers > 0,
        "--units and --buyers must be at least 1"
    );
    anyhow::ensure!(
        options.sellout_units > 0 && options.sellout_buyers > 0,
        "--sellout-units and --sellout-buyers must be at least 1"
    );
    anyhow::ensure!(
        options.units <= shop_domain::inventory::MAX_QUANTITY
            && options.sellout_units <= shop_domain::inventory::MAX_QUANTITY,
        "at most {} units per run",
        shop_domain::inventory::MAX_QUANTITY
    );
    anyhow::ensure!(
        options.store != Stores::Postgres || options.database_url.is_some(),
        "--database-url (or DATABASE_URL) is needed to benchmark Postgres"
    );
    println!(
        "| store | run | sold | out of stock | shed | reservations/s | p50 | p99 | max | appends | log: reserved / available |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let want = |s: Stores| options.store == Stores::All || options.store == s;
    if want(Stores::Sqlite) {
        std::fs::create_dir_all(&options.dir)
            .with_context(|| format!("Failed to create {}", options.dir.display()))?;
        let path = options
            .dir
            .join(format!("flash-{}.db", Uuid::new_v4().simple()));
        let store = SqliteEventStore::open(&path, SqliteOptions::default()).await?;
        let result = runs("sqlite", Arc::new(store), &options).await;
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
        let result = runs("postgres", Arc::new(store), &options).await;
        let drop_schema = format!("DROP SCHEMA {schema} CASCADE");
        sqlx::query(sqlx::AssertSqlSafe(drop_schema))
            .execute(&pool)
            .await?;
        result?;
    }
    Ok(())
}

async fn runs(
    name: &str,
    store: Arc<dyn EventStore>,
    options: &FlashSaleOptions,
) -> anyhow::Result<()> {
    let sale = sale(store.clone(), options.units, options.buyers).await?;
    print_row(
        name,
        &format!(
            "sale: {} units, {} buyers buying until sold out",
            options.units, options.buyers
        ),
        &sale,
    );
    let sellout = sale_once(store, options.sellout_units, options.sellout_buyers).await?;
    print_row(
        name,
        &format!(
            "sell-out: {} units, {} buyers at once",
            options.sellout_units, options.sellout_buyers
        ),
        &sellout,
    );
    anyhow::ensure!(
        sellout.sold == u64::from(options.sellout_units)
            && sellout.reserved_in_log == u64::from(options.sellout_units)
            && sellout.available_in_log == 0,
        "{name}: the sell-out sold {} of {} units (log: {} reserved, {} available)",
        sellout.sold,
        options.sellout_units,
        sellout.reserved_in_log,
        sellout.available_in_log
    );
    Ok(())
}

fn print_row(store: &str, run: &str, f: &SaleFigures) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {store} | {run} | {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {} | {} / {} |",
        f.sold,
        f.out_of_stock,
        f.shed,
        f.per_sec,
        ms(f.p50),
        ms(f.p99),
        ms(f.max),
        f.appends,
        f.reserved_in_log,
        f.available_in_log
    );
}

fn handler(store: Arc<dyn EventStore>) -> CommandHandler<Inventory> {
    let config = HandlerConfig {
        // A sell-out queues every buyer at once.
        queue_capacity: 50_000,
        ..HandlerConfig::default()
    };
    CommandHandler::new(store, Arc::new(SystemClock), config)
}

fn reserve(sku: &Sku, n: u64) -> anyhow::Result<Command<InventoryCommand>> {
    Ok(Command::new(
        Uuid::new_v4(),
        InventoryCommand::ReserveStock {
            sku: sku.clone(),
            order_id: OrderId::new(format!("bench-{n}"))?,
            quantity: 1,
            expires_at: None,
        },
        Actor::new("customer", "bench"),
    ))
}

async fn stock(handler: &CommandHandler<Inventory>, sku: &Sku, units: u32) -> anyhow::Result<()> {
    let receive = Command::new(
        Uuid::new_v4(),
        InventoryCommand::ReceiveStock {
            sku: sku.clone(),
            warehouse: WarehouseId::new("main")?,
            quantity: units,
            note: Some("flash sale".into()),
        },
        Actor::new("admin", "bench"),
    );
    handler
        .handle(sku, receive)
        .await
        .map_err(|e| anyhow::anyhow!("receiving stock: {e}"))?;
    Ok(())
}

/// What one buyer saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    out_of_stock: u64,
    shed: u64,
}

/// `buyers` tasks each reserving one unit at a time until one is refused as out of stock.
async fn sale(
    store: Arc<dyn EventStore>,
    units: u32,
    buyers: usize,
) -> anyhow::Result<SaleFigures> {
    let sku = Sku::new("FLASH-SALE")?;
    let h = handler(store.clone());
    stock(&h, &sku, units).await?;
    let next_order = Arc::new(AtomicU64::new(0));
    let sold_out = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..buyers)
        .map(|_| {
            let (h, sku, next_order, sold_out) =
                (h.clone(), sku.clone(), next_order.clone(), sold_out.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while !sold_out.load(Ordering::Relaxed) {
                    let n = next_order.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    match h.handle(&sku, reserve(&sku, n)?).await {
                        Ok(_) => tally.latencies.push(t.elapsed()),
                        Err(CommandError::Rejected(InventoryRejection::InsufficientStock {
                            ..
                        })) => {
                            tally.out_of_stock += 1;
                            sold_out.store(true, Ordering::Relaxed);
                        }
                        Err(CommandError::Overloaded { .. }) => {
                            tally.shed += 1;
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Err(e) => anyhow::bail!("reservation failed: {e}"),
                    }
                }
                Ok(tally)
            })
        })
        .collect();
    finish(store, &h, &sku, started, tasks).await
}

/// `buyers` tasks started at once, one reservation attempt each.
async fn sale_once(
    store: Arc<dyn EventStore>,
    units: u32,
    buyers: usize,
) -> anyhow::Result<SaleFigures> {
    let sku = Sku::new("FLASH-SELLOUT")?;
    let h = handler(store.clone());
    stock(&h, &sku, units).await?;
    let started = Instant::now();
    let tasks: Vec<_> = (0..buyers as u64)
        .map(|n| {
            let (h, sku) = (h.clone(), sku.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let t = Instant::now();
                match h.handle(&sku, reserve(&sku, n)?).await {
                    Ok(_) => tally.latencies.push(t.elapsed()),
                    Err(CommandError::Rejected(InventoryRejection::InsufficientStock {
                        ..
                    })) => tally.out_of_stock += 1,
                    Err(CommandError::Overloaded { .. }) => tally.shed += 1,
                    Err(e) => anyhow::bail!("reservation failed: {e}"),
                }
                Ok(tally)
            })
        })
        .collect();
    finish(store, &h, &sku, started, tasks).await
}

async fn finish(
    store: Arc<dyn EventStore>,
    h: &CommandHandler<Inventory>,
    sku: &Sku,
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Tally>>>,
) -> anyhow::Result<SaleFigures> {
    let mut latencies = Vec::new();
    let (mut out_of_stock, mut shed) = (0, 0);
    for task in tasks {
        let tally = task.await.context("a buyer task panicked")??;
        latencies.extend(tally.latencies);
        out_of_stock += tally.out_of_stock;
        shed += tally.shed;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    // What the log says, read by a handler that has never seen the stream.
    let (state, _) = handler(store)
        .load(sku)
        .await
        .map_err(|e| anyhow::anyhow!("loading the SKU afterwards: {e}"))?;
    Ok(SaleFigures {
        sold: latencies.len() as u64,
        out_of_stock,
        shed,
        per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        max: latencies.last().copied().unwrap_or_default(),
        appends: h.stats().appends,
        reserved_in_log: state.reserved(),
        available_in_log: state.available(),
    })
}
