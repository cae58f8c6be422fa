//! The documents as stored in Meilisearch: the product under `id`, its position as a sortable
//! string (numbers are floats there, exact only up to 2^53), and a `deleted` flag. A deletion
//! replaces the product with a tombstone `{id, position, deleted: true}` in the same index, so a
//! write and its position check stay one task, and every search filters `deleted = false`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::search::{ProductDocument, SearchError, SearchPosition};

/// A live product.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct MeiliProduct {
    pub id: String,
    pub title: String,
    pub description: String,
    /// `null` when unbranded, so the brand facet does not count an empty value.
    pub brand: Option<String>,
    pub category: Vec<String>,
    pub currency: String,
    pub price_min: i64,
    pub price_max: i64,
    pub rating: Option<u32>,
    pub review_count: u32,
    pub in_stock: bool,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub skus: Vec<String>,
    pub image: Option<String>,
    pub created_at: i64,
    pub position: String,
    pub deleted: bool,
}

impl From<&ProductDocument> for MeiliProduct {
    fn from(doc: &ProductDocument) -> Self {
        Self {
            id: doc.product_id.clone(),
            title: doc.title.clone(),
            description: doc.description.clone(),
            brand: (!doc.brand.is_empty()).then(|| doc.brand.clone()),
            category: doc.category.clone(),
            currency: doc.currency.clone(),
            price_min: doc.price_min,
            price_max: doc.price_max,
            rating: doc.rating,
            review_count: doc.review_count,
            in_stock: doc.in_stock,
            attributes: doc.attributes.clone(),
            skus: doc.skus.clone(),
            image: doc.image.clone(),
            created_at: doc.created_at,
            position: doc.position.to_key(),
            deleted: false,
        }
    }
}

impl TryFrom<MeiliProduct> for ProductDocument {
    type Error = SearchError;

    fn try_from(doc: MeiliProduct) -> Result<Self, SearchError> {
        Ok(Self {
            position: parse_position(&doc.position)?,
            product_id: doc.id,
            title: doc.title,
            description: doc.description,
            brand: doc.brand.unwrap_or_default(),
            category: doc.category,
            currency: doc.currency,
            price_min: doc.price_min,
            price_max: doc.price_max,
            rating: doc.rating,
            review_count: doc.review_count,
            in_stock: doc.in_stock,
            attributes: doc.attributes,
            skus: doc.skus,
            image: doc.image,
            created_at: doc.created_at,
        })
    }
}

/// A deletion.
#[derive(Debug, Serialize)]
pub(super) struct Tombstone {
    pub id: String,
    pub position: String,
    pub deleted: bool,
}

/// A stock update, merged into the stored product (`PUT /documents`).
#[derive(Debug, Serialize)]
pub(super) struct StockPatch {
    pub id: String,
    pub in_stock: bool,
    pub position: String,
}

/// What the index holds for an id: enough to apply the position rule.
#[derive(Debug, Deserialize)]
pub(super) struct HeldDoc {
    pub id: String,
    pub position: String,
    #[serde(default)]
    pub deleted: bool,
}

/// The fields [`HeldDoc`] needs.
pub(super) const HELD_FIELDS: [&str; 3] = ["id", "position", "deleted"];

pub(super) fn parse_position(key: &str) -> Result<SearchPosition, SearchError> {
    SearchPosition::from_key(key)
        .ok_or_else(|| SearchError::Backend(format!("unreadable stored position {key:?}")))
}
