//! The projection benchmark (`shop bench projections`): rebuild throughput of all read models
//! from a generated log (default 1,000,000 events) into SQLite and Postgres, and projection lag —
//! the time from an append's acknowledgement until the read model shows it — at a steady rate of
//! appends (default 1,000 events/s).

pub mod history;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use shop_domain::cart::{CartEvent, CartOwner};
use shop_domain::{CartId, Currency, CustomerId};
use shop_eventstore::sqlite::{SqliteEventStore, SqliteOptions};
use shop_eventstore::{EventStore, ExpectedRevision, StreamName};
use tokio::sync::watch;
use uuid::Uuid;

use crate::models::{ModelOptions, all};
use crate::runner::{RebuildOptions, Runner, RunnerOptions, StatusBoard, rebuild};
use crate::store::ReadStore;
use crate::store::postgres::{PostgresReadOptions, PostgresReadStore};
use crate::store::sqlite::SqliteReadStore;

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectionBenchOptions {
    /// Events in the generated log.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// Which read-model databases (Postgres needs --database-url).
    #[arg(long, value_enum, default_value_t = ReadStores::All)]
    pub store: ReadStores,
    /// Postgres URL (a fresh schema is created and dropped).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory for the SQLite files.
    #[arg(long, default_value = "./data/bench")]
    pub dir: PathBuf,
    /// Appends per second in the lag run.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u32,
    /// Seconds of the lag run.
    #[arg(long, default_value_t = 10)]
    pub lag_seconds: u64,
    /// Threads the rebuild applies on (default: one per core).
    #[arg(long)]
    pub lanes: Option<usize>,
}

/// Read-model databases to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadStores {
    /// Embedded SQLite.
    Sqlite,
    /// Postgres.
    Postgres,
    /// Both (Postgres only with a URL).
    All,
}

/// Runs the benchmark and prints a markdown report.
pub async fn run(options: ProjectionBenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.events > 0 && options.rate > 0,
        "--events and --rate must be at least 1"
    );
    std::fs::create_dir_all(&options.dir)
        .with_context(|| format!("Failed to create {}", options.dir.display()))?;
    let id = Uuid::new_v4().simple().to_string();
    let events_path = options.dir.join(format!("proj-events-{id}.db"));
    let events: Arc<dyn EventStore> =
        Arc::new(SqliteEventStore::open(&events_path, SqliteOptions::default()).await?);
    let started = Instant::now();
    let generated = history::shop_history(options.events, 42)?;
    let total: usize = generated.iter().map(|(_, e)| e.len()).sum();
    history::append(&events, generated, 8).await?;
    println!(
        "log: {total} events in the embedded event store, written in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );
    println!(
        "| read models in | rebuild: events | events/s | rebuild CPU | rows | lag p50 | lag p99 | lag max | appends |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");

    let want = |s: ReadStores| options.store == ReadStores::All || options.store == s;
    let mut cleanup: Vec<PathBuf> = vec![events_path.clone()];
    let mut outcome = Ok(());
    if want(ReadStores::Sqlite) {
        let path = options.dir.join(format!("proj-read-{id}.db"));
        cleanup.push(path.clone());
        let db = Arc::new(SqliteReadStore::open(&path).await?);
        outcome = measure("sqlite", events.clone(), db, &options).await;
    }
    if outcome.is_ok() && want(ReadStores::Postgres) {
        match &options.database_url {
            None => println!("\n(postgres skipped: no --database-url / DATABASE_URL)"),
            Some(url) => {
                let schema = format!("bench_{id}");
                let db = Arc::new(
                    PostgresReadStore::connect(
                        url,
                        PostgresReadOptions {
                            schema: Some(schema.clone()),
                            max_connections: 8,
                        },
                    )
                    .await?,
                );
                let pool = db.pool().clone();
                outcome = measure("postgres", events.clone(), db, &options).await;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&pool)
                    .await?;
            }
        }
    }
    drop(events);
    for path in cleanup {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let _ = std::fs::remove_file(path.with_extension("lock"));
    }
    outcome
}

async fn measure(
    name: &str,
    events: Arc<dyn EventStore>,
    db: Arc<dyn ReadStore>,
    options: &ProjectionBenchOptions,
) -> anyhow::Result<()> {
    let projections = all(&ModelOptions::default());
    let defaults = RebuildOptions::default();
    anyhow::ensure!(options.lanes != Some(0), "--lanes must be at least 1");
    let cpu_before = process_cpu();
    let report = rebuild(
        events.clone(),
        db.clone(),
        &projections,
        &RebuildOptions {
            lanes: options.lanes.unwrap_or(defaults.lanes),
            ..defaults
        },
        |_| {},
    )
    .await?;
    let cpu = match (cpu_before, process_cpu()) {
        (Some(a), Some(b)) => format!("{:.1} s", b.saturating_sub(a).as_secs_f64()),
        _ => "?".to_owned(),
    };
    let rows: u64 = report.tables.iter().map(|t| t.rebuilt).sum();

    // Lag: the runner follows from the rebuilt checkpoints; a writer appends at a steady rate.
    let board = Arc::new(StatusBoard::new());
    let (stop, stopped) = watch::channel(false);
    let runner = Runner::new(
        events.clone(),
        db.clone(),
        projections,
        RunnerOptions::default(),
        board.clone(),
    );
    let task = tokio::spawn(runner.run(stopped));
    let head = events.head_position().await?.context("an empty log")?;
    anyhow::ensure!(
        board.wait_for("carts", head, Duration::from_secs(60)).await,
        "the runner did not start following"
    );
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(options.rate)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let appends = u64::from(options.rate) * options.lag_seconds;
    let mut probes = Vec::new();
    for n in 0..appends {
        ticker.tick().await;
        let (events, board) = (events.clone(), board.clone());
        let run = name.to_owned();
        probes.push(tokio::spawn(async move {
            let cart_id = CartId::new(format!("lag-{run}-{n}"))?;
            let stream = StreamName::new(format!("cart-{cart_id}"))?;
            let event = CartEvent::CartCreated {
                cart_id,
                owner: CartOwner::Customer {
                    customer_id: CustomerId::new("lag")?,
                },
                currency: Currency::EUR,
                at: Utc::now(),
            };
            let data = history::encode(&event, Utc::now())?;
            let written = events
                .append(&stream, ExpectedRevision::NoStream, vec![data])
                .await?;
            let acked = Instant::now();
            anyhow::ensure!(
                board
                    .wait_for("carts", written.position, Duration::from_secs(30))
                    .await,
                "the read model never showed an append"
            );
            anyhow::Ok(acked.elapsed())
        }));
    }
    let mut lags = Vec::with_capacity(probes.len());
    for p in probes {
        lags.push(p.await??);
    }
    let _ = stop.send(true);
    task.await??;
    lags.sort_unstable();
    let pick = |q: f64| lags[((lags.len() as f64 * q) as usize).min(lags.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {name} | {} | {:.0} | {cpu} | {rows} | {:.2} ms | {:.2} ms | {:.2} ms | {} at {}/s |",
        report.events,
        report.events_per_sec,
        ms(pick(0.5)),
        ms(pick(0.99)),
        ms(*lags.last().unwrap_or(&Duration::ZERO)),
        lags.len(),
        options.rate
    );
    Ok(())
}

/// CPU time (user and system) of this process so far, from `/proc/self/stat` (Linux; `None`
/// elsewhere). The rebuild's CPU time says how much work it does, which on a shared machine
/// varies less than its wall-clock time.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which may hold spaces) are space-separated; utime
    // and stime are the 14th and 15th, in clock ticks of 1/100 s (USER_HZ on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
