//! The `shop` binary: parses the command line and runs the chosen job. Failures print one readable
//! line (with their causes) and exit with status 1.

use clap::Parser as _;

// mimalloc rather than the system allocator: the projection runner and the command workers
// allocate on one thread and free on another, where glibc's arenas spend a quarter of the time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use shop_api::cli::{Bench, Cli, Command, LogFormat};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Pretty => logs.init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    let result = match cli.command {
        Command::Serve(settings) => shop_api::server::serve(settings).await,
        Command::Saga(command) => shop_api::sagas::run(command).await,
        Command::Token(args) => shop_api::auth::token(&args),
        Command::Seed(args) => shop_api::seed::run(args).await,
        Command::Bench(Bench::Eventstore(options)) => shop_eventstore::bench::run(options).await,
        Command::Bench(Bench::FlashSale(options)) => shop_commands::bench::run(options).await,
        Command::Bench(Bench::Checkout(options)) => {
            shop_commands::checkout_bench::run(options).await
        }
        Command::Bench(Bench::Http(options)) => shop_api::http_bench::run(options).await,
        Command::Bench(Bench::Projections(options)) => shop_projections::bench::run(options).await,
        Command::Bench(Bench::Search(options)) => {
            shop_projections::search::bench::run(options).await
        }
    };
    if let Err(err) = result {
        eprintln!("shop: {err:#}");
        std::process::exit(1);
    }
}
