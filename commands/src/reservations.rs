//! Reservation expiry (ADR 0009): every reservation made outside a checkout saga (an
//! administrator's hold, a client of the inventory commands) gets a durable deadline at its
//! `expires_at`; when it fires, the reservation is released with reason `expired` unless it was
//! committed or released meanwhile. The checkout saga's own reservations are covered by the
//! saga's expiry deadline, which releases them with the rest of its compensation, so they get
//! none here (the saga is their owner, and two deadlines per line would double the writes).
//!
//! [`ReservationExpiry::run`] follows the log from its checkpoint (`checkpoint-reservation-expiry`)
//! for reservations, their commits and releases (which call the deadline off), and fired
//! deadlines. Run it beside a [`DeadlineScheduler`]. Every command it sends has an id derived from
//! the reservation, so several instances and redelivered events change nothing twice.

use std::sync::Arc;

use shop_domain::deadline::DeadlineEvent;
use shop_domain::inventory::{Inventory, InventoryCommand, InventoryEvent, ReleaseReason};
use shop_domain::{DeadlineId, OrderId, Sku};
use shop_eventstore::{Actor, AllFilter, EventStore, RecordedEvent};
use tokio::sync::watch;
use uuid::Uuid;

use crate::deadlines::{DeadlineScheduler, SchedulerOptions};
use crate::{Clock, Command, CommandError, CommandHandler, HandlerConfig, codec};

/// The purpose of a reservation's expiry deadline.
pub const RESERVATION_EXPIRY_PURPOSE: &str = "inventory.reservation-expiry";
/// The subscriber name of the checkpoint.
pub const CHECKPOINT_NAME: &str = "reservation-expiry";
/// Names the ids of this process manager's commands.
const NAMESPACE: Uuid = Uuid::from_u128(0x9b1e_24c3_70d4_4f0a_8e5b_6c7d_8e9f_0a1b);
/// The actor whose reservations need no deadline here (the saga expires its own).
const SAGA_ACTOR: &str = "checkout-saga";

fn actor() -> Actor {
    Actor::system("reservation-expiry")
}

fn command_id(step: &str, sku: &Sku, order_id: &OrderId) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{step}|{sku}|{order_id}").as_bytes())
}

/// The expiry deadline of the reservation of `sku` for `order_id`: a fixed-length id derived
/// from both (they may hold any id character, so joining them could collide).
pub fn reservation_deadline(sku: &Sku, order_id: &OrderId) -> DeadlineId {
    let key = Uuid::new_v5(&NAMESPACE, format!("{sku}\n{order_id}").as_bytes());
    DeadlineId::new(format!("reservation-{}", key.simple())).expect("a valid deadline id")
}

/// The deadline's subject: the SKU's stream and the order, joined by `#` (no id holds one).
fn subject(sku: &Sku, order_id: &OrderId) -> String {
    format!("inventory-{sku}#{order_id}")
}

fn parse_subject(subject: &str) -> Option<(Sku, OrderId)> {
    let (stream, order) = subject.rsplit_once('#')?;
    let sku = stream.strip_prefix("inventory-")?;
    Some((Sku::new(sku).ok()?, OrderId::new(order).ok()?))
}

/// Releases abandoned reservations (see the module doc).
#[derive(Clone)]
pub struct ReservationExpiry {
    store: Arc<dyn EventStore>,
    inventory: CommandHandler<Inventory>,
    deadlines: DeadlineScheduler,
}

impl std::fmt::Debug for ReservationExpiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReservationExpiry").finish_non_exhaustive()
    }
}

impl ReservationExpiry {
    /// Over `store`, with time from `clock`.
    pub fn new(store: Arc<dyn EventStore>, clock: Arc<dyn Clock>, config: HandlerConfig) -> Self {
        Self {
            inventory: CommandHandler::new(store.clone(), clock.clone(), config.clone()),
            deadlines: DeadlineScheduler::new(
                store.clone(),
                clock,
                SchedulerOptions {
                    handler: config,
                    ..SchedulerOptions::default()
                },
            ),
            store,
        }
    }

