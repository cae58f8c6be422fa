//! Order audit trail: every event that touched an order, across streams (the order itself, its
//! payment, its stock reservations, the cart checked out into it, its checkout saga), in log
//! order, with time, actor, correlation and causation ids. Events name their order in their data
//! (`order_id`); saga and order streams are named after it.

use async_trait::async_trait;
use shop_eventstore::RecordedEvent;

use super::{millis, uuid_text};
use crate::rows::{Rows, TableDef, TableRow};
use crate::runner::{ApplyError, Projection};
use crate::table;

table! {
    /// One event in an order's trail.
    pub struct AuditRow in "order_audit" {
        append_only;
        key { order_id: String, commit_pos: i64, prepare_pos: i64 }
        fields {
            stream: String,
            revision: i64,
            event_type: String,
            event_id: String,
            occurred_at: i64,
            recorded_at: i64,
            actor_kind: String,
            actor_id: String,
            correlation_id: String,
            causation_id: String,
        }
        // Read by order only (an order's trail, the saga's timeline), which the key serves. No
        // index on correlation_id: nothing looks rows up by it, and on 800,000 rows it was
        // most of a rebuild's switch (0.7 s of 1.2 s on SQLite) and a second random B-tree
        // insert for every live event. Add it with the query that needs it.
        indexes []
    }
}

/// The audit-trail projection.
#[derive(Debug, Clone, Copy)]
pub struct OrderAudit;

/// The order an event belongs to, if any.
fn order_of(event: &RecordedEvent) -> Result<Option<String>, ApplyError> {
    let stream = event.stream.as_str();
    for category in ["order-", "checkout-"] {
        if let Some(id) = stream.strip_prefix(category) {
            return Ok(Some(id.to_owned()));
        }
    }
    // Only the order id is needed: a borrowed field and every other one skipped, so the event is
    // scanned without building a tree.
    #[derive(serde::Deserialize)]
    struct OrderRef<'a> {
        #[serde(borrow, default)]
        order_id: Option<std::borrow::Cow<'a, str>>,
    }
    let data: OrderRef<'_> = serde_json::from_slice(event.data.as_bytes())
        .map_err(|e| ApplyError::Poison(format!("{}: {e}", event.event_type)))?;
    Ok(data.order_id.map(std::borrow::Cow::into_owned))
}

#[async_trait]
impl Projection for OrderAudit {
    fn name(&self) -> &'static str {
        "order_audit"
    }

    fn rebuild_weight(&self) -> u32 {
        3
    }

    fn tables(&self) -> &'static [&'static TableDef] {
        &[AuditRow::TABLE]
    }

    fn categories(&self) -> &'static [&'static str] {
        &["order", "payment", "inventory", "cart", "checkout"]
    }

    fn decodes(&self) -> &'static [&'static str] {
        // It only scans events for their order id.
        &[]
    }

    async fn apply(&self, event: &RecordedEvent, rows: &mut Rows<'_>) -> Result<(), ApplyError> {
        let Some(order_id) = order_of(event)? else {
            return Ok(());
        };
        let m = &event.metadata;
        rows.append(AuditRow {
            order_id,
            commit_pos: event.position.commit() as i64,
            prepare_pos: event.position.prepare() as i64,
            stream: event.stream.as_str().to_owned(),
            revision: event.revision as i64,
            event_type: event.event_type.clone(),
            event_id: uuid_text(&event.event_id),
            occurred_at: millis(m.occurred_at),
            recorded_at: millis(event.recorded_at),
            actor_kind: m.actor.kind.clone(),
            actor_id: m.actor.id.clone(),
            correlation_id: uuid_text(&m.correlation_id),
            causation_id: uuid_text(&m.causation_id),
        });
        Ok(())
    }
}
