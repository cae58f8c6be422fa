//! The `shop serve` process: opens the configured stores, runs the projection workers, the
//! search feed and (by default) the process managers in this process, and serves the REST API
//! (`crate::http`). One settings struct, from flags or environment variables, validated before
//! anything starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use shop_commands::gateway::{PaymentGateway, SandboxConfig, SandboxGateway};
use shop_commands::{Clock, SystemClock};
use shop_eventstore::EventStore;
use shop_projections::models::{ModelOptions, all};
use shop_projections::runner::{Runner, RunnerOptions, StatusBoard};
use shop_projections::search::{
    MeiliIndex, SearchFeed, SearchFeedOptions, SearchIndex, SearchSettings, TantivyIndex,
};
use shop_projections::store::ReadStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::{Auth, DEV_SECRET};
use crate::http::{App, AppParts, Limits, PricingConfig};
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
    /// Meilisearch for search; unset: the embedded Tantivy index in the data directory.
    #[arg(long, env = "MEILI_URL")]
    pub meili_url: Option<String>,
    /// Meilisearch's API key.
    #[arg(long, env = "MEILI_KEY", hide_env_values = true)]
    pub meili_key: Option<String>,
    /// Where embedded data lives.
    #[arg(long, env = "SHOP_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Leave the process managers (checkout sagas, deadlines, reservation expiry) to another
    /// process (`shop saga run`).
    #[arg(long, env = "SHOP_NO_PROCESS_MANAGERS")]
    pub no_process_managers: bool,
    /// The HS256 secret bearer tokens are signed with (at least 32 bytes). Unset, with no
    /// public key either: the development secret, allowed only on the embedded event store.
    #[arg(long, env = "SHOP_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// A PEM file with the RS256 public key bearer tokens are verified with (instead of a
    /// secret).
    #[arg(long, env = "SHOP_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,
    /// Largest request body, in bytes.
    #[arg(long, env = "SHOP_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Requests per second each client may sustain (0: no limit).
    #[arg(long, env = "SHOP_RATE_LIMIT", default_value_t = 50)]
    pub rate_limit: u32,
    /// Requests a client may send at once above the rate.
    #[arg(long, env = "SHOP_RATE_BURST", default_value_t = 100)]
    pub rate_burst: u32,
    /// Requests handled at once; more are shed with 503.
    #[arg(long, env = "SHOP_MAX_IN_FLIGHT", default_value_t = 1024)]
    pub max_in_flight: usize,
    /// Longest wait of a query for `X-Min-Position`, in milliseconds.
    #[arg(long, env = "SHOP_CONSISTENCY_WAIT_MS", default_value_t = 2000)]
    pub consistency_wait_ms: u64,
    /// Proxies (load balancers) in front of the server that append the client's address to
    /// `X-Forwarded-For`; 0: clients connect directly. Rate limits and anonymous idempotency
    /// scopes use the address the outermost trusted proxy saw.
    #[arg(long, env = "SHOP_TRUSTED_PROXY_HOPS", default_value_t = 0)]
    pub trusted_proxy_hops: usize,
    /// Tax rates in basis points by country, `DE=1900,FR=2000`; destinations without one are
    /// refused. Unset: EU standard VAT rates for the shop's markets.
    #[arg(long, env = "SHOP_TAX_RATES")]
    pub tax_rates: Option<String>,
    /// Shipping methods, `name=price[:free_from]` in minor units, `standard=490:5000,express=990`.
    /// Unset: those two.
    #[arg(long, env = "SHOP_SHIPPING_METHODS")]
    pub shipping_methods: Option<String>,
    /// The destination country of quotes that name none.
    #[arg(long, env = "SHOP_HOME_COUNTRY", default_value = "DE")]
    pub home_country: String,
}

