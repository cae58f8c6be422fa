//! Following the log from a checkpoint: the loop the process managers that react to events one
//! by one share. Events matching a filter are handed to a reaction in log order; a reaction that
//! fails is tried again with backoff before the next event, so the checkpoint never passes an
//! event whose reaction did not succeed (reactions must therefore be idempotent: derived command
//! ids). The checkpoint is saved every second and on stop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use shop_eventstore::{AllFilter, EventStore, Position, RecordedEvent, SubscribeAll};
use tokio::sync::watch;

use crate::checkpoint::StreamCheckpoint;

/// Follows `store`'s log after the checkpoint `name`, calling `react` for every event `filter`
/// lets through, until `stop` turns true (or its sender is dropped).
pub async fn follow<F, Fut>(
    store: Arc<dyn EventStore>,
    name: &str,
    filter: AllFilter,
    mut stop: watch::Receiver<bool>,
    react: F,
) -> anyhow::Result<()>
where
    F: Fn(RecordedEvent) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let checkpoint = StreamCheckpoint::new(store.clone(), name)?;
    let after = checkpoint.load().await?;
    let mut events = store.subscribe_all(SubscribeAll { after, filter });
    let mut handled: Option<Position> = after;
    let mut saved = after;
    let mut saves = tokio::time::interval(Duration::from_secs(1));
    saves.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *stop.borrow() {
            if let Some(position) = handled {
                checkpoint.save(position).await?;
            }
            return Ok(());
        }
        let next = tokio::select! {
            changed = stop.changed() => {
                // A dropped sender means stop, too (and would wake this at once forever).
                if changed.is_err() {
                    if let Some(position) = handled {
                        checkpoint.save(position).await?;
                    }
                    return Ok(());
                }
                continue;
            }
            _ = saves.tick() => {
                if handled != saved && let Some(position) = handled {
                    match checkpoint.save(position).await {
                        Ok(()) => saved = handled,
                        Err(e) => tracing::warn!(error = %e, follower = name, "saving a checkpoint failed"),
                    }
                }
                continue;
            }
            next = events.next() => next,
        };
        let Some(recorded) = next else {
            anyhow::bail!("{name}: the subscription ended");
        };
        let recorded = recorded?;
        let position = recorded.position;
        let mut wait = Duration::from_millis(50);
        loop {
            match react(recorded.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, follower = name, event = %recorded.event_type,
                        stream = %recorded.stream, "a reaction failed; trying again");
                }
            }
            if *stop.borrow() {
                break;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
        if *stop.borrow() {
            continue;
        }
        handled = Some(position);
    }
}
