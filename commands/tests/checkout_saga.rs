//! The checkout saga's runner end to end on the embedded store, with the sandbox gateway: every
//! path ends in a terminal state with order, payment, stock and gateway agreeing; driving a saga
//! again asks nothing new.

mod support;

use std::sync::Arc;
use std::time::Duration;

use shop_commands::checkout::{CheckoutRunner, RetryPolicy};
use shop_commands::gateway::{Fault, OperationKind, SandboxConfig, SandboxGateway, test_tokens};
use shop_commands::{HandlerConfig, ManualClock};
use shop_domain::checkout::{CheckoutLine, CheckoutOutcome};
use shop_domain::inventory::{Inventory, InventoryState};
use shop_domain::order::{Order, OrderCommand, OrderLine, OrderState, OrderStatus};
use shop_domain::pricing::Totals;
use shop_domain::{Address, Currency, Money, OrderId, PaymentId, ProductId};
use shop_eventstore::{EventStore, ReadStream, StreamName};
use support::*;

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

struct Shop {
    store: Arc<dyn EventStore>,
    gateway: Arc<SandboxGateway>,
    clock: Arc<ManualClock>,
    runner: CheckoutRunner,
    _dir: tempfile::TempDir,
}

/// A shop with `a` units of SKU A and `b` of SKU B, on the embedded store.
async fn shop(a: u32, b: u32) -> Shop {
    let (store, dir) = sqlite_store().await;
    shop_on(store, dir, a, b).await
}

/// The same on `store`.
async fn shop_on(store: Arc<dyn EventStore>, dir: tempfile::TempDir, a: u32, b: u32) -> Shop {
    let inventory = handler::<Inventory>(store.clone());
    for (s, n) in [("A", a), ("B", b)] {
        if n > 0 {
            receive(&inventory, &sku(s), n).await;
        }
    }
    let gateway = Arc::new(SandboxGateway::new(SandboxConfig {
        latency: Duration::ZERO,
        slow_latency: Duration::from_millis(5),
        timeout: Duration::from_millis(5),
    }));
    let clock = Arc::new(ManualClock::new(t0()));
    let runner = CheckoutRunner::new(
        store.clone(),
        clock.clone(),
        gateway.clone(),
        HandlerConfig::default(),
    );
    Shop {
        store,
        gateway,
        clock,
        runner,
        _dir: dir,
    }
}

/// Places order `o<n>` (2 × A and 1 × B at 10.00 each) and starts its checkout.
async fn checkout(shop: &Shop, n: u32, token: &str) -> (OrderId, Result<CheckoutOutcome, String>) {
    let lines = vec![
        CheckoutLine {
            sku: sku("A"),
            quantity: 2,
        },
        CheckoutLine {
            sku: sku("B"),
            quantity: 1,
        },
    ];
    checkout_of(shop, n, token, lines).await
}

