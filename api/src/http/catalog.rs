//! Catalog: admins create and change products, variants and prices and discontinue products;
//! everyone lists and reads them. Reviews and recommendations are in `reviews`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use shop_domain::product::{ProductCommand, ProductDetails, Variant};
use shop_domain::{Money, ProductId, Sku};
use shop_projections::models::catalog::{ProductRow, VariantRow};
use shop_projections::rows::text;
use utoipa::ToSchema;

use super::AppState;
use super::cursor::{self, PageQuery};
use super::fresh::{MinPosition, settle};
use super::input::{Admin, Body, Check, Write, actor, invalid_id, not_found, require, time};
use super::output::{Read, Written};
use crate::auth::{Caller, Role};
use crate::problem::Problem;

/// Money in minor units (cents for EUR).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyBody {
    /// Minor units.
    pub amount: i64,
    /// ISO 4217 code, e.g. `EUR`.
    #[schema(value_type = String, example = "EUR")]
    pub currency: shop_domain::Currency,
}

impl From<MoneyBody> for Money {
    fn from(m: MoneyBody) -> Self {
        Money::new(m.amount, m.currency)
    }
}

impl From<Money> for MoneyBody {
    fn from(m: Money) -> Self {
        Self {
            amount: m.amount,
            currency: m.currency,
        }
    }
}

/// A command's acknowledgement.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ack {
    /// The resource's id.
    pub id: String,
    /// Its revision now (also the `ETag`).
    pub revision: Option<u64>,
    /// The global position written (also `X-Consistency-Position`).
    pub position: Option<String>,
}

impl Ack {
    /// For `outcome` of resource `id`.
    pub fn of(id: impl Into<String>, outcome: &shop_commands::Outcome) -> Self {
        Self {
            id: id.into(),
            revision: outcome.revision,
            position: outcome.position.map(|p| p.to_string()),
        }
    }
}

/// A variant as created or added.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantBody {
    /// The SKU (letters, digits, `-_.`).
    pub sku: String,
    /// Unit price.
    pub price: MoneyBody,
    /// E.g. `{"size": "M"}`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Shipping weight.
    #[serde(default)]
    pub weight_grams: Option<u32>,
}

/// A new product.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductBody {
    /// Its id (chosen by the catalog team, e.g. a slug).
    pub product_id: String,
    /// 1 to 200 characters.
    pub title: String,
    /// Up to 10,000 characters.
    #[serde(default)]
    pub description: String,
    /// The brand.
    #[serde(default)]
    pub brand: String,
    /// The category path, broadest first.
    #[serde(default)]
    pub category: Vec<String>,
    /// Searchable attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Image URLs.
    #[serde(default)]
    pub images: Vec<String>,
    /// One or more variants, all priced in one currency.
    pub variants: Vec<VariantBody>,
}

/// Changes to a product's details: each field given replaces that field.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductBody {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New brand (`""` removes it).
    pub brand: Option<String>,
    /// New category path.
    pub category: Option<Vec<String>>,
    /// New attribute map.
    pub attributes: Option<BTreeMap<String, String>>,
    /// New image list.
    pub images: Option<Vec<String>>,
}

/// A new price.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceBody {
    /// The unit price (the product's currency).
    pub price: MoneyBody,
}

/// Why.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// 1 to 1000 characters.
    pub reason: String,
}

fn variant(check: &mut Check, at: &str, body: &VariantBody) -> Option<Variant> {
    let sku = check.field(&format!("{at}/sku"), Sku::new(body.sku.clone()))?;
    Some(Variant {
        sku,
        price: body.price.into(),
        attributes: body.attributes.clone(),
        weight_grams: body.weight_grams,
    })
}

pub(super) fn product_id(id: &str) -> Result<ProductId, Problem> {
    ProductId::new(id).map_err(|e| invalid_id("product id", e))
}

/// Creates a product (admin).
#[utoipa::path(post, path = "/products", tag = "catalog", request_body = CreateProductBody,
    responses((status = 201, description = "Created", body = Ack)),
    security(("bearer" = [])))]
