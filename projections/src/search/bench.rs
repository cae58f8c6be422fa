//! The search benchmark (`shop bench search`): indexing throughput and query latency on a
//! generated catalog (100,000 products by default), for the embedded Tantivy index always and
//! for Meilisearch when a URL is given. The query load is what a shop's search box sends: one
//! word, usually with a typo, three facets (brand, category, colour) and a filter. The target
//! for the embedded index is p99 < 10 ms.
//!
//! Indexing goes through the port in batches of 1,000, each durable and visible when the call
//! returns (a Tantivy commit; a finished Meilisearch task), as the projection worker writes.

mod generator;

pub use generator::Rng;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context as _;

use super::{MeiliIndex, SearchIndex, SearchQuery, SearchSettings, TantivyIndex};

/// Documents per write call, as the projection worker batches them.
const BATCH: usize = 1_000;
/// Queries run before measuring (page cache, lazily loaded dictionaries).
const WARM_UP: usize = 100;

/// What to measure.
#[derive(Debug, Clone, clap::Args)]
pub struct SearchBenchOptions {
    /// Products in the generated catalog.
    #[arg(long, default_value_t = 100_000)]
    pub products: usize,
    /// Measured queries (after a warm-up of 100).
    #[arg(long, default_value_t = 2_000)]
    pub queries: usize,
    /// Directory for the Tantivy index (a `search-bench` folder inside is replaced); default: a
    /// fresh folder in the system temp dir, removed afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Seed of the generated catalog and queries.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Meilisearch to measure as well (a fresh index is created and deleted).
    #[arg(long, env = "MEILI_URL")]
    pub meili_url: Option<String>,
    /// Meilisearch API key.
    #[arg(long, env = "MEILI_KEY")]
    pub meili_key: Option<String>,
}

/// One adapter's figures.
#[derive(Debug, Clone)]
pub struct SearchFigures {
    pub adapter: &'static str,
    pub products: usize,
    pub indexing: Duration,
    /// Time to reopen the index (positions read back), where that applies.
    pub reopen: Option<Duration>,
    pub queries: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Mean of the queries' exact totals.
    pub mean_total: f64,
    pub zero_hit_queries: usize,
}

impl SearchFigures {
    fn docs_per_sec(&self) -> f64 {
        self.products as f64 / self.indexing.as_secs_f64().max(f64::EPSILON)
    }
}

/// Runs the benchmark and prints a report (markdown) to stdout.
pub async fn run(options: SearchBenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.products > 0 && options.queries > 0,
        "--products and --queries must be at least 1"
    );
    let started = Instant::now();
    let catalog = generator::catalog(options.products, options.seed);
    let queries = catalog.queries(options.queries + WARM_UP, options.seed);
    eprintln!(
        "generated {} products in {:.1?}",
        options.products,
        started.elapsed()
    );

    let mut figures = vec![bench_tantivy(&options, &catalog.products, &queries).await?];
    if let Some(url) = &options.meili_url {
        figures.push(bench_meili(url, &options, &catalog.products, &queries).await?);
    }
    print_report(&options, &figures);
    Ok(())
}

async fn bench_tantivy(
    options: &SearchBenchOptions,
    products: &[super::ProductDocument],
    queries: &[SearchQuery],
) -> anyhow::Result<SearchFigures> {
    let (dir, remove_after) = match &options.dir {
        Some(dir) => (dir.join("search-bench"), false),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let name = format!("shop-search-bench-{}-{nanos}", std::process::id());
            (std::env::temp_dir().join(name), true)
        }
    };
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("Failed to clear {}", dir.display()))?;
    }
    let index = TantivyIndex::open(&dir, SearchSettings::default())
        .context("Failed to open the Tantivy index")?;
    let indexing = index_all(&index, products).await?;
    drop(index);
    let reopened = Instant::now();
    let index = TantivyIndex::open(&dir, SearchSettings::default())
        .context("Failed to reopen the Tantivy index")?;
    let reopen = reopened.elapsed();
    anyhow::ensure!(
        index.count().await? == products.len() as u64,
        "the reopened index lost products"
    );
    let mut figures = measure("tantivy (embedded)", &index, products.len(), queries).await?;
    figures.indexing = indexing;
    figures.reopen = Some(reopen);
    drop(index);
    if remove_after {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("Failed to remove {}", dir.display()))?;
    }
    Ok(figures)
}

