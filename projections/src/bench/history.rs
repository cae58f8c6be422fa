//! A deterministic shop history for benchmarks: products, stock, and many checkouts (cart →
//! order → stock reserved and committed → payment authorized and captured → order confirmed),
//! built directly as events (consistent with one another, so every read model and the invariant
//! checker accept them) and appended in batches.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use shop_domain::cart::{CartEvent, CartLine, CartOwner};
use shop_domain::inventory::{Allocation, InventoryEvent};
use shop_domain::order::{OrderEvent, OrderLine};
use shop_domain::payment::PaymentEvent;
use shop_domain::pricing::Totals;
use shop_domain::product::{ProductDetails, ProductEvent, Variant};
use shop_domain::{
    Address, CartId, Currency, CustomerId, Money, OrderId, PaymentId, ProductId, Sku, WarehouseId,
};
use shop_eventstore::{Actor, EventData, EventStore, ExpectedRevision, Json, Metadata, StreamName};
use uuid::Uuid;

/// Events grouped by stream, each stream's in order.
pub type History = Vec<(StreamName, Vec<EventData>)>;

/// An event in the store's envelope, as the command side would write it.
pub(crate) fn encode<E: Serialize>(event: &E, at: DateTime<Utc>) -> anyhow::Result<EventData> {
    let mut value = serde_json::to_value(event)?;
    let event_type = value["type"].as_str().unwrap_or_default().to_owned();
    let data = value["data"].take();
    Ok(EventData {
        event_id: Uuid::new_v4(),
        event_type,
        data: Json::encode(&data)?,
        metadata: Metadata::new(
            Uuid::new_v4(),
            Uuid::new_v4(),
            Actor::new("customer", "bench"),
            at,
        ),
    })
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

/// About `events` events: 200 products with two variants each, then checkouts of 1 to 3 lines.
pub fn shop_history(events: usize, seed: u64) -> anyhow::Result<History> {
    let mut rng = StdRng::seed_from_u64(seed);
    let t0 = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let products = 200usize;
    let mut streams: BTreeMap<String, Vec<EventData>> = BTreeMap::new();
    let mut push = |stream: String, e: EventData| streams.entry(stream).or_default().push(e);
    let mut count = 0usize;
    let warehouse = WarehouseId::new("main")?;
    let mut prices = Vec::new();
    for p in 0..products {
        let id = ProductId::new(format!("p-{p}"))?;
        let variants: Vec<Variant> = (0..2)
            .map(|v| {
                Ok(Variant {
                    sku: Sku::new(format!("SKU-{p}-{v}"))?,
                    price: eur(rng.random_range(500..20_000)),
                    attributes: BTreeMap::from([("size".to_owned(), ["M", "L"][v].to_owned())]),
                    weight_grams: Some(300),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        for v in &variants {
            prices.push((id.clone(), v.sku.clone(), v.price));
            push(
                format!("inventory-{}", v.sku),
                encode(
                    &InventoryEvent::StockReceived {
                        sku: v.sku.clone(),
                        warehouse: warehouse.clone(),
                        quantity: 1_000_000,
                        note: None,
                    },
                    t0,
                )?,
            );
        }
        push(
            format!("product-{id}"),
            encode(
                &ProductEvent::ProductCreated {
                    product_id: id.clone(),
                    details: ProductDetails {
                        title: format!("Product {p}"),
                        description: "Benchmark product".into(),
                        brand: format!("Brand {}", p % 20),
                        category: vec!["Bench".into(), format!("Cat {}", p % 10)],
                        attributes: BTreeMap::new(),
                        images: vec![],
                    },
                    currency: Currency::EUR,
                    variants,
                },
                t0,
            )?,
        );
        count += 3;
    }
    let address = Box::new(Address {
        name: "Bench".into(),
        line1: "Street 1".into(),
        line2: None,
        city: "Berlin".into(),
        region: None,
        postal_code: "10115".into(),
        country: "DE".into(),
    });
    let mut k = 0usize;
    while count < events {
        k += 1;
        let at = t0 + TimeDelta::seconds(k as i64);
        let order_id = OrderId::new(format!("o-{k}"))?;
        let cart_id = CartId::new(format!("c-{k}"))?;
        let payment_id = PaymentId::new(format!("pay-{k}"))?;
        let customer = CustomerId::new(format!("cust-{}", k % 5_000))?;
        let mut lines: Vec<CartLine> = Vec::new();
        for _ in 0..rng.random_range(1..4) {
            let (product_id, sku, price) = prices[rng.random_range(0..prices.len())].clone();
            if lines.iter().all(|l| l.sku != sku) {
                lines.push(CartLine {
                    sku,
                    product_id,
                    quantity: rng.random_range(1..3),
                    unit_price: price,
                });
            }
        }
        let cart = format!("cart-{cart_id}");
        push(
            cart.clone(),
            encode(
                &CartEvent::CartCreated {
                    cart_id: cart_id.clone(),
                    owner: CartOwner::Customer {
                        customer_id: customer.clone(),
                    },
                    currency: Currency::EUR,
                    at,
                },
                at,
            )?,
        );
        for l in &lines {
            push(
                cart.clone(),
                encode(
                    &CartEvent::ItemAdded {
                        cart_id: cart_id.clone(),
                        sku: l.sku.clone(),
                        product_id: l.product_id.clone(),
                        quantity: l.quantity,
                        line_quantity: l.quantity,
                        unit_price: l.unit_price,
                        previous_unit_price: None,
                        at,
                    },
                    at,
                )?,
            );
        }
        let subtotal: i64 = lines
            .iter()
            .map(|l| l.unit_price.amount * i64::from(l.quantity))
            .sum();
        push(
            cart.clone(),
            encode(
                &CartEvent::CartCheckedOut {
                    cart_id: cart_id.clone(),
                    order_id: order_id.clone(),
                    lines: lines.clone(),
                    promo_code: None,
                    subtotal: eur(subtotal),
                    at,
                },
                at,
            )?,
        );
        let totals = Totals::from_parts(eur(subtotal), eur(0), eur(0), eur(0))?;
        let order_lines: Vec<OrderLine> = lines
            .iter()
            .map(OrderLine::from_cart_line)
            .collect::<Result<_, _>>()?;
        let order = format!("order-{order_id}");
        push(
            order.clone(),
            encode(
                &OrderEvent::OrderPlaced {
                    order_id: order_id.clone(),
                    customer_id: Some(customer),
                    cart_id: Some(cart_id),
                    lines: order_lines,
                    currency: Currency::EUR,
                    totals,
                    shipping_address: address.clone(),
                    billing_address: address.clone(),
                    promo_code: None,
                    shipping_method: "standard".into(),
                    at,
                },
                at,
            )?,
        );
        for l in &lines {
            let allocations = vec![Allocation {
                warehouse: warehouse.clone(),
                quantity: l.quantity,
            }];
            let stream = format!("inventory-{}", l.sku);
            push(
                stream.clone(),
                encode(
                    &InventoryEvent::StockReserved {
                        sku: l.sku.clone(),
                        order_id: order_id.clone(),
                        quantity: l.quantity,
                        allocations: allocations.clone(),
                        backordered: 0,
                        expires_at: at + TimeDelta::minutes(15),
                    },
                    at,
                )?,
            );
            push(
                stream,
                encode(
                    &InventoryEvent::ReservationCommitted {
                        sku: l.sku.clone(),
                        order_id: order_id.clone(),
                        quantity: l.quantity,
                        allocations,
                        backordered: 0,
                    },
                    at,
                )?,
            );
        }
        let payment = format!("payment-{payment_id}");
        let key = format!("{order_id}:authorize");
        push(
            payment.clone(),
            encode(
                &PaymentEvent::AuthorizationRequested {
                    payment_id: payment_id.clone(),
                    order_id: order_id.clone(),
                    amount: totals.total,
                    method_token: "tok_visa".into(),
                    idempotency_key: key.clone(),
                    attempt: 1,
                },
                at,
            )?,
        );
        push(
            payment.clone(),
            encode(
                &PaymentEvent::PaymentAuthorized {
                    payment_id: payment_id.clone(),
                    order_id: order_id.clone(),
                    idempotency_key: key,
                    gateway_reference: format!("auth-{k}"),
                    amount: totals.total,
                    requested: totals.total,
                    reconciled: false,
                },
                at,
            )?,
        );
        push(
            order.clone(),
            encode(
                &OrderEvent::PaymentPending {
                    order_id: order_id.clone(),
                    payment_id: payment_id.clone(),
                    amount: totals.total,
                    at,
                },
                at,
            )?,
        );
        push(
            order.clone(),
            encode(
                &OrderEvent::OrderConfirmed {
                    order_id: order_id.clone(),
                    payment_id: Some(payment_id.clone()),
                    at,
                },
                at,
            )?,
        );
        push(
            payment,
            encode(
                &PaymentEvent::PaymentCaptured {
                    payment_id: payment_id.clone(),
                    order_id: order_id.clone(),
                    gateway_reference: format!("cap-{k}"),
                    amount: totals.total,
                    authorized: totals.total,
                },
                at,
            )?,
        );
        push(
            order,
            encode(
                &OrderEvent::PaymentCaptured {
                    order_id,
                    payment_id,
                    amount: totals.total,
                    total: totals.total,
                    at,
                },
                at,
            )?,
        );
        count += 2 + lines.len() * 3 + 1 + 3 + 3;
    }
    streams
        .into_iter()
        .map(|(name, events)| Ok((StreamName::new(name)?, events)))
        .collect()
}

/// Appends a history with `writers` concurrent writers, in appends of up to 500 events.
pub async fn append(
    events: &Arc<dyn EventStore>,
    history: History,
    writers: usize,
) -> anyhow::Result<()> {
    let queue = Arc::new(std::sync::Mutex::new(history));
    let mut tasks = Vec::new();
    for _ in 0..writers.max(1) {
        let (queue, events) = (queue.clone(), events.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop();
                let Some((stream, batch)) = next else {
                    return anyhow::Ok(());
                };
                let mut revision: Option<u64> = None;
                for chunk in batch.chunks(500) {
                    let expected =
                        revision.map_or(ExpectedRevision::NoStream, ExpectedRevision::Exact);
                    revision = Some(
                        events
                            .append(&stream, expected, chunk.to_vec())
                            .await?
                            .next_expected_revision,
                    );
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}
