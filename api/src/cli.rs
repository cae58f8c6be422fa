//! The `shop` command line: one `clap` parser, one subcommand per job.

use clap::{Parser, Subcommand};

/// shop: an event-sourced commerce backend.
#[derive(Debug, Parser)]
#[command(name = "shop", version, about)]
pub struct Cli {
    /// Log lines as `pretty` text or as `json` objects (one per line, with the request and
    /// correlation ids as fields).
    #[arg(long, global = true, env = "SHOP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (HTTP, projections, process managers) on the configured stores.
    Serve(crate::server::Settings),
    /// Checkout sagas: run the process managers on their own, list and inspect sagas, and
    /// record operators' retries and forced compensations.
    #[command(subcommand)]
    Saga(crate::sagas::SagaCommand),
    /// Load a deterministic demo catalog with stock (run it again: nothing new is written).
    Seed(crate::seed::SeedArgs),
    /// Mint a development bearer token (HS256, secret in SHOP_JWT_SECRET).
    Token(crate::auth::TokenArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(Bench),
}

/// What to benchmark.
#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Event store append and read throughput, on SQLite and Postgres.
    Eventstore(shop_eventstore::bench::BenchOptions),
    /// A flash sale on one SKU through the command handler, on SQLite and Postgres.
    FlashSale(shop_commands::bench::FlashSaleOptions),
    /// End-to-end checkouts through the saga (5 % declines, 1 % gateway timeouts), on SQLite and
    /// Postgres.
    Checkout(shop_commands::checkout_bench::CheckoutBenchOptions),
    /// A flash sale over HTTP: a crowd of customers checks out one hot SKU on a real server.
    Http(crate::http_bench::HttpBenchOptions),
    /// Rebuild throughput of all read models and projection lag, on SQLite and Postgres.
    Projections(shop_projections::bench::ProjectionBenchOptions),
    /// Search latency (typo queries with facets) and indexing speed, on Tantivy (and Meilisearch
    /// with --meili-url).
    Search(shop_projections::search::bench::SearchBenchOptions),
}
