//! Shared by the command side's integration tests: stores (embedded and Postgres), handlers and
//! small builders for the commands the tests send.

#![allow(dead_code)]

pub mod store;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use shop_commands::{Clock, Command, CommandHandler, HandlerConfig, ManualClock, codec};
use shop_domain::Aggregate;
use shop_domain::inventory::{Inventory, InventoryCommand};
use shop_domain::{OrderId, Sku, WarehouseId};
use shop_eventstore::sqlite::{SqliteEventStore, SqliteOptions};
use shop_eventstore::test_support;
use shop_eventstore::{Actor, EventStore, ReadStream, StreamName};
use uuid::Uuid;

/// 2026-03-01T12:00:00Z: the time every test command is decided at.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().unwrap()
}

/// A clock stopped at [`t0`].
pub fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(t0()))
}

/// A fresh embedded store in its own temporary directory (kept alive by the returned guard).
pub async fn sqlite_store() -> (Arc<dyn EventStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEventStore::open(dir.path().join("events.db"), SqliteOptions::default())
        .await
        .unwrap();
    (Arc::new(store), dir)
}

/// Two Postgres stores on one fresh schema, connected separately as two processes would be; `None`
/// when no test database is configured (and none is required: CI requires one).
pub async fn postgres_pair(prefix: &str) -> Option<(Arc<dyn EventStore>, Arc<dyn EventStore>)> {
    let schema = test_support::postgres_schema(prefix).await?;
    let a = test_support::postgres_store_in(&schema).await;
    let b = test_support::postgres_store_in(&schema).await;
    Some((Arc::new(a), Arc::new(b)))
}

/// A handler with the default configuration, on `store`, at [`t0`].
pub fn handler<A: Aggregate>(store: Arc<dyn EventStore>) -> CommandHandler<A> {
    CommandHandler::new(store, clock(), HandlerConfig::default())
}

/// A handler with `config`.
pub fn handler_with<A: Aggregate>(
    store: Arc<dyn EventStore>,
    config: HandlerConfig,
) -> CommandHandler<A> {
    CommandHandler::new(store, clock(), config)
}

/// An admin actor.
pub fn admin() -> Actor {
    Actor::new("admin", "ops-1")
}

/// A command with a fresh random id.
pub fn command<C>(body: C) -> Command<C> {
    Command::new(Uuid::new_v4(), body, admin())
}

pub fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

pub fn order(n: usize) -> OrderId {
    OrderId::new(format!("order-{n}")).unwrap()
}

pub fn warehouse(s: &str) -> WarehouseId {
    WarehouseId::new(s).unwrap()
}

/// Receives `quantity` units of `sku` into warehouse `w1`.
pub async fn receive(handler: &CommandHandler<Inventory>, sku_id: &Sku, quantity: u32) {
    handler
        .handle(
            sku_id,
            command(InventoryCommand::ReceiveStock {
                sku: sku_id.clone(),
                warehouse: warehouse("w1"),
                quantity,
                note: None,
            }),
        )
        .await
        .expect("stock received");
}

/// `reserve 1` for order `n`.
pub fn reserve_one(sku_id: &Sku, n: usize) -> Command<InventoryCommand> {
    command(InventoryCommand::ReserveStock {
        sku: sku_id.clone(),
        order_id: order(n),
        quantity: 1,
        expires_at: None,
    })
}

/// An aggregate's state, folded from its whole stream (empty when there is none).
pub async fn fold<A: Aggregate>(store: &Arc<dyn EventStore>, stream: String) -> A::State {
    let stream = StreamName::new(stream).unwrap();
    let events = store
        .read_stream(&stream, ReadStream::forwards())
        .await
        .unwrap_or_default();
    let decoded: Vec<A::Event> = events
        .iter()
        .map(|e| codec::decode(&e.event_type, &e.data).unwrap())
        .collect();
    A::fold(&decoded)
}
