//! The process managers (checkout saga runner, deadline scheduler, reservation expiry) run
//! together, in the server process or on their own (`shop saga run`), and the operators' saga
//! commands of the CLI.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use shop_commands::checkout::CheckoutRunner;
use shop_commands::gateway::{PaymentGateway, SandboxConfig, SandboxGateway};
use shop_commands::promotions::PromotionRelease;
use shop_commands::reservations::ReservationExpiry;
use shop_commands::{Clock, HandlerConfig, SystemClock, codec};
use shop_domain::checkout::{Checkout, CheckoutEvent};
use shop_domain::{Aggregate, OrderId};
use shop_eventstore::{Actor, EventStore, ReadStream, StreamName};
use shop_projections::models::sagas::{SagaRow, SagasModel, sagas_by_state, stuck_sagas};
use shop_projections::runner::{Projection, Runner, RunnerOptions, StatusBoard};
use shop_projections::store::ReadStore;
use tokio::sync::watch;

use crate::stores;

/// Where the stores are (flags or environment).
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
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
}

impl StoreArgs {
    /// The event store they name.
    pub async fn events(&self) -> anyhow::Result<Arc<dyn EventStore>> {
        stores::event_store(self.eventstore_url.as_deref(), &self.data_dir).await
    }

    /// The read-model database they name.
    pub async fn reads(&self) -> anyhow::Result<Arc<dyn ReadStore>> {
        stores::read_store(self.database_url.as_deref(), &self.data_dir).await
    }
}

/// The operators' saga commands.
#[derive(Debug, clap::Subcommand)]
pub enum SagaCommand {
    /// Run the process managers (checkout sagas, deadlines, reservation expiry) and the
    /// operators' saga read model in this process, until Ctrl-C.
    Run(StoreArgs),
    /// List sagas in a state (running, compensating, confirmed, cancelled, payment_failed), or
    /// the stuck ones, from the read model.
    List {
        /// The state.
        #[arg(long, conflicts_with = "stuck", required_unless_present = "stuck")]
        state: Option<String>,
        /// Only the stuck ones (their steps keep failing).
        #[arg(long)]
        stuck: bool,
        /// Start after this order id (the last one of the previous page).
        #[arg(long)]
        after: Option<String>,
        /// At most this many (1 to 1,000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
        #[command(flatten)]
        stores: StoreArgs,
    },
    /// Show one saga's timeline: its events and those of its order, payment, expiry deadline and
    /// reservations, in log order, with actors and correlation ids.
    Show {
        /// The order id.
        order_id: String,
        #[command(flatten)]
        stores: StoreArgs,
    },
    /// Ask for a stopped saga to be driven again (recorded with the operator as actor; the
    /// process running the sagas drives it).
    Retry {
        /// The order id.
        order_id: String,
        /// Who asks (recorded as the actor).
        #[arg(long)]
        operator: String,
        #[command(flatten)]
        stores: StoreArgs,
    },
    /// Force a saga that is not confirmed to compensate: release, void, cancel the order
    /// (recorded with the operator as actor; the process running the sagas carries it out).
    Compensate {
        /// The order id.
        order_id: String,
        /// Who asks (recorded as the actor).
        #[arg(long)]
        operator: String,
        /// Why (1 to 500 characters; becomes the order's cancellation note).
        #[arg(long)]
        note: String,
        #[command(flatten)]
        stores: StoreArgs,
    },
}

/// The process managers over one event store.
#[derive(Debug, Clone)]
pub struct ProcessManagers {
    /// The checkout saga runner.
    pub checkout: CheckoutRunner,
    /// Releases abandoned reservations.
    pub reservations: ReservationExpiry,
    /// Gives promotion codes of failed orders back.
    pub promotions: PromotionRelease,
}

