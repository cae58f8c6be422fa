//! Orders and payments. Customers list and read their own orders (a guest reads a guest order
//! with the token of the cart it came from) and cancel them; admins and auditors read every
//! order; admins ship, deliver, cancel and refund. An order someone may not see is answered 404.
//! Auditors read an order's complete event trail.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use shop_commands::gateway::{GatewayOutcome, RefundRequest};
use shop_domain::cart::CartOwner;
use shop_domain::inventory::InventoryCommand;
use shop_domain::order::{CancelReason, OrderCommand, RefundId};
use shop_domain::payment::PaymentCommand;
use shop_domain::{Money, OrderId};
use shop_projections::models::audit::AuditRow;
use shop_projections::models::orders::{OrderLineRow, OrderRow, TimelineRow};
use shop_projections::models::payments::{LedgerRow, PaymentRow};
use shop_projections::rows::{TableRow, text};
use utoipa::ToSchema;

use super::AppState;
use super::catalog::{Ack, MoneyBody};
use super::cursor::{self, PageQuery};
use super::fresh::{Freshness, MinPosition, settle};
use super::input::{Admin, Body, MaybeCaller, Write, actor, invalid_id, not_found, require, time};
use super::output::{Read, Written};
use crate::auth::{Caller, Role};
use crate::problem::Problem;

fn order_id(id: &str) -> Result<OrderId, Problem> {
    OrderId::new(id).map_err(|e| invalid_id("order id", e))
}

/// May the caller see an order of `customer_id` from `cart_id`?
async fn may_see(
    app: &AppState,
    caller: Option<&Caller>,
    headers: &HeaderMap,
    customer_id: Option<&str>,
    cart_id: Option<&str>,
) -> Result<bool, Problem> {
    match caller {
        Some(c) if matches!(c.role, Role::Admin | Role::Auditor) => Ok(true),
        Some(c) if c.role == Role::Customer => Ok(customer_id == Some(c.subject.as_str())),
        Some(_) => Ok(false),
        None => {
            // A guest order: the token of the cart it came from.
            let (Some(cart_id), None) = (cart_id, customer_id) else {
                return Ok(false);
            };
            let Ok(cart_id) = shop_domain::CartId::new(cart_id) else {
                return Ok(false);
            };
            let (cart, _) = app.carts.load(&cart_id).await?;
            Ok(matches!(cart.owner(), Some(owner @ CartOwner::Guest { .. })
                if super::carts::may_access(owner, None, headers)))
        }
    }
}

/// An order in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummary {
    /// The order.
    pub order_id: String,
    /// `placed`, `payment_pending`, `confirmed`, `shipped`, `delivered`, `payment_failed`,
    /// `cancelled`.
    pub status: String,
    /// What the customer pays.
    pub total: MoneyBody,
    /// Lines.
    pub line_count: i64,
    /// When placed.
    pub placed_at: String,
    /// Last change.
    pub updated_at: String,
}

fn money(amount: i64, currency: &str) -> MoneyBody {
    MoneyBody {
        amount,
        currency: shop_domain::Currency::parse(currency).unwrap_or(shop_domain::Currency::EUR),
    }
}

impl From<&OrderRow> for OrderSummary {
    fn from(r: &OrderRow) -> Self {
        Self {
            order_id: r.order_id.clone(),
            status: r.status.clone(),
            total: money(r.total, &r.currency),
            line_count: r.line_count,
            placed_at: time(r.placed_at),
            updated_at: time(r.updated_at),
        }
    }
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    /// Newest first (customers); most recently changed first (admins asking by status); by id
    /// otherwise.
    pub items: Vec<OrderSummary>,
    /// The next page's cursor.
    pub next_cursor: Option<String>,
}

/// Paging and, for admins and auditors, a status.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Admins and auditors: only orders in this status.
    pub status: Option<String>,
    /// Where the previous page ended.
    pub cursor: Option<String>,
    /// Rows per page, 1 to 100.
    pub limit: Option<usize>,
}

