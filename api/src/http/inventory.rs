//! Inventory (admin): receive and adjust stock, and view levels and reservations per SKU and
//! warehouse.

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use shop_domain::inventory::{AdjustmentReason, InventoryCommand};
use shop_domain::{Sku, WarehouseId};
use shop_eventstore::{AllFilter, ReadAll};
use shop_projections::models::catalog::VariantRow;
use shop_projections::models::inventory::{ReservationRow, StockLevel};
use shop_projections::rows::text;
use utoipa::ToSchema;

use super::AppState;
use super::catalog::Ack;
use super::cursor::{self, PageQuery};
use super::fresh::{MinPosition, settle};
use super::input::{Admin, Body, Check, Write, actor, invalid_id, not_found, time};
use super::output::{Read, Written};
use crate::auth::Caller;
use crate::problem::Problem;

/// Stock received.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveBody {
    /// The warehouse.
    pub warehouse: String,
    /// Units, 1 to 1,000,000.
    pub quantity: u32,
    /// A note (delivery reference).
    #[serde(default)]
    pub note: Option<String>,
}

/// Why stock is adjusted: `damaged`, `lost`, `found`, `count_correction`, or `other` with a text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustBody {
    /// The warehouse.
    pub warehouse: String,
    /// Units to add (positive) or take away (negative).
    pub delta: i32,
    /// `damaged`, `lost`, `found`, `count_correction` or `other`.
    pub reason: String,
    /// For `other`: what happened.
    #[serde(default)]
    pub text: Option<String>,
}

fn sku(value: String) -> Result<Sku, Problem> {
    Sku::new(value).map_err(|e| invalid_id("sku", e))
}

/// Stock is only received for a SKU some product has: one the catalog read model knows, once it
/// has caught up with the log (so a variant added a moment ago is not refused).
async fn known(app: &AppState, sku: &Sku) -> Result<(), Problem> {
    let def = <VariantRow as shop_projections::rows::TableRow>::TABLE;
    let lookup = || async {
        app.reads
            .load(def, def.name, &[text(sku.as_str())])
            .await
            .map_err(|e| Problem::internal(&e))
    };
    if lookup().await?.is_some() {
        return Ok(());
    }
    // Not there (yet?): wait, boundedly, until the catalog has applied the newest product event,
    // then look again (a variant added a moment ago is then found).
    let newest = app
        .events
        .read_all(
            ReadAll::backwards()
                .limit(1)
                .filter(AllFilter::category("product")),
        )
        .await
        .map_err(|e| Problem::internal(&e))?;
    if let Some(event) = newest.first() {
        settle(app, "catalog", MinPosition(Some(event.position))).await;
    }
    match lookup().await? {
        Some(_) => Ok(()),
        None => Err(not_found("SKU")),
    }
}

async fn run(
    app: &AppState,
    caller: &Caller,
    write: &Write,
    sku: &Sku,
    command: InventoryCommand,
) -> Result<Written<Ack>, Problem> {
    let outcome = app
        .inventory
        .handle(sku, write.command(command, actor(caller)))
        .await?;
    Ok(Written::ok(&outcome, Ack::of(sku.as_str(), &outcome)))
}

/// Receives stock into a warehouse (admin).
#[utoipa::path(post, path = "/inventory/{sku}/receive", tag = "inventory",
    params(("sku" = String, Path)), request_body = ReceiveBody,
    responses((status = 200, description = "Received", body = Ack)),
    security(("bearer" = [])))]
pub async fn receive(
    State(app): State<AppState>,
    Path(sku_text): Path<String>,
    Admin(caller): Admin,
    write: Write,
    Body(body): Body<ReceiveBody>,
) -> Result<Written<Ack>, Problem> {
    let sku = sku(sku_text)?;
    known(&app, &sku).await?;
    let mut check = Check::new();
    let warehouse = check.field("/warehouse", WarehouseId::new(body.warehouse));
    check.done()?;
    let command = InventoryCommand::ReceiveStock {
        sku: sku.clone(),
        warehouse: warehouse.expect("checked"),
        quantity: body.quantity,
        note: body.note,
    };
    run(&app, &caller, &write, &sku, command).await
}

/// Adjusts stock after a count, damage or loss (admin).
#[utoipa::path(post, path = "/inventory/{sku}/adjust", tag = "inventory",
    params(("sku" = String, Path)), request_body = AdjustBody,
    responses((status = 200, description = "Adjusted", body = Ack)),
    security(("bearer" = [])))]
