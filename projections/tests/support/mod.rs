//! Shared by the projection tests: event stores and read-model stores on SQLite and Postgres, a
//! generator of valid inventory and catalog histories, and helpers to run a runner until it has
//! caught up.

#![allow(dead_code)]

pub mod faults;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shop_commands::codec;
use shop_domain::inventory::{Inventory, InventoryCommand, InventoryEvent, ReleaseReason};
use shop_domain::product::{Product, ProductCommand, ProductDetails, Variant};
use shop_domain::{Aggregate, Context, Currency, Money, OrderId, ProductId, Sku, WarehouseId};
use shop_eventstore::sqlite::{SqliteEventStore, SqliteOptions};
use shop_eventstore::{
    Actor, EventData, EventStore, ExpectedRevision, Metadata, StreamName, test_support,
};
use shop_projections::rows::TableDef;
use shop_projections::runner::{Projection, Runner, RunnerOptions, StatusBoard};
use shop_projections::store::ReadStore;
use shop_projections::store::postgres::{PostgresReadOptions, PostgresReadStore};
use shop_projections::store::sqlite::SqliteReadStore;
use tokio::sync::watch;
use uuid::Uuid;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().unwrap()
}

/// Which databases a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An event store and a read-model store of one backend, fresh.
pub struct Env {
    pub events: Arc<dyn EventStore>,
    pub db: Arc<dyn ReadStore>,
    pub backend: Backend,
    pub schema: Option<String>,
    _dir: tempfile::TempDir,
}

impl Env {
    /// `None` for Postgres when no test database is configured (and none is required).
    pub async fn new(backend: Backend, prefix: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let events =
                    SqliteEventStore::open(dir.path().join("events.db"), SqliteOptions::default())
                        .await
                        .unwrap();
                let db = SqliteReadStore::open(dir.path().join("read.db"))
                    .await
                    .unwrap();
                Some(Self {
                    events: Arc::new(events),
                    db: Arc::new(db),
                    backend,
                    schema: None,
                    _dir: dir,
                })
            }
            Backend::Postgres => {
                let schema = test_support::postgres_schema(prefix).await?;
                let events = test_support::postgres_store_in(&schema).await;
                let db = postgres_read_store(&schema).await;
                Some(Self {
                    events: Arc::new(events),
                    db: Arc::new(db),
                    backend,
                    schema: Some(schema),
                    _dir: dir,
                })
            }
        }
    }

    /// Another read-model store of the same backend, empty (for a clean rebuild to compare with).
    pub async fn fresh_db(&self, suffix: &str) -> Arc<dyn ReadStore> {
        match self.backend {
            Backend::Sqlite => Arc::new(
                SqliteReadStore::open(self._dir.path().join(format!("read-{suffix}.db")))
                    .await
                    .unwrap(),
            ),
            Backend::Postgres => {
                let schema = format!("{}_{suffix}", self.schema.as_deref().unwrap());
                Arc::new(postgres_read_store(&schema).await)
            }
        }
    }

    /// A second read-model store on the same database (as another process would open it).
    pub async fn same_db(&self) -> Arc<dyn ReadStore> {
        match self.backend {
            Backend::Sqlite => Arc::new(
                SqliteReadStore::open(self._dir.path().join("read.db"))
                    .await
                    .unwrap(),
            ),
            Backend::Postgres => {
                Arc::new(postgres_read_store(self.schema.as_deref().unwrap()).await)
            }
        }
    }
}

pub async fn postgres_read_store(schema: &str) -> PostgresReadStore {
    let url = test_support::postgres_url().expect("a test database");
    PostgresReadStore::connect(
        &url,
        PostgresReadOptions {
            schema: Some(schema.to_owned()),
            max_connections: 4,
        },
    )
    .await
    .expect("connect the read models to TEST_DATABASE_URL")
}

/// Declares a test for each backend: `both!(name, body_fn)` where `body_fn(Env)` is async.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let env = support::Env::new(support::Backend::Sqlite, stringify!($name))
                    .await
                    .unwrap();
                $body(env).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(env) = support::Env::new(support::Backend::Postgres, "pr").await else {
                    eprintln!("TEST_DATABASE_URL not set: skipping the Postgres case");
                    return;
                };
                $body(env).await;
            }
        }
    };
}

/// A runner started in the background; stops when dropped.
pub struct Running {
    pub board: Arc<StatusBoard>,
    pub handle: shop_projections::runner::RunnerHandle,
    stop: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub fn start(
        events: Arc<dyn EventStore>,
        db: Arc<dyn ReadStore>,
        projections: Vec<Arc<dyn Projection>>,
        options: RunnerOptions,
    ) -> Self {
        let board = Arc::new(StatusBoard::new());
        let (stop, stopped) = watch::channel(false);
        let runner = Runner::new(events, db, projections, options, board.clone());
        let handle = runner.handle();
        let task = tokio::spawn(runner.run(stopped));
        Self {
            board,
            handle,
            stop,
            task,
        }
    }