/// Customers: their orders. Admins and auditors: all orders (`?status=` to filter).
#[utoipa::path(get, path = "/orders", tag = "orders", params(OrderQuery),
    responses((status = 200, description = "A page", body = OrderPage)),
    security(("bearer" = [])))]
pub async fn list_orders(
    State(app): State<AppState>,
    caller: Caller,
    min: MinPosition,
    Query(query): Query<OrderQuery>,
) -> Result<Read<OrderPage>, Problem> {
    require(&caller, &[Role::Customer, Role::Admin, Role::Auditor])?;
    let freshness = settle(&app, "orders", min).await;
    let page_query = PageQuery {
        cursor: query.cursor,
        limit: query.limit,
    };
    let reads = app.reads.as_ref();
    let page = match (caller.role, query.status) {
        (Role::Customer, _) => {
            cursor::page_newest::<OrderRow>(
                reads,
                &["customer_id", "placed_at"],
                vec![text(caller.subject.as_str())],
                &page_query,
            )
            .await?
        }
        (_, Some(status)) => {
            cursor::page_newest::<OrderRow>(
                reads,
                &["status", "updated_at"],
                vec![text(status)],
                &page_query,
            )
            .await?
        }
        (_, None) => cursor::page::<OrderRow>(reads, &["order_id"], vec![], &page_query).await?,
    };
    Ok(Read::new(
        OrderPage {
            items: page.rows.iter().map(OrderSummary::from).collect(),
            next_cursor: page.next_cursor,
        },
        freshness,
    ))
}

/// An order line.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineView {
    /// SKU.
    pub sku: String,
    /// Product.
    pub product_id: String,
    /// Units.
    pub quantity: i64,
    /// Unit price.
    pub unit_price: MoneyBody,
    /// Units × price.
    pub subtotal: MoneyBody,
}

/// A step of an order's life.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// What happened (`OrderPlaced`, `OrderConfirmed`, `OrderShipped`, …).
    pub event: String,
    /// The status after it.
    pub status: String,
    /// Details (carrier and tracking, the cancellation reason, …).
    pub detail: Option<String>,
    /// When.
    pub at: String,
}

/// An order with its lines and status timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    /// Summary fields.
    #[serde(flatten)]
    pub summary: OrderSummary,
    /// Merchandise.
    pub subtotal: MoneyBody,
    /// Promotion discount.
    pub discount: MoneyBody,
    /// Tax.
    pub tax: MoneyBody,
    /// Shipping.
    pub shipping: MoneyBody,
    /// Captured so far.
    pub captured: MoneyBody,
    /// Refunded so far.
    pub refunded: MoneyBody,
    /// Shipping method.
    pub shipping_method: String,
    /// Shipping address (JSON object).
    #[schema(value_type = Object)]
    pub shipping_address: serde_json::Value,
    /// Promotion code.
    pub promo_code: Option<String>,
    /// Carrier, once shipped.
    pub carrier: Option<String>,
    /// Tracking number, once shipped.
    pub tracking_number: Option<String>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// Why payment failed.
    pub failure_reason: Option<String>,
    /// Lines.
    pub lines: Vec<OrderLineView>,
    /// Status changes, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

async fn order_row(app: &AppState, id: &OrderId) -> Result<Option<OrderRow>, Problem> {
    let def = OrderRow::TABLE;
    let row = app
        .reads
        .load(def, def.name, &[text(id.as_str())])
        .await
        .map_err(|e| Problem::internal(&e))?;
    row.map(|r| OrderRow::from_row(r).map_err(|e| Problem::internal(&e)))
        .transpose()
}

fn all() -> PageQuery {
    PageQuery {
        cursor: None,
        limit: Some(cursor::MAX_LIMIT),
    }
}

/// An order with its lines and timeline (`X-Cart-Token` for a guest order).
#[utoipa::path(get, path = "/orders/{order_id}", tag = "orders",
    params(("order_id" = String, Path),
        ("X-Cart-Token" = Option<String>, Header, description = "A guest order's cart token")),
    responses((status = 200, description = "The order", body = OrderView)),
    security(("bearer" = [])))]
