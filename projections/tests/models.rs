//! The read models on a realistic history written through the command handlers: a customer's
//! cart becomes an order that is reserved, paid and confirmed; a second order is confirmed and
//! cancelled. Checked on both databases.

mod support;

use std::sync::Arc;

use chrono::TimeDelta;
use shop_commands::{Command, CommandHandler, HandlerConfig, ManualClock};
use shop_domain::cart::{Cart, CartCommand, CartOwner};
use shop_domain::inventory::{Inventory, InventoryCommand};
use shop_domain::order::{CancelReason, Order, OrderCommand, OrderLine};
use shop_domain::payment::{Payment, PaymentCommand};
use shop_domain::pricing::Totals;
use shop_domain::{
    Address, Aggregate, CartId, Currency, CustomerId, Money, OrderId, PaymentId, ProductId, Sku,
    WarehouseId,
};
use shop_eventstore::{Actor, EventStore};
use shop_projections::models::analytics::{CoPurchase, ProductDay};
use shop_projections::models::audit::AuditRow;
use shop_projections::models::carts::{CartLineRow, CartRow};
use shop_projections::models::orders::{OrderLineRow, OrderRow, TimelineRow};
use shop_projections::models::payments::{LedgerRow, PaymentRow};
use shop_projections::models::{ModelOptions, all};
use shop_projections::rows::{TableRow, text};
use shop_projections::runner::RunnerOptions;
use shop_projections::store::ReadStore;
use support::*;
use uuid::Uuid;

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