pub async fn adjust(
    State(app): State<AppState>,
    Path(sku_text): Path<String>,
    Admin(caller): Admin,
    write: Write,
    Body(body): Body<AdjustBody>,
) -> Result<Written<Ack>, Problem> {
    let sku = sku(sku_text)?;
    known(&app, &sku).await?;
    let mut check = Check::new();
    let warehouse = check.field("/warehouse", WarehouseId::new(body.warehouse));
    let reason = match (body.reason.as_str(), body.text) {
        ("damaged", _) => Some(AdjustmentReason::Damaged),
        ("lost", _) => Some(AdjustmentReason::Lost),
        ("found", _) => Some(AdjustmentReason::Found),
        ("count_correction", _) => Some(AdjustmentReason::CountCorrection),
        ("other", Some(text)) => Some(AdjustmentReason::Other { text }),
        ("other", None) => {
            check.fail(
                "/text",
                "an adjustment for another reason says what happened",
            );
            None
        }
        _ => {
            check.fail("/reason", "damaged, lost, found, count_correction or other");
            None
        }
    };
    check.done()?;
    let command = InventoryCommand::AdjustStock {
        sku: sku.clone(),
        warehouse: warehouse.expect("checked"),
        delta: body.delta,
        reason: reason.expect("checked"),
    };
    run(&app, &caller, &write, &sku, command).await
}

/// One warehouse's stock.
#[derive(Debug, Serialize, ToSchema)]
pub struct LevelView {
    /// The warehouse.
    pub warehouse: String,
    /// On the shelf: available + reserved + committed.
    pub on_hand: i64,
    /// Free to sell.
    pub available: i64,
    /// Held for open checkouts.
    pub reserved: i64,
    /// Sold, awaiting shipment.
    pub committed: i64,
    /// Last change.
    pub updated_at: String,
}

/// A reservation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationView {
    /// The order.
    pub order_id: String,
    /// Units.
    pub quantity: i64,
    /// Units on backorder.
    pub backordered: i64,
    /// `reserved`, `committed`, `shipped` or `released`.
    pub status: String,
    /// When an unconfirmed reservation lapses.
    pub expires_at: String,
    /// Why it was released.
    pub release_reason: Option<String>,
}

/// A SKU's stock.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockView {
    /// The SKU.
    pub sku: String,
    /// Per warehouse.
    pub levels: Vec<LevelView>,
    /// Its reservations (a page).
    pub reservations: Vec<ReservationView>,
    /// The next page of reservations.
    pub next_cursor: Option<String>,
}

/// A SKU's levels per warehouse and its reservations (admin).
#[utoipa::path(get, path = "/inventory/{sku}", tag = "inventory",
    params(("sku" = String, Path), PageQuery),
    responses((status = 200, description = "Stock", body = StockView)),
    security(("bearer" = [])))]
pub async fn stock(
    State(app): State<AppState>,
    Path(sku_text): Path<String>,
    Admin(_): Admin,
    min: MinPosition,
    Query(page): Query<PageQuery>,
) -> Result<Read<StockView>, Problem> {
    let sku = sku(sku_text)?;
    let freshness = settle(&app, "inventory", min).await;
    let levels = cursor::all::<StockLevel>(
        app.reads.as_ref(),
        &["sku", "warehouse"],
        vec![text(sku.as_str())],
        usize::MAX,
    )
    .await?;
    let reservations = cursor::page::<ReservationRow>(
        app.reads.as_ref(),
        &["sku"],
        vec![text(sku.as_str())],
        &page,
    )
    .await?;
    let revision =
        super::output::revision_of::<shop_domain::inventory::Inventory>(&app, &sku).await?;
    Ok(Read::new(
        StockView {
            sku: sku.as_str().to_owned(),
            levels: levels
                .into_iter()
                .map(|l| LevelView {
                    warehouse: l.warehouse,
                    on_hand: l.on_hand,
                    available: l.available,
                    reserved: l.reserved,
                    committed: l.committed,
                    updated_at: time(l.updated_at),
                })
                .collect(),
            reservations: reservations
                .rows
                .into_iter()
                .map(|r| ReservationView {
                    order_id: r.order_id,
                    quantity: r.quantity,
                    backordered: r.backordered,
                    status: r.status,
                    expires_at: time(r.expires_at),
                    release_reason: r.release_reason,
                })
                .collect(),
            next_cursor: reservations.next_cursor,
        },
        freshness,
    )
    .revision(revision))
}
