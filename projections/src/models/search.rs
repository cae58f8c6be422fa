//! Search read model: one search document per product, kept in SQL with the other read models and
//! shipped to the search index by the [`SearchFeed`](crate::search::SearchFeed). The table is a
//! transactional outbox: its rows commit in the same transaction as the projection's checkpoint,
//! so it holds exactly the effect of the log up to the checkpoint, and the feed ships it to the
//! index afterwards, in position order, where the index's position rule makes shipping twice
//! harmless (docs/search.md, "Keeping the index up to date").
//!
//! A row holds the product's [`ProductDocument`] as JSON, the position of the last event that
//! changed the document (also an indexed pair of columns, for the feed's keyset walk) and whether
//! the product is deleted from search (discontinued). An event that leaves the document as it was
//! does not touch the row: the position only moves when the document changes, so the feed ships
//! only real changes. A deleted document is final (the domain has no way back from
//! discontinued): later events leave it, and its position, alone.
//!
//! Stock comes from the inventory streams: a per-SKU table keeps the product each SKU belongs to
//! and the units available over all warehouses, and a product is `in_stock` while any of its SKUs
//! has units available. Fields are mapped as the catalog read model maps them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use shop_domain::inventory::InventoryEvent;
use shop_domain::product::{ProductDetails, ProductEvent, Variant};
use shop_eventstore::RecordedEvent;

use super::{available_delta, json, millis};
use crate::rows::{Rows, TableDef, TableRow, text};
use crate::runner::{ApplyError, Projection};
use crate::search::{ProductDocument, SearchPosition, is_plain_attribute_key};
use crate::store::{position_from, position_parts};
use crate::table;

table! {
    /// One product's search document: what the search feed ships to the index.
    pub struct SearchDocumentRow in "search_documents" {
        key { product_id: String }
        fields {
            /// JSON of the [`ProductDocument`]; its `position` is the one in the columns below.
            document: String,
            /// Commit part of the position of the last event that changed the document.
            commit_pos: i64,
            /// Prepare part of that position.
            prepare_pos: i64,
            /// Discontinued: the feed deletes it from the index (a tombstone at this position).
            deleted: bool,
            /// JSON object SKU → price (minor units), internal: the price range is recomputed
            /// from it when one variant's price changes.
            variant_prices: String,
        }
        // The feed's walk: `(commit_pos, prepare_pos, product_id) > (…) ORDER BY` these three.
        indexes [["commit_pos", "prepare_pos", "product_id"]]
    }
}

table! {
    /// Per SKU: its product (`None` while only inventory events have named the SKU) and the units
    /// available over all warehouses.
    pub struct SearchSkuRow in "search_skus" {
        key { sku: String }
        fields { product_id: Option<String>, available: i64 }
        indexes []
    }
}

/// The projection's name (its checkpoint and lock).
pub const NAME: &str = "search";

/// The order the search feed walks [`SearchDocumentRow`]s in (then by product id, the key):
/// position order.
pub const POSITION_ORDER: &[&str] = &["commit_pos", "prepare_pos"];

impl SearchDocumentRow {
    /// The stored document.
    pub fn parse(&self) -> Result<ProductDocument, serde_json::Error> {
        serde_json::from_str(&self.document)
    }

    /// The position of the last event that changed the document.
    pub fn position(&self) -> SearchPosition {
        position_from(self.commit_pos, self.prepare_pos).into()
    }
}

/// The search projection (`search`): maintains [`SearchDocumentRow`]s and [`SearchSkuRow`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchModel;

/// Where the event being applied is, in the three shapes this model needs.
#[derive(Clone, Copy)]
struct At {
    position: SearchPosition,
    commit: i64,
    prepare: i64,
}

impl At {
    fn of(event: &RecordedEvent) -> Result<Self, ApplyError> {
        let (commit, prepare) =
            position_parts(event.position).map_err(|e| ApplyError::Poison(e.to_string()))?;
        Ok(Self {
            position: event.position.into(),
            commit,
            prepare,
        })
    }
}

/// A live document as stored, with the internal price map and where it was last changed.
#[derive(Clone)]
struct Stored {
    doc: ProductDocument,
    prices: BTreeMap<String, i64>,
    at: At,
}

async fn load_row(
    rows: &mut Rows<'_>,
    product_id: &str,
) -> Result<Option<SearchDocumentRow>, ApplyError> {
    Ok(rows
        .get::<SearchDocumentRow>(vec![text(product_id)])
        .await?)
}

