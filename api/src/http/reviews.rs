//! Reviews and recommendations: customers review products (one each, pending moderation), admins
//! approve or reject them, everyone reads the approved ones (newest first) and the products most
//! often bought together with one.

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use shop_domain::product::ProductCommand;
use shop_domain::{CustomerId, ReviewId};
use shop_projections::models::analytics::CoPurchase;
use shop_projections::models::catalog::ReviewRow;
use shop_projections::rows::text;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::catalog::{Ack, ReasonBody, product_command, product_id};
use super::cursor::{self, PageQuery};
use super::fresh::{MinPosition, settle};
use super::input::{
    Admin, Body, Customer, MaybeCaller, Write, actor, invalid_id, not_found, require, time,
};
use super::output::{Read, Written};
use crate::auth::Role;
use crate::problem::Problem;

/// A customer's review.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// 1 to 5 stars.
    pub rating: u8,
    /// Up to 5000 characters.
    #[serde(default)]
    pub text: String,
}

/// Namespace of review ids: one review per customer and product.
const REVIEW_NAMESPACE: Uuid = Uuid::from_u128(0x4e71_3b0a_2c9d_4f18_b6a5_1d2e_3f4a_5b6c);

/// Submits the caller's review of a product (customer; one per product), pending moderation.
#[utoipa::path(post, path = "/products/{product_id}/reviews", tag = "catalog",
    params(("product_id" = String, Path)), request_body = ReviewBody,
    responses((status = 201, description = "Submitted", body = Ack)),
    security(("bearer" = [])))]
pub async fn submit_review(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Customer(caller): Customer,
    write: Write,
    Body(body): Body<ReviewBody>,
) -> Result<Written<Ack>, Problem> {
    let id = product_id(&id)?;
    let customer = CustomerId::new(caller.subject.clone()).map_err(|e| invalid_id("subject", e))?;
    let review_id = ReviewId::new(format!(
        "rev-{}",
        Uuid::new_v5(&REVIEW_NAMESPACE, format!("{id}|{customer}").as_bytes()).simple()
    ))
    .map_err(|e| Problem::internal(&e))?;
    let (state, _) = app.products.load(&id).await?;
    if !state.exists() {
        return Err(not_found("product"));
    }
    let command = ProductCommand::SubmitReview {
        review_id: review_id.clone(),
        customer_id: customer,
        rating: body.rating,
        text: body.text,
    };
    let outcome = app
        .products
        .handle(&id, write.command(command, actor(&caller)))
        .await?;
    Ok(Written::created(
        &outcome,
        format!("/products/{id}/reviews"),
        Ack::of(review_id.as_str(), &outcome),
    ))
}

/// Approves a review (admin).
#[utoipa::path(post, path = "/products/{product_id}/reviews/{review_id}/approve", tag = "catalog",
    params(("product_id" = String, Path), ("review_id" = String, Path)),
    responses((status = 200, description = "Approved", body = Ack)),
    security(("bearer" = [])))]
pub async fn approve_review(
    State(app): State<AppState>,
    Path((id, review)): Path<(String, String)>,
    Admin(caller): Admin,
    write: Write,
) -> Result<Written<Ack>, Problem> {
    let review_id = ReviewId::new(review).map_err(|e| invalid_id("review id", e))?;
    product_command(
        &app,
        &caller,
        &write,
        &id,
        ProductCommand::ApproveReview { review_id },
    )
    .await
}

/// Rejects a review (admin).
#[utoipa::path(post, path = "/products/{product_id}/reviews/{review_id}/reject", tag = "catalog",
    params(("product_id" = String, Path), ("review_id" = String, Path)),
    request_body = ReasonBody,
    responses((status = 200, description = "Rejected", body = Ack)),
    security(("bearer" = [])))]
pub async fn reject_review(
    State(app): State<AppState>,
    Path((id, review)): Path<(String, String)>,
    Admin(caller): Admin,
    write: Write,
    Body(body): Body<ReasonBody>,
) -> Result<Written<Ack>, Problem> {
    let review_id = ReviewId::new(review).map_err(|e| invalid_id("review id", e))?;
    let command = ProductCommand::RejectReview {
        review_id,
        reason: body.reason,
    };
    product_command(&app, &caller, &write, &id, command).await
}