    /// The scheduler its deadlines are set with (run it, or another over the same store, to
    /// have them fire).
    pub fn deadlines(&self) -> &DeadlineScheduler {
        &self.deadlines
    }

    /// Reacts to one event; an error leaves the event to be handled again.
    async fn react(&self, event: &RecordedEvent) -> anyhow::Result<()> {
        if event.stream.as_str().starts_with("deadline-") {
            let Ok(DeadlineEvent::DeadlineFired {
                purpose, subject, ..
            }) = codec::decode::<DeadlineEvent>(&event.event_type, &event.data)
            else {
                return Ok(());
            };
            if purpose != RESERVATION_EXPIRY_PURPOSE {
                return Ok(());
            }
            let Some((sku, order_id)) = parse_subject(&subject) else {
                tracing::warn!(%subject, "a reservation deadline with an unreadable subject");
                return Ok(());
            };
            let release = InventoryCommand::ReleaseReservation {
                sku: sku.clone(),
                order_id: order_id.clone(),
                reason: ReleaseReason::Expired,
            };
            let command = Command::new(command_id("release", &sku, &order_id), release, actor());
            return match self.inventory.handle(&sku, command).await {
                Ok(_) => {
                    tracing::info!(%sku, %order_id, "released an expired reservation");
                    Ok(())
                }
                // Committed, released already, or gone: nothing to release.
                Err(CommandError::Rejected(rejection)) => {
                    tracing::debug!(%sku, %order_id, %rejection, "expired reservation not released");
                    Ok(())
                }
                Err(e) => Err(e.into()),
            };
        }
        // The saga expires its own reservations.
        if event.metadata.actor.kind == "system" && event.metadata.actor.id == SAGA_ACTOR {
            return Ok(());
        }
        match codec::decode::<InventoryEvent>(&event.event_type, &event.data)? {
            InventoryEvent::StockReserved {
                sku,
                order_id,
                expires_at,
                ..
            } => {
                self.deadlines
                    .schedule(
                        command_id("schedule", &sku, &order_id),
                        &reservation_deadline(&sku, &order_id),
                        expires_at,
                        RESERVATION_EXPIRY_PURPOSE,
                        &subject(&sku, &order_id),
                        actor(),
                    )
                    .await?;
            }
            InventoryEvent::ReservationCommitted { sku, order_id, .. }
            | InventoryEvent::ReservationReleased { sku, order_id, .. } => {
                let cancelled = self
                    .deadlines
                    .cancel(
                        command_id("cancel", &sku, &order_id),
                        &reservation_deadline(&sku, &order_id),
                        "the reservation was committed or released",
                        actor(),
                    )
                    .await;
                // Refused: never scheduled (a saga's) or fired already.
                match cancelled {
                    Ok(_) | Err(CommandError::Rejected(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Follows the log until `stop` (see the module doc). An event whose reaction fails is tried
    /// again, with backoff, before the next one: the checkpoint never passes it.
    pub async fn run(&self, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let filter = AllFilter::stream_prefixes(["inventory-", "deadline-"]).with_event_types([
            "inventory.StockReserved.v1",
            "inventory.ReservationCommitted.v1",
            "inventory.ReservationReleased.v1",
            "deadline.DeadlineFired.v1",
        ]);
        crate::follower::follow(self.store.clone(), CHECKPOINT_NAME, filter, stop, |event| {
            let this = self.clone();
            async move { this.react(&event).await }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_subject_names_the_sku_and_the_order() {
        let sku = Sku::new("TEE-RED:M").unwrap();
        let order = OrderId::new("o.1-2").unwrap();
        assert_eq!(
            parse_subject(&subject(&sku, &order)),
            Some((sku.clone(), order.clone()))
        );
        assert_ne!(
            reservation_deadline(&sku, &order),
            reservation_deadline(
                &Sku::new("TEE-RED").unwrap(),
                &OrderId::new("M:o.1-2").unwrap()
            )
        );
        assert_eq!(parse_subject("inventory-A"), None);
    }
}