impl ProcessManagers {
    /// Over `store`, paying through `gateway`.
    pub fn new(
        store: Arc<dyn EventStore>,
        clock: Arc<dyn Clock>,
        gateway: Arc<dyn PaymentGateway>,
    ) -> Self {
        Self {
            checkout: CheckoutRunner::new(
                store.clone(),
                clock.clone(),
                gateway,
                HandlerConfig::default(),
            ),
            reservations: ReservationExpiry::new(
                store.clone(),
                clock.clone(),
                HandlerConfig::default(),
            ),
            promotions: PromotionRelease::new(store, clock, HandlerConfig::default()),
        }
    }

    /// Runs them until `stop`: one deadline scheduler fires every deadline (each purpose's
    /// owner reacts to the firing), the checkout runner, the reservation expiry, the promotion
    /// release.
    pub async fn run(&self, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let scheduler = self.checkout.deadlines().clone();
        let (s1, s2, s3, s4) = (stop.clone(), stop.clone(), stop.clone(), stop);
        let checkout = self.checkout.clone();
        let reservations = self.reservations.clone();
        let promotions = self.promotions.clone();
        tokio::try_join!(
            async move { scheduler.run(s1).await.context("the deadline scheduler") },
            async move { checkout.run(s2).await.context("the checkout saga runner") },
            async move { reservations.run(s3).await.context("the reservation expiry") },
            async move { promotions.run(s4).await.context("the promotion release") },
        )?;
        Ok(())
    }
}

fn order_id(id: &str) -> anyhow::Result<OrderId> {
    OrderId::new(id).map_err(|e| anyhow::anyhow!("{e}"))
}

fn operator(name: &str) -> anyhow::Result<Actor> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.chars().count() <= 100,
        "--operator names who asks: 1 to 100 characters"
    );
    Ok(Actor::new("admin", name))
}

/// The sandbox gateway: the only provider adapter so far (ADR 0009).
fn gateway() -> Arc<dyn PaymentGateway> {
    Arc::new(SandboxGateway::new(SandboxConfig::default()))
}

/// A runner for recording operators' actions (the process running the sagas carries them out).
fn checkout_runner(events: Arc<dyn EventStore>) -> CheckoutRunner {
    CheckoutRunner::new(
        events,
        Arc::new(SystemClock),
        gateway(),
        HandlerConfig::default(),
    )
}

fn print_sagas(rows: &[SagaRow]) {
    if rows.is_empty() {
        println!("no sagas");
        return;
    }
    println!("order_id\tstate\treason\tstuck\tattempts\tretries\tlast_error");
    for r in rows {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.order_id,
            r.state,
            r.reason.as_deref().unwrap_or("-"),
            if r.stuck { "yes" } else { "no" },
            r.stuck_attempts,
            r.retries,
            r.last_error.as_deref().unwrap_or("-"),
        );
    }
}

