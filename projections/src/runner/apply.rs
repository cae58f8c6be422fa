//! Applying a batch of events to a group of projections, shared by the live runner and rebuilds.
//!
//! The loop is event-major: each event goes to every projection that reads it before the next
//! event, so the event is decoded once (the working set keeps its decoded forms) however many
//! projections read it. Projections own disjoint tables, so their relative order does not matter.

use shop_eventstore::{Position, RecordedEvent};

use super::{PoisonPolicy, Projection, reads};
use crate::rows::{Changes, Decoded, Physical, RowCache, Rows};
use crate::store::{DeadLetter, ReadStore};

/// One projection of the group, as the batch sees it.
pub(crate) struct Target<'a> {
    pub projection: &'a dyn Projection,
    /// Events at or before this position were already applied.
    pub done: Option<Position>,
    /// Stopped at a poison event: no more events.
    pub halted: bool,
}

/// What a batch did, per target (same order as the targets).
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Events applied.
    pub applied: Vec<u64>,
    /// The newest position each target has dealt with (its new checkpoint), if it moved.
    pub last: Vec<Option<Position>>,
    /// Targets stopped at a poison event in this batch, with the reason.
    pub halts: Vec<(usize, String)>,
    /// Events set aside (policy `Park`).
    pub dead: Vec<DeadLetter>,
}

/// Applies `events` to every target that reads them, recording row changes in `changes`.
/// A transient failure (a row read) fails the whole batch: the caller discards `changes`.
pub(crate) async fn apply_events(
    targets: &mut [Target<'_>],
    events: &[RecordedEvent],
    db: &dyn ReadStore,
    physical: &Physical,
    cache: &mut RowCache,
    changes: &mut Changes,
) -> anyhow::Result<Applied> {
    let mut out = Applied {
        applied: vec![0; targets.len()],
        last: vec![None; targets.len()],
        ..Applied::default()
    };
    let mut decoded = Decoded::default();
    for event in events {
        for (i, target) in targets.iter_mut().enumerate() {
            if target.halted || target.done.is_some_and(|d| event.position <= d) {
                continue;
            }
            if reads(target.projection, event) {
                changes.begin_event();
                let mut rows = Rows::new(db, physical, cache, changes, &mut decoded);
                match target.projection.apply(event, &mut rows).await {
                    Ok(()) => out.applied[i] += 1,
                    Err(e) if e.is_poison() => {
                        changes.rollback_event();
                        let error = e.to_string();
                        match target.projection.poison_policy() {
                            PoisonPolicy::Park => out.dead.push(DeadLetter {
                                projection: target.projection.name().to_owned(),
                                position: event.position,
                                event_id: event.event_id,
                                stream: event.stream.to_string(),
                                event_type: event.event_type.clone(),
                                error,
                            }),
                            PoisonPolicy::Stop => {
                                target.halted = true;
                                out.halts.push((
                                    i,
                                    format!(
                                        "stopped at {} ({} in {}): {error}",
                                        event.position, event.event_type, event.stream
                                    ),
                                ));
                                continue;
                            }
                        }
                    }
                    Err(e) => {
                        return Err(anyhow::Error::new(e).context(format!(
                            "projection {} at {}",
                            target.projection.name(),
                            event.position
                        )));
                    }
                }
            }
            out.last[i] = Some(event.position);
        }
    }
    Ok(out)
}
