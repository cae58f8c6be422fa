//! The REST API: one axum router over the shop's command handlers (writes), read models and
//! search index (reads). docs/api.md describes the conventions; `/openapi.json` every route.
//!
//! Layers, outermost first: request id and correlation id (`request_id`), metrics, the
//! per-client rate limit, idempotency keys on POST (`idempotent`), the body size limit, then the
//! route. Handlers take their caller from the bearer token ([`crate::auth::Caller`]) or, for
//! guest carts, the cart token.

// Handlers fail with a `Problem` (about 130 bytes) at most once per request, on the way to the
// response: boxing it would cost an allocation on every error and gain nothing measurable.
#![allow(clippy::result_large_err)]

mod analytics;
mod carts;
mod catalog;
mod checkout;
mod cursor;
mod fresh;
mod fulfilment;
pub(crate) mod idempotent;
mod input;
mod inventory;
mod limits;
pub mod metrics;
mod openapi;
mod ops;
mod orders;
mod output;
mod promotions;
mod reviews;
mod search;
mod trails;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use shop_commands::checkout::CheckoutRunner;
use shop_commands::gateway::PaymentGateway;
use shop_commands::{CartService, Clock, CommandHandler, HandlerConfig};
use shop_domain::cart::Cart;
use shop_domain::inventory::Inventory;
use shop_domain::order::Order;
use shop_domain::payment::Payment;
use shop_domain::product::Product;
use shop_domain::promotion::Promotion;
use shop_eventstore::EventStore;
use shop_projections::runner::{RunnerHandle, StatusBoard};
use shop_projections::search::{SearchFeedHandle, SearchIndex};
use shop_projections::store::ReadStore;

use crate::auth::Auth;
use crate::idempotency::IdempotencyStore;
pub use checkout::PricingConfig;
pub use limits::Limits;
pub use openapi::openapi;

/// Everything a handler may need, shared by all requests.
#[allow(missing_debug_implementations)]
pub struct App {
    /// The event store.
    pub events: Arc<dyn EventStore>,
    /// The read models.
    pub reads: Arc<dyn ReadStore>,
    /// The search index.
    pub search: Arc<dyn SearchIndex>,
    /// The search feed's progress (read-your-writes for search).
    pub search_feed: Option<SearchFeedHandle>,
    /// The projections' progress (read-your-writes).
    pub board: Arc<StatusBoard>,
    /// Verifies bearer tokens.
    pub auth: Auth,
    /// Idempotency keys.
    pub idempotency: IdempotencyStore,
    /// Catalog commands.
    pub products: CommandHandler<Product>,
    /// Inventory commands.
    pub inventory: CommandHandler<Inventory>,
    /// Cart commands.
    pub carts: CommandHandler<Cart>,
    /// Cart commands that read the catalog.
    pub cart_service: CartService,
    /// Order commands.
    pub orders: CommandHandler<Order>,
    /// Payment commands.
    pub payments: CommandHandler<Payment>,
    /// Promotion commands.
    pub promotions: CommandHandler<Promotion>,
    /// Starts checkouts (the process managers drive them).
    pub checkout: CheckoutRunner,
    /// The payment provider (refunds).
    pub gateway: Arc<dyn PaymentGateway>,
    /// Tax and shipping.
    pub pricing: PricingConfig,
    /// Body size, rate limit, waits.
    pub limits: Limits,
    /// Request and command counters.
    pub metrics: metrics::Metrics,
    /// Time for the commands that need it.
    pub clock: Arc<dyn Clock>,
    /// The key guest cart tokens are derived with.
    pub cart_token_key: [u8; 32],
    /// More gauges for `/metrics` (the process managers' saga and deadline figures), rendered
    /// in the Prometheus text format.
    pub gauges: Option<Gauges>,
    /// The projection runner in this process (operators' rebuilds).
    pub runner: Option<RunnerHandle>,
    pub(crate) rate: limits::RateLimiter,
}

/// Renders extra gauges for `/metrics`.
pub type Gauges = Arc<dyn Fn() -> String + Send + Sync>;

/// What [`App::new`] needs.
#[allow(missing_debug_implementations)]
pub struct AppParts {
    /// The event store.
    pub events: Arc<dyn EventStore>,
    /// The read models.
    pub reads: Arc<dyn ReadStore>,
    /// The search index.
    pub search: Arc<dyn SearchIndex>,
    /// The search feed's progress, when it runs in this process.
    pub search_feed: Option<SearchFeedHandle>,
    /// The projections' progress.
    pub board: Arc<StatusBoard>,
    /// Verifies bearer tokens.
    pub auth: Auth,
    /// The payment provider.
    pub gateway: Arc<dyn PaymentGateway>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Tax and shipping.
    pub pricing: PricingConfig,
    /// Limits.
    pub limits: Limits,
    /// The key guest cart tokens are derived with (HMAC-SHA-256 of the cart id): the same on
    /// every node and across restarts, so nothing secret is stored and a replayed creation
    /// answers the same token.
    pub cart_token_key: [u8; 32],
    /// More gauges for `/metrics`.
    pub gauges: Option<Gauges>,
    /// The projection runner in this process.
    pub runner: Option<RunnerHandle>,
}

impl App {
    /// The shared state over these stores.
    pub fn new(parts: AppParts) -> Arc<Self> {
        let AppParts {
            events,
            reads,
            search,
            search_feed,
            board,
            auth,
            gateway,
            clock,
            pricing,
            limits,
            gauges,
            runner,
            cart_token_key,
        } = parts;
        let config = HandlerConfig {
            queue_capacity: limits.command_queue,
            ..HandlerConfig::default()
        };
        fn handler<A: shop_domain::Aggregate>(
            events: &Arc<dyn EventStore>,
            clock: &Arc<dyn Clock>,
            config: &HandlerConfig,
        ) -> CommandHandler<A> {
            CommandHandler::new(events.clone(), clock.clone(), config.clone())
        }
        let products: CommandHandler<Product> = handler(&events, &clock, &config);
        let carts: CommandHandler<Cart> = handler(&events, &clock, &config);
        Arc::new(Self {
            cart_service: CartService::new(carts.clone(), products.clone()),
            products,
            carts,
            inventory: handler(&events, &clock, &config),
            orders: handler(&events, &clock, &config),
            payments: handler(&events, &clock, &config),
            promotions: handler(&events, &clock, &config),
            checkout: CheckoutRunner::new(
                events.clone(),
                clock.clone(),
                gateway.clone(),
                config.clone(),
            ),
            idempotency: IdempotencyStore::new(events.clone()),
            rate: limits::RateLimiter::new(
                limits.rate_per_second,
                limits.rate_burst,
                limits.max_in_flight,
            ),
            metrics: metrics::Metrics::new(),
            events,
            reads,
            search,
            search_feed,
            board,
            auth,
            gateway,
            pricing,
            limits,
            clock,
            gauges,
            runner,
            cart_token_key,
        })
    }
}

/// The state handlers see.
pub type AppState = Arc<App>;

impl FromRef<AppState> for Auth {
    fn from_ref(app: &AppState) -> Auth {
        app.auth.clone()
    }
}

/// The whole HTTP application: every route with its layers.
pub fn router(app: AppState) -> axum::Router {
    let (routes, _) = openapi::split(app.clone());
    let body_limit = app.limits.max_body_bytes;
    routes
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            idempotent::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            limits::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            metrics::layer,
        ))
        .layer(axum::middleware::from_fn(crate::request_id::layer))
        .with_state(app)
}

/// How long a query waits for the read models by default when asked for a position.
pub const DEFAULT_CONSISTENCY_WAIT: Duration = Duration::from_secs(2);
