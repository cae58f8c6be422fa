//! Product search: full text with typo tolerance, filters, facet counts, sort and pages, mapped
//! onto the `SearchIndex` port (Tantivy embedded, Meilisearch in production).
//!
//! `GET /search?q=linen shirt&brand=Acme,Nordkind&category=Clothing&price_min=1000&price_max=5000
//! &rating_min=4&in_stock=true&attr.colour=blue,white&facets=brand,category,attributes.colour
//! &sort=price_asc&limit=20&cursor=…`

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use shop_projections::search::{Facet, SearchFilter, SearchQuery, SortOrder};
use utoipa::ToSchema;

use super::AppState;
use super::fresh::{MinPosition, settle_search};
use super::output::Read;
use crate::problem::{FieldError, Problem};

/// The deepest result a page may reach (Meilisearch's default `maxTotalHits`).
pub const MAX_DEPTH: usize = 1000;
/// Most facets, and attribute filters, one search may ask for.
pub const MAX_FACETS: usize = 10;
/// Most values of one filter (brands, one attribute).
pub const MAX_VALUES: usize = 50;

/// A hit.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hit {
    /// The product.
    pub product_id: String,
    /// Title.
    pub title: String,
    /// Brand.
    pub brand: String,
    /// Category path.
    pub category: Vec<String>,
    /// Currency.
    pub currency: String,
    /// Cheapest variant, minor units.
    pub price_min: i64,
    /// Dearest variant, minor units.
    pub price_max: i64,
    /// Average rating × 100.
    pub rating: Option<u32>,
    /// Approved reviews.
    pub review_count: u32,
    /// Any variant in stock.
    pub in_stock: bool,
    /// First image.
    pub image: Option<String>,
}

/// Search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    /// This page's hits.
    pub hits: Vec<Hit>,
    /// Matching products in all.
    pub total: u64,
    /// Facet → value → matching products, for each facet asked for.
    pub facets: BTreeMap<String, BTreeMap<String, u64>>,
    /// Cheapest and dearest price among the matches.
    pub price_range: Option<[i64; 2]>,
    /// The next page's cursor.
    pub next_cursor: Option<String>,
}

fn bad(pointer: &str, detail: impl Into<String>) -> FieldError {
    FieldError {
        pointer: pointer.to_owned(),
        detail: detail.into(),
    }
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The query string as a [`SearchQuery`], or every invalid parameter.
pub fn parse(raw: Option<&str>) -> Result<SearchQuery, Problem> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|_| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "Invalid query string",
                "the query string is not URL-encoded key=value pairs",
            )
        })?;
    let mut query = SearchQuery::default();
    let mut filter = SearchFilter::default();
    let mut errors = Vec::new();
    let int = |key: &str, value: &str, errors: &mut Vec<FieldError>| -> Option<i64> {
        value
            .parse::<i64>()
            .map_err(|_| errors.push(bad(&format!("/{key}"), "an integer is expected")))
            .ok()
    };
    for (key, value) in &pairs {
        match key.as_str() {
            "q" => {
                if value.chars().count() > 200 {
                    errors.push(bad("/q", "at most 200 characters"));
                }
                query.text = value.clone();
            }
            "brand" => filter.brands = list(value),
            "category" => filter.category = Some(value.trim().to_owned()),
            "price_min" => filter.price_min = int(key, value, &mut errors),
            "price_max" => filter.price_max = int(key, value, &mut errors),
            "rating_min" => match value.parse::<u32>() {
                Ok(r) if r <= 500 => filter.rating_min = Some(r),
                _ => errors.push(bad("/rating_min", "0 to 500 (stars × 100)")),
            },
            "in_stock" => match value.as_str() {
                "true" => filter.in_stock = Some(true),
                "false" => filter.in_stock = Some(false),
                _ => errors.push(bad("/in_stock", "true or false")),
            },
            "facets" => {
                for name in list(value) {
                    match name.as_str() {
                        "brand" => query.facets.push(Facet::Brand),
                        "category" => query.facets.push(Facet::Category),
                        other => match other.strip_prefix("attributes.") {
                            Some(attr) => query.facets.push(Facet::Attribute(attr.to_owned())),
                            None => errors.push(bad(
                                "/facets",
                                format!(
                                    "unknown facet {other:?}: brand, category, attributes.<name>"
                                ),
                            )),
                        },
                    }
                }
            }
            "sort" => {
                query.sort = match value.as_str() {
                    "relevance" => SortOrder::Relevance,
                    "price_asc" => SortOrder::PriceAsc,
                    "price_desc" => SortOrder::PriceDesc,
                    "rating_desc" => SortOrder::RatingDesc,
                    "newest" => SortOrder::Newest,
                    _ => {
                        errors.push(bad(
                            "/sort",
                            "relevance, price_asc, price_desc, rating_desc or newest",
                        ));
                        SortOrder::Relevance
                    }
                }
            }
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=shop_projections::search::MAX_LIMIT).contains(&n) => query.limit = n,
                _ => errors.push(bad("/limit", "1 to 100")),
            },
            "cursor" => match decode_cursor(value) {
                Some(offset) => query.offset = offset,
                None => errors.push(bad("/cursor", "not a cursor this search answered")),
            },
            "min_position" => {}
            other => match other.strip_prefix("attr.") {
                Some(attr) => {
                    filter.attributes.insert(attr.to_owned(), list(value));
                }
                None => errors.push(bad(&format!("/{other}"), "unknown parameter")),
            },
        }
    }
    query.facets.sort();
    query.facets.dedup();
    if query.facets.len() > MAX_FACETS {
        errors.push(bad("/facets", format!("at most {MAX_FACETS} facets")));
    }
    if filter.brands.len() > MAX_VALUES || filter.attributes.len() > MAX_FACETS {
        errors.push(bad(
            "",
            format!("at most {MAX_VALUES} brands and {MAX_FACETS} attribute filters"),
        ));
    }
    if filter.attributes.values().any(|v| v.len() > MAX_VALUES) {
        errors.push(bad(
            "",
            format!("at most {MAX_VALUES} values per attribute filter"),
        ));
    }
    if query.offset.saturating_add(query.limit) > MAX_DEPTH {
        errors.push(bad(
            "/cursor",
            format!("results beyond the first {MAX_DEPTH} are not served"),
        ));
    }
    query.filter = filter;
    if let Err(e) = query.validate() {
        errors.push(bad("", e.to_string()));
    }
    if errors.is_empty() {
        Ok(query)
    } else {
        Err(Problem::validation(errors))
    }
}

fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("o:")?.parse().ok()
}

/// Searches the catalog.
#[utoipa::path(get, path = "/search", tag = "search",
    params(
        ("q" = Option<String>, Query, description = "Words (typo-tolerant; the last is also a prefix)"),
        ("brand" = Option<String>, Query, description = "Brands, comma-separated"),
        ("category" = Option<String>, Query, description = "A category at any level"),
        ("price_min" = Option<i64>, Query, description = "Minor units"),
        ("price_max" = Option<i64>, Query, description = "Minor units"),
        ("rating_min" = Option<u32>, Query, description = "Stars × 100"),
        ("in_stock" = Option<bool>, Query),
        ("facets" = Option<String>, Query, description = "brand, category, attributes.<name>"),
        ("sort" = Option<String>, Query, description = "relevance, price_asc, price_desc, rating_desc, newest"),
        ("limit" = Option<usize>, Query),
        ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, description = "Results", body = SearchPage)))]
pub async fn search(
    State(app): State<AppState>,
    min: MinPosition,
    RawQuery(raw): RawQuery,
) -> Result<Read<SearchPage>, Problem> {
    let query = parse(raw.as_deref())?;
    let freshness = settle_search(&app, min).await;
    let results = app.search.search(&query).await.map_err(|e| {
        tracing::warn!(error = %e, "search failed");
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "search_unavailable",
            "Search unavailable",
            "the search index did not answer; try again shortly",
        )
        .retry_after(1)
    })?;
    let end = query.offset.saturating_add(results.hits.len());
    let next_cursor = ((end as u64) < results.total && end < MAX_DEPTH && !results.hits.is_empty())
        .then(|| encode_cursor(end));
    Ok(Read::new(
        SearchPage {
            hits: results
                .hits
                .into_iter()
                .map(|d| Hit {
                    product_id: d.product_id,
                    title: d.title,
                    brand: d.brand,
                    category: d.category,
                    currency: d.currency,
                    price_min: d.price_min,
                    price_max: d.price_max,
                    rating: d.rating,
                    review_count: d.review_count,
                    in_stock: d.in_stock,
                    image: d.image,
                })
                .collect(),
            total: results.total,
            facets: results.facets,
            price_range: results.price_stats.map(|(a, b)| [a, b]),
            next_cursor,
        },
        freshness,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_designs_query_parses() {
        let q = parse(Some(
            "q=linen%20shirt&brand=Acme,Nordkind&category=Clothing&price_min=1000&price_max=5000\
             &rating_min=400&in_stock=true&attr.colour=blue,white&facets=brand,attributes.colour\
             &sort=price_asc&limit=10",
        ))
        .unwrap();
        assert_eq!(q.text, "linen shirt");
        assert_eq!(q.filter.brands, vec!["Acme", "Nordkind"]);
        assert_eq!(q.filter.attributes["colour"], vec!["blue", "white"]);
        assert_eq!(q.facets.len(), 2);
        assert_eq!((q.sort, q.limit), (SortOrder::PriceAsc, 10));
    }

    #[test]
    fn bad_parameters_are_named() {
        let p = parse(Some("price_min=cheap&sort=random&wat=1&limit=1000")).unwrap_err();
        let pointers: Vec<_> = p.errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, vec!["/price_min", "/sort", "/wat", "/limit"]);
    }

    #[test]
    fn cursors_round_trip_and_are_bounded() {
        assert_eq!(decode_cursor(&encode_cursor(40)), Some(40));
        assert!(parse(Some(&format!("cursor={}", encode_cursor(995)))).is_err());
        assert!(parse(Some("cursor=garbage")).is_err());
    }
}