pub async fn get_order(
    State(app): State<AppState>,
    Path(id): Path<String>,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    min: MinPosition,
) -> Result<Read<OrderView>, Problem> {
    let id = order_id(&id)?;
    let freshness = settle(&app, "orders", min).await;
    let row = order_row(&app, &id)
        .await?
        .ok_or_else(|| not_found("order"))?;
    if !may_see(
        &app,
        caller.as_ref(),
        &headers,
        row.customer_id.as_deref(),
        row.cart_id.as_deref(),
    )
    .await?
    {
        return Err(not_found("order"));
    }
    let prefix = vec![text(id.as_str())];
    let mut lines =
        cursor::page::<OrderLineRow>(app.reads.as_ref(), &["order_id"], prefix.clone(), &all())
            .await?
            .rows;
    lines.sort_by_key(|l| l.position);
    let timeline =
        cursor::page::<TimelineRow>(app.reads.as_ref(), &["order_id"], prefix, &all()).await?;
    let revision = super::output::revision_of::<shop_domain::order::Order>(&app, &id).await?;
    let c = row.currency.as_str();
    let view = OrderView {
        summary: OrderSummary::from(&row),
        subtotal: money(row.subtotal, c),
        discount: money(row.discount, c),
        tax: money(row.tax, c),
        shipping: money(row.shipping, c),
        captured: money(row.captured, c),
        refunded: money(row.refunded, c),
        shipping_method: row.shipping_method.clone(),
        shipping_address: serde_json::from_str(&row.shipping_address).unwrap_or_default(),
        promo_code: row.promo_code.clone(),
        carrier: row.carrier.clone(),
        tracking_number: row.tracking_number.clone(),
        cancel_reason: row.cancel_reason.clone(),
        failure_reason: row.failure_reason.clone(),
        lines: lines
            .into_iter()
            .map(|l| OrderLineView {
                sku: l.sku,
                product_id: l.product_id,
                quantity: l.quantity,
                unit_price: money(l.unit_price, c),
                subtotal: money(l.subtotal, c),
            })
            .collect(),
        timeline: timeline
            .rows
            .into_iter()
            .map(|t| TimelineEntry {
                event: t.event,
                status: t.status,
                detail: t.detail,
                at: time(t.at),
            })
            .collect(),
    };
    Ok(Read::new(view, freshness).revision(revision))
}

/// Loads the order for a command by `caller`, answering 404 if they may not see it.
async fn order_for(
    app: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
) -> Result<(OrderId, shop_domain::order::OrderState), Problem> {
    order_at(app, caller, headers, id, None).await
}

/// [`order_for`], refusing with 412 unless the order is at revision `if_match` (for commands
/// with side effects before the order's own write: stock shipped, money refunded).
async fn order_at(
    app: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    if_match: Option<u64>,
) -> Result<(OrderId, shop_domain::order::OrderState), Problem> {
    let id = order_id(id)?;
    let (order, revision) = app.orders.load(&id).await?;
    if order.order_id().is_none()
        || !may_see(
            app,
            Some(caller),
            headers,
            order.customer_id().map(|c| c.as_str()),
            order.cart_id().map(|c| c.as_str()),
        )
        .await?
    {
        return Err(not_found("order"));
    }
    if let Some(expected) = if_match
        && revision != Some(expected)
    {
        return Err(shop_commands::CommandError::<String>::RevisionMismatch {
            stream: shop_commands::CommandHandler::<shop_domain::order::Order>::stream_of(&id)?,
            expected,
            actual: revision,
        }
        .into());
    }
    Ok((id, order))
}

/// A note.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Admins: why (1 to 500 characters).
    #[serde(default)]
    pub note: Option<String>,
}

/// Cancels an order (its customer, or an admin). A confirmed order's stock is released and its
/// payment refunded by the checkout saga.
#[utoipa::path(post, path = "/orders/{order_id}/cancel", tag = "orders",
    params(("order_id" = String, Path)), request_body = CancelBody,
    responses((status = 200, description = "Cancelled", body = Ack)),
    security(("bearer" = [])))]