/// A review.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    /// Its id.
    pub review_id: String,
    /// 1 to 5.
    pub rating: i64,
    /// The text.
    pub text: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// When.
    pub submitted_at: String,
}

/// One page of reviews.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewPage {
    /// Newest first.
    pub items: Vec<ReviewView>,
    /// The next page's cursor.
    pub next_cursor: Option<String>,
}

/// `?status=` (admins: `pending` or `rejected` too) and paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// `approved` (default), `pending` or `rejected` (the last two for admins).
    pub status: Option<String>,
    /// Where the previous page ended.
    pub cursor: Option<String>,
    /// Rows per page, 1 to 100.
    pub limit: Option<usize>,
}

/// A product's reviews, newest first: approved ones for everyone; admins may ask for pending or
/// rejected.
#[utoipa::path(get, path = "/products/{product_id}/reviews", tag = "catalog",
    params(("product_id" = String, Path), ReviewQuery),
    responses((status = 200, description = "A page", body = ReviewPage)))]
pub async fn list_reviews(
    State(app): State<AppState>,
    Path(id): Path<String>,
    MaybeCaller(caller): MaybeCaller,
    min: MinPosition,
    Query(query): Query<ReviewQuery>,
) -> Result<Read<ReviewPage>, Problem> {
    let id = product_id(&id)?;
    let status = query.status.as_deref().unwrap_or("approved");
    match status {
        "approved" => {}
        "pending" | "rejected" => match &caller {
            Some(c) => require(c, &[Role::Admin])?,
            None => return Err(crate::auth::AuthError::Missing.into()),
        },
        _ => {
            return Err(Problem::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_status",
                "Invalid status",
                "status is approved, pending or rejected",
            ));
        }
    }
    let freshness = settle(&app, "catalog", min).await;
    let page = cursor::page_newest::<ReviewRow>(
        app.reads.as_ref(),
        &["product_id", "status", "submitted_at"],
        vec![text(id.as_str()), text(status)],
        &PageQuery {
            cursor: query.cursor,
            limit: query.limit,
        },
    )
    .await?;
    Ok(Read::new(
        ReviewPage {
            items: page
                .rows
                .into_iter()
                .map(|r| ReviewView {
                    review_id: r.review_id,
                    rating: r.rating,
                    text: r.text,
                    status: r.status,
                    submitted_at: time(r.submitted_at),
                })
                .collect(),
            next_cursor: page.next_cursor,
        },
        freshness,
    ))
}

/// A product bought together with another.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recommendation {
    /// The other product.
    pub product_id: String,
    /// Confirmed orders holding both.
    pub orders: i64,
}

/// Recommendations.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recommendations {
    /// Most often bought together first (at most 10).
    pub items: Vec<Recommendation>,
}

/// Products most often bought together with this one ("bought together").
#[utoipa::path(get, path = "/products/{product_id}/recommendations", tag = "catalog",
    params(("product_id" = String, Path)),
    responses((status = 200, description = "Recommendations", body = Recommendations)))]
pub async fn recommendations(
    State(app): State<AppState>,
    Path(id): Path<String>,
    min: MinPosition,
) -> Result<Read<Recommendations>, Problem> {
    let id = product_id(&id)?;
    let freshness = settle(&app, "analytics", min).await;
    // The index orders by (product_id, orders), ascending: read the pairs (at most the first
    // 10,000; a product bought with more others than that is ranked among those) and keep the
    // ten most frequent.
    let mut items: Vec<Recommendation> = cursor::all::<CoPurchase>(
        app.reads.as_ref(),
        &["product_id", "orders"],
        vec![text(id.as_str())],
        10_000,
    )
    .await?
    .into_iter()
    .map(|r| Recommendation {
        product_id: r.other_product_id,
        orders: r.orders,
    })
    .collect();
    items.sort_by(|a, b| {
        b.orders
            .cmp(&a.orders)
            .then(a.product_id.cmp(&b.product_id))
    });
    items.truncate(10);
    Ok(Read::new(Recommendations { items }, freshness))
}
