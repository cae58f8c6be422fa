//! What a caller asks of the index and what it gets back: the shapes are the port's, so the API
//! can map a request onto [`SearchQuery`] once and never know which adapter answers.

use std::collections::BTreeMap;

use super::{ProductDocument, SearchError, document::is_plain_attribute_key};

/// The most hits one page may ask for.
pub const MAX_LIMIT: usize = 100;

/// A search: text, filters, facets to count, an order and a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Words to match (all of them, typo-tolerant, the last one also as a prefix). Empty: every
    /// document matches (placeholder search).
    pub text: String,
    pub filter: SearchFilter,
    pub facets: Vec<Facet>,
    pub sort: SortOrder,
    pub offset: usize,
    /// 1..=[`MAX_LIMIT`].
    pub limit: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        Self {
            text: String::new(),
            filter: SearchFilter::default(),
            facets: Vec::new(),
            sort: SortOrder::Relevance,
            offset: 0,
            limit: 20,
        }
    }
}

impl SearchQuery {
    /// A text search with the defaults (relevance, first 20 hits).
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// Every document (placeholder search).
    pub fn all() -> Self {
        Self::default()
    }

    /// With this filter.
    pub fn filtered(mut self, filter: SearchFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Counting these facets.
    pub fn with_facets(mut self, facets: impl IntoIterator<Item = Facet>) -> Self {
        self.facets = facets.into_iter().collect();
        self
    }

    /// In this order.
    pub fn sorted(mut self, sort: SortOrder) -> Self {
        self.sort = sort;
        self
    }

    /// This page.
    pub fn page(mut self, offset: usize, limit: usize) -> Self {
        self.offset = offset;
        self.limit = limit;
        self
    }

    /// Refuses what an adapter could not express safely; both adapters call it first, so they
    /// refuse the same queries.
    pub fn validate(&self) -> Result<(), SearchError> {
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(SearchError::InvalidQuery(format!(
                "limit must be between 1 and {MAX_LIMIT}, got {}",
                self.limit
            )));
        }
        for facet in &self.facets {
            if let Facet::Attribute(key) = facet {
                check_key(key)?;
            }
        }
        let filter = &self.filter;
        for brand in &filter.brands {
            check_value(brand)?;
        }
        if let Some(category) = &filter.category {
            check_value(category)?;
        }
        for (key, values) in &filter.attributes {
            check_key(key)?;
            if values.is_empty() {
                return Err(SearchError::InvalidQuery(format!(
                    "attribute filter {key:?} has no values"
                )));
            }
            values.iter().try_for_each(|v| check_value(v))?;
        }
        Ok(())
    }
}

fn check_key(key: &str) -> Result<(), SearchError> {
    if is_plain_attribute_key(key) {
        Ok(())
    } else {
        Err(SearchError::InvalidQuery(format!(
            "attribute name {key:?} must be ASCII letters, digits, '-' or '_'"
        )))
    }
}

/// Meilisearch's filter parser only unescapes `\"`: a value ending in a backslash, or with a
/// backslash right before a quote, cannot be written in a filter expression at all.
fn check_value(value: &str) -> Result<(), SearchError> {
    if value.trim().is_empty() {
        return Err(SearchError::InvalidQuery(
            "filter values must not be empty".into(),
        ));
    }
    if value.ends_with('\\') || value.contains("\\\"") {
        return Err(SearchError::InvalidQuery(format!(
            "filter value {value:?} cannot end with a backslash or have one before a quote"
        )));
    }
    Ok(())
}

/// Which documents may match. Every set part must hold (AND); string values compare
/// case-insensitively and trimmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// Any of these brands (empty: no brand filter).
    pub brands: Vec<String>,
    /// This category at any level of the path.
    pub category: Option<String>,
    /// `price_min >= this` (minor units).
    pub price_min: Option<i64>,
    /// `price_min <= this` (minor units).
    pub price_max: Option<i64>,
    /// `rating >= this` (hundredths); products without a rating never match.
    pub rating_min: Option<u32>,
    pub in_stock: Option<bool>,
    /// For each key, any of the values; keys are AND-ed.
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// A facet to count over the matching documents.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Facet {
    Brand,
    /// Every level of the category path is counted.
    Category,
    /// One variant attribute, e.g. `colour`.
    Attribute(String),
}

impl Facet {
    /// The name in [`SearchResults::facets`]: `brand`, `category`, `attributes.<key>`.
    pub fn name(&self) -> String {
        match self {
            Self::Brand => "brand".into(),
            Self::Category => "category".into(),
            Self::Attribute(key) => format!("attributes.{key}"),
        }
    }
}

/// The order of hits. With text, the sort applies within equally relevant hits (Meilisearch's
/// `sort` ranking rule comes after `words`, `typo`, `proximity` and `attribute`); ties then
/// break by product id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    /// Unrated products last.
    RatingDesc,
    /// Most recent `created_at` first.
    Newest,
}

/// One page of hits and the figures over all matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResults {
    pub hits: Vec<ProductDocument>,
    /// The exact number of matching documents.
    pub total: u64,
    /// Facet name -> value -> number of matching documents, for each requested facet (present
    /// even when empty). Values with the same normalised form are counted together.
    pub facets: BTreeMap<String, BTreeMap<String, u64>>,
    /// Lowest and highest `price_min` over the matches; `None` without matches.
    pub price_stats: Option<(i64, i64)>,
}

impl SearchResults {
    /// The hits' product ids, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.hits.iter().map(|h| h.product_id.as_str()).collect()
    }

    /// One facet's counts (empty if it was not requested).
    pub fn facet(&self, facet: &Facet) -> BTreeMap<String, u64> {
        self.facets.get(&facet.name()).cloned().unwrap_or_default()
    }
}
