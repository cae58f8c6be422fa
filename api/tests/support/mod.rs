//! Shared by the `shop` binary's tests: stock and a placed order written as the API will write
//! them, and folding an aggregate from the log.

#![allow(dead_code)]

use std::sync::Arc;

use shop_commands::{Command, CommandHandler, HandlerConfig, SystemClock, codec};
use shop_domain::inventory::{Inventory, InventoryCommand};
use shop_domain::order::{Order, OrderCommand, OrderLine};
use shop_domain::pricing::Totals;
use shop_domain::{Address, Aggregate, Currency, Money, OrderId, ProductId, Sku, WarehouseId};
use shop_eventstore::{Actor, EventStore, ReadStream, StreamName};
use uuid::Uuid;

pub fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

/// Receives 5 units of `sku` and places `order_id` for 2 of them at 10.00 (total 20.00).
pub async fn stock_and_order(store: &Arc<dyn EventStore>, sku: &Sku, order_id: &OrderId) {
    let clock = Arc::new(SystemClock);
    let admin = Actor::new("admin", "setup");
    let inventory: CommandHandler<Inventory> =
        CommandHandler::new(store.clone(), clock.clone(), HandlerConfig::default());
    let receive = InventoryCommand::ReceiveStock {
        sku: sku.clone(),
        warehouse: WarehouseId::new("w1").unwrap(),
        quantity: 5,
        note: None,
    };
    inventory
        .handle(sku, Command::new(Uuid::new_v4(), receive, admin.clone()))
        .await
        .unwrap();
    let address = Box::new(Address {
        name: "Alice Example".into(),
        line1: "Hauptstr. 1".into(),
        line2: None,
        city: "Berlin".into(),
        region: None,
        postal_code: "10115".into(),
        country: "DE".into(),
    });
    let place = OrderCommand::PlaceOrder {
        order_id: order_id.clone(),
        customer_id: None,
        cart_id: None,
        lines: vec![
            OrderLine::new(sku.clone(), ProductId::new("p1").unwrap(), 2, eur(1_000)).unwrap(),
        ],
        currency: Currency::EUR,
        totals: Totals::from_parts(eur(2_000), eur(0), eur(0), eur(0)).unwrap(),
        shipping_address: address.clone(),
        billing_address: address,
        promo_code: None,
        shipping_method: "standard".into(),
    };
    let orders: CommandHandler<Order> =
        CommandHandler::new(store.clone(), clock, HandlerConfig::default());
    orders
        .handle(order_id, Command::new(Uuid::new_v4(), place, admin))
        .await
        .unwrap();
}

/// An aggregate's state, folded from its whole stream (empty when there is none).
pub async fn fold<A: Aggregate>(store: &Arc<dyn EventStore>, stream: String) -> A::State {
    let events = store
        .read_stream(&StreamName::new(stream).unwrap(), ReadStream::forwards())
        .await
        .unwrap_or_default();
    let decoded: Vec<A::Event> = events
        .iter()
        .map(|e| codec::decode(&e.event_type, &e.data).unwrap())
        .collect();
    A::fold(&decoded)
}
