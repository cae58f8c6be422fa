//! The event store benchmark (`shop bench eventstore`): durable append throughput and latency with
//! concurrent writers, single events and 10-event batches, `$all` read throughput, and — for
//! context — the disk's fsync rate, measured in the same run.
//!
//! Each writer appends to its own stream with `Exact` expected revisions, as command handlers do.
//! Latency is from the call to the acknowledgement (durable).

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use uuid::Uuid;

use crate::{
    Actor, EventData, EventStore, ExpectedRevision, Json, Metadata, ReadAll, StreamName,
    postgres::{PostgresEventStore, PostgresOptions},
    sqlite::{SqliteEventStore, SqliteOptions},
};

/// What to measure.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// Which stores (Postgres needs --database-url).
    #[arg(long, value_enum, default_value_t = BenchStore::All)]
    pub store: BenchStore,
    /// Postgres URL for the Postgres runs (a fresh schema is created and dropped).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Concurrent writers.
    #[arg(long, default_value_t = 64)]
    pub writers: usize,
    /// Seconds per append scenario.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Directory for the SQLite file and the fsync probe (on the disk being measured).
    #[arg(long, default_value = "./data/bench")]
    pub dir: PathBuf,
}

/// The stores `shop bench eventstore` can measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchStore {
    /// The embedded SQLite store.
    Sqlite,
    /// The Postgres store.
    Postgres,
    /// Both (Postgres only when a URL is given).
    All,
}

/// One append scenario's figures.
#[derive(Debug, Clone, Copy)]
pub struct AppendFigures {
    /// Events per append.
    pub batch: usize,
    /// Events acknowledged per second.
    pub events_per_sec: f64,
    /// Appends acknowledged per second.
    pub appends_per_sec: f64,
    /// Median append latency.
    pub p50: Duration,
    /// 99th percentile append latency.
    pub p99: Duration,
    /// Worst append latency.
    pub max: Duration,
}

/// Runs the benchmark and prints a report (markdown) to stdout.
pub async fn run(options: BenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.writers > 0 && options.seconds > 0,
        "--writers and --seconds must be at least 1"
    );
    anyhow::ensure!(
        options.store != BenchStore::Postgres || options.database_url.is_some(),
        "--database-url (or DATABASE_URL) is needed to benchmark Postgres"
    );
    std::fs::create_dir_all(&options.dir)
        .with_context(|| format!("Failed to create {}", options.dir.display()))?;
    let fsyncs = fsync_rate(&options.dir)?;
    println!(
        "fsync (4 KiB write + fdatasync) in {}: {fsyncs:.0}/s ({:.2} ms each)\n",
        options.dir.display(),
        1000.0 / fsyncs
    );
    println!("| store | scenario | events/s | appends/s | p50 | p99 | max |");
    println!("|---|---|---|---|---|---|---|");
    let want = |s: BenchStore| options.store == BenchStore::All || options.store == s;
    if want(BenchStore::Sqlite) {
        let path = options
            .dir
            .join(format!("bench-{}.db", Uuid::new_v4().simple()));
        let store = SqliteEventStore::open(&path, SqliteOptions::default()).await?;
        scenarios("sqlite", store.clone(), &options).await?;
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let _ = std::fs::remove_file(path.with_extension("lock"));
    }
    if want(BenchStore::Postgres) {
        let Some(url) = &options.database_url else {
            println!("\n(postgres skipped: no --database-url / DATABASE_URL)");
            return Ok(());
        };
        let schema = format!("bench_{}", Uuid::new_v4().simple());
        let pg = PostgresOptions {
            schema: Some(schema.clone()),
            max_connections: 32,
            ..Default::default()
        };
        let store = PostgresEventStore::connect(url, pg).await?;
        let result = scenarios("postgres", store.clone(), &options).await;
        let drop_schema = format!("DROP SCHEMA {schema} CASCADE");
        sqlx::query(sqlx::AssertSqlSafe(drop_schema))
            .execute(store.pool())
            .await?;
        result?;
    }
    Ok(())
}

async fn scenarios<S: EventStore + Clone>(
    name: &str,
    store: S,
    options: &BenchOptions,
) -> anyhow::Result<()> {
    let duration = Duration::from_secs(options.seconds);
    for batch in [1, 10] {
        let f = appends(store.clone(), options.writers, batch, duration).await?;
        println!(
            "| {name} | {} writers × {batch}-event appends | {:.0} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms |",
            options.writers,
            f.events_per_sec,
            f.appends_per_sec,
            ms(f.p50),
            ms(f.p99),
            ms(f.max)
        );
    }
    let (events, per_sec) = read_all(&store).await?;
    println!(
        "| {name} | `$all` forwards, pages of 4,096 ({events} events) | {per_sec:.0} | | | | |"
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn bench_event(n: u64) -> EventData {
    let metadata = Metadata::new(
        Uuid::new_v4(),
        Uuid::new_v4(),
        Actor::new("customer", "bench"),
        chrono::Utc::now(),
    );
    EventData {
        event_id: Uuid::new_v4(),
        event_type: "bench.ItemAdded.v1".into(),
        // A payload of the size of a typical cart event.
        data: Json::from(
            serde_json::json!({"cart_id": "c-1", "sku": "SKU-000123", "quantity": n % 7 + 1, "unit_price": {"amount": 1999, "currency": "EUR"}}),
        ),
        metadata,
    }
}

/// `writers` tasks append `batch`-event batches to their own streams for `duration`.
pub async fn appends<S: EventStore + Clone>(
    store: S,
    writers: usize,
    batch: usize,
    duration: Duration,
) -> anyhow::Result<AppendFigures> {
    let run = Uuid::new_v4().simple().to_string();
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            let stream = StreamName::new(format!("bench-{run}{w}")).expect("valid name");
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut expected = ExpectedRevision::NoStream;
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let events = (0..batch)
                        .map(|_| {
                            n += 1;
                            bench_event(n)
                        })
                        .collect();
                    let t = Instant::now();
                    let r = store.append(&stream, expected, events).await?;
                    latencies.push(t.elapsed());
                    expected = ExpectedRevision::Exact(r.next_expected_revision);
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    Ok(AppendFigures {
        batch,
        events_per_sec: (latencies.len() * batch) as f64 / elapsed,
        appends_per_sec: latencies.len() as f64 / elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        max: *latencies.last().unwrap_or(&Duration::ZERO),
    })
}

/// Pages through the whole of `$all`; returns (events, events per second).
pub async fn read_all<S: EventStore>(store: &S) -> anyhow::Result<(usize, f64)> {
    let started = Instant::now();
    let mut total = 0;
    let mut from = None;
    loop {
        let mut page = ReadAll::forwards().limit(4096);
        page.from = from;
        let events = store.read_all(page).await?;
        let Some(last) = events.last() else { break };
        from = Some(last.position);
        total += events.len();
    }
    Ok((total, total as f64 / started.elapsed().as_secs_f64()))
}

/// 4 KiB writes, each followed by `fdatasync`, for one second.
pub fn fsync_rate(dir: &Path) -> anyhow::Result<f64> {
    let path = dir.join(format!("fsync-probe-{}", Uuid::new_v4().simple()));
    let mut file = std::fs::File::create(&path)?;
    let block = [0x5au8; 4096];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(1) {
        file.write_all(&block)?;
        file.sync_data()?;
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(rate)
}