pub async fn create_product(
    State(app): State<AppState>,
    Admin(caller): Admin,
    write: Write,
    Body(body): Body<CreateProductBody>,
) -> Result<Written<Ack>, Problem> {
    let mut check = Check::new();
    let id = check.field("/product_id", ProductId::new(body.product_id.clone()));
    let variants: Vec<Option<Variant>> = body
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| variant(&mut check, &format!("/variants/{i}"), v))
        .collect();
    check.done()?;
    let id = id.expect("checked");
    let create = ProductCommand::CreateProduct {
        product_id: id.clone(),
        details: ProductDetails {
            title: body.title,
            description: body.description,
            brand: body.brand,
            category: body.category,
            attributes: body.attributes,
            images: body.images,
        },
        variants: variants.into_iter().flatten().collect(),
    };
    let outcome = app
        .products
        .handle(&id, write.command(create, actor(&caller)))
        .await?;
    Ok(Written::created(
        &outcome,
        format!("/products/{id}"),
        Ack::of(id.as_str(), &outcome),
    ))
}

pub(super) async fn product_command(
    app: &AppState,
    caller: &Caller,
    write: &Write,
    id: &str,
    command: ProductCommand,
) -> Result<Written<Ack>, Problem> {
    require(caller, &[Role::Admin])?;
    let id = product_id(id)?;
    let (state, _) = app.products.load(&id).await?;
    if !state.exists() {
        return Err(not_found("product"));
    }
    let outcome = app
        .products
        .handle(&id, write.command(command, actor(caller)))
        .await?;
    Ok(Written::ok(&outcome, Ack::of(id.as_str(), &outcome)))
}

/// Changes a product's details (admin; `If-Match` for optimistic concurrency).
#[utoipa::path(patch, path = "/products/{product_id}", tag = "catalog",
    params(("product_id" = String, Path)), request_body = UpdateProductBody,
    responses((status = 200, description = "Changed", body = Ack)),
    security(("bearer" = [])))]
pub async fn update_product(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Admin(caller): Admin,
    write: Write,
    Body(body): Body<UpdateProductBody>,
) -> Result<Written<Ack>, Problem> {
    let command = ProductCommand::UpdateProductDetails {
        title: body.title,
        description: body.description,
        brand: body.brand,
        category: body.category,
        attributes: body.attributes,
        images: body.images,
    };
    product_command(&app, &caller, &write, &id, command).await
}

/// Adds a variant (admin).
#[utoipa::path(post, path = "/products/{product_id}/variants", tag = "catalog",
    params(("product_id" = String, Path)), request_body = VariantBody,
    responses((status = 200, description = "Added", body = Ack)),
    security(("bearer" = [])))]
pub async fn add_variant(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Admin(caller): Admin,
    write: Write,
    Body(body): Body<VariantBody>,
) -> Result<Written<Ack>, Problem> {
    let mut check = Check::new();
    let variant = variant(&mut check, "", &body);
    check.done()?;
    let command = ProductCommand::AddVariant {
        variant: variant.expect("checked"),
    };
    product_command(&app, &caller, &write, &id, command).await
}

/// Changes a variant's price (admin).
#[utoipa::path(put, path = "/products/{product_id}/variants/{sku}/price", tag = "catalog",
    params(("product_id" = String, Path), ("sku" = String, Path)), request_body = PriceBody,
    responses((status = 200, description = "Changed", body = Ack)),
    security(("bearer" = [])))]
pub async fn change_price(
    State(app): State<AppState>,
    Path((id, sku)): Path<(String, String)>,
    Admin(caller): Admin,
    write: Write,
    Body(body): Body<PriceBody>,
) -> Result<Written<Ack>, Problem> {
    let sku = Sku::new(sku).map_err(|e| invalid_id("sku", e))?;
    let command = ProductCommand::ChangeVariantPrice {
        sku,
        price: body.price.into(),
    };
    product_command(&app, &caller, &write, &id, command).await
}

/// Discontinues a product for good (admin).
#[utoipa::path(post, path = "/products/{product_id}/discontinue", tag = "catalog",
    params(("product_id" = String, Path)), request_body = ReasonBody,
    responses((status = 200, description = "Discontinued", body = Ack)),
    security(("bearer" = [])))]
pub async fn discontinue(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Admin(caller): Admin,
    write: Write,
    Body(body): Body<ReasonBody>,
) -> Result<Written<Ack>, Problem> {
    let command = ProductCommand::DiscontinueProduct {
        reason: body.reason,
    };
    product_command(&app, &caller, &write, &id, command).await
}

/// A product in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductSummary {
    /// Its id.
    pub product_id: String,
    /// Title.
    pub title: String,
    /// Brand.
    pub brand: String,
    /// Category path, broadest first.
    pub category: Vec<String>,
    /// Currency of its prices.
    pub currency: String,
    /// Cheapest variant, minor units.
    pub price_min: i64,
    /// Dearest variant, minor units.
    pub price_max: i64,
    /// Average approved rating × 100.
    pub rating_hundredths: Option<i64>,
    /// Approved reviews.
    pub review_count: i64,
    /// First image.
    pub image: Option<String>,
    /// `active` or `discontinued`.
    pub status: String,
    /// When it was created.
    pub created_at: String,
}

