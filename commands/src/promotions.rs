//! Promotion release: a promotion code redeemed at checkout is given back when its order does not
//! go through (the payment failed, or the order was cancelled: out of stock, expired, by the
//! customer or an admin), so a declined card does not use up a customer's one-time code.
//!
//! [`PromotionRelease::run`] follows the log from its checkpoint (`checkpoint-promotion-release`)
//! for `order.PaymentFailed` and `order.OrderCancelled`, reads the order's promotion code from its
//! stream, and releases that order's redemption. The release's command id is derived from the
//! order, and releasing what was never redeemed (or was released already) changes nothing, so
//! redelivered events and several instances are harmless.

use std::sync::Arc;

use shop_domain::order::{Order, OrderEvent};
use shop_domain::promotion::{Promotion, PromotionCommand};
use shop_eventstore::{Actor, AllFilter, EventStore, RecordedEvent};
use tokio::sync::watch;
use uuid::Uuid;

use crate::{Clock, Command, CommandError, CommandHandler, HandlerConfig, codec};

/// The subscriber name of the checkpoint.
pub const CHECKPOINT_NAME: &str = "promotion-release";
/// Names the ids of this process manager's commands.
const NAMESPACE: Uuid = Uuid::from_u128(0x51c0_de4a_7b2e_4d91_a3f6_0e8b_2c7d_9f14);

fn actor() -> Actor {
    Actor::system("promotion-release")
}

/// Gives promotion codes back when their orders fail (see the module doc).
#[derive(Clone)]
pub struct PromotionRelease {
    store: Arc<dyn EventStore>,
    orders: CommandHandler<Order>,
    promotions: CommandHandler<Promotion>,
}

impl std::fmt::Debug for PromotionRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromotionRelease").finish_non_exhaustive()
    }
}

impl PromotionRelease {
    /// Over `store`, with time from `clock`.
    pub fn new(store: Arc<dyn EventStore>, clock: Arc<dyn Clock>, config: HandlerConfig) -> Self {
        Self {
            orders: CommandHandler::new(store.clone(), clock.clone(), config.clone()),
            promotions: CommandHandler::new(store.clone(), clock, config),
            store,
        }
    }

    /// Reacts to one event; an error leaves it to be handled again.
    async fn react(&self, event: &RecordedEvent) -> anyhow::Result<()> {
        // An event this version cannot read is logged and passed over: retrying it forever
        // would hold back every release after it.
        let decoded = match codec::decode::<OrderEvent>(&event.event_type, &event.data) {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::error!(stream = %event.stream, event = %event.event_type, error = %e,
                    "an order event the promotion release cannot read; passed over");
                return Ok(());
            }
        };
        let (order_id, reason) = match decoded {
            OrderEvent::PaymentFailed { order_id, .. } => (order_id, "the payment failed"),
            OrderEvent::OrderCancelled { order_id, .. } => (order_id, "the order was cancelled"),
            _ => return Ok(()),
        };
        let (order, _) = self.orders.load(&order_id).await?;
        let Some(code) = order.promo_code().cloned() else {
            return Ok(());
        };
        let release = PromotionCommand::ReleaseRedemption {
            order_id: order_id.clone(),
            reason: reason.to_owned(),
        };
        let id = Uuid::new_v5(&NAMESPACE, format!("release|{code}|{order_id}").as_bytes());
        let command = Command::new(id, release, actor()).correlated(event.metadata.correlation_id);
        match self.promotions.handle(&code, command).await {
            Ok(outcome) => {
                if outcome.events_written > 0 {
                    tracing::info!(%code, %order_id, reason, "gave a promotion code back");
                }
                Ok(())
            }
            Err(CommandError::Rejected(rejection)) => {
                tracing::warn!(%code, %order_id, %rejection, "a promotion redemption was not released");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Follows the log until `stop` (see the module doc).
    pub async fn run(&self, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let filter = AllFilter::stream_prefixes(["order-"])
            .with_event_types(["order.PaymentFailed.v1", "order.OrderCancelled.v1"]);
        crate::follower::follow(self.store.clone(), CHECKPOINT_NAME, filter, stop, |event| {
            let this = self.clone();
            async move { this.react(&event).await }
        })
        .await
    }
}
