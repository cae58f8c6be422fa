//! Reservation expiry outside a checkout: a reservation nobody commits or releases is released
//! by its durable deadline once it expires; a committed one is left alone; the saga's own
//! reservations get no deadline here (the saga's expiry covers them).

mod support;

use std::sync::Arc;
use std::time::Duration;

use shop_commands::reservations::{ReservationExpiry, reservation_deadline};
use shop_commands::{Command, CommandHandler, HandlerConfig, ManualClock};
use shop_domain::OrderId;
use shop_domain::deadline::{Deadline, DeadlineState, DeadlineStatus};
use shop_domain::inventory::{Inventory, InventoryCommand, InventoryState};
use shop_eventstore::{Actor, EventStore};
use support::*;
use uuid::Uuid;

async fn reserve(
    inventory: &CommandHandler<Inventory>,
    order_id: &OrderId,
    quantity: u32,
    by: Actor,
) {
    let reserve = InventoryCommand::ReserveStock {
        sku: sku("A"),
        order_id: order_id.clone(),
        quantity,
        expires_at: Some(t0() + chrono::Duration::minutes(15)),
    };
    inventory
        .handle(&sku("A"), Command::new(Uuid::new_v4(), reserve, by))
        .await
        .unwrap();
}

async fn expiry_on(store: Arc<dyn EventStore>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let inventory: CommandHandler<Inventory> =
        CommandHandler::new(store.clone(), clock.clone(), HandlerConfig::default());
    receive(&inventory, &sku("A"), 10).await;
    let abandoned = OrderId::new("hold-1").unwrap();
    let sold = OrderId::new("hold-2").unwrap();
    let sagas = OrderId::new("o-saga").unwrap();
    reserve(&inventory, &abandoned, 3, admin()).await;
    reserve(&inventory, &sold, 2, admin()).await;
    reserve(&inventory, &sagas, 1, Actor::system("checkout-saga")).await;
    let commit = InventoryCommand::CommitReservation {
        sku: sku("A"),
        order_id: sold.clone(),
    };
    inventory.handle(&sku("A"), command(commit)).await.unwrap();

    let expiry = ReservationExpiry::new(store.clone(), clock.clone(), HandlerConfig::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (s1, s2) = (stopped.clone(), stopped);
    let scheduler = expiry.deadlines().clone();
    let scheduling = tokio::spawn(async move { scheduler.run(s1).await.unwrap() });
    let e = expiry.clone();
    let following = tokio::spawn(async move { e.run(s2).await.unwrap() });

    // Before the expiry nothing is released; the abandoned hold gets its deadline.
    let deadline = format!("deadline-{}", reservation_deadline(&sku("A"), &abandoned));
    for _ in 0..500 {
        if fold::<Deadline>(&store, deadline.clone()).await != DeadlineState::default() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let level: InventoryState = fold::<Inventory>(&store, "inventory-A".into()).await;
    assert_eq!((level.reserved(), level.committed()), (4, 2));

    clock.advance(chrono::Duration::minutes(16));
    let mut released = false;
    for _ in 0..500 {
        let level = fold::<Inventory>(&store, "inventory-A".into()).await;
        if level.reserved() == 1 {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    scheduling.await.unwrap();
    following.await.unwrap();
    assert!(released, "the abandoned reservation was not released");
    let level = fold::<Inventory>(&store, "inventory-A".into()).await;
    // The saga's unit stays held (its saga releases it); the sold units stay sold.
    assert_eq!(
        (level.available(), level.reserved(), level.committed()),
        (7, 1, 2)
    );
    assert!(level.reservation(&sagas).is_some());
    // No deadline for the saga's reservation; the committed one's was called off.
    let saga_deadline = format!("deadline-{}", reservation_deadline(&sku("A"), &sagas));
    assert_eq!(
        fold::<Deadline>(&store, saga_deadline).await,
        DeadlineState::default()
    );
    let sold_deadline = fold::<Deadline>(
        &store,
        format!("deadline-{}", reservation_deadline(&sku("A"), &sold)),
    )
    .await;
    assert_eq!(
        sold_deadline.status,
        DeadlineStatus::Cancelled,
        "{sold_deadline:?}"
    );

    // A restarted instance starts after its checkpoint: nothing is released twice.
    let again = ReservationExpiry::new(store.clone(), clock, HandlerConfig::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let following = tokio::spawn(async move { again.run(stopped).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(true).unwrap();
    following.await.unwrap();
    let after = fold::<Inventory>(&store, "inventory-A".into()).await;
    assert_eq!(after, level);
}

#[tokio::test]
async fn an_abandoned_reservation_is_released_when_it_expires() {
    let (store, _dir) = sqlite_store().await;
    expiry_on(store).await;
}

#[tokio::test]
async fn an_abandoned_reservation_is_released_when_it_expires_on_postgres() {
    let Some((store, _)) = postgres_pair("reservation_expiry").await else {
        return;
    };
    expiry_on(store).await;
}
