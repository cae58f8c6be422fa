//! Catalog read model: products with their variants, prices, attributes, approved reviews and
//! rating, and each variant's availability as `in_stock` / `low_stock` / `out_of_stock` (never
//! the exact count, which the storefront has no business showing). Availability needs stock, so
//! the catalog also reads the inventory streams and keeps a per-SKU total of its own.

use std::collections::BTreeMap;

use async_trait::async_trait;
use shop_domain::inventory::InventoryEvent;
use shop_domain::product::{ProductDetails, ProductEvent, Variant};
use shop_eventstore::RecordedEvent;

use super::{available_delta, json, millis};
use crate::rows::{Rows, TableDef, TableRow, text};
use crate::runner::{ApplyError, Projection};
use crate::table;

table! {
    /// A product as the storefront lists it.
    pub struct ProductRow in "catalog_products" {
        key { product_id: String }
        fields {
            title: String,
            description: String,
            brand: String,
            /// JSON array, broadest first.
            category: String,
            /// `Clothing > T-Shirts`.
            category_path: String,
            /// JSON object.
            attributes: String,
            /// JSON array.
            images: String,
            currency: String,
            price_min: i64,
            price_max: i64,
            /// `active` or `discontinued`.
            status: String,
            rating_hundredths: Option<i64>,
            review_count: i64,
            variant_count: i64,
            /// JSON object SKU → price: the price range is recomputed from it.
            variant_prices: String,
            created_at: i64,
            updated_at: i64,
        }
        indexes [["brand"], ["category_path"], ["status", "created_at"]]
    }
}

table! {
    /// One variant (SKU) of a product.
    pub struct VariantRow in "catalog_variants" {
        key { sku: String }
        fields {
            product_id: String,
            price: i64,
            currency: String,
            /// JSON object.
            attributes: String,
            weight_grams: Option<i64>,
            /// `in_stock`, `low_stock` or `out_of_stock`.
            availability: String,
            position: i64,
        }
        indexes [["product_id", "position"]]
    }
}

table! {
    /// A customer review.
    pub struct ReviewRow in "catalog_reviews" {
        key { review_id: String }
        fields {
            product_id: String,
            customer_id: String,
            rating: i64,
            text: String,
            /// `pending`, `approved` or `rejected`.
            status: String,
            reason: Option<String>,
            submitted_at: i64,
            moderated_at: Option<i64>,
        }
        indexes [["product_id", "status", "submitted_at"]]
    }
}

table! {
    /// Units available per SKU over all warehouses (internal: only availability is shown).
    pub struct StockRow in "catalog_stock" {
        key { sku: String }
        fields { available: i64 }
        indexes []
    }
}

/// The catalog projection.
#[derive(Debug, Clone, Copy)]
pub struct Catalog {
    low_stock_threshold: i64,
}

impl Catalog {
    /// A catalog showing "low stock" at or below `low_stock_threshold` available units.
    pub fn new(low_stock_threshold: i64) -> Self {
        Self {
            low_stock_threshold,
        }
    }

