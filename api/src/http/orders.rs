//! Orders. Customers list and read their own orders (a guest reads a guest order with the token
//! of the cart it came from) and cancel them; admins and auditors read every order; admins
//! cancel. An order someone may not see is answered 404. Fulfilment (ship, deliver, refund) is in
//! `fulfilment`, payments and audit trails in `trails`.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use shop_domain::OrderId;
use shop_domain::cart::CartOwner;
use shop_domain::order::{CancelReason, OrderCommand};
use shop_projections::models::orders::{OrderLineRow, OrderRow, TimelineRow};
use shop_projections::rows::{TableRow, text};
use utoipa::ToSchema;

use super::AppState;
use super::catalog::{Ack, MoneyBody};
use super::cursor::{self, PageQuery};
use super::fresh::{MinPosition, settle};
use super::input::{Body, MaybeCaller, Write, actor, invalid_id, not_found, require, time};
use super::output::{Read, Written};
use crate::auth::{Caller, Role};
use crate::problem::Problem;

pub(super) fn order_id(id: &str) -> Result<OrderId, Problem> {
    OrderId::new(id).map_err(|e| invalid_id("order id", e))
}

/// May the caller see an order of `customer_id` from `cart_id`?
pub(super) async fn may_see(
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

pub(super) fn money(amount: i64, currency: &str) -> MoneyBody {
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

pub(super) async fn order_row(app: &AppState, id: &OrderId) -> Result<Option<OrderRow>, Problem> {
    let def = OrderRow::TABLE;
    let row = app
        .reads
        .load(def, def.name, &[text(id.as_str())])
        .await
        .map_err(|e| Problem::internal(&e))?;
    row.map(|r| OrderRow::from_row(r).map_err(|e| Problem::internal(&e)))
        .transpose()
}

pub(super) fn all() -> PageQuery {
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
pub(super) async fn order_for(
    app: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
) -> Result<(OrderId, shop_domain::order::OrderState), Problem> {
    order_at(app, caller, headers, id, None).await
}

/// [`order_for`], refusing with 412 unless the order is at revision `if_match` (for commands
/// with side effects before the order's own write: stock shipped, money refunded).
pub(super) async fn order_at(
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