/// Places order `o<n>` for `lines` (10.00 a unit) and starts its checkout.
async fn checkout_of(
    shop: &Shop,
    n: u32,
    token: &str,
    lines: Vec<CheckoutLine>,
) -> (OrderId, Result<CheckoutOutcome, String>) {
    let (order_id, total) = place(&shop.store, n, &lines).await;
    let outcome = shop
        .runner
        .start(
            &order_id,
            &PaymentId::new(format!("pay-o{n}")).unwrap(),
            lines,
            total,
            token,
        )
        .await;
    let outcome = match outcome {
        Ok(state) => state.outcome.ok_or_else(|| "not ended".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    (order_id, outcome)
}

/// Places order `o<n>` for `lines` at 10.00 a unit; returns its id and total.
async fn place(store: &Arc<dyn EventStore>, n: u32, lines: &[CheckoutLine]) -> (OrderId, Money) {
    let order_id = OrderId::new(format!("o{n}")).unwrap();
    let total = place_as(store, &order_id, lines).await;
    (order_id, total)
}

/// Places `order_id` for `lines` at 10.00 a unit; returns its total.
async fn place_as(
    store: &Arc<dyn EventStore>,
    order_id: &OrderId,
    lines: &[CheckoutLine],
) -> Money {
    let address = Box::new(Address {
        name: "Alice Example".into(),
        line1: "Hauptstr. 1".into(),
        line2: None,
        city: "Berlin".into(),
        region: None,
        postal_code: "10115".into(),
        country: "DE".into(),
    });
    let product = ProductId::new("p1").unwrap();
    let units: u32 = lines.iter().map(|l| l.quantity).sum();
    let total = eur(1_000 * i64::from(units));
    let orders = handler::<Order>(store.clone());
    orders
        .handle(
            order_id,
            command(OrderCommand::PlaceOrder {
                order_id: order_id.clone(),
                customer_id: None,
                cart_id: None,
                lines: lines
                    .iter()
                    .map(|l| {
                        OrderLine::new(l.sku.clone(), product.clone(), l.quantity, eur(1_000))
                            .unwrap()
                    })
                    .collect(),
                currency: Currency::EUR,
                totals: Totals::from_parts(total, eur(0), eur(0), eur(0)).unwrap(),
                shipping_address: address.clone(),
                billing_address: address,
                promo_code: None,
                shipping_method: "standard".into(),
            }),
        )
        .await
        .unwrap();
    total
}

async fn stock(shop: &Shop, s: &str) -> InventoryState {
    fold::<Inventory>(&shop.store, format!("inventory-{s}")).await
}

/// Runs the deadline scheduler and the runner's `run` while the clock moves 16 minutes on, past
/// the checkout's expiry; returns how the checkout ended (`None` if not within 10 s).
async fn past_expiry(shop: &Shop, id: &OrderId) -> Option<CheckoutOutcome> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = shop.runner.deadlines().clone();
    let (s1, s2) = (stopped.clone(), stopped);
    let scheduling = tokio::spawn(async move { scheduler.run(s1).await.unwrap() });
    let runner = shop.runner.clone();
    let running = tokio::spawn(async move { runner.run(s2).await.unwrap() });
    shop.clock.advance(chrono::Duration::minutes(16));
    let mut ended = None;
    for _ in 0..500 {
        ended = shop.runner.state(id).await.unwrap().outcome;
        if ended.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    scheduling.await.unwrap();
    running.await.unwrap();
    ended
}

/// The gateway refuses every authorization for the rest of the test.
fn gateway_down(shop: &Shop) {
    for _ in 0..1_000 {
        shop.gateway
            .inject(OperationKind::Authorize, Fault::Unavailable);
    }
}

async fn order(shop: &Shop, id: &OrderId) -> OrderState {
    fold::<Order>(&shop.store, format!("order-{id}")).await
}

#[tokio::test]
async fn an_approved_checkout_confirms_sells_and_captures_once() {
    let shop = shop(10, 10).await;
    let (id, outcome) = checkout(&shop, 1, test_tokens::APPROVE).await;
    assert_eq!(outcome, Ok(CheckoutOutcome::Confirmed));
    let placed = order(&shop, &id).await;
    assert_eq!(placed.status(), OrderStatus::Confirmed);
    assert_eq!(placed.captured(), Some(eur(3_000)));
    let a = stock(&shop, "A").await;
    assert_eq!((a.available(), a.reserved(), a.committed()), (8, 0, 2));
    let ledger = shop.gateway.ledger();
    assert_eq!(ledger.authorizations_of(&id), 1);
    assert_eq!(ledger.charges[0].captured, 3_000);

    // Driving it again (a redelivery, a restart) asks nothing new.
    let calls = ledger.calls;
    let again = shop.runner.drive(&id).await.unwrap();
    assert_eq!(again.outcome, Some(CheckoutOutcome::Confirmed));
    assert_eq!(shop.gateway.ledger().calls, calls);
    assert_eq!(stock(&shop, "A").await.committed(), 2);
}

#[tokio::test]
async fn a_declined_card_releases_the_stock_and_fails_the_payment() {
    let shop = shop(10, 10).await;
    let (id, outcome) = checkout(&shop, 2, test_tokens::DECLINE).await;
    assert_eq!(outcome, Ok(CheckoutOutcome::PaymentFailed));
    assert_eq!(order(&shop, &id).await.status(), OrderStatus::PaymentFailed);
    for s in ["A", "B"] {
        let level = stock(&shop, s).await;
        assert_eq!((level.available(), level.reserved()), (10, 0), "{s}");
    }
    assert_eq!(shop.gateway.ledger().authorizations_of(&id), 0);
}

#[tokio::test]
async fn out_of_stock_cancels_without_asking_for_money() {
    let shop = shop(10, 0).await;
    let (id, outcome) = checkout(&shop, 3, test_tokens::APPROVE).await;
    assert_eq!(outcome, Ok(CheckoutOutcome::Cancelled));
    assert_eq!(order(&shop, &id).await.status(), OrderStatus::Cancelled);
    let a = stock(&shop, "A").await;
    assert_eq!((a.available(), a.reserved()), (10, 0));
    assert_eq!(shop.gateway.ledger().calls, 0);
}

#[tokio::test]
async fn gateway_timeouts_are_looked_up_and_charged_once() {
    let shop = shop(10, 10).await;
    for (n, token) in [
        (4, test_tokens::TIMEOUT_AFTER_CHARGE),
        (5, test_tokens::TIMEOUT_BEFORE_CHARGE),
    ] {
        let (id, outcome) = checkout(&shop, n, token).await;
        assert_eq!(outcome, Ok(CheckoutOutcome::Confirmed), "{token}");
        let ledger = shop.gateway.ledger();
        assert_eq!(ledger.authorizations_of(&id), 1, "{token}");
    }
}

#[tokio::test]
async fn an_expired_checkout_is_compensated() {
    let shop = shop(10, 10).await;
    // The gateway is down: the saga waits with the payment asked for.
    shop.gateway
        .inject(OperationKind::Authorize, Fault::Unavailable);
    let (id, outcome) = checkout(&shop, 6, test_tokens::APPROVE).await;
    assert!(outcome.is_err(), "{outcome:?}");
    assert_eq!(stock(&shop, "A").await.reserved(), 2);
    // Fifteen minutes later the expiry fires.
    let state = shop.runner.expire(&id).await.unwrap();
    assert_eq!(state.outcome, Some(CheckoutOutcome::Cancelled));
    assert_eq!(order(&shop, &id).await.status(), OrderStatus::Cancelled);
    for s in ["A", "B"] {
        let level = stock(&shop, s).await;
        assert_eq!((level.available(), level.reserved()), (10, 0), "{s}");
    }
    assert_eq!(shop.gateway.ledger().authorizations_of(&id), 0);
}

#[tokio::test]
async fn a_new_runner_resumes_the_checkouts_an_old_one_left_open() {
    let shop = shop(10, 10).await;
    shop.gateway
        .inject(OperationKind::Authorize, Fault::Unavailable);
    let (id, outcome) = checkout(&shop, 7, test_tokens::APPROVE).await;
    assert!(outcome.is_err(), "{outcome:?}");
    // Another, finished checkout is left alone.
    let (done, outcome) = checkout(&shop, 8, test_tokens::APPROVE).await;
    assert_eq!(outcome, Ok(CheckoutOutcome::Confirmed));

    let restarted = CheckoutRunner::new(
        shop.store.clone(),
        shop.clock.clone(),
        shop.gateway.clone(),
        HandlerConfig::default(),
    );
    let resumed = restarted.resume().await.unwrap();
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(resumed[0].0, id);
    assert_eq!(
        resumed[0].1.as_ref().map(|s| s.outcome.clone()).unwrap(),
        Some(CheckoutOutcome::Confirmed)
    );
    let ledger = shop.gateway.ledger();
    assert_eq!(ledger.authorizations_of(&id), 1);
    assert_eq!(ledger.authorizations_of(&done), 1);
    assert_eq!(stock(&shop, "A").await.committed(), 4);
}

#[tokio::test]
async fn the_expiry_deadline_fires_and_the_runner_compensates() {
    let shop = shop(10, 10).await;
    // Down until the expiry: `run` retries open sagas, and must not get through first.
    gateway_down(&shop);
    let (id, outcome) = checkout(&shop, 9, test_tokens::APPROVE).await;
    assert!(outcome.is_err(), "{outcome:?}");

    let ended = past_expiry(&shop, &id).await;
    assert_eq!(ended, Some(CheckoutOutcome::Cancelled));
    assert_eq!(order(&shop, &id).await.status(), OrderStatus::Cancelled);
    for s in ["A", "B"] {
        let level = stock(&shop, s).await;
        assert_eq!((level.available(), level.reserved()), (10, 0), "{s}");
    }
}

#[tokio::test]
async fn a_thousand_checkouts_race_for_three_hundred_units() {
    let shop = Arc::new(shop(0, 0).await);
    let hot = sku("HOT");
    receive(&handler::<Inventory>(shop.store.clone()), &hot, 300).await;
    let buyers: Vec<_> = (0..1_000u32)
        .map(|n| {
            let (shop, hot) = (shop.clone(), hot.clone());
            tokio::spawn(async move {
                // One card in five is declined.
                let token = if n % 5 == 0 {
                    test_tokens::DECLINE
                } else {
                    test_tokens::APPROVE
                };
                let line = CheckoutLine {
                    sku: hot,
                    quantity: 1,
                };
                checkout_of(&shop, 1_000 + n, token, vec![line]).await
            })
        })
        .collect();
    let mut confirmed = 0u64;
    for buyer in buyers {
        let (id, outcome) = buyer.await.unwrap();
        let status = order(&shop, &id).await.status();
        match outcome {
            Ok(CheckoutOutcome::Confirmed) => {
                confirmed += 1;
                assert_eq!(status, OrderStatus::Confirmed, "{id}");
                assert_eq!(shop.gateway.ledger().authorizations_of(&id), 1, "{id}");
            }
            Ok(CheckoutOutcome::Cancelled) => assert_eq!(status, OrderStatus::Cancelled, "{id}"),
            Ok(CheckoutOutcome::PaymentFailed) => {
                assert_eq!(status, OrderStatus::PaymentFailed, "{id}");
            }
            Err(e) => panic!("{id} did not end: {e}"),
        }
    }
    let level = stock(&shop, "HOT").await;
    // Every unit is sold or back on the shelf; nothing is left reserved; sold = confirmed.
    assert_eq!(level.reserved(), 0);
    assert_eq!(level.committed(), confirmed);
    assert_eq!(level.available() + level.committed(), 300);
    assert!(confirmed > 0);
    let charged: i64 = shop
        .gateway
        .ledger()
        .charges
        .iter()
        .map(|c| c.captured)
        .sum();
    assert_eq!(charged, 1_000 * confirmed as i64);
}

/// One crash run on `inner`: the process dies at its `k`th append of the checkout (that append
/// written, its answer lost); a new runner resumes. With `cancel`, the checkout first confirms,
/// the customer cancels the order, and the crash comes at the `k`th append of the refund and
/// restock. Returns the saga's outcome, or `None` when the first runner had already finished
/// before append `k`. `tag` keeps each run's order and SKUs apart on a shared store.
async fn crash_run(
    inner: Arc<dyn EventStore>,
    tag: &str,
    token: &str,
    cancel: bool,
    k: u64,
) -> Option<CheckoutOutcome> {
    use std::sync::atomic::Ordering;
    let inventory = handler::<Inventory>(inner.clone());
    let (a, b) = (format!("A-{tag}-{k}"), format!("B-{tag}-{k}"));
    receive(&inventory, &sku(&a), 10).await;
    receive(&inventory, &sku(&b), 10).await;
    let lines = vec![
        CheckoutLine {
            sku: sku(&a),
            quantity: 2,
        },
        CheckoutLine {
            sku: sku(&b),
            quantity: 1,
        },
    ];
    let order_id = OrderId::new(format!("{tag}-o{k}")).unwrap();
    let total = place_as(&inner, &order_id, &lines).await;
    let gateway = Arc::new(SandboxGateway::new(SandboxConfig {
        latency: Duration::ZERO,
        slow_latency: Duration::from_millis(5),
        timeout: Duration::from_millis(5),
    }));
    let clock = Arc::new(ManualClock::new(t0()));
    let crashing = support::store::Instrumented::new(inner.clone());
    if !cancel {
        crashing.crash_at.store(k, Ordering::SeqCst);
    }
    let store: Arc<dyn EventStore> = crashing.clone();
    let first = CheckoutRunner::new(
        store,
        clock.clone(),
        gateway.clone(),
        HandlerConfig::default(),
    );
    let payment_id = PaymentId::new(format!("pay-{order_id}")).unwrap();
    let finished = first
        .start(&order_id, &payment_id, lines, total, token)
        .await
        .ok()
        .and_then(|s| s.outcome);
    let reason = shop_domain::order::CancelReason::CustomerRequest;
    if cancel {
        assert_eq!(finished, Some(CheckoutOutcome::Confirmed));
        handler::<Order>(inner.clone())
            .handle(
                &order_id,
                command(OrderCommand::CancelOrder {
                    order_id: order_id.clone(),
                    reason: reason.clone(),
                }),
            )
            .await
            .unwrap();
        let crash_at = crashing.appends.load(Ordering::SeqCst) + k;
        crashing.crash_at.store(crash_at, Ordering::SeqCst);
        let undone = first
            .order_cancelled(&order_id, reason.clone())
            .await
            .ok()
            .and_then(|s| s.outcome);
        if undone.is_some() && crashing.appends.load(Ordering::SeqCst) < crash_at {
            return None;
        }
    } else if finished.is_some() && crashing.appends.load(Ordering::SeqCst) < k {
        return None;
    }

    // The restarted process: a new runner over the same store and the same provider. Its
    // subscription redelivers the cancellation (its checkpoint was not past it), then it
    // resumes every open saga.
    let second = CheckoutRunner::new(
        inner.clone(),
        clock,
        gateway.clone(),
        HandlerConfig::default(),
    );
    if cancel {
        second
            .order_cancelled(&order_id, reason)
            .await
            .unwrap_or_else(|e| panic!("crash at {k}: {e}"));
    }
    second.resume().await.unwrap();
    let state = second.state(&order_id).await.unwrap();
    let outcome = state
        .outcome
        .clone()
        .unwrap_or_else(|| panic!("crash at {k}: not ended: {state:?}"));

    // Never charged twice; stock conserved and nothing left reserved; order and payment agree.
    let ledger = gateway.ledger();
    assert!(ledger.authorizations_of(&order_id) <= 1, "crash at {k}");
    let order_state = fold::<Order>(&inner, format!("order-{order_id}")).await;
    let status = order_state.status();
    for (s, units) in [(&a, 2), (&b, 1)] {
        let level = fold::<Inventory>(&inner, format!("inventory-{s}")).await;
        assert_eq!(level.reserved(), 0, "crash at {k}: {s} reserved");
        assert_eq!(
            level.available() + level.committed(),
            10,
            "crash at {k}: {s}"
        );
        let sold = if outcome == CheckoutOutcome::Confirmed {
            units
        } else {
            0
        };
        assert_eq!(level.committed(), sold, "crash at {k}: {s} sold");
    }
    let charge = ledger.charges.first();
    match outcome {
        CheckoutOutcome::Confirmed => {
            assert_eq!(status, OrderStatus::Confirmed, "crash at {k}");
            assert_eq!(charge.map(|c| c.captured), Some(3_000), "crash at {k}");
        }
        CheckoutOutcome::PaymentFailed => {
            assert_eq!(status, OrderStatus::PaymentFailed, "crash at {k}");
            assert!(charge.is_none(), "crash at {k}");
        }
        CheckoutOutcome::Cancelled => {
            assert_eq!(status, OrderStatus::Cancelled, "crash at {k}");
            // Voided before a capture, or captured and refunded in full, once.
            assert!(
                charge.is_none_or(|c| (c.voided && c.captured == 0)
                    || (c.captured == 3_000 && c.refunded == 3_000)),
                "crash at {k}: {charge:?}"
            );
            assert_eq!(
                order_state.refunded().map(|m| m.amount).unwrap_or(0),
                charge.map(|c| c.refunded).unwrap_or(0),
                "crash at {k}"
            );
        }
    }
    Some(outcome)
}

/// Every crash point of every path on `store`.
async fn crash_everywhere(store: Arc<dyn EventStore>, tag: &str) {
    for (name, token, cancel, expected) in [
        (
            "approve",
            test_tokens::APPROVE,
            false,
            CheckoutOutcome::Confirmed,
        ),
        (
            "decline",
            test_tokens::DECLINE,
            false,
            CheckoutOutcome::PaymentFailed,
        ),
        (
            "timeout",
            test_tokens::TIMEOUT_AFTER_CHARGE,
            false,
            CheckoutOutcome::Confirmed,
        ),
        (
            "refund",
            test_tokens::APPROVE,
            true,
            CheckoutOutcome::Cancelled,
        ),
    ] {
        let mut crashes = 0;
        for k in 1..200 {
            match crash_run(store.clone(), &format!("{tag}{name}"), token, cancel, k).await {
                Some(outcome) => {
                    assert_eq!(outcome, expected, "{name}, crash at append {k}");
                    crashes += 1;
                }
                // Every append of the checkout has had its crash.
                None => break,
            }
        }
        eprintln!("{name}: {crashes} crash points, each resumed to {expected:?}");
        assert!(crashes >= 5, "{name}: only {crashes} crash points");
    }
}

#[tokio::test]
async fn a_crash_after_any_step_is_resumed_to_a_clean_end() {
    let (store, _dir) = sqlite_store().await;
    crash_everywhere(store, "c").await;
}

#[tokio::test]
async fn a_crash_after_any_step_is_resumed_to_a_clean_end_on_postgres() {
    let Some((store, _)) = postgres_pair("checkout_crash").await else {
        return;
    };
    crash_everywhere(store, "c").await;
}

/// The main paths and the race on Postgres (events in a fresh schema).
#[tokio::test]
async fn the_saga_on_postgres() {
    let Some((store, _)) = postgres_pair("checkout").await else {
        return;
    };
    let shop = shop_on(store, tempfile::tempdir().unwrap(), 10, 10).await;
    let (id, outcome) = checkout(&shop, 1, test_tokens::APPROVE).await;
    assert_eq!(outcome, Ok(CheckoutOutcome::Confirmed));
    assert_eq!(shop.gateway.ledger().authorizations_of(&id), 1);
    let (id, outcome) = checkout(&shop, 2, test_tokens::DECLINE).await;
    assert_eq!(outcome, Ok(CheckoutOutcome::PaymentFailed));
    assert_eq!(order(&shop, &id).await.status(), OrderStatus::PaymentFailed);
    let (_, outcome) = checkout(&shop, 3, test_tokens::TIMEOUT_BEFORE_CHARGE).await;
    assert_eq!(outcome, Ok(CheckoutOutcome::Confirmed));
    // 2 × A for each of the two confirmed orders.
    let a = stock(&shop, "A").await;
    assert_eq!((a.available(), a.reserved(), a.committed()), (6, 0, 4));

    // 200 checkouts race for 60 units of one SKU.
    let shop = Arc::new(shop);
    receive(&handler::<Inventory>(shop.store.clone()), &sku("HOT"), 60).await;
    let buyers: Vec<_> = (0..200u32)
        .map(|n| {
            let shop = shop.clone();
            tokio::spawn(async move {
                let token = if n % 5 == 0 {
                    test_tokens::DECLINE
                } else {
                    test_tokens::APPROVE
                };
                let line = CheckoutLine {
                    sku: sku("HOT"),
                    quantity: 1,
                };
                checkout_of(&shop, 100 + n, token, vec![line]).await
            })
        })
        .collect();
    let mut confirmed = 0u64;
    for buyer in buyers {
        let (id, outcome) = buyer.await.unwrap();
        match outcome {
            Ok(CheckoutOutcome::Confirmed) => confirmed += 1,
            Ok(_) => {}
            Err(e) => panic!("{id} did not end: {e}"),
        }
    }
    let hot = stock(&shop, "HOT").await;
    assert_eq!(hot.reserved(), 0);
    assert_eq!(hot.committed(), confirmed);
    assert_eq!(hot.available() + hot.committed(), 60);
}

#[tokio::test]
async fn an_operator_compensates_a_stopped_checkout_and_is_recorded_as_its_actor() {
    let shop = shop(10, 10).await;
    shop.gateway
        .inject(OperationKind::Authorize, Fault::Unavailable);
    let (id, outcome) = checkout(&shop, 11, test_tokens::APPROVE).await;
    assert!(outcome.is_err(), "{outcome:?}");
    let operator = shop_eventstore::Actor::new("admin", "ops-7");
    let state = shop
        .runner
        .force_compensate(&id, "customer called: cancel it", operator)
        .await
        .unwrap();
    assert_eq!(state.outcome, Some(CheckoutOutcome::Cancelled));
    assert_eq!(order(&shop, &id).await.status(), OrderStatus::Cancelled);
    assert_eq!(stock(&shop, "A").await.reserved(), 0);
    // The order is on the saga's stream, with the operator as actor.
    let stream = StreamName::new(format!("checkout-{id}")).unwrap();
    let events = shop
        .store
        .read_stream(&stream, ReadStream::forwards())
        .await
        .unwrap();
    let forced = events
        .iter()
        .find(|e| e.event_type == "checkout.CompensationStarted.v1")
        .expect("the compensation is recorded");
    assert_eq!(
        (
            forced.metadata.actor.kind.as_str(),
            forced.metadata.actor.id.as_str()
        ),
        ("admin", "ops-7")
    );
    // A confirmed checkout cannot be force-compensated; a retry of it asks nothing new.
    let (done, outcome) = checkout(&shop, 12, test_tokens::APPROVE).await;
    assert_eq!(outcome, Ok(CheckoutOutcome::Confirmed));
    let refused = shop
        .runner
        .force_compensate(
            &done,
            "too late",
            shop_eventstore::Actor::new("admin", "ops-7"),
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");
    // Nor retried: it has ended.
    let refused = shop
        .runner
        .retry(&done, shop_eventstore::Actor::new("admin", "ops-7"))
        .await;
    assert!(refused.is_err(), "{refused:?}");
}

#[test]
fn a_gateway_failure_says_which_checkout_and_why() {
    let error = shop_commands::checkout::CheckoutError::Gateway(
        OrderId::new("o42").unwrap(),
        shop_commands::gateway::GatewayError::Unavailable("connection refused".into()),
    );
    assert_eq!(
        error.to_string(),
        "checkout o42: the payment gateway failed: the payment gateway is unavailable: connection refused"
    );
}

#[tokio::test]
async fn a_compensation_that_fails_is_retried_until_it_succeeds() {
    use std::sync::atomic::Ordering;
    let (inner, _dir) = sqlite_store().await;
    let flaky = support::store::Instrumented::new(inner.clone());
    let store: Arc<dyn EventStore> = flaky.clone();
    let shop = shop_on(store, tempfile::tempdir().unwrap(), 10, 10).await;
    // Down until the expiry: `run` retries open sagas, and must not get through first.
    gateway_down(&shop);
    let (id, outcome) = checkout(&shop, 13, test_tokens::APPROVE).await;
    assert!(outcome.is_err(), "{outcome:?}");

    // The saga's stream is unwritable for a while: the compensation's first attempts fail
    // (the command handler's own retries included), and the runner must try again later.
    *flaky.fail_prefix.lock().unwrap() = "checkout-".into();
    flaky.fail_next.store(12, Ordering::SeqCst);
    let ended = past_expiry(&shop, &id).await;
    assert_eq!(
        flaky.fail_next.load(Ordering::SeqCst),
        0,
        "the outage was not hit"
    );
    assert_eq!(ended, Some(CheckoutOutcome::Cancelled));
    let a = stock(&shop, "A").await;
    assert_eq!((a.available(), a.reserved()), (10, 0));
}

/// Runs the runner's `run` (and the deadline scheduler) until `done` holds or 10 s pass.
async fn running_until<F, Fut>(shop: &Shop, runner: &CheckoutRunner, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = runner.deadlines().clone();
    let (s1, s2) = (stopped.clone(), stopped);
    let scheduling = tokio::spawn(async move { scheduler.run(s1).await.unwrap() });
    let r = runner.clone();
    let running = tokio::spawn(async move { r.run(s2).await.unwrap() });
    let _ = shop;
    let mut held = false;
    for _ in 0..500 {
        if done().await {
            held = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    scheduling.await.unwrap();
    running.await.unwrap();
    held
}

async fn cancel_order(shop: &Shop, id: &OrderId) {
    handler::<Order>(shop.store.clone())
        .handle(
            id,
            command(OrderCommand::CancelOrder {
                order_id: id.clone(),
                reason: shop_domain::order::CancelReason::CustomerRequest,
            }),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_confirmed_order_cancelled_before_shipping_gets_a_refund_and_its_stock_back() {
    let shop = shop(10, 10).await;
    let (id, outcome) = checkout(&shop, 21, test_tokens::APPROVE).await;
    assert_eq!(outcome, Ok(CheckoutOutcome::Confirmed));
    assert_eq!(stock(&shop, "A").await.committed(), 2);

    // The customer cancels; the runner learns it from the log.
    cancel_order(&shop, &id).await;
    let runner = shop.runner.clone();
    let ended = running_until(&shop, &shop.runner, || {
        let runner = runner.clone();
        let id = id.clone();
        async move { runner.state(&id).await.unwrap().outcome == Some(CheckoutOutcome::Cancelled) }
    })
    .await;
    assert!(ended, "{:#?}", shop.runner.state(&id).await.unwrap());

    let order = order(&shop, &id).await;
    assert_eq!(order.status(), OrderStatus::Cancelled);
    assert_eq!(order.refunded(), Some(eur(3_000)));
    assert_eq!(order.refundable(), Some(eur(0)));
    for (s, units) in [("A", 10), ("B", 10)] {
        let level = stock(&shop, s).await;
        assert_eq!(
            (level.available(), level.reserved(), level.committed()),
            (units, 0, 0),
            "{s}"
        );
    }
    let ledger = shop.gateway.ledger();
    assert_eq!(ledger.authorizations_of(&id), 1);
    let charge = &ledger.charges[0];
    assert_eq!((charge.captured, charge.refunded), (3_000, 3_000));
    let payment =
        fold::<shop_domain::payment::Payment>(&shop.store, "payment-pay-o21".into()).await;
    assert_eq!(payment.refunded().map(|m| m.amount), Some(3_000));

    // Driving again, or the cancellation redelivered, asks nothing new.
    let calls = shop.gateway.ledger().calls;
    shop.runner
        .order_cancelled(&id, shop_domain::order::CancelReason::CustomerRequest)
        .await
        .unwrap();
    shop.runner.drive(&id).await.unwrap();
    assert_eq!(shop.gateway.ledger().calls, calls);
}

#[tokio::test]
async fn an_order_cancelled_while_its_checkout_runs_is_compensated() {
    let shop = shop(10, 10).await;
    // The gateway is down: the saga waits with stock reserved.
    shop.gateway
        .inject(OperationKind::Authorize, Fault::Unavailable);
    let (id, outcome) = checkout(&shop, 22, test_tokens::APPROVE).await;
    assert!(outcome.is_err(), "{outcome:?}");
    assert_eq!(stock(&shop, "A").await.reserved(), 2);
    cancel_order(&shop, &id).await;
    let runner = shop.runner.clone();
    let ended = running_until(&shop, &shop.runner, || {
        let runner = runner.clone();
        let id = id.clone();
        async move { runner.state(&id).await.unwrap().outcome.is_some() }
    })
    .await;
    assert!(ended);
    assert_eq!(
        shop.runner.state(&id).await.unwrap().outcome,
        Some(CheckoutOutcome::Cancelled)
    );
    assert_eq!(stock(&shop, "A").await.reserved(), 0);
    assert_eq!(stock(&shop, "A").await.available(), 10);
    // The runner may have retried the payment before it read the cancellation: then the
    // authorization is voided. Nothing is captured either way.
    let ledger = shop.gateway.ledger();
    assert!(ledger.authorizations_of(&id) <= 1);
    assert!(
        ledger
            .charges
            .iter()
            .filter(|c| c.order_id == id)
            .all(|c| c.voided && c.captured == 0),
        "{ledger:?}"
    );
}

#[tokio::test]
async fn a_saga_whose_steps_keep_failing_is_retried_noted_stuck_and_then_recovers() {
    let shop = shop(10, 10).await;
    let runner = shop.runner.clone().with_retry(RetryPolicy {
        first: Duration::from_millis(10),
        at_most: Duration::from_millis(40),
        stuck_after: 3,
    });
    for _ in 0..5 {
        shop.gateway
            .inject(OperationKind::Authorize, Fault::Unavailable);
    }
    let (order_id, total) = place(
        &shop.store,
        23,
        &[CheckoutLine {
            sku: sku("A"),
            quantity: 1,
        }],
    )
    .await;
    let first = runner
        .start(
            &order_id,
            &PaymentId::new("pay-o23").unwrap(),
            vec![CheckoutLine {
                sku: sku("A"),
                quantity: 1,
            }],
            total,
            test_tokens::APPROVE,
        )
        .await;
    assert!(first.is_err());
    assert_eq!(runner.failing(), [(order_id.clone(), 1)]);
    let r = runner.clone();
    let ended = running_until(&shop, &runner, || {
        let r = r.clone();
        let id = order_id.clone();
        async move { r.state(&id).await.unwrap().outcome.is_some() }
    })
    .await;
    assert!(ended);
    let state = runner.state(&order_id).await.unwrap();
    assert_eq!(state.outcome, Some(CheckoutOutcome::Confirmed));
    assert!(!state.stuck, "progress clears the stuck mark");
    assert!(runner.failing().is_empty());
    let stream = StreamName::new(format!("checkout-{order_id}")).unwrap();
    let types: Vec<String> = shop
        .store
        .read_stream(&stream, ReadStream::forwards())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert!(
        types.iter().any(|t| t == "checkout.CheckoutStuck.v1"),
        "{types:?}"
    );
    assert_eq!(shop.gateway.ledger().authorizations_of(&order_id), 1);
}

#[tokio::test]
async fn two_runners_on_the_same_checkouts_charge_once() {
    // Runner A starts and drives checkouts inline; runner B, another instance (another
    // process), follows the log and drives the same sagas at the same time.
    let shop = shop(40, 40).await;
    let other = CheckoutRunner::new(
        shop.store.clone(),
        shop.clock.clone(),
        shop.gateway.clone(),
        HandlerConfig::default(),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let b = other.clone();
    let following = tokio::spawn(async move { b.run(stopped).await.unwrap() });
    let mut tasks = Vec::new();
    for n in 0..20u32 {
        let token = if n % 4 == 3 {
            test_tokens::DECLINE
        } else if n % 5 == 4 {
            test_tokens::TIMEOUT_AFTER_CHARGE
        } else {
            test_tokens::APPROVE
        };
        let (order_id, total) = place(
            &shop.store,
            100 + n,
            &[
                CheckoutLine {
                    sku: sku("A"),
                    quantity: 1,
                },
                CheckoutLine {
                    sku: sku("B"),
                    quantity: 1,
                },
            ],
        )
        .await;
        let runner = shop.runner.clone();
        tasks.push(tokio::spawn(async move {
            let lines = vec![
                CheckoutLine {
                    sku: sku("A"),
                    quantity: 1,
                },
                CheckoutLine {
                    sku: sku("B"),
                    quantity: 1,
                },
            ];
            let _ = runner
                .start(
                    &order_id,
                    &PaymentId::new(format!("pay-{order_id}")).unwrap(),
                    lines,
                    total,
                    token,
                )
                .await;
            order_id
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    // Both runners settle every saga.
    for id in &ids {
        let mut ended = false;
        for _ in 0..500 {
            if shop
                .runner
                .drive(id)
                .await
                .map(|s| s.outcome.is_some())
                .unwrap_or(false)
            {
                ended = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(ended, "{id} did not end");
    }
    stop.send(true).unwrap();
    following.await.unwrap();
    let ledger = shop.gateway.ledger();
    let mut confirmed = 0;
    for id in &ids {
        let state = shop.runner.state(id).await.unwrap();
        assert!(ledger.authorizations_of(id) <= 1, "{id} charged twice");
        let captured: i64 = ledger
            .charges
            .iter()
            .filter(|c| &c.order_id == id)
            .map(|c| c.captured)
            .sum();
        match state.outcome {
            Some(CheckoutOutcome::Confirmed) => {
                confirmed += 1;
                assert_eq!(captured, 2_000, "{id}");
                assert_eq!(order(&shop, id).await.status(), OrderStatus::Confirmed);
            }
            _ => {
                assert_eq!(captured, 0, "{id}");
            }
        }
    }
    for s in ["A", "B"] {
        let level = stock(&shop, s).await;
        assert_eq!(level.reserved(), 0);
        assert_eq!(level.committed(), confirmed);
        assert_eq!(level.available() + level.committed(), 40);
    }
}

#[tokio::test]
async fn the_process_managers_stop_when_their_stop_sender_is_dropped() {
    let shop = shop(1, 1).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (runner, scheduler) = (shop.runner.clone(), shop.runner.deadlines().clone());
    let expiry = shop_commands::reservations::ReservationExpiry::new(
        shop.store.clone(),
        shop.clock.clone(),
        HandlerConfig::default(),
    );
    let (a, b, c) = (stopped.clone(), stopped.clone(), stopped);
    let tasks = vec![
        tokio::spawn(async move { runner.run(a).await }),
        tokio::spawn(async move { scheduler.run(b).await }),
        tokio::spawn(async move { expiry.run(c).await }),
    ];
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(stop);
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("stopped, not spinning")
            .unwrap()
            .unwrap();
    }
}