    /// Waits until every named projection has reached the log's head.
    pub async fn catch_up(&self, events: &dyn EventStore, names: &[&str]) {
        let Some(head) = events.head_position().await.unwrap() else {
            return;
        };
        for name in names {
            assert!(
                self.board
                    .wait_for(name, head, Duration::from_secs(60))
                    .await,
                "projection {name} did not reach {head}: {:?}",
                self.board.get(name)
            );
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.unwrap().unwrap();
    }
}

/// Runs `projections` over the whole log into `db` with a live runner, then stops it.
pub async fn project_to_head(
    events: &Arc<dyn EventStore>,
    db: &Arc<dyn ReadStore>,
    projections: &[Arc<dyn Projection>],
) {
    let names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
    let running = Running::start(
        events.clone(),
        db.clone(),
        projections.to_vec(),
        RunnerOptions::default(),
    );
    running.catch_up(events.as_ref(), &names).await;
    running.stop().await;
}

/// Every row of every table of `projection`, per table.
pub async fn dump(
    db: &dyn ReadStore,
    tables: &[&'static TableDef],
) -> BTreeMap<&'static str, Vec<Vec<shop_projections::rows::Value>>> {
    let mut out = BTreeMap::new();
    for t in tables {
        out.insert(t.name, db.scan(t, t.name).await.unwrap());
    }
    out
}

fn metadata(at: DateTime<Utc>) -> Metadata {
    Metadata::new(
        Uuid::new_v4(),
        Uuid::new_v4(),
        Actor::new("admin", "test"),
        at,
    )
}

fn encode<E: serde::Serialize>(event: &E, at: DateTime<Utc>) -> EventData {
    let (event_type, data) = codec::encode(event).unwrap();
    EventData {
        event_id: Uuid::new_v4(),
        event_type,
        data,
        metadata: metadata(at),
    }
}

/// A valid history: per SKU, stock received into two warehouses, then random reservations,
/// commits, shipments, releases and adjustments, each decided by the real aggregate. Returns the
/// events per stream, in order.
pub fn inventory_history(
    skus: usize,
    events_per_sku: usize,
    seed: u64,
) -> Vec<(StreamName, Vec<EventData>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for s in 0..skus {
        let sku = Sku::new(format!("SKU-{s}")).unwrap();
        let mut state = <Inventory as Aggregate>::State::default();
        let mut events = Vec::new();
        let mut orders: Vec<(OrderId, bool)> = Vec::new(); // (order, committed)
        let mut n = 0usize;
        let mut step = 0i64;
        while events.len() < events_per_sku {
            step += 1;
            let now = t0() + TimeDelta::seconds(step);
            let command = match rng.random_range(0..10) {
                0 | 1 if events.len() < 2 || rng.random_bool(0.3) => {
                    InventoryCommand::ReceiveStock {
                        sku: sku.clone(),
                        warehouse: WarehouseId::new(if rng.random_bool(0.5) { "w1" } else { "w2" })
                            .unwrap(),
                        quantity: rng.random_range(1..50),
                        note: None,
                    }
                }
                2..=5 => {
                    n += 1;
                    let order = OrderId::new(format!("o-{s}-{n}")).unwrap();
                    orders.push((order.clone(), false));
                    InventoryCommand::ReserveStock {
                        sku: sku.clone(),
                        order_id: order,
                        quantity: rng.random_range(1..6),
                        expires_at: None,
                    }
                }
                6 | 7 if !orders.is_empty() => {
                    let i = rng.random_range(0..orders.len());
                    let (order, committed) = orders[i].clone();
                    if committed {
                        orders.swap_remove(i);
                        InventoryCommand::ShipStock {
                            sku: sku.clone(),
                            order_id: order,
                        }
                    } else {
                        orders[i].1 = true;
                        InventoryCommand::CommitReservation {
                            sku: sku.clone(),
                            order_id: order,
                        }
                    }
                }
                8 if !orders.is_empty() => {
                    let i = rng.random_range(0..orders.len());
                    let (order, _) = orders.swap_remove(i);
                    InventoryCommand::ReleaseReservation {
                        sku: sku.clone(),
                        order_id: order,
                        reason: ReleaseReason::Cancelled,
                    }
                }
                _ => InventoryCommand::AdjustStock {
                    sku: sku.clone(),
                    warehouse: WarehouseId::new("w1").unwrap(),
                    delta: rng.random_range(-3..4),
                    reason: shop_domain::inventory::AdjustmentReason::CountCorrection,
                },
            };
            if let Ok(decided) = Inventory::decide(&state, &command, &Context::at(now)) {
                for e in decided {
                    Inventory::evolve(&mut state, &e);
                    events.push(encode::<InventoryEvent>(&e, now));
                }
            }
        }
        out.push((StreamName::new(format!("inventory-{sku}")).unwrap(), events));
    }
    out
}

/// A few products with variants whose SKUs are `SKU-0`, `SKU-1`, … (two per product).
pub fn catalog_history(products: usize) -> Vec<(StreamName, Vec<EventData>)> {
    let mut out = Vec::new();
    for p in 0..products {
        let id = ProductId::new(format!("p-{p}")).unwrap();
        let variant = |i: usize, price: i64| Variant {
            sku: Sku::new(format!("SKU-{i}")).unwrap(),
            price: Money::new(price, Currency::EUR),
            attributes: BTreeMap::from([(
                "size".to_owned(),
                if i.is_multiple_of(2) { "M" } else { "L" }.to_owned(),
            )]),
            weight_grams: Some(200),
        };
        let mut state = <Product as Aggregate>::State::default();
        let commands = [
            ProductCommand::CreateProduct {
                product_id: id.clone(),
                details: ProductDetails {
                    title: format!("Product {p}"),
                    description: "A thing".into(),
                    brand: if p.is_multiple_of(2) {
                        "Acme"
                    } else {
                        "Globex"
                    }
                    .into(),
                    category: vec!["Clothing".into(), "T-Shirts".into()],
                    attributes: BTreeMap::new(),
                    images: vec![],
                },
                variants: vec![variant(2 * p, 1000 + p as i64), variant(2 * p + 1, 1500)],
            },
            ProductCommand::ChangeVariantPrice {
                sku: Sku::new(format!("SKU-{}", 2 * p)).unwrap(),
                price: Money::new(900, Currency::EUR),
            },
            ProductCommand::SubmitReview {
                review_id: shop_domain::ReviewId::new(format!("r-{p}")).unwrap(),
                customer_id: shop_domain::CustomerId::new("alice").unwrap(),
                rating: 4,
                text: "Nice".into(),
            },
            ProductCommand::ApproveReview {
                review_id: shop_domain::ReviewId::new(format!("r-{p}")).unwrap(),
            },
        ];
        let mut events = Vec::new();
        for (i, c) in commands.iter().enumerate() {
            let now = t0() + TimeDelta::seconds(i as i64);
            for e in Product::decide(&state, c, &Context::at(now)).unwrap() {
                Product::evolve(&mut state, &e);
                events.push(encode(&e, now));
            }
        }
        out.push((StreamName::new(format!("product-{id}")).unwrap(), events));
    }
    out
}

/// Appends histories stream by stream in chunks, `writers` streams at a time.
pub async fn append_all(
    events: &Arc<dyn EventStore>,
    history: Vec<(StreamName, Vec<EventData>)>,
    writers: usize,
) {
    let queue = Arc::new(tokio::sync::Mutex::new(history));
    let mut tasks = Vec::new();
    for _ in 0..writers.max(1) {
        let (queue, events) = (queue.clone(), events.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((stream, batch)) = queue.lock().await.pop() else {
                    return;
                };
                let mut revision: Option<u64> = None;
                for chunk in batch.chunks(200) {
                    let expected =
                        revision.map_or(ExpectedRevision::NoStream, ExpectedRevision::Exact);
                    let result = events
                        .append(&stream, expected, chunk.to_vec())
                        .await
                        .unwrap();
                    revision = Some(result.next_expected_revision);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// `P` under another name, poison policy and version.
pub struct Altered<P> {
    pub inner: P,
    pub name: &'static str,
    pub policy: shop_projections::runner::PoisonPolicy,
    pub version: u32,
}

#[async_trait::async_trait]
impl<P: Projection> Projection for Altered<P> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn version(&self) -> u32 {
        self.version
    }
    fn tables(&self) -> &'static [&'static TableDef] {
        self.inner.tables()
    }
    fn categories(&self) -> &'static [&'static str] {
        self.inner.categories()
    }
    fn poison_policy(&self) -> shop_projections::runner::PoisonPolicy {
        self.policy
    }
    async fn apply(
        &self,
        event: &shop_eventstore::RecordedEvent,
        rows: &mut shop_projections::rows::Rows<'_>,
    ) -> Result<(), shop_projections::runner::ApplyError> {
        self.inner.apply(event, rows).await
    }
}

/// Appends, as the only event of `stream`, an inventory event whose data does not decode.
pub async fn append_poison(
    events: &Arc<dyn EventStore>,
    stream: &str,
) -> shop_eventstore::Position {
    let bad = EventData {
        event_id: Uuid::new_v4(),
        event_type: "inventory.StockReceived.v1".into(),
        data: shop_eventstore::Json::encode(&serde_json::json!({"bogus": true})).unwrap(),
        metadata: Metadata::new(Uuid::new_v4(), Uuid::new_v4(), Actor::system("test"), t0()),
    };
    events
        .append(
            &StreamName::new(stream).unwrap(),
            ExpectedRevision::NoStream,
            vec![bad],
        )
        .await
        .unwrap()
        .position
}
