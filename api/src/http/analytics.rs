//! Analytics for analysts (and admins): sales per product and day from the analytics read model,
//! paged like every list. The raw material for anything else is the event feed (`GET /events`).

use axum::extract::{Path, Query, State};
use serde::Serialize;
use shop_projections::models::analytics::ProductDay;
use shop_projections::rows::text;
use utoipa::ToSchema;

use super::AppState;
use super::cursor::{self, PageQuery};
use super::fresh::{MinPosition, settle};
use super::input::{invalid_id, require};
use super::output::Read;
use crate::auth::{Caller, Role};
use crate::problem::Problem;

/// One product's sales on one day, in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesDay {
    /// The product.
    pub product_id: String,
    /// The day (UTC), `YYYY-MM-DD`.
    pub day: String,
    /// The currency of `revenue`.
    pub currency: String,
    /// Units sold in confirmed orders.
    pub units: i64,
    /// Revenue, minor units.
    pub revenue: i64,
    /// Confirmed orders.
    pub orders: i64,
}

/// A page of sales.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesPage {
    /// The rows.
    pub items: Vec<SalesDay>,
    /// The next page's cursor.
    pub next_cursor: Option<String>,
}

fn page(rows: cursor::Page<ProductDay>) -> SalesPage {
    SalesPage {
        items: rows
            .rows
            .into_iter()
            .map(|r| SalesDay {
                product_id: r.product_id,
                day: r.day,
                currency: r.currency,
                units: r.units,
                revenue: r.revenue,
                orders: r.orders,
            })
            .collect(),
        next_cursor: rows.next_cursor,
    }
}

/// A product's sales per day, oldest first (analyst, admin).
#[utoipa::path(get, path = "/analytics/products/{product_id}/daily", tag = "analytics",
    params(("product_id" = String, Path), PageQuery),
    responses((status = 200, description = "Sales per day", body = SalesPage)),
    security(("bearer" = [])))]
pub async fn product_daily(
    State(app): State<AppState>,
    Path(product_id): Path<String>,
    caller: Caller,
    min: MinPosition,
    Query(query): Query<PageQuery>,
) -> Result<Read<SalesPage>, Problem> {
    require(&caller, &[Role::Analyst, Role::Admin])?;
    let product_id =
        shop_domain::ProductId::new(product_id).map_err(|e| invalid_id("product id", e))?;
    let freshness = settle(&app, "analytics", min).await;
    let rows = cursor::page::<ProductDay>(
        app.reads.as_ref(),
        &["product_id"],
        vec![text(product_id.as_str())],
        &query,
    )
    .await?;
    Ok(Read::new(page(rows), freshness))
}

/// Every product's sales on one day (analyst, admin).
#[utoipa::path(get, path = "/analytics/days/{day}", tag = "analytics",
    params(("day" = String, Path, description = "YYYY-MM-DD"), PageQuery),
    responses((status = 200, description = "Sales that day", body = SalesPage)),
    security(("bearer" = [])))]
pub async fn day(
    State(app): State<AppState>,
    Path(day): Path<String>,
    caller: Caller,
    min: MinPosition,
    Query(query): Query<PageQuery>,
) -> Result<Read<SalesPage>, Problem> {
    require(&caller, &[Role::Analyst, Role::Admin])?;
    if chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").is_err() {
        return Err(invalid_id("day", "a date is YYYY-MM-DD"));
    }
    let freshness = settle(&app, "analytics", min).await;
    let rows =
        cursor::page::<ProductDay>(app.reads.as_ref(), &["day"], vec![text(day)], &query).await?;
    Ok(Read::new(page(rows), freshness))
}