/// The product's document unless it is missing or deleted.
async fn load_live(rows: &mut Rows<'_>, product_id: &str) -> Result<Option<Stored>, ApplyError> {
    let Some(row) = load_row(rows, product_id).await? else {
        return Ok(None);
    };
    if row.deleted {
        return Ok(None);
    }
    let doc = row
        .parse()
        .map_err(|e| ApplyError::Poison(format!("stored search document {product_id}: {e}")))?;
    let prices = serde_json::from_str(&row.variant_prices)
        .map_err(|e| ApplyError::Poison(format!("stored variant prices {product_id}: {e}")))?;
    let at = At {
        position: row.position(),
        commit: row.commit_pos,
        prepare: row.prepare_pos,
    };
    Ok(Some(Stored { doc, prices, at }))
}

/// Writes a document stamped with `at`.
fn put(rows: &mut Rows<'_>, mut stored: Stored, deleted: bool, at: At) {
    stored.doc.position = at.position;
    rows.put(SearchDocumentRow {
        product_id: stored.doc.product_id.clone(),
        document: json(&stored.doc),
        commit_pos: at.commit,
        prepare_pos: at.prepare,
        deleted,
        variant_prices: json(&stored.prices),
    });
}

/// Writes `after` stamped with `at` if its document differs from `before`'s. An event that
/// changes nothing the index shows leaves the position alone, so the feed does not ship the
/// document again; the row is still rewritten, at its old position, if only the internal price
/// map changed.
fn put_if_changed(rows: &mut Rows<'_>, before: &Stored, after: Stored, at: At) {
    if after.doc != before.doc {
        put(rows, after, false, at);
    } else if after.prices != before.prices {
        put(rows, after, false, before.at);
    }
}