/// The events of `stream` (none when it does not exist).
async fn stream_events(
    events: &dyn EventStore,
    stream: String,
) -> anyhow::Result<Vec<shop_eventstore::RecordedEvent>> {
    match events
        .read_stream(&StreamName::new(stream)?, ReadStream::forwards())
        .await
    {
        Ok(recorded) => Ok(recorded),
        Err(shop_eventstore::Error::StreamNotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Prints a saga's timeline: its own events, and those of its order, its payment, its expiry
/// deadline and its lines' reservations, in log order, each with its actor and correlation id.
async fn show(events: &dyn EventStore, id: &OrderId) -> anyhow::Result<()> {
    let saga = stream_events(events, format!("{}-{id}", Checkout::CATEGORY)).await?;
    anyhow::ensure!(!saga.is_empty(), "no checkout saga for order {id}");
    let mut decoded = Vec::with_capacity(saga.len());
    for event in &saga {
        decoded.push(codec::decode::<CheckoutEvent>(
            &event.event_type,
            &event.data,
        )?);
    }
    let state = Checkout::fold(&decoded);
    let mut timeline = saga;
    timeline.extend(stream_events(events, format!("order-{id}")).await?);
    if let Some(payment) = &state.payment_id {
        timeline.extend(stream_events(events, format!("payment-{payment}")).await?);
    }
    let deadline = shop_commands::checkout::expiry_deadline(id);
    timeline.extend(stream_events(events, format!("deadline-{deadline}")).await?);
    for line in &state.lines {
        let stock = stream_events(events, format!("inventory-{}", line.line.sku)).await?;
        timeline.extend(stock.into_iter().filter(|e| {
            e.data.to_value().get("order_id").and_then(|o| o.as_str()) == Some(id.as_str())
        }));
    }
    timeline.sort_by_key(|e| e.position);
    println!(
        "checkout {id}: saga correlation id {}",
        shop_commands::checkout::correlation(id)
    );
    for event in &timeline {
        println!(
            "{}  {:<34} {:<38} {}:{}  correlation {}  {}",
            event.metadata.occurred_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            event.stream,
            event.event_type,
            event.metadata.actor.kind,
            event.metadata.actor.id,
            event.metadata.correlation_id,
            serde_json::to_string(&event.data.to_value())?,
        );
    }
    println!(
        "outcome: {:?}; compensating: {:?}; payment: {:?}; stuck: {}",
        state.outcome, state.compensating, state.payment, state.stuck
    );
    Ok(())
}

/// Runs one saga command of the CLI.
pub async fn run(command: SagaCommand) -> anyhow::Result<()> {
    match command {
        SagaCommand::Run(stores) => {
            let events = stores.events().await?;
            let reads = stores.reads().await?;
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let managers = ProcessManagers::new(events.clone(), clock, gateway());
            let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(SagasModel)];
            let projection = Runner::new(
                events,
                reads,
                projections,
                RunnerOptions::default(),
                Arc::new(StatusBoard::new()),
            );
            let (stop, stopped) = watch::channel(false);
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    tracing::info!("stopping: saving checkpoints");
                    let _ = stop.send(true);
                }
            });
            tracing::info!("process managers running; Ctrl-C stops them");
            let s = stopped.clone();
            tokio::try_join!(managers.run(stopped), async move {
                projection.run(s).await.context("the saga read model")
            })?;
            Ok(())
        }
        SagaCommand::List {
            state,
            stuck,
            after,
            limit,
            stores,
        } => {
            let reads = stores.reads().await?;
            let limit = usize::from(limit);
            let rows = match state {
                Some(state) => {
                    const STATES: [&str; 5] = [
                        "running",
                        "compensating",
                        "confirmed",
                        "cancelled",
                        "payment_failed",
                    ];
                    anyhow::ensure!(
                        STATES.contains(&state.as_str()),
                        "--state is one of {}",
                        STATES.join(", ")
                    );
                    sagas_by_state(reads.as_ref(), &state, after.as_deref(), limit).await
                }
                None => {
                    debug_assert!(stuck);
                    stuck_sagas(reads.as_ref(), after.as_deref(), limit).await
                }
            }
            .context("reading the saga read model (kept by `shop saga run` or the server)")?;
            print_sagas(&rows);
            Ok(())
        }
        SagaCommand::Show {
            order_id: id,
            stores,
        } => {
            let id = order_id(&id)?;
            let events = stores.events().await?;
            show(events.as_ref(), &id).await
        }
        SagaCommand::Retry {
            order_id: id,
            operator: who,
            stores,
        } => {
            let (id, who) = (order_id(&id)?, operator(&who)?);
            checkout_runner(stores.events().await?)
                .request_retry(&id, who)
                .await?;
            println!("retry of {id} recorded; the process running the sagas drives it");
            Ok(())
        }
        SagaCommand::Compensate {
            order_id: id,
            operator: who,
            note,
            stores,
        } => {
            let (id, who) = (order_id(&id)?, operator(&who)?);
            checkout_runner(stores.events().await?)
                .request_compensation(&id, &note, who)
                .await?;
            println!("compensation of {id} recorded; the process running the sagas carries it out");
            Ok(())
        }
    }
}
