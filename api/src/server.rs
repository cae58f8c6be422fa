//! The `shop serve` process: opens the configured stores, runs the projection workers and (by
//! default) the process managers in this process, and serves HTTP. So far the HTTP side is only
//! `/healthz` and `/readyz`; the REST API (issue 6) adds its routes here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shop_commands::gateway::{PaymentGateway, SandboxConfig, SandboxGateway};
use shop_commands::{Clock, SystemClock};
use shop_eventstore::EventStore;
use shop_projections::models::{ModelOptions, all};
use shop_projections::runner::{Runner, RunnerOptions, StatusBoard};
use shop_projections::store::ReadStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::sagas::ProcessManagers;
use crate::stores;

/// How `shop serve` is configured (flags or environment variables).
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Where to listen.
    #[arg(long, env = "SHOP_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The event store: `postgres://…`, `esdb://…` or `kurrentdb://…`; unset: embedded SQLite
    /// in the data directory.
    #[arg(long, env = "EVENTSTORE_URL")]
    pub eventstore_url: Option<String>,
    /// The read-model database: `postgres://…`; unset: embedded SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where embedded data lives.
    #[arg(long, env = "SHOP_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Leave the process managers (checkout sagas, deadlines, reservation expiry) to another
    /// process (`shop saga run`).
    #[arg(long, env = "SHOP_NO_PROCESS_MANAGERS")]
    pub no_process_managers: bool,
}

#[derive(Clone)]
struct AppState {
    events: Arc<dyn EventStore>,
    reads: Arc<dyn ReadStore>,
}

/// A running server.
#[allow(missing_debug_implementations)]
pub struct Server {
    /// Where it listens (the port the OS chose when asked for port 0).
    pub addr: SocketAddr,
    /// Its event store.
    pub events: Arc<dyn EventStore>,
    /// Its read models.
    pub reads: Arc<dyn ReadStore>,
    /// Its process managers (`None` when they run elsewhere).
    pub managers: Option<ProcessManagers>,
    stop: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl Server {
    /// Opens the stores, starts the workers and listens.
    pub async fn start(settings: Settings) -> anyhow::Result<Self> {
        let events =
            stores::event_store(settings.eventstore_url.as_deref(), &settings.data_dir).await?;
        let reads =
            stores::read_store(settings.database_url.as_deref(), &settings.data_dir).await?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)> = Vec::new();

        let projections = Runner::new(
            events.clone(),
            reads.clone(),
            all(&ModelOptions::default()),
            RunnerOptions::default(),
            Arc::new(StatusBoard::new()),
        );
        tasks.push((
            "projections",
            tokio::spawn(projections.run(stopped.clone())),
        ));

        let managers = if settings.no_process_managers {
            None
        } else {
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            // The sandbox is the only provider adapter so far (ADR 0009).
            let gateway: Arc<dyn PaymentGateway> =
                Arc::new(SandboxGateway::new(SandboxConfig::default()));
            let managers = ProcessManagers::new(events.clone(), clock, gateway);
            let running = managers.clone();
            let s = stopped.clone();
            tasks.push((
                "process managers",
                tokio::spawn(async move { running.run(s).await }),
            ));
            Some(managers)
        };

        let listener = tokio::net::TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("listening on {}", settings.bind))?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .layer(axum::middleware::from_fn(crate::request_id::layer))
            .with_state(AppState {
                events: events.clone(),
                reads: reads.clone(),
            });
        let mut shutdown = stopped;
        tasks.push((
            "http",
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = shutdown.wait_for(|stop| *stop).await;
                    })
                    .await
                    .context("the HTTP server")
            }),
        ));
        tracing::info!(%addr, process_managers = managers.is_some(), "shop is serving");
        Ok(Self {
            addr,
            events,
            reads,
            managers,
            stop,
            tasks,
        })
    }

    /// Stops: drains HTTP requests, lets the workers save their checkpoints, and reports the
    /// first failure of any of them.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let mut first = None;
        for (name, task) in self.tasks {
            let result = task
                .await
                .map_err(anyhow::Error::from)
                .and_then(|r| r)
                .with_context(|| format!("{name} stopped with an error"));
            if let Err(e) = result {
                tracing::error!(error = %format!("{e:#}"), "stopping");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The event store and the read-model database answer.
async fn readyz(State(state): State<AppState>) -> Response {
    let checks = async {
        state
            .events
            .head_position()
            .await
            .context("the event store")?;
        state
            .reads
            .checkpoint("catalog")
            .await
            .context("the read-model database")?;
        anyhow::Ok(())
    };
    match tokio::time::timeout(Duration::from_secs(2), checks).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => not_ready(&format!("{e}")),
        Err(_) => not_ready("a store did not answer within 2 s"),
    }
}

/// 503 as RFC 9457 problem details.
fn not_ready(detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "Not ready",
        "status": 503,
        "code": "not_ready",
        "detail": detail,
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// `shop serve`: runs until Ctrl-C (or SIGTERM), then stops gracefully.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let server = Server::start(settings).await?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("stopping: draining requests, saving checkpoints");
    server.stop().await
}