impl Settings {
    /// The settings for a server on the embedded stores in `data_dir`, listening on a port the
    /// OS picks (tests).
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            eventstore_url: None,
            database_url: None,
            meili_url: None,
            meili_key: None,
            data_dir: data_dir.into(),
            no_process_managers: false,
            jwt_secret: None,
            jwt_public_key: None,
            max_body_bytes: 64 * 1024,
            rate_limit: 0,
            rate_burst: 100,
            max_in_flight: 1024,
            consistency_wait_ms: 2000,
            trusted_proxy_hops: 0,
            tax_rates: None,
            shipping_methods: None,
            home_country: "DE".into(),
        }
    }

    /// Tax and shipping from the settings (checked by [`Self::validate`]).
    pub fn pricing(&self) -> anyhow::Result<PricingConfig> {
        let mut pricing = PricingConfig::default();
        let country = |code: &str, what: &str| {
            let code = code.trim().to_ascii_uppercase();
            anyhow::ensure!(
                code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{what}: {code:?} is not a two-letter country code"
            );
            Ok(code)
        };
        if let Some(rates) = &self.tax_rates {
            let mut table =
                shop_domain::pricing::TaxRates::new(shop_domain::pricing::MissingRate::Reject)
                    .taxing_shipping(true);
            for entry in rates.split(',').filter(|e| !e.trim().is_empty()) {
                let (code, rate) = entry.split_once('=').with_context(|| {
                    format!("SHOP_TAX_RATES: {entry:?} is not COUNTRY=BASIS_POINTS")
                })?;
                let rate: u32 = rate
                    .trim()
                    .parse()
                    .ok()
                    .filter(|r| *r <= 10_000)
                    .with_context(|| {
                        format!("SHOP_TAX_RATES: {entry:?}: a rate is 0 to 10000 basis points")
                    })?;
                table = table.with_country(&country(code, "SHOP_TAX_RATES")?, rate);
            }
            pricing.tax = table;
        }
        if let Some(methods) = &self.shipping_methods {
            pricing.shipping.clear();
            for entry in methods.split(',').filter(|e| !e.trim().is_empty()) {
                let (name, price) = entry.split_once('=').with_context(|| {
                    format!("SHOP_SHIPPING_METHODS: {entry:?} is not name=price[:free_from]")
                })?;
                let (price, free) = match price.split_once(':') {
                    Some((p, f)) => (p, Some(f)),
                    None => (price, None),
                };
                let amount = |text: &str| {
                    text.trim()
                        .parse::<i64>()
                        .ok()
                        .filter(|a| (0..=100_000_000).contains(a))
                        .with_context(|| {
                            format!(
                                "SHOP_SHIPPING_METHODS: {entry:?}: amounts are minor units, 0 to \
                                 100000000"
                            )
                        })
                };
                let name = name.trim();
                anyhow::ensure!(
                    !name.is_empty() && name.len() <= 40,
                    "SHOP_SHIPPING_METHODS: a method's name is 1 to 40 characters"
                );
                let free = free.map(amount).transpose()?;
                pricing
                    .shipping
                    .insert(name.to_owned(), (amount(price)?, free));
            }
            anyhow::ensure!(
                !pricing.shipping.is_empty(),
                "SHOP_SHIPPING_METHODS names no method"
            );
        }
        pricing.home_country = country(&self.home_country, "SHOP_HOME_COUNTRY")?;
        Ok(pricing)
    }

    /// Checks what can be checked before anything opens, with a message that says what to fix.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1024..=16 * 1024 * 1024).contains(&self.max_body_bytes),
            "SHOP_MAX_BODY_BYTES is 1024 to 16777216 (it is {})",
            self.max_body_bytes
        );
        anyhow::ensure!(
            (1..=1_000_000).contains(&self.max_in_flight),
            "SHOP_MAX_IN_FLIGHT is 1 to 1000000"
        );
        anyhow::ensure!(
            self.rate_limit == 0 || self.rate_burst >= 1,
            "SHOP_RATE_BURST is at least 1"
        );
        anyhow::ensure!(
            self.consistency_wait_ms <= 30_000,
            "SHOP_CONSISTENCY_WAIT_MS is at most 30000"
        );
        anyhow::ensure!(
            self.trusted_proxy_hops <= 8,
            "SHOP_TRUSTED_PROXY_HOPS is 0 to 8"
        );
        self.pricing()?;
        anyhow::ensure!(
            !(self.jwt_secret.is_some() && self.jwt_public_key.is_some()),
            "set SHOP_JWT_SECRET or SHOP_JWT_PUBLIC_KEY, not both"
        );
        anyhow::ensure!(
            self.jwt_secret.is_some()
                || self.jwt_public_key.is_some()
                || self.eventstore_url.is_none(),
            "SHOP_JWT_SECRET or SHOP_JWT_PUBLIC_KEY is required with EVENTSTORE_URL: the \
             development secret is for the embedded store only"
        );
        Ok(())
    }

    fn auth(&self) -> anyhow::Result<Auth> {
        if let Some(path) = &self.jwt_public_key {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading SHOP_JWT_PUBLIC_KEY {}", path.display()))?;
            return Auth::rs256(&pem).context("SHOP_JWT_PUBLIC_KEY");
        }
        match &self.jwt_secret {
            Some(secret) => Auth::hs256(secret.as_bytes()).context("SHOP_JWT_SECRET"),
            None => {
                tracing::warn!(
                    "SHOP_JWT_SECRET is not set: accepting tokens signed with the development \
                     secret (mint them with `shop token`); never do this in production"
                );
                Auth::hs256(DEV_SECRET.as_bytes())
            }
        }
    }

    /// The key guest cart tokens are derived with: from the HS256 secret (or the development
    /// one), so every node and every restart agrees; with an RS256 public key there is no
    /// secret, and a random key per process is used (tokens stay valid, as only their hashes are
    /// checked; only a creation replayed by another process would answer a different token).
    fn cart_token_key(&self) -> [u8; 32] {
        use sha2::Digest as _;
        let secret = match (&self.jwt_secret, &self.jwt_public_key) {
            (Some(secret), _) => secret.as_bytes().to_vec(),
            (None, None) => DEV_SECRET.as_bytes().to_vec(),
            (None, Some(_)) => uuid::Uuid::new_v4().as_bytes().to_vec(),
        };
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"shop cart tokens\n");
        hasher.update(&secret);
        hasher.finalize().into()
    }

    fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.max_body_bytes,
            rate_per_second: self.rate_limit,
            rate_burst: self.rate_burst,
            max_in_flight: self.max_in_flight,
            consistency_wait: Duration::from_millis(self.consistency_wait_ms),
            trusted_proxy_hops: self.trusted_proxy_hops,
            ..Limits::default()
        }
    }
}

