//! Payments read model: per payment its amounts (authorized, captured, voided, refunded) and
//! status, and a ledger of every gateway result, per order.

use async_trait::async_trait;
use shop_domain::payment::PaymentEvent;
use shop_eventstore::RecordedEvent;

use super::millis;
use crate::rows::{Rows, TableDef, TableRow, text};
use crate::runner::{ApplyError, Projection};
use crate::table;

table! {
    /// A payment and its amounts.
    pub struct PaymentRow in "payments" {
        key { payment_id: String }
        fields {
            order_id: String,
            currency: String,
            /// `authorization_requested`, `authorized`, `declined`, `outcome_unknown`,
            /// `captured`, `voided`, `partially_refunded`, `refunded`.
            status: String,
            requested: i64,
            authorized: i64,
            captured: i64,
            voided: i64,
            refunded: i64,
            attempts: i64,
            last_decline: Option<String>,
            updated_at: i64,
        }
        indexes [["order_id"]]
    }
}

table! {
    /// One entry of a payment's ledger.
    pub struct LedgerRow in "payment_ledger" {
        append_only;
        key { payment_id: String, revision: i64 }
        fields {
            order_id: String,
            /// `authorization_requested`, `authorized`, `declined`, `outcome_unknown`,
            /// `captured`, `voided`, `refunded`.
            kind: String,
            amount: Option<i64>,
            currency: Option<String>,
            reference: Option<String>,
            at: i64,
        }
        indexes [["order_id", "at"]]
    }
}

/// The payments projection.
#[derive(Debug, Clone, Copy)]
pub struct PaymentsModel;

#[async_trait]
impl Projection for PaymentsModel {
    fn name(&self) -> &'static str {
        "payments"
    }

    fn rebuild_weight(&self) -> u32 {
        2
    }

    fn tables(&self) -> &'static [&'static TableDef] {
        &[PaymentRow::TABLE, LedgerRow::TABLE]
    }

    fn categories(&self) -> &'static [&'static str] {
        &["payment"]
    }

    async fn apply(&self, event: &RecordedEvent, rows: &mut Rows<'_>) -> Result<(), ApplyError> {
        let at = millis(event.metadata.occurred_at);
        let decoded = rows.decode::<PaymentEvent>(event)?;
        let id = decoded.payment_id().to_string();
        let existing = rows.get::<PaymentRow>(vec![text(&id)]).await?;
        let mut row = match (&*decoded, existing) {
            (_, Some(row)) => row,
            (
                PaymentEvent::AuthorizationRequested {
                    order_id, amount, ..
                },
                None,
            ) => PaymentRow {
                payment_id: id.clone(),
                order_id: order_id.to_string(),
                currency: amount.currency.to_string(),
                status: String::new(),
                requested: 0,
                authorized: 0,
                captured: 0,
                voided: 0,
                refunded: 0,
                attempts: 0,
                last_decline: None,
                updated_at: at,
            },
            (_, None) => {
                return Err(ApplyError::Poison(format!(
                    "{} for payment {id}, which has no authorization request",
                    event.event_type
                )));
            }
        };
        let (kind, amount, reference) = match &*decoded {
            PaymentEvent::AuthorizationRequested {
                amount,
                idempotency_key,
                ..
            } => {
                row.requested = amount.amount;
                row.attempts += 1;
                (
                    "authorization_requested",
                    Some(amount.amount),
                    Some(idempotency_key.clone()),
                )
            }
            PaymentEvent::PaymentAuthorized {
                amount,
                gateway_reference,
                ..
            } => {
                row.authorized = amount.amount;
                (
                    "authorized",
                    Some(amount.amount),
                    Some(gateway_reference.clone()),
                )
            }
            PaymentEvent::PaymentDeclined { code, message, .. } => {
                row.last_decline = Some(format!("{code}: {message}"));
                ("declined", None, Some(code.clone()))
            }
            PaymentEvent::AuthorizationOutcomeUnknown { detail, .. } => {
                ("outcome_unknown", None, Some(detail.clone()))
            }
            PaymentEvent::PaymentCaptured {
                amount,
                gateway_reference,
                ..
            } => {
                row.captured = amount.amount;
                (
                    "captured",
                    Some(amount.amount),
                    Some(gateway_reference.clone()),
                )
            }
            PaymentEvent::PaymentVoided {
                authorized,
                gateway_reference,
                ..
            } => {
                row.voided = authorized.amount;
                (
                    "voided",
                    Some(authorized.amount),
                    Some(gateway_reference.clone()),
                )
            }
            PaymentEvent::PaymentRefunded {
                amount,
                total_refunded,
                gateway_reference,
                ..
            } => {
                row.refunded = total_refunded.amount;
                (
                    "refunded",
                    Some(amount.amount),
                    Some(gateway_reference.clone()),
                )
            }
        };
        row.status = match kind {
            "refunded" if row.refunded < row.captured => "partially_refunded".to_owned(),
            other => other.to_owned(),
        };
        row.updated_at = at;
        rows.append(LedgerRow {
            payment_id: id,
            revision: event.revision as i64,
            order_id: row.order_id.clone(),
            kind: kind.to_owned(),
            amount,
            currency: amount.map(|_| row.currency.clone()),
            reference,
            at,
        });
        rows.put(row);
        Ok(())
    }
}