async fn send<A: Aggregate>(store: &Arc<dyn EventStore>, id: &A::Id, body: A::Command) {
    let clock = Arc::new(ManualClock::new(t0() + TimeDelta::hours(1)));
    let h: CommandHandler<A> = CommandHandler::new(store.clone(), clock, HandlerConfig::default());
    h.handle(
        id,
        Command::new(Uuid::new_v4(), body, Actor::new("customer", "alice")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

fn address() -> Box<Address> {
    Box::new(Address {
        name: "Alice".into(),
        line1: "Main St 1".into(),
        line2: None,
        city: "Berlin".into(),
        region: None,
        postal_code: "10115".into(),
        country: "DE".into(),
    })
}

async fn place(store: &Arc<dyn EventStore>, order: &OrderId, lines: Vec<OrderLine>) -> i64 {
    let subtotal: i64 = lines.iter().map(|l| l.subtotal.amount).sum();
    let totals = Totals::from_parts(eur(subtotal), eur(0), eur(0), eur(0)).unwrap();
    send::<Order>(
        store,
        order,
        OrderCommand::PlaceOrder {
            order_id: order.clone(),
            customer_id: Some(CustomerId::new("alice").unwrap()),
            cart_id: None,
            lines,
            currency: Currency::EUR,
            totals,
            shipping_address: address(),
            billing_address: address(),
            promo_code: None,
            shipping_method: "standard".into(),
        },
    )
    .await;
    totals.total.amount
}

async fn pay_and_confirm(
    store: &Arc<dyn EventStore>,
    order: &OrderId,
    payment: &PaymentId,
    total: i64,
) {
    let key = format!("{order}:authorize");
    send::<Payment>(
        store,
        payment,
        PaymentCommand::RequestAuthorization {
            payment_id: payment.clone(),
            order_id: order.clone(),
            amount: eur(total),
            method_token: "tok_visa".into(),
            idempotency_key: key.clone(),
        },
    )
    .await;
    send::<Payment>(
        store,
        payment,
        PaymentCommand::RecordAuthorization {
            payment_id: payment.clone(),
            idempotency_key: key,
            gateway_reference: format!("auth-{payment}"),
            amount: eur(total),
        },
    )
    .await;
    send::<Order>(
        store,
        order,
        OrderCommand::MarkPaymentPending {
            order_id: order.clone(),
            payment_id: payment.clone(),
        },
    )
    .await;
    send::<Order>(
        store,
        order,
        OrderCommand::ConfirmOrder {
            order_id: order.clone(),
            payment_id: Some(payment.clone()),
        },
    )
    .await;
}

async fn history(store: &Arc<dyn EventStore>) {
    append_all(store, catalog_history(2), 1).await;
    let sku = |s: &str| Sku::new(s).unwrap();
    for s in ["SKU-0", "SKU-2"] {
        send::<Inventory>(
            store,
            &sku(s),
            InventoryCommand::ReceiveStock {
                sku: sku(s),
                warehouse: WarehouseId::new("w1").unwrap(),
                quantity: 10,
                note: None,
            },
        )
        .await;
    }
    // A customer's cart, checked out as order o1.
    let cart = CartId::new("c1").unwrap();
    let o1 = OrderId::new("o1").unwrap();
    send::<Cart>(
        store,
        &cart,
        CartCommand::CreateCart {
            cart_id: cart.clone(),
            owner: CartOwner::Customer {
                customer_id: CustomerId::new("alice").unwrap(),
            },
            currency: Currency::EUR,
        },
    )
    .await;
    for (s, p, q, price) in [("SKU-0", "p-0", 2, 900), ("SKU-2", "p-1", 1, 1001)] {
        send::<Cart>(
            store,
            &cart,
            CartCommand::AddItem {
                sku: sku(s),
                product_id: ProductId::new(p).unwrap(),
                quantity: q,
                unit_price: eur(price),
            },
        )
        .await;
    }
    send::<Cart>(
        store,
        &cart,
        CartCommand::CheckOut {
            order_id: o1.clone(),
        },
    )
    .await;
    // A second cart whose lines change: three added, the first removed (the others move up),
    // a quantity changed, a promotion applied (lines untouched).
    let c2 = CartId::new("c2").unwrap();
    send::<Cart>(
        store,
        &c2,
        CartCommand::CreateCart {
            cart_id: c2.clone(),
            owner: CartOwner::Customer {
                customer_id: CustomerId::new("bob").unwrap(),
            },
            currency: Currency::EUR,
        },
    )
    .await;
    for (s, p, price) in [
        ("SKU-0", "p-0", 900),
        ("SKU-2", "p-1", 1001),
        ("SKU-4", "p-2", 50),
    ] {
        send::<Cart>(
            store,
            &c2,
            CartCommand::AddItem {
                sku: sku(s),
                product_id: ProductId::new(p).unwrap(),
                quantity: 1,
                unit_price: eur(price),
            },
        )
        .await;
    }
    for body in [
        CartCommand::RemoveItem { sku: sku("SKU-0") },
        CartCommand::ChangeQuantity {
            sku: sku("SKU-4"),
            quantity: 3,
        },
        CartCommand::ApplyPromoCode {
            code: shop_domain::PromoCode::new("SPRING").unwrap(),
        },
    ] {
        send::<Cart>(store, &c2, body).await;
    }
    let lines = vec![
        OrderLine::new(sku("SKU-0"), ProductId::new("p-0").unwrap(), 2, eur(900)).unwrap(),
        OrderLine::new(sku("SKU-2"), ProductId::new("p-1").unwrap(), 1, eur(1001)).unwrap(),
    ];
    let total = place(store, &o1, lines).await;
    for (s, q) in [("SKU-0", 2), ("SKU-2", 1)] {
        send::<Inventory>(
            store,
            &sku(s),
            InventoryCommand::ReserveStock {
                sku: sku(s),
                order_id: o1.clone(),
                quantity: q,
                expires_at: None,
            },
        )
        .await;
    }
    let pay1 = PaymentId::new("pay-1").unwrap();
    pay_and_confirm(store, &o1, &pay1, total).await;
    for s in ["SKU-0", "SKU-2"] {
        send::<Inventory>(
            store,
            &sku(s),
            InventoryCommand::CommitReservation {
                sku: sku(s),
                order_id: o1.clone(),
            },
        )
        .await;
    }
    send::<Payment>(
        store,
        &pay1,
        PaymentCommand::CapturePayment {
            payment_id: pay1.clone(),
            gateway_reference: "cap-1".into(),
            amount: eur(total),
        },
    )
    .await;
    send::<Order>(
        store,
        &o1,
        OrderCommand::RecordPaymentCaptured {
            order_id: o1.clone(),
            payment_id: pay1.clone(),
            amount: eur(total),
        },
    )
    .await;

    // Order o2: confirmed, then cancelled by the customer.
    let o2 = OrderId::new("o2").unwrap();
    let total2 = place(
        store,
        &o2,
        vec![OrderLine::new(sku("SKU-0"), ProductId::new("p-0").unwrap(), 5, eur(900)).unwrap()],
    )
    .await;
    pay_and_confirm(store, &o2, &PaymentId::new("pay-2").unwrap(), total2).await;
    send::<Order>(
        store,
        &o2,
        OrderCommand::CancelOrder {
            order_id: o2.clone(),
            reason: CancelReason::CustomerRequest,
        },
    )
    .await;
}

async fn get<R: TableRow>(db: &dyn ReadStore, key: Vec<shop_projections::rows::Value>) -> R {
    let row = db.load(R::TABLE, R::TABLE.name, &key).await.unwrap();
    R::from_row(row.unwrap_or_else(|| panic!("no {} row {key:?}", R::TABLE.name))).unwrap()
}

async fn rows_of<R: TableRow>(db: &dyn ReadStore) -> Vec<R> {
    db.scan(R::TABLE, R::TABLE.name)
        .await
        .unwrap()
        .into_iter()
        .map(|r| R::from_row(r).unwrap())
        .collect()
}

async fn read_models_of_a_shop(env: Env) {
    history(&env.events).await;
    let projections = all(&ModelOptions::default());
    let names: Vec<_> = projections.iter().map(|p| p.name()).collect();
    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        projections,
        RunnerOptions::default(),
    );
    running.catch_up(env.events.as_ref(), &names).await;
    running.stop().await;
    let db = env.db.as_ref();

    // Orders: status, money, lines, timeline.
    let o1: OrderRow = get(db, vec![text("o1")]).await;
    assert_eq!(
        (o1.status.as_str(), o1.total, o1.captured),
        ("confirmed", 2801, 2801)
    );
    assert_eq!(o1.customer_id.as_deref(), Some("alice"));
    assert_eq!(o1.payment_id.as_deref(), Some("pay-1"));
    let lines: Vec<OrderLineRow> = rows_of(db).await;
    assert_eq!(lines.iter().filter(|l| l.order_id == "o1").count(), 2);
    let timeline: Vec<TimelineRow> = rows_of::<TimelineRow>(db)
        .await
        .into_iter()
        .filter(|t| t.order_id == "o1")
        .collect();
    let events: Vec<&str> = timeline.iter().map(|t| t.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "OrderPlaced",
            "PaymentPending",
            "OrderConfirmed",
            "PaymentCaptured"
        ]
    );
    let o2: OrderRow = get(db, vec![text("o2")]).await;
    assert_eq!(o2.status, "cancelled");

    // Payments: amounts and ledger.
    let p1: PaymentRow = get(db, vec![text("pay-1")]).await;
    assert_eq!(
        (
            p1.status.as_str(),
            p1.authorized,
            p1.captured,
            p1.order_id.as_str()
        ),
        ("captured", 2801, 2801, "o1")
    );
    let ledger: Vec<LedgerRow> = rows_of::<LedgerRow>(db)
        .await
        .into_iter()
        .filter(|l| l.payment_id == "pay-1")
        .collect();
    assert_eq!(
        ledger.iter().map(|l| l.kind.as_str()).collect::<Vec<_>>(),
        ["authorization_requested", "authorized", "captured"]
    );

    // Audit: every event that touched o1, across streams, in log order.
    let mut trail: Vec<AuditRow> = rows_of::<AuditRow>(db)
        .await
        .into_iter()
        .filter(|a| a.order_id == "o1")
        .collect();
    trail.sort_by_key(|a| (a.commit_pos, a.prepare_pos));
    let streams: Vec<&str> = trail.iter().map(|a| a.stream.as_str()).collect();
    assert_eq!(trail.len(), 1 + 4 + 3 + 2 + 2, "{streams:?}");
    assert!(
        streams.contains(&"cart-c1")
            && streams.contains(&"payment-pay-1")
            && streams.contains(&"inventory-SKU-0")
    );
    assert!(
        trail
            .iter()
            .all(|a| a.actor_kind == "customer" && !a.correlation_id.is_empty())
    );

    // Analytics: o1 counted, o2 counted and taken out again.
    let days: Vec<ProductDay> = rows_of(db).await;
    let p0: Vec<_> = days.iter().filter(|d| d.product_id == "p-0").collect();
    assert_eq!(p0.len(), 1);
    assert_eq!((p0[0].units, p0[0].revenue, p0[0].orders), (2, 1800, 1));
    let pairs: Vec<CoPurchase> = rows_of(db).await;
    let mut pairs: Vec<_> = pairs
        .iter()
        .map(|p| (p.product_id.as_str(), p.other_product_id.as_str(), p.orders))
        .collect();
    pairs.sort();
    assert_eq!(pairs, [("p-0", "p-1", 1), ("p-1", "p-0", 1)]);

    // Carts.
    let cart: CartRow = get(db, vec![text("c1")]).await;
    assert_eq!(
        (
            cart.status.as_str(),
            cart.order_id.as_deref(),
            cart.subtotal,
            cart.line_count
        ),
        ("checked_out", Some("o1"), 2801, 2)
    );
    let cart_lines: Vec<CartLineRow> = rows_of(db).await;
    assert_eq!(cart_lines.iter().filter(|l| l.cart_id == "c1").count(), 2);
    let c2: CartRow = get(db, vec![text("c2")]).await;
    assert_eq!(
        (
            c2.status.as_str(),
            c2.subtotal,
            c2.units,
            c2.line_count,
            c2.promo_code.as_deref()
        ),
        ("open", 1001 + 3 * 50, 4, 2, Some("SPRING"))
    );
    let mut c2_lines: Vec<(&str, i64, i64, i64)> = cart_lines
        .iter()
        .filter(|l| l.cart_id == "c2")
        .map(|l| (l.sku.as_str(), l.position, l.quantity, l.line_total))
        .collect();
    c2_lines.sort();
    assert_eq!(c2_lines, [("SKU-2", 0, 1, 1001), ("SKU-4", 1, 3, 150)]);
}
both!(read_models_of_a_shop, read_models_of_a_shop);
