//! Promotions (admin): create, deactivate, and view usage. Read from the promotion's stream:
//! usage counts must be exact.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_domain::promotion::PromotionCommand;
use shop_domain::{Discount, PromoCode};
use utoipa::ToSchema;

use super::AppState;
use super::catalog::{Ack, MoneyBody, ReasonBody};
use super::fresh::Freshness;
use super::input::{Admin, Body, Check, Write, actor, invalid_id, not_found};
use super::output::{Read, Written};
use crate::problem::Problem;

/// A discount: a percentage (in basis points, 1 % = 100) or a fixed amount.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DiscountBody {
    /// A share of the subtotal.
    Percentage {
        /// 1 to 10,000.
        basis_points: u32,
    },
    /// A fixed amount off.
    FixedAmount {
        /// The amount.
        amount: MoneyBody,
    },
}

impl From<DiscountBody> for Discount {
    fn from(d: DiscountBody) -> Self {
        match d {
            DiscountBody::Percentage { basis_points } => Discount::Percentage { basis_points },
            DiscountBody::FixedAmount { amount } => Discount::FixedAmount {
                amount: amount.into(),
            },
        }
    }
}

impl From<&Discount> for DiscountBody {
    fn from(d: &Discount) -> Self {
        match d {
            Discount::Percentage { basis_points } => Self::Percentage {
                basis_points: *basis_points,
            },
            Discount::FixedAmount { amount } => Self::FixedAmount {
                amount: (*amount).into(),
            },
        }
    }
}

/// A new promotion.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePromotionBody {
    /// The code customers type (letters, digits, `-_`).
    pub code: String,
    /// The discount.
    pub discount: DiscountBody,
    /// Orders below this subtotal do not qualify.
    #[serde(default)]
    pub minimum_subtotal: Option<MoneyBody>,
    /// From (RFC 3339).
    pub valid_from: DateTime<Utc>,
    /// Until (RFC 3339).
    pub valid_until: DateTime<Utc>,
    /// Most redemptions in all.
    #[serde(default)]
    pub usage_limit: Option<u32>,
    /// Most redemptions per customer.
    #[serde(default)]
    pub per_customer_limit: Option<u32>,
}

/// Creates a promotion (admin).
#[utoipa::path(post, path = "/promotions", tag = "promotions", request_body = CreatePromotionBody,
    responses((status = 201, description = "Created", body = Ack)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    Admin(caller): Admin,
    write: Write,
    Body(body): Body<CreatePromotionBody>,
) -> Result<Written<Ack>, Problem> {
    let mut check = Check::new();
    let code = check.field("/code", PromoCode::new(body.code));
    check.done()?;
    let code = code.expect("checked");
    let command = PromotionCommand::CreatePromotion {
        code: code.clone(),
        discount: body.discount.into(),
        minimum_subtotal: body.minimum_subtotal.map(Into::into),
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        usage_limit: body.usage_limit,
        per_customer_limit: body.per_customer_limit,
    };
    let outcome = app
        .promotions
        .handle(&code, write.command(command, actor(&caller)))
        .await?;
    Ok(Written::created(
        &outcome,
        format!("/promotions/{code}"),
        Ack::of(code.as_str(), &outcome),
    ))
}

fn code(text: String) -> Result<PromoCode, Problem> {
    PromoCode::new(text).map_err(|e| invalid_id("promotion code", e))
}

/// Deactivates a promotion for good (admin).
#[utoipa::path(post, path = "/promotions/{code}/deactivate", tag = "promotions",
    params(("code" = String, Path)), request_body = ReasonBody,
    responses((status = 200, description = "Deactivated", body = Ack)),
    security(("bearer" = [])))]
pub async fn deactivate(
    State(app): State<AppState>,
    Path(text): Path<String>,
    Admin(caller): Admin,
    write: Write,
    Body(body): Body<ReasonBody>,
) -> Result<Written<Ack>, Problem> {
    let code = code(text)?;
    let (promotion, _) = app.promotions.load(&code).await?;
    if !promotion.exists() {
        return Err(not_found("promotion"));
    }
    let command = PromotionCommand::DeactivatePromotion {
        reason: body.reason,
    };
    let outcome = app
        .promotions
        .handle(&code, write.command(command, actor(&caller)))
        .await?;
    Ok(Written::ok(&outcome, Ack::of(code.as_str(), &outcome)))
}

/// A promotion and its usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionView {
    /// The code.
    pub code: String,
    /// The discount.
    pub discount: DiscountBody,
    /// Minimum subtotal.
    pub minimum_subtotal: Option<MoneyBody>,
    /// From.
    pub valid_from: DateTime<Utc>,
    /// Until.
    pub valid_until: DateTime<Utc>,
    /// Still usable (not deactivated).
    pub active: bool,
    /// Why it was deactivated.
    pub deactivation_reason: Option<String>,
    /// Redemptions so far.
    pub used: u32,
    /// Most redemptions in all.
    pub usage_limit: Option<u32>,
    /// Redemptions left.
    pub remaining: Option<u32>,
    /// Most per customer.
    pub per_customer_limit: Option<u32>,
    /// Customers who redeemed it.
    pub customers: usize,
}

/// A promotion with its usage (admin).
#[utoipa::path(get, path = "/promotions/{code}", tag = "promotions",
    params(("code" = String, Path)),
    responses((status = 200, description = "The promotion", body = PromotionView)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    Path(text): Path<String>,
    Admin(_): Admin,
) -> Result<Read<PromotionView>, Problem> {
    let code = code(text)?;
    let (promotion, revision) = app.promotions.load(&code).await?;
    let terms = promotion.terms().ok_or_else(|| not_found("promotion"))?;
    let view = PromotionView {
        code: code.as_str().to_owned(),
        discount: (&terms.discount).into(),
        minimum_subtotal: terms.minimum_subtotal.map(Into::into),
        valid_from: terms.valid_from,
        valid_until: terms.valid_until,
        active: promotion.is_active(),
        deactivation_reason: promotion.deactivation_reason().map(str::to_owned),
        used: promotion.usage_count(),
        usage_limit: terms.usage_limit,
        remaining: promotion.remaining_uses(),
        per_customer_limit: terms.per_customer_limit,
        customers: promotion.customer_usages().count(),
    };
    Ok(Read::new(view, Freshness::Unasked).revision(revision))
}
