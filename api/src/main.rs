//! The `shop` binary: parses the command line and runs the chosen job.

use clap::Parser as _;
use shop_api::cli::{Bench, Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve => {
            eprintln!(
                "shop: the HTTP server is not built yet (it arrives with the REST API issue); \
                 the event store is ready: see `shop bench eventstore`."
            );
            std::process::exit(2);
        }
        Command::Bench(Bench::Eventstore(options)) => shop_eventstore::bench::run(options).await,
    }
}