/// Whether any of these SKUs has units available.
async fn any_available(rows: &mut Rows<'_>, skus: &[String]) -> Result<bool, ApplyError> {
    for sku in skus {
        let row = rows.get::<SearchSkuRow>(vec![text(sku.as_str())]).await?;
        if row.is_some_and(|s| s.available > 0) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Records that `sku` belongs to `product_id`, keeping the stock already counted for it
/// (inventory may name a SKU before its product exists).
async fn claim_sku(rows: &mut Rows<'_>, sku: &str, product_id: &str) -> Result<(), ApplyError> {
    let mut row = rows
        .get::<SearchSkuRow>(vec![text(sku)])
        .await?
        .unwrap_or(SearchSkuRow {
            sku: sku.to_owned(),
            product_id: None,
            available: 0,
        });
    if row.product_id.as_deref() != Some(product_id) {
        row.product_id = Some(product_id.to_owned());
        rows.put(row);
    }
    Ok(())
}

/// Copies catalog details into a document (as the catalog read model reads them).
fn set_details(doc: &mut ProductDocument, details: &ProductDetails) {
    doc.title = details.title.clone();
    doc.description = details.description.clone();
    doc.brand = details.brand.clone();
    doc.category = details.category.clone();
    doc.image = details.images.first().cloned();
}

/// Adds a variant's attributes to the document's value lists (sorted, without repeats). Names the
/// index cannot use as filter and facet names (anything but ASCII letters, digits, `-` and `_`,
/// or over 64 bytes; the domain allows more) are left out: a document holding one would be
/// refused by the index as a whole.
fn add_variant(doc: &mut ProductDocument, prices: &mut BTreeMap<String, i64>, variant: &Variant) {
    let sku = variant.sku.to_string();
    if !doc.skus.contains(&sku) {
        doc.skus.push(sku.clone());
    }
    for (key, value) in &variant.attributes {
        if !is_plain_attribute_key(key) {
            continue;
        }
        let values = doc.attributes.entry(key.clone()).or_default();
        if let Err(at) = values.binary_search(value) {
            values.insert(at, value.clone());
        }
    }
    prices.insert(sku, variant.price.amount);
    set_price_range(doc, prices);
}

fn set_price_range(doc: &mut ProductDocument, prices: &BTreeMap<String, i64>) {
    doc.price_min = prices.values().copied().min().unwrap_or(0);
    doc.price_max = prices.values().copied().max().unwrap_or(0);
}

/// Average rating in hundredths of a star, rounded half up, as the catalog computes it.
fn rating_hundredths(approved: u32, rating_sum: u64) -> Option<u32> {
    let count = u64::from(approved);
    (count > 0).then(|| ((rating_sum.saturating_mul(100) + count / 2) / count) as u32)
}

impl SearchModel {
    async fn apply_stock(
        &self,
        rows: &mut Rows<'_>,
        event: &InventoryEvent,
        at: At,
    ) -> Result<(), ApplyError> {
        let delta = available_delta(event);
        if delta == 0 {
            return Ok(());
        }
        let sku = event.sku().to_string();
        let mut stock = rows
            .get::<SearchSkuRow>(vec![text(&sku)])
            .await?
            .unwrap_or(SearchSkuRow {
                sku: sku.clone(),
                product_id: None,
                available: 0,
            });
        let was_available = stock.available > 0;
        stock.available += delta;
        let is_available = stock.available > 0;
        let product_id = stock.product_id.clone();
        rows.put(stock);
        // Only a SKU crossing zero can flip its product's `in_stock`.
        if was_available != is_available
            && let Some(product_id) = &product_id
            && let Some(before) = load_live(rows, product_id).await?
        {
            let mut after = before.clone();
            after.doc.in_stock = any_available(rows, &before.doc.skus).await?;
            put_if_changed(rows, &before, after, at);
        }
        Ok(())
    }

    async fn apply_product(
        &self,
        rows: &mut Rows<'_>,
        event: &ProductEvent,
        at: At,
        occurred_at: i64,
    ) -> Result<(), ApplyError> {
        match event {
            ProductEvent::ProductCreated {
                product_id,
                details,
                currency,
                variants,
            } => {
                let id = product_id.to_string();
                for variant in variants {
                    claim_sku(rows, variant.sku.as_str(), &id).await?;
                }
                let mut stored = Stored {
                    doc: ProductDocument {
                        product_id: id,
                        title: String::new(),
                        description: String::new(),
                        brand: String::new(),
                        category: Vec::new(),
                        currency: currency.to_string(),
                        price_min: 0,
                        price_max: 0,
                        rating: None,
                        review_count: 0,
                        in_stock: false,
                        attributes: BTreeMap::new(),
                        skus: Vec::new(),
                        image: None,
                        created_at: occurred_at,
                        position: at.position,
                    },
                    prices: BTreeMap::new(),
                    at,
                };
                set_details(&mut stored.doc, details);
                for variant in variants {
                    add_variant(&mut stored.doc, &mut stored.prices, variant);
                }
                stored.doc.in_stock = any_available(rows, &stored.doc.skus).await?;
                put(rows, stored, false, at);
            }
            ProductEvent::ProductDetailsUpdated {
                product_id,
                details,
            } => {
                if let Some(before) = load_live(rows, product_id.as_str()).await? {
                    let mut after = before.clone();
                    set_details(&mut after.doc, details);
                    put_if_changed(rows, &before, after, at);
                }
            }
            ProductEvent::VariantAdded {
                product_id,
                variant,
            } => {
                claim_sku(rows, variant.sku.as_str(), product_id.as_str()).await?;
                if let Some(before) = load_live(rows, product_id.as_str()).await? {
                    let mut after = before.clone();
                    add_variant(&mut after.doc, &mut after.prices, variant);
                    after.doc.in_stock = any_available(rows, &after.doc.skus).await?;
                    put_if_changed(rows, &before, after, at);
                }
            }
            ProductEvent::VariantPriceChanged {
                product_id,
                sku,
                price,
                ..
            } => {
                if let Some(before) = load_live(rows, product_id.as_str()).await? {
                    let mut after = before.clone();
                    after.prices.insert(sku.to_string(), price.amount);
                    set_price_range(&mut after.doc, &after.prices);
                    // A change inside the price range is kept (the next change needs it) without
                    // moving the position: the index shows only the range.
                    put_if_changed(rows, &before, after, at);
                }
            }
            ProductEvent::ProductDiscontinued { product_id, .. } => {
                if let Some(stored) = load_live(rows, product_id.as_str()).await? {
                    put(rows, stored, true, at);
                }
            }
            ProductEvent::ReviewApproved {
                product_id,
                approved_reviews,
                rating_sum,
                ..
            }
            | ProductEvent::ReviewRejected {
                product_id,
                approved_reviews,
                rating_sum,
                ..
            } => {
                if let Some(before) = load_live(rows, product_id.as_str()).await? {
                    let mut after = before.clone();
                    after.doc.rating = rating_hundredths(*approved_reviews, *rating_sum);
                    after.doc.review_count = *approved_reviews;
                    put_if_changed(rows, &before, after, at);
                }
            }
            // Pending reviews are not shown.
            ProductEvent::ReviewSubmitted { .. } => {}
        }
        Ok(())
    }
}

#[async_trait]
impl Projection for SearchModel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static TableDef] {
        &[SearchDocumentRow::TABLE, SearchSkuRow::TABLE]
    }

    fn categories(&self) -> &'static [&'static str] {
        &["product", "inventory"]
    }

    async fn apply(&self, event: &RecordedEvent, rows: &mut Rows<'_>) -> Result<(), ApplyError> {
        let at = At::of(event)?;
        if event.stream.as_str().starts_with("inventory-") {
            let decoded = rows.decode::<InventoryEvent>(event)?;
            self.apply_stock(rows, &decoded, at).await
        } else {
            let occurred_at = millis(event.metadata.occurred_at);
            let decoded = rows.decode::<ProductEvent>(event)?;
            self.apply_product(rows, &decoded, at, occurred_at).await
        }
    }
}