impl From<&ProductRow> for ProductSummary {
    fn from(row: &ProductRow) -> Self {
        let images: Vec<String> = serde_json::from_str(&row.images).unwrap_or_default();
        Self {
            product_id: row.product_id.clone(),
            title: row.title.clone(),
            brand: row.brand.clone(),
            category: serde_json::from_str(&row.category).unwrap_or_default(),
            currency: row.currency.clone(),
            price_min: row.price_min,
            price_max: row.price_max,
            rating_hundredths: row.rating_hundredths,
            review_count: row.review_count,
            image: images.into_iter().next(),
            status: row.status.clone(),
            created_at: time(row.created_at),
        }
    }
}

/// One page of products.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPage {
    /// The products, oldest first.
    pub items: Vec<ProductSummary>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Lists active products, oldest first.
#[utoipa::path(get, path = "/products", tag = "catalog", params(PageQuery),
    responses((status = 200, description = "A page", body = ProductPage)))]
pub async fn list_products(
    State(app): State<AppState>,
    min: MinPosition,
    Query(page): Query<PageQuery>,
) -> Result<Read<ProductPage>, Problem> {
    let freshness = settle(&app, "catalog", min).await;
    let page = cursor::page::<ProductRow>(
        app.reads.as_ref(),
        &["status", "created_at"],
        vec![text("active")],
        &page,
    )
    .await?;
    Ok(Read::new(
        ProductPage {
            items: page.rows.iter().map(ProductSummary::from).collect(),
            next_cursor: page.next_cursor,
        },
        freshness,
    ))
}

/// A variant as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantView {
    /// SKU.
    pub sku: String,
    /// Unit price.
    pub price: MoneyBody,
    /// E.g. size, colour.
    pub attributes: BTreeMap<String, String>,
    /// Shipping weight.
    pub weight_grams: Option<i64>,
    /// `in_stock`, `low_stock` or `out_of_stock`.
    pub availability: String,
}

/// A product with its variants.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    /// The summary fields.
    #[serde(flatten)]
    pub summary: ProductSummary,
    /// Description.
    pub description: String,
    /// Attributes.
    pub attributes: BTreeMap<String, String>,
    /// Images.
    pub images: Vec<String>,
    /// Variants, in the order they were added.
    pub variants: Vec<VariantView>,
    /// Last change.
    pub updated_at: String,
}

/// A product with its variants and their availability; `ETag` is the product's revision.
#[utoipa::path(get, path = "/products/{product_id}", tag = "catalog",
    params(("product_id" = String, Path)),
    responses((status = 200, description = "The product", body = ProductView)))]
pub async fn get_product(
    State(app): State<AppState>,
    Path(id): Path<String>,
    min: MinPosition,
) -> Result<Read<ProductView>, Problem> {
    let id = product_id(&id)?;
    let freshness = settle(&app, "catalog", min).await;
    let def = <ProductRow as shop_projections::rows::TableRow>::TABLE;
    let row = app
        .reads
        .load(def, def.name, &[text(id.as_str())])
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| not_found("product"))?;
    let row = <ProductRow as shop_projections::rows::TableRow>::from_row(row)
        .map_err(|e| Problem::internal(&e))?;
    // Every variant (a product has at most a few hundred).
    let variants = cursor::all::<VariantRow>(
        app.reads.as_ref(),
        &["product_id", "position"],
        vec![text(id.as_str())],
        usize::MAX,
    )
    .await?;
    let revision = super::output::revision_of::<shop_domain::product::Product>(&app, &id).await?;
    let view = ProductView {
        summary: ProductSummary::from(&row),
        description: row.description.clone(),
        attributes: serde_json::from_str(&row.attributes).unwrap_or_default(),
        images: serde_json::from_str(&row.images).unwrap_or_default(),
        variants: variants
            .into_iter()
            .map(|v| VariantView {
                sku: v.sku,
                price: MoneyBody {
                    amount: v.price,
                    currency: shop_domain::Currency::parse(&v.currency)
                        .unwrap_or(shop_domain::Currency::EUR),
                },
                attributes: serde_json::from_str(&v.attributes).unwrap_or_default(),
                weight_grams: v.weight_grams,
                availability: v.availability,
            })
            .collect(),
        updated_at: time(row.updated_at),
    };
    Ok(Read::new(view, freshness).revision(revision))
}
