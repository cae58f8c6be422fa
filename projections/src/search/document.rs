//! What the index stores: one [`ProductDocument`] per product, stamped with the log position it
//! was built from, and the checks every adapter applies before writing (so a document one backend
//! would refuse is refused by all).

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

use super::SearchError;

/// The `$all` position a document was built from: `(commit, prepare)`, ordered like the event
/// store's positions. The index keeps the newest it applied per product and ignores older writes,
/// so replays and retries of the projection are harmless.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SearchPosition(pub u64, pub u64);

impl SearchPosition {
    /// The commit part.
    pub const fn commit(&self) -> u64 {
        self.0
    }

    /// The prepare part.
    pub const fn prepare(&self) -> u64 {
        self.1
    }

    /// A sortable, lossless text form (both parts zero-padded to 20 digits): Meilisearch stores
    /// numbers as floats, which would round positions past 2^53.
    pub fn to_key(&self) -> String {
        format!("{:020}:{:020}", self.0, self.1)
    }

    /// Parses [`to_key`](Self::to_key)'s form.
    pub fn from_key(key: &str) -> Option<Self> {
        let (commit, prepare) = key.split_once(':')?;
        Some(Self(commit.parse().ok()?, prepare.parse().ok()?))
    }
}

impl fmt::Display for SearchPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0, self.1)
    }
}

impl From<shop_eventstore::Position> for SearchPosition {
    fn from(position: shop_eventstore::Position) -> Self {
        Self(position.commit(), position.prepare())
    }
}

/// One product as search sees it. Built by a projection from product and inventory events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDocument {
    /// Primary key (`id` in Meilisearch): ASCII letters, digits, `-` and `_`, at most 511 bytes.
    pub product_id: String,
    pub title: String,
    pub description: String,
    /// `""` = unbranded (not counted in the brand facet).
    pub brand: String,
    /// The category path, broadest first, e.g. `["Clothing", "T-Shirts"]`.
    pub category: Vec<String>,
    /// ISO 4217 code.
    pub currency: String,
    /// Minor units, cheapest variant. Filters, sorts and price stats use this one.
    pub price_min: i64,
    /// Minor units, dearest variant.
    pub price_max: i64,
    /// Average rating in hundredths of a star (450 = 4.5); `None` = no approved reviews.
    pub rating: Option<u32>,
    pub review_count: u32,
    pub in_stock: bool,
    /// Variant attributes, e.g. `colour -> [Blue, Red]`. Keys: ASCII letters, digits, `-`, `_`.
    pub attributes: BTreeMap<String, Vec<String>>,
    pub skus: Vec<String>,
    pub image: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The log position this document was built from.
    pub position: SearchPosition,
}

/// The longest id Meilisearch accepts as a primary key.
const MAX_ID_BYTES: usize = 511;
/// Attribute keys become filter and facet names (`attributes.<key>`); kept short and plain.
const MAX_ATTRIBUTE_KEY_BYTES: usize = 64;

/// Refuses a product id Meilisearch would refuse, so both adapters accept the same documents.
pub(crate) fn check_product_id(id: &str) -> Result<(), SearchError> {
    let plain = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if id.is_empty() || id.len() > MAX_ID_BYTES || !plain {
        return Err(SearchError::InvalidDocument(format!(
            "product id {id:?} must be 1 to {MAX_ID_BYTES} ASCII letters, digits, '-' or '_'"
        )));
    }
    Ok(())
}

/// Whether an attribute key can be used as a filter/facet name without quoting: a `.` would
/// read as nesting in Meilisearch and spaces or operators would break the filter expression.
pub(crate) fn is_plain_attribute_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_ATTRIBUTE_KEY_BYTES
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a whole batch before anything is written, so a bad document fails the call cleanly.
pub(crate) fn check_documents(docs: &[ProductDocument]) -> Result<(), SearchError> {
    for doc in docs {
        check_product_id(&doc.product_id)?;
        if let Some(key) = doc.attributes.keys().find(|k| !is_plain_attribute_key(k)) {
            return Err(SearchError::InvalidDocument(format!(
                "product {}: attribute name {key:?} must be 1 to {MAX_ATTRIBUTE_KEY_BYTES} ASCII \
                 letters, digits, '-' or '_'",
                doc.product_id
            )));
        }
    }
    Ok(())
}

/// A facet or filter value as both backends compare it: trimmed and lowercased (Meilisearch's
/// facet normalisation also applies Unicode compatibility decomposition, which the embedded
/// adapter does not; see docs/search.md).
pub(crate) fn normalize_value(value: &str) -> String {
    value.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_keys_sort_like_positions() {
        let a = SearchPosition(9, 1);
        let b = SearchPosition(10, 0);
        assert!(a < b);
        assert!(a.to_key() < b.to_key());
        assert_eq!(SearchPosition::from_key(&b.to_key()), Some(b));
        let max = SearchPosition(u64::MAX, u64::MAX);
        assert_eq!(SearchPosition::from_key(&max.to_key()), Some(max));
    }

    #[test]
    fn ids_and_keys_are_checked() {
        assert!(check_product_id("p-1_A").is_ok());
        assert!(check_product_id("").is_err());
        assert!(check_product_id("a b").is_err());
        assert!(check_product_id("é").is_err());
        assert!(is_plain_attribute_key("shoe-size_eu"));
        assert!(!is_plain_attribute_key("a.b"));
        assert!(!is_plain_attribute_key("a b"));
    }
}
