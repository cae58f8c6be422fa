//! Checkout sagas for operators: one row per checkout with where it stands (`running`,
//! `compensating`, `confirmed`, `cancelled`, `payment_failed`), why it compensates, and whether
//! its runner noted it stuck (its steps keep failing; cleared by the saga's next progress).
//! Listed by state or stuck flag with keyset paging ([`sagas_by_state`], [`stuck_sagas`]). A
//! saga's timeline is the audit trail, which reads the checkout category too.

use async_trait::async_trait;
use shop_domain::checkout::{CheckoutEvent, CheckoutOutcome, CompensationReason};
use shop_eventstore::RecordedEvent;

use super::millis;
use crate::rows::{Rows, TableDef, TableRow, Value, text};
use crate::runner::{ApplyError, Projection};
use crate::store::{ReadStore, StoreError, keyset_of};
use crate::table;

table! {
    /// One checkout saga.
    pub struct SagaRow in "checkout_sagas" {
        key { order_id: String }
        fields {
            /// `running`, `compensating`, `confirmed`, `cancelled`, `payment_failed`.
            state: String,
            /// Why it compensates: `out_of_stock`, `payment_declined`, `expired`, `operator`,
            /// `order_cancelled`.
            reason: Option<String>,
            /// The runner's steps keep failing (`stuck_attempts` times so far).
            stuck: bool,
            stuck_attempts: i64,
            last_error: Option<String>,
            /// Operators' retries.
            retries: i64,
            payment_id: String,
            /// Minor units and currency.
            amount: i64,
            currency: String,
            started_at: i64,
            expires_at: i64,
            updated_at: i64,
        }
        indexes [["state", "order_id"], ["stuck", "order_id"]]
    }
}

/// The operators' saga read model.
#[derive(Debug, Clone, Copy)]
pub struct SagasModel;

fn reason_code(reason: &CompensationReason) -> &'static str {
    match reason {
        CompensationReason::OutOfStock { .. } => "out_of_stock",
        CompensationReason::PaymentDeclined { .. } => "payment_declined",
        CompensationReason::Expired => "expired",
        CompensationReason::Operator { .. } => "operator",
        CompensationReason::OrderCancelled { .. } => "order_cancelled",
    }
}

fn outcome_code(outcome: &CheckoutOutcome) -> &'static str {
    match outcome {
        CheckoutOutcome::Confirmed => "confirmed",
        CheckoutOutcome::Cancelled => "cancelled",
        CheckoutOutcome::PaymentFailed => "payment_failed",
    }
}

#[async_trait]
impl Projection for SagasModel {
    fn name(&self) -> &'static str {
        "checkout_sagas"
    }

    fn tables(&self) -> &'static [&'static TableDef] {
        &[SagaRow::TABLE]
    }

    fn categories(&self) -> &'static [&'static str] {
        &["checkout"]
    }

    async fn apply(&self, event: &RecordedEvent, rows: &mut Rows<'_>) -> Result<(), ApplyError> {
        let at = millis(event.metadata.occurred_at);
        let decoded = rows.decode::<CheckoutEvent>(event)?;
        let Some(order_id) = event.stream.as_str().strip_prefix("checkout-") else {
            return Err(ApplyError::Poison(format!(
                "{} in stream {}, not a checkout stream",
                event.event_type, event.stream
            )));
        };
        if let CheckoutEvent::CheckoutStarted {
            payment_id,
            amount,
            at: started,
            expires_at,
            ..
        } = &*decoded
        {
            rows.put(SagaRow {
                order_id: order_id.to_owned(),
                state: "running".into(),
                reason: None,
                stuck: false,
                stuck_attempts: 0,
                last_error: None,
                retries: 0,
                payment_id: payment_id.to_string(),
                amount: amount.amount,
                currency: amount.currency.to_string(),
                started_at: millis(*started),
                expires_at: millis(*expires_at),
                updated_at: at,
            });
            return Ok(());
        }
        let Some(mut row) = rows.get::<SagaRow>(vec![text(order_id)]).await? else {
            return Err(ApplyError::Poison(format!(
                "{} for checkout {order_id}, which never started",
                event.event_type
            )));
        };
        match &*decoded {
            CheckoutEvent::CheckoutStuck {
                error, attempts, ..
            } => {
                row.stuck = true;
                row.stuck_attempts = i64::from(*attempts);
                row.last_error = Some(error.clone());
            }
            CheckoutEvent::RetryRequested { .. } => row.retries += 1,
            other => {
                row.stuck = false;
                match other {
                    CheckoutEvent::CompensationStarted { reason, .. } => {
                        row.state = "compensating".into();
                        row.reason = Some(reason_code(reason).into());
                    }
                    CheckoutEvent::CheckoutCompleted { outcome, .. } => {
                        row.state = outcome_code(outcome).into();
                    }
                    _ => {}
                }
            }
        }
        row.updated_at = at;
        rows.put(row);
        Ok(())
    }
}

/// Up to `limit` sagas in `state`, by order id, after the order id `after` (`None`: from the
/// first); pass the last one's id to get the next page.
pub async fn sagas_by_state(
    store: &dyn ReadStore,
    state: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<SagaRow>, StoreError> {
    list(store, "state", text(state), after, limit).await
}

/// Up to `limit` stuck sagas, by order id, after the order id `after`.
pub async fn stuck_sagas(
    store: &dyn ReadStore,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<SagaRow>, StoreError> {
    list(store, "stuck", Value::Bool(true), after, limit).await
}

async fn list(
    store: &dyn ReadStore,
    column: &'static str,
    value: Value,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<SagaRow>, StoreError> {
    let def = SagaRow::TABLE;
    let cursor = vec![value.clone(), text(after.unwrap_or(""))];
    let rows = store
        .page(def, def.name, &[column], Some(&cursor), limit)
        .await?;
    let mut sagas = Vec::with_capacity(rows.len());
    for row in rows {
        // The page runs on past the value asked for: stop at the first other one.
        let keyset = keyset_of(def, &[column], &row)?;
        if keyset.first() != Some(&value) {
            break;
        }
        sagas.push(SagaRow::from_row(row).map_err(|e| StoreError::Invalid(e.to_string()))?);
    }
    Ok(sagas)
}