    fn availability(&self, available: i64) -> &'static str {
        if available <= 0 {
            "out_of_stock"
        } else if available <= self.low_stock_threshold {
            "low_stock"
        } else {
            "in_stock"
        }
    }

    async fn product(rows: &mut Rows<'_>, id: &str) -> Result<Option<ProductRow>, ApplyError> {
        Ok(rows.get::<ProductRow>(vec![text(id)]).await?)
    }

    async fn put_variant(
        &self,
        rows: &mut Rows<'_>,
        product_id: &str,
        variant: &Variant,
        position: i64,
    ) -> Result<(), ApplyError> {
        let available = rows
            .get::<StockRow>(vec![text(variant.sku.as_str())])
            .await?
            .map_or(0, |s| s.available);
        rows.put(VariantRow {
            sku: variant.sku.to_string(),
            product_id: product_id.to_owned(),
            price: variant.price.amount,
            currency: variant.price.currency.to_string(),
            attributes: json(&variant.attributes),
            weight_grams: variant.weight_grams.map(i64::from),
            availability: self.availability(available).to_owned(),
            position,
        });
        Ok(())
    }

    /// Copies catalog details into a product row.
    fn set_details(row: &mut ProductRow, details: &ProductDetails) {
        row.title = details.title.clone();
        row.description = details.description.clone();
        row.brand = details.brand.clone();
        row.category = json(&details.category);
        row.category_path = details.category.join(" > ");
        row.attributes = json(&details.attributes);
        row.images = json(&details.images);
    }

    async fn apply_stock(
        &self,
        rows: &mut Rows<'_>,
        event: &InventoryEvent,
    ) -> Result<(), ApplyError> {
        let delta = available_delta(event);
        if delta == 0 {
            return Ok(());
        }
        let sku = event.sku().to_string();
        let mut stock = rows
            .get::<StockRow>(vec![text(&sku)])
            .await?
            .unwrap_or(StockRow {
                sku: sku.clone(),
                available: 0,
            });
        let before = self.availability(stock.available);
        stock.available += delta;
        let after = self.availability(stock.available);
        rows.put(stock);
        if before != after
            && let Some(mut variant) = rows.get::<VariantRow>(vec![text(&sku)]).await?
        {
            variant.availability = after.to_owned();
            rows.put(variant);
        }
        Ok(())
    }

    async fn apply_product(
        &self,
        rows: &mut Rows<'_>,
        event: &ProductEvent,
        at: i64,
    ) -> Result<(), ApplyError> {
        match event {
            ProductEvent::ProductCreated {
                product_id,
                details,
                currency,
                variants,
            } => {
                let id = product_id.to_string();
                let mut row = ProductRow {
                    product_id: id.clone(),
                    title: String::new(),
                    description: String::new(),
                    brand: String::new(),
                    category: String::new(),
                    category_path: String::new(),
                    attributes: String::new(),
                    images: String::new(),
                    currency: currency.to_string(),
                    price_min: variants.iter().map(|v| v.price.amount).min().unwrap_or(0),
                    price_max: variants.iter().map(|v| v.price.amount).max().unwrap_or(0),
                    status: "active".into(),
                    rating_hundredths: None,
                    review_count: 0,
                    variant_count: variants.len() as i64,
                    variant_prices: json(
                        &variants
                            .iter()
                            .map(|v| (v.sku.to_string(), v.price.amount))
                            .collect::<BTreeMap<_, _>>(),
                    ),
                    created_at: at,
                    updated_at: at,
                };
                Self::set_details(&mut row, details);
                rows.put(row);
                for (i, v) in variants.iter().enumerate() {
                    self.put_variant(rows, &id, v, i as i64).await?;
                }
            }
            ProductEvent::ProductDetailsUpdated {
                product_id,
                details,
            } => {
                if let Some(mut row) = Self::product(rows, product_id.as_str()).await? {
                    Self::set_details(&mut row, details);
                    row.updated_at = at;
                    rows.put(row);
                }
            }
            ProductEvent::VariantAdded {
                product_id,
                variant,
            } => {
                if let Some(mut row) = Self::product(rows, product_id.as_str()).await? {
                    self.put_variant(rows, product_id.as_str(), variant, row.variant_count)
                        .await?;
                    row.variant_count += 1;
                    set_price(&mut row, variant.sku.as_str(), variant.price.amount)?;
                    row.updated_at = at;
                    rows.put(row);
                }
            }
            ProductEvent::VariantPriceChanged {
                product_id,
                sku,
                price,
                ..
            } => {
                if let Some(mut variant) = rows.get::<VariantRow>(vec![text(sku.as_str())]).await? {
                    variant.price = price.amount;
                    rows.put(variant);
                }
                if let Some(mut row) = Self::product(rows, product_id.as_str()).await? {
                    set_price(&mut row, sku.as_str(), price.amount)?;
                    row.updated_at = at;
                    rows.put(row);
                }
            }
            ProductEvent::ProductDiscontinued { product_id, .. } => {
                if let Some(mut row) = Self::product(rows, product_id.as_str()).await? {
                    row.status = "discontinued".into();
                    row.updated_at = at;
                    rows.put(row);
                }
            }
            ProductEvent::ReviewSubmitted {
                product_id,
                review_id,
                customer_id,
                rating,
                text: body,
            } => rows.put(ReviewRow {
                review_id: review_id.to_string(),
                product_id: product_id.to_string(),
                customer_id: customer_id.to_string(),
                rating: i64::from(*rating),
                text: body.clone(),
                status: "pending".into(),
                reason: None,
                submitted_at: at,
                moderated_at: None,
            }),
            ProductEvent::ReviewApproved {
                product_id,
                review_id,
                approved_reviews,
                rating_sum,
                ..
            } => {
                self.moderate(rows, review_id.as_str(), "approved", None, at)
                    .await?;
                self.rate(
                    rows,
                    product_id.as_str(),
                    *approved_reviews,
                    *rating_sum,
                    at,
                )
                .await?;
            }
            ProductEvent::ReviewRejected {
                product_id,
                review_id,
                reason,
                approved_reviews,
                rating_sum,
                ..
            } => {
                self.moderate(
                    rows,
                    review_id.as_str(),
                    "rejected",
                    Some(reason.clone()),
                    at,
                )
                .await?;
                self.rate(
                    rows,
                    product_id.as_str(),
                    *approved_reviews,
                    *rating_sum,
                    at,
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn moderate(
        &self,
        rows: &mut Rows<'_>,
        review_id: &str,
        status: &str,
        reason: Option<String>,
        at: i64,
    ) -> Result<(), ApplyError> {
        if let Some(mut review) = rows.get::<ReviewRow>(vec![text(review_id)]).await? {
            review.status = status.to_owned();
            review.reason = reason;
            review.moderated_at = Some(at);
            rows.put(review);
        }
        Ok(())
    }

    async fn rate(
        &self,
        rows: &mut Rows<'_>,
        product_id: &str,
        approved: u32,
        rating_sum: u64,
        at: i64,
    ) -> Result<(), ApplyError> {
        if let Some(mut row) = Self::product(rows, product_id).await? {
            let count = u64::from(approved);
            row.review_count = i64::from(approved);
            row.rating_hundredths =
                (count > 0).then(|| ((rating_sum.saturating_mul(100) + count / 2) / count) as i64);
            row.updated_at = at;
            rows.put(row);
        }
        Ok(())
    }
}

/// Records a variant's price in the product row and recomputes the price range.
fn set_price(row: &mut ProductRow, sku: &str, price: i64) -> Result<(), ApplyError> {
    let mut prices: BTreeMap<String, i64> = serde_json::from_str(&row.variant_prices)
        .map_err(|e| ApplyError::Poison(format!("stored variant prices: {e}")))?;
    prices.insert(sku.to_owned(), price);
    row.price_min = prices.values().copied().min().unwrap_or(price);
    row.price_max = prices.values().copied().max().unwrap_or(price);
    row.variant_prices = json(&prices);
    Ok(())
}

#[async_trait]
impl Projection for Catalog {
    fn name(&self) -> &'static str {
        "catalog"
    }

    fn rebuild_weight(&self) -> u32 {
        2
    }

    fn tables(&self) -> &'static [&'static TableDef] {
        &[
            ProductRow::TABLE,
            VariantRow::TABLE,
            ReviewRow::TABLE,
            StockRow::TABLE,
        ]
    }

    fn categories(&self) -> &'static [&'static str] {
        &["product", "inventory"]
    }

    async fn apply(&self, event: &RecordedEvent, rows: &mut Rows<'_>) -> Result<(), ApplyError> {
        let at = millis(event.metadata.occurred_at);
        if event.stream.as_str().starts_with("inventory-") {
            let decoded = rows.decode::<InventoryEvent>(event)?;
            self.apply_stock(rows, &decoded).await
        } else {
            let decoded = rows.decode::<ProductEvent>(event)?;
            self.apply_product(rows, &decoded, at).await
        }
    }
}