/// The search index the settings name.
async fn search_index(settings: &Settings) -> anyhow::Result<Arc<dyn SearchIndex>> {
    match &settings.meili_url {
        Some(url) => Ok(Arc::new(
            MeiliIndex::connect(
                url,
                settings.meili_key.clone(),
                "products",
                SearchSettings::default(),
            )
            .await
            .context("connecting to Meilisearch (MEILI_URL)")?,
        )),
        None => {
            let dir = settings.data_dir.join("search");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok(Arc::new(
                TantivyIndex::open(&dir, SearchSettings::default())
                    .with_context(|| format!("opening the search index in {}", dir.display()))?,
            ))
        }
    }
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
    /// The HTTP application's shared state.
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl Server {
    /// Checks the settings, opens the stores, starts the workers and listens.
    pub async fn start(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        // The key too, before any store opens.
        settings.auth()?;
        let events =
            stores::event_store(settings.eventstore_url.as_deref(), &settings.data_dir).await?;
        let reads =
            stores::read_store(settings.database_url.as_deref(), &settings.data_dir).await?;
        Self::start_on(settings, events, reads).await
    }

    /// [`Self::start`] on stores opened by the caller (tests on a Postgres schema of their own);
    /// the settings' store URLs are not used.
    pub async fn start_on(
        settings: Settings,
        events: Arc<dyn EventStore>,
        reads: Arc<dyn ReadStore>,
    ) -> anyhow::Result<Self> {
        settings.validate()?;
        let auth = settings.auth()?;
        let search = search_index(&settings).await?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)> = Vec::new();

        // The read models' tables exist before the first request (the runner would create them
        // too, but only once it holds its locks, and a query meanwhile would find no table).
        let models = all(&ModelOptions::default());
        let tables: Vec<_> = models
            .iter()
            .flat_map(|p| p.tables().iter().map(|t| (*t, t.name.to_owned())))
            .collect();
        reads
            .create_tables(&tables, true)
            .await
            .context("creating the read-model tables")?;
        let board = Arc::new(StatusBoard::new());
        let projections = Runner::new(
            events.clone(),
            reads.clone(),
            models,
            RunnerOptions::default(),
            board.clone(),
        );
        let runner = projections.handle();
        tasks.push((
            "projections",
            tokio::spawn(projections.run(stopped.clone())),
        ));
        // The feed's lock makes one process of many write a shared index (Meilisearch). An
        // embedded Tantivy index belongs to this process alone, so with a shared read database
        // (several nodes on Postgres) each node feeds its own under a lock of its own.
        let mut feed_options = SearchFeedOptions::default();
        if settings.meili_url.is_none() && reads.kind() == "postgres" {
            feed_options.lock_name = format!("search_feed_local_{}", uuid::Uuid::new_v4().simple());
        }
        let feed = SearchFeed::new(reads.clone(), search.clone(), board.clone(), feed_options);
        let feed_handle = feed.handle();
        tasks.push(("search feed", tokio::spawn(feed.run(stopped.clone()))));

        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // The sandbox is the only provider adapter so far (ADR 0009). One instance for the
        // process managers and the API's refunds: the sandbox keeps its ledger in memory.
        let gateway: Arc<dyn PaymentGateway> =
            Arc::new(SandboxGateway::new(SandboxConfig::default()));
        let managers = if settings.no_process_managers {
            None
        } else {
            let managers = ProcessManagers::new(events.clone(), clock.clone(), gateway.clone());
            let running = managers.clone();
            let s = stopped.clone();
            tasks.push((
                "process managers",
                tokio::spawn(async move { running.run(s).await }),
            ));
            Some(managers)
        };
        let gauges: Option<crate::http::Gauges> = managers.as_ref().map(|m| {
            let checkout = m.checkout.clone();
            let backlog = m.checkout.deadlines().backlog();
            let gauges: crate::http::Gauges = Arc::new(move || {
                format!(
                    "# HELP shop_sagas_failing Checkout sagas this process is retrying after failures.\n\
                     # TYPE shop_sagas_failing gauge\nshop_sagas_failing {}\n\
                     # HELP shop_deadlines_pending Durable deadlines scheduled and not yet fired or cancelled.\n\
                     # TYPE shop_deadlines_pending gauge\nshop_deadlines_pending {}\n\
                     # HELP shop_deadlines_overdue Deadlines already due at the scheduler's last tick.\n\
                     # TYPE shop_deadlines_overdue gauge\nshop_deadlines_overdue {}\n",
                    checkout.failing().len(),
                    backlog.pending(),
                    backlog.overdue(),
                )
            });
            gauges
        });

        let app = App::new(AppParts {
            events: events.clone(),
            reads: reads.clone(),
            search,
            search_feed: Some(feed_handle),
            board,
            auth,
            gateway,
            clock,
            pricing: settings.pricing()?,
            limits: settings.limits(),
            gauges,
            runner: Some(runner),
            cart_token_key: settings.cart_token_key(),
        });
        let listener = tokio::net::TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("listening on {}", settings.bind))?;
        let addr = listener.local_addr()?;
        let router = crate::http::router(app.clone());
        let mut shutdown = stopped;
        tasks.insert(
            0,
            (
                "http",
                tokio::spawn(async move {
                    axum::serve(
                        listener,
                        router.into_make_service_with_connect_info::<SocketAddr>(),
                    )
                    .with_graceful_shutdown(async move {
                        let _ = shutdown.wait_for(|stop| *stop).await;
                    })
                    .await
                    .context("the HTTP server")
                }),
            ),
        );
        tracing::info!(%addr, process_managers = managers.is_some(), "shop is serving");
        Ok(Self {
            addr,
            events,
            reads,
            managers,
            app,
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
