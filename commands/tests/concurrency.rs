//! The flash-sale guarantees under concurrency: a hot SKU never oversells and a promotion never
//! exceeds its usage limit, with two independent handler instances (as two processes would run)
//! racing on the same store. On Postgres each handler has its own connection pool; on the embedded
//! store the two handlers share the one process's store, as they would in one `shop` process.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::TimeDelta;
use futures::future::join_all;
use shop_commands::{CommandError, CommandHandler};
use shop_domain::inventory::{Inventory, InventoryRejection};
use shop_domain::promotion::{Promotion, PromotionCommand, PromotionRejection};
use shop_domain::{Currency, CustomerId, Discount, Money, PromoCode};
use shop_eventstore::{EventStore, ReadStream, StreamName};
use support::*;

const UNITS: u32 = 500;
const BUYERS: usize = 2_000;

/// Every event type in `stream`, counted.
async fn event_types(store: &dyn EventStore, stream: &str) -> BTreeMap<String, usize> {
    let stream = StreamName::new(stream).unwrap();
    let mut counts = BTreeMap::new();
    let mut from = 0;
    loop {
        let page = store
            .read_stream(
                &stream,
                ReadStream::forwards().from_revision(from).limit(1000),
            )
            .await
            .unwrap();
        for e in &page {
            *counts.entry(e.event_type.clone()).or_insert(0) += 1;
        }
        if page.len() < 1000 {
            return counts;
        }
        from += 1000;
    }
}

async fn reserve_race(a: Arc<dyn EventStore>, b: Arc<dyn EventStore>) {
    let first: CommandHandler<Inventory> = handler(a.clone());
    let second: CommandHandler<Inventory> = handler(b);
    let sku_id = sku("FLASH-1");
    receive(&first, &sku_id, UNITS).await;

    let attempts = (0..BUYERS).map(|n| {
        // Alternate buyers between the two "processes".
        let h = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let command = reserve_one(&sku_id, n);
        let sku_id = sku_id.clone();
        tokio::spawn(async move { h.handle(&sku_id, command).await })
    });
    let results = join_all(attempts).await;

    let (mut reserved, mut out_of_stock, mut other) = (0, 0, Vec::new());
    for result in results {
        match result.unwrap() {
            Ok(outcome) => {
                assert_eq!(outcome.events_written, 1);
                assert!(outcome.position.is_some());
                reserved += 1;
            }
            Err(CommandError::Rejected(InventoryRejection::InsufficientStock { .. })) => {
                out_of_stock += 1
            }
            Err(e) => other.push(e.to_string()),
        }
    }
    assert!(other.is_empty(), "unexpected failures: {other:?}");
    assert_eq!(
        (reserved, out_of_stock),
        (UNITS as usize, BUYERS - UNITS as usize)
    );

    // The log agrees: one receipt and exactly 500 reservations.
    let counts = event_types(a.as_ref(), "inventory-FLASH-1").await;
    assert_eq!(
        counts.get("inventory.StockReserved.v1"),
        Some(&(UNITS as usize))
    );
    assert_eq!(counts.get("inventory.StockReceived.v1"), Some(&1));
    assert_eq!(counts.values().sum::<usize>(), UNITS as usize + 1);

    // A fresh load (no cache) and each handler's own view agree with the log.
    let fresh: CommandHandler<Inventory> = handler(a);
    for h in [&fresh, &first, &second] {
        let (state, revision) = h.load(&sku_id).await.unwrap();
        assert_eq!(revision, Some(u64::from(UNITS)));
        assert_eq!(state.available(), 0);
        assert_eq!(state.reserved(), u64::from(UNITS));
        assert_eq!(state.reservations().count(), UNITS as usize);
        let level = state.level(&warehouse("w1"));
        assert_eq!(level.on_hand, u64::from(UNITS));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handlers_never_oversell_on_the_embedded_store() {
    let (store, _dir) = sqlite_store().await;
    reserve_race(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_never_oversell_on_postgres() {
    let Some((a, b)) = postgres_pair("commands_race").await else {
        eprintln!("TEST_DATABASE_URL not set: skipping the Postgres race");
        return;
    };
    reserve_race(a, b).await;
}

const LIMIT: u32 = 100;
const REDEMPTIONS: usize = 1_000;

async fn redemption_race(a: Arc<dyn EventStore>, b: Arc<dyn EventStore>) {
    let first: CommandHandler<Promotion> = handler(a.clone());
    let second: CommandHandler<Promotion> = handler(b);
    let code = PromoCode::new("FLASH100").unwrap();
    first
        .handle(
            &code,
            command(PromotionCommand::CreatePromotion {
                code: code.clone(),
                discount: Discount::Percentage { basis_points: 1000 },
                minimum_subtotal: None,
                valid_from: t0() - TimeDelta::days(1),
                valid_until: t0() + TimeDelta::days(1),
                usage_limit: Some(LIMIT),
                per_customer_limit: Some(1),
            }),
        )
        .await
        .unwrap();

    let attempts = (0..REDEMPTIONS).map(|n| {
        let h = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let code = code.clone();
        let body = PromotionCommand::RedeemPromotion {
            order_id: order(n),
            customer_id: Some(CustomerId::new(format!("customer-{n}")).unwrap()),
            subtotal: Money::new(10_000, Currency::EUR),
        };
        tokio::spawn(async move { h.handle(&code, command(body)).await })
    });
    let (mut redeemed, mut refused, mut other) = (0, 0, Vec::new());
    for result in join_all(attempts).await {
        match result.unwrap() {
            Ok(_) => redeemed += 1,
            Err(CommandError::Rejected(PromotionRejection::UsageLimitReached {
                limit, ..
            })) => {
                assert_eq!(limit, LIMIT);
                refused += 1
            }
            Err(e) => other.push(e.to_string()),
        }
    }
    assert!(other.is_empty(), "unexpected failures: {other:?}");
    assert_eq!(
        (redeemed, refused),
        (LIMIT as usize, REDEMPTIONS - LIMIT as usize)
    );
    let counts = event_types(a.as_ref(), "promotion-FLASH100").await;
    assert_eq!(
        counts.get("promotion.PromotionRedeemed.v1"),
        Some(&(LIMIT as usize))
    );
    let (state, _) = handler::<Promotion>(a).load(&code).await.unwrap();
    assert_eq!(state.usage_count(), LIMIT);
    assert_eq!(state.remaining_uses(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_usage_limit_holds_under_concurrent_redemptions_on_the_embedded_store() {
    let (store, _dir) = sqlite_store().await;
    redemption_race(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_usage_limit_holds_under_concurrent_redemptions_on_postgres() {
    let Some((a, b)) = postgres_pair("commands_promo").await else {
        eprintln!("TEST_DATABASE_URL not set: skipping the Postgres promotion race");
        return;
    };
    redemption_race(a, b).await;
}