pub async fn cancel(
    State(app): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    write: Write,
    Body(body): Body<CancelBody>,
) -> Result<Written<Ack>, Problem> {
    require(&caller, &[Role::Customer, Role::Admin])?;
    let (id, _) = order_for(&app, &caller, &headers, &id).await?;
    let reason = match caller.role {
        Role::Admin => CancelReason::Admin {
            note: body.note.unwrap_or_else(|| "cancelled by an admin".into()),
        },
        _ => CancelReason::CustomerRequest,
    };
    let command = OrderCommand::CancelOrder {
        order_id: id.clone(),
        reason,
    };
    let outcome = app
        .orders
        .handle(&id, write.command(command, actor(&caller)))
        .await?;
    Ok(Written::ok(&outcome, Ack::of(id.as_str(), &outcome)))
}

/// A shipment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipBody {
    /// The carrier.
    pub carrier: String,
    /// The tracking number.
    pub tracking_number: String,
}

/// Ships an order (admin): the order is marked shipped and its committed stock leaves.
#[utoipa::path(post, path = "/orders/{order_id}/ship", tag = "orders",
    params(("order_id" = String, Path)), request_body = ShipBody,
    responses((status = 200, description = "Shipped", body = Ack)),
    security(("bearer" = [])))]
pub async fn ship(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Admin(caller): Admin,
    headers: HeaderMap,
    write: Write,
    Body(body): Body<ShipBody>,
) -> Result<Written<Ack>, Problem> {
    let (id, order) = order_at(&app, &caller, &headers, &id, write.if_match).await?;
    let ship = OrderCommand::ShipOrder {
        order_id: id.clone(),
        carrier: body.carrier,
        tracking_number: body.tracking_number,
    };
    // The order's rules first (confirmed, carrier and tracking given), then the stock leaves,
    // then the order is marked shipped: a refusal never leaves an order shipped with its stock
    // still committed.
    let ctx = shop_domain::Context::at(app.clock.now());
    <shop_domain::order::Order as shop_domain::Aggregate>::decide(&order, &ship, &ctx)
        .map_err(shop_commands::CommandError::Rejected)?;
    let mut last = None;
    for line in order.lines() {
        let command = write
            .command(
                InventoryCommand::ShipStock {
                    sku: line.sku.clone(),
                    order_id: id.clone(),
                },
                actor(&caller),
            )
            .with_id(write.step(&format!("ship|{}", line.sku)));
        let shipped = app
            .inventory
            .handle(
                &line.sku,
                shop_commands::Command {
                    if_match: None,
                    ..command
                },
            )
            .await?;
        last = shipped.position.max(last);
    }
    // `If-Match` was checked before the stock moved; the order's own write must not fail on it
    // now that the stock has left.
    let ship = shop_commands::Command {
        if_match: None,
        ..write.command(ship, actor(&caller))
    };
    let outcome = app.orders.handle(&id, ship).await?;
    Ok(Written::ok(&outcome, Ack::of(id.as_str(), &outcome)).at(last))
}

/// Records delivery (admin).
#[utoipa::path(post, path = "/orders/{order_id}/deliver", tag = "orders",
    params(("order_id" = String, Path)),
    responses((status = 200, description = "Delivered", body = Ack)),
    security(("bearer" = [])))]
pub async fn deliver(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Admin(caller): Admin,
    headers: HeaderMap,
    write: Write,
) -> Result<Written<Ack>, Problem> {
    let (id, _) = order_for(&app, &caller, &headers, &id).await?;
    let command = OrderCommand::DeliverOrder {
        order_id: id.clone(),
    };
    let outcome = app
        .orders
        .handle(&id, write.command(command, actor(&caller)))
        .await?;
    Ok(Written::ok(&outcome, Ack::of(id.as_str(), &outcome)))
}

/// A refund.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// How much (at most what was captured and not yet refunded).
    pub amount: MoneyBody,
    /// Why (1 to 500 characters).
    pub reason: String,
}

/// Refunds (part of) a captured order through the payment provider (admin).
#[utoipa::path(post, path = "/orders/{order_id}/refund", tag = "orders",
    params(("order_id" = String, Path)), request_body = RefundBody,
    responses((status = 200, description = "Refunded", body = Ack)),
    security(("bearer" = [])))]
