//! What happened to an order: its payments with their ledgers (customers: their own; admins and
//! auditors: all) and its complete event trail (auditors, admins).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Serialize;
use shop_projections::models::audit::AuditRow;
use shop_projections::models::payments::{LedgerRow, PaymentRow};
use shop_projections::rows::text;
use utoipa::ToSchema;

use super::AppState;
use super::cursor::{self, PageQuery};
use super::fresh::{Freshness, MinPosition, settle};
use super::input::{not_found, require, time};
use super::orders::{all, may_see, order_id, order_row};
use super::output::Read;
use crate::auth::{Caller, Role};
use crate::problem::Problem;

/// A payment entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    /// `authorization_requested`, `authorized`, `declined`, `captured`, `voided`, `refunded`, …
    pub kind: String,
    /// Minor units.
    pub amount: Option<i64>,
    /// The provider's reference.
    pub reference: Option<String>,
    /// When.
    pub at: String,
}

/// A payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    /// The payment.
    pub payment_id: String,
    /// Its status.
    pub status: String,
    /// Currency.
    pub currency: String,
    /// Asked for.
    pub requested: i64,
    /// Authorized.
    pub authorized: i64,
    /// Captured.
    pub captured: i64,
    /// Refunded.
    pub refunded: i64,
    /// The last decline.
    pub last_decline: Option<String>,
    /// Its ledger, oldest first.
    pub ledger: Vec<LedgerEntry>,
}

/// An order's payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct Payments {
    /// The order.
    pub order_id: String,
    /// Its payments.
    pub payments: Vec<PaymentView>,
}

/// An order's payments with their ledgers (customers: their own; admins and auditors: all).
#[utoipa::path(get, path = "/orders/{order_id}/payments", tag = "payments",
    params(("order_id" = String, Path)),
    responses((status = 200, description = "Payments", body = Payments)),
    security(("bearer" = [])))]
pub async fn payments(
    State(app): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    min: MinPosition,
) -> Result<Read<Payments>, Problem> {
    require(&caller, &[Role::Customer, Role::Admin, Role::Auditor])?;
    let id = order_id(&id)?;
    let freshness = settle(&app, "payments", min).await;
    let row = order_row(&app, &id)
        .await?
        .ok_or_else(|| not_found("order"))?;
    if !may_see(
        &app,
        Some(&caller),
        &headers,
        row.customer_id.as_deref(),
        row.cart_id.as_deref(),
    )
    .await?
    {
        return Err(not_found("order"));
    }
    let rows = cursor::page::<PaymentRow>(
        app.reads.as_ref(),
        &["order_id"],
        vec![text(id.as_str())],
        &all(),
    )
    .await?;
    let mut payments = Vec::new();
    for p in rows.rows {
        let ledger = cursor::page::<LedgerRow>(
            app.reads.as_ref(),
            &["payment_id"],
            vec![text(p.payment_id.as_str())],
            &all(),
        )
        .await?;
        payments.push(PaymentView {
            payment_id: p.payment_id,
            status: p.status,
            currency: p.currency,
            requested: p.requested,
            authorized: p.authorized,
            captured: p.captured,
            refunded: p.refunded,
            last_decline: p.last_decline,
            ledger: ledger
                .rows
                .into_iter()
                .map(|l| LedgerEntry {
                    kind: l.kind,
                    amount: l.amount,
                    reference: l.reference,
                    at: time(l.at),
                })
                .collect(),
        });
    }
    Ok(Read::new(
        Payments {
            order_id: id.as_str().to_owned(),
            payments,
        },
        freshness,
    ))
}

/// One event of an order's trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Global position.
    pub position: String,
    /// Stream.
    pub stream: String,
    /// Revision in the stream.
    pub revision: i64,
    /// Event type.
    pub event_type: String,
    /// Event id.
    pub event_id: String,
    /// When it happened.
    pub occurred_at: String,
    /// When it was recorded.
    pub recorded_at: String,
    /// Who (kind:id).
    pub actor: String,
    /// Correlation id.
    pub correlation_id: String,
    /// Causation id.
    pub causation_id: String,
}

/// A page of an order's trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// In log order.
    pub items: Vec<AuditEntry>,
    /// The next page's cursor.
    pub next_cursor: Option<String>,
}

/// An order's complete trail: every event of the order, its payment, stock and saga (auditors
/// and admins).
#[utoipa::path(get, path = "/orders/{order_id}/audit", tag = "orders",
    params(("order_id" = String, Path), PageQuery),
    responses((status = 200, description = "The trail", body = AuditPage)),
    security(("bearer" = [])))]
pub async fn audit(
    State(app): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    min: MinPosition,
    Query(page): Query<PageQuery>,
) -> Result<Read<AuditPage>, Problem> {
    require(&caller, &[Role::Auditor, Role::Admin])?;
    let id = order_id(&id)?;
    let freshness: Freshness = settle(&app, "order_audit", min).await;
    let rows = cursor::page::<AuditRow>(
        app.reads.as_ref(),
        &["order_id"],
        vec![text(id.as_str())],
        &page,
    )
    .await?;
    if rows.rows.is_empty() && page.cursor.is_none() {
        return Err(not_found("order"));
    }
    Ok(Read::new(
        AuditPage {
            items: rows
                .rows
                .into_iter()
                .map(|r| AuditEntry {
                    position: format!("{}.{}", r.commit_pos, r.prepare_pos),
                    stream: r.stream,
                    revision: r.revision,
                    event_type: r.event_type,
                    event_id: r.event_id,
                    occurred_at: time(r.occurred_at),
                    recorded_at: time(r.recorded_at),
                    actor: format!("{}:{}", r.actor_kind, r.actor_id),
                    correlation_id: r.correlation_id,
                    causation_id: r.causation_id,
                })
                .collect(),
            next_cursor: rows.next_cursor,
        },
        freshness,
    ))
}