async fn bench_meili(
    url: &str,
    options: &SearchBenchOptions,
    products: &[super::ProductDocument],
    queries: &[SearchQuery],
) -> anyhow::Result<SearchFigures> {
    let uid = format!("shop_bench_{}", uuid::Uuid::new_v4().simple());
    let index = MeiliIndex::connect(
        url,
        options.meili_key.clone(),
        &uid,
        SearchSettings::default(),
    )
    .await
    .context("Failed to connect to Meilisearch")?;
    let result = async {
        let indexing = index_all(&index, products).await?;
        let mut figures = measure("meilisearch", &index, products.len(), queries).await?;
        figures.indexing = indexing;
        anyhow::Ok(figures)
    }
    .await;
    if let Err(e) = index.delete_index().await {
        eprintln!("could not delete the benchmark index {uid}: {e}");
    }
    result
}

/// Writes every product in batches; returns the time taken.
async fn index_all<I: SearchIndex>(
    index: &I,
    products: &[super::ProductDocument],
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for batch in products.chunks(BATCH) {
        let applied = index
            .upsert(batch.to_vec())
            .await
            .context("Failed to index a batch")?;
        anyhow::ensure!(
            applied == batch.len(),
            "only {applied} of {} applied",
            batch.len()
        );
    }
    Ok(started.elapsed())
}

/// Runs the queries one after another (after the warm-up) and takes latencies.
async fn measure<I: SearchIndex>(
    adapter: &'static str,
    index: &I,
    products: usize,
    queries: &[SearchQuery],
) -> anyhow::Result<SearchFigures> {
    let (warm_up, measured) = queries.split_at(WARM_UP.min(queries.len()));
    for query in warm_up {
        index.search(query).await.context("Failed to search")?;
    }
    let mut latencies = Vec::with_capacity(measured.len());
    let (mut totals, mut zero) = (0u64, 0usize);
    for query in measured {
        let started = Instant::now();
        let results = index.search(query).await.context("Failed to search")?;
        latencies.push(started.elapsed());
        totals += results.total;
        zero += usize::from(results.total == 0);
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
        latencies.get(i).copied().unwrap_or_default()
    };
    Ok(SearchFigures {
        adapter,
        products,
        indexing: Duration::ZERO,
        reopen: None,
        queries: measured.len(),
        p50: at(0.50),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or_default(),
        mean_total: totals as f64 / measured.len().max(1) as f64,
        zero_hit_queries: zero,
    })
}

fn print_report(options: &SearchBenchOptions, figures: &[SearchFigures]) {
    println!(
        "\nSearch benchmark: {} products (seed {}), indexed in batches of {BATCH}; {} queries of \
         one word (a typo in words of 5+ letters) with 3 facets and a filter, after {WARM_UP} \
         warm-up queries.\n",
        options.products, options.seed, options.queries
    );
    println!(
        "| adapter | indexing | docs/s | reopen | queries | p50 | p99 | max | mean total hits | 0-hit queries |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for f in figures {
        let reopen = f
            .reopen
            .map_or_else(|| "–".to_owned(), |d| format!("{:.0} ms", ms(d)));
        println!(
            "| {} | {:.1} s | {:.0} | {reopen} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} | {} |",
            f.adapter,
            f.indexing.as_secs_f64(),
            f.docs_per_sec(),
            f.queries,
            ms(f.p50),
            ms(f.p99),
            ms(f.max),
            f.mean_total,
            f.zero_hit_queries,
        );
    }
    if options.meili_url.is_none() {
        println!("\n(meilisearch skipped: no --meili-url / MEILI_URL)");
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