pub async fn refund(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Admin(caller): Admin,
    headers: HeaderMap,
    write: Write,
    Body(body): Body<RefundBody>,
) -> Result<Written<Ack>, Problem> {
    // Money leaves the shop: a retry must be recognisable, so the key is required.
    if !headers.contains_key(super::idempotent::KEY_HEADER) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "Idempotency-Key required",
            "a refund needs an Idempotency-Key, so that a retry cannot refund twice",
        ));
    }
    let (id, order) = order_at(&app, &caller, &headers, &id, write.if_match).await?;
    let amount: Money = body.amount.into();
    let refusal = |detail: String| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
            "Refused by the rules",
            detail,
        )
    };
    let refundable = order.refundable().unwrap_or(Money::zero(amount.currency));
    if amount.amount <= 0
        || amount.currency != refundable.currency
        || amount.amount > refundable.amount
    {
        return Err(refusal(format!(
            "a refund is positive and at most the refundable {} {}",
            refundable.amount, refundable.currency
        )));
    }
    let payment_id = order
        .payment_id()
        .cloned()
        .ok_or_else(|| refusal("the order has no payment".into()))?;
    let (payment, _) = app.payments.load(&payment_id).await?;
    let authorization = payment
        .authorization_reference()
        .ok_or_else(|| refusal("the payment was never authorized".into()))?
        .to_owned();
    // The refund's id names the provider call too: a retry repeats the same refund.
    let key = format!("refund-{}", write.step("refund").simple());
    let refund_id = RefundId::new(key.clone()).map_err(|e| Problem::internal(&e))?;
    let record_on_order = OrderCommand::RefundOrder {
        order_id: id.clone(),
        refund_id: refund_id.clone(),
        amount,
        reason: body.reason.clone(),
    };
    // The order's rules (reason, amount, number of refunds) are asked before any money moves:
    // a refusal after the provider paid would leave the money gone and the order unaware. A
    // refund already recorded under this id (a retry) passes.
    if order.refund(&refund_id).is_none() {
        let ctx = shop_domain::Context::at(app.clock.now());
        <shop_domain::order::Order as shop_domain::Aggregate>::decide(
            &order,
            &record_on_order,
            &ctx,
        )
        .map_err(|rejection| refusal(rejection.to_string()))?;
    }
    let answer = app
        .gateway
        .refund(RefundRequest {
            idempotency_key: key,
            authorization,
            amount,
        })
        .await;
    let reference = match answer {
        Ok(GatewayOutcome::Approved { reference, .. }) => reference,
        Ok(GatewayOutcome::Declined { code, message }) => {
            return Err(refusal(format!(
                "the provider declined the refund: {code}: {message}"
            )));
        }
        Err(shop_commands::gateway::GatewayError::Invalid(message)) => {
            return Err(refusal(format!(
                "the provider refused the refund: {message}"
            )));
        }
        Err(e) => {
            tracing::warn!(error = %e, "refund call failed");
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "gateway_unavailable",
                "Payment provider unavailable",
                "the refund could not be confirmed; retry with the same Idempotency-Key",
            )
            .retry_after(5));
        }
    };
    let record = PaymentCommand::RefundPayment {
        payment_id: payment_id.clone(),
        refund_id: refund_id.clone(),
        gateway_reference: reference,
        amount,
    };
    let command = write
        .command(record, actor(&caller))
        .with_id(write.step("payment"));
    let recorded = app
        .payments
        .handle(
            &payment_id,
            shop_commands::Command {
                if_match: None,
                ..command
            },
        )
        .await?;
    let command = write
        .command(record_on_order, actor(&caller))
        .with_id(write.step("order"));
    // `If-Match` was checked before the money moved.
    let command = shop_commands::Command {
        if_match: None,
        ..command
    };
    let outcome = app.orders.handle(&id, command).await?;
    Ok(Written::ok(&outcome, Ack::of(id.as_str(), &outcome)).at(recorded.position))
}

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
