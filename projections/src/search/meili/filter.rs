//! Filters as Meilisearch filter expressions. String values are double-quoted with `"` escaped
//! (the filter parser unescapes only `\"`; values it could not read back are refused earlier by
//! `SearchQuery::validate`); attribute names are checked plain, so `attributes.<key>` needs no
//! quoting.

use crate::search::SearchFilter;

/// The filter every search applies: tombstones are never results.
pub(super) const LIVE: &str = "deleted = false";

/// The filter expression for a search.
pub(super) fn filter_expression(filter: &SearchFilter) -> String {
    let mut parts = vec![LIVE.to_owned()];
    if !filter.brands.is_empty() {
        parts.push(format!("brand IN [{}]", list(&filter.brands)));
    }
    if let Some(category) = &filter.category {
        parts.push(format!("category = {}", quote(category)));
    }
    if let Some(min) = filter.price_min {
        parts.push(format!("price_min >= {min}"));
    }
    if let Some(max) = filter.price_max {
        parts.push(format!("price_min <= {max}"));
    }
    if let Some(rating) = filter.rating_min {
        parts.push(format!("rating >= {rating}"));
    }
    if let Some(in_stock) = filter.in_stock {
        parts.push(format!("in_stock = {in_stock}"));
    }
    for (key, values) in &filter.attributes {
        parts.push(format!("attributes.{key} IN [{}]", list(values)));
    }
    parts.join(" AND ")
}

/// `id IN [...]` for reading what the index holds for some products.
pub(super) fn ids_filter<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = ids.into_iter().map(quote).collect();
    format!("id IN [{}]", quoted.join(", "))
}

fn list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| quote(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A double-quoted filter value. Trimmed, as Meilisearch normalises facet values.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.trim().replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn builds_an_escaped_expression() {
        let filter = SearchFilter {
            brands: vec!["Acme \"Pro\"".into(), "Fleet".into()],
            category: Some(" T-Shirts ".into()),
            price_min: Some(-5),
            price_max: Some(2500),
            rating_min: Some(450),
            in_stock: Some(true),
            attributes: BTreeMap::from([("colour".into(), vec!["Blue".into(), "a\\b".into()])]),
        };
        assert_eq!(
            filter_expression(&filter),
            r#"deleted = false AND brand IN ["Acme \"Pro\"", "Fleet"] AND category = "T-Shirts" AND price_min >= -5 AND price_min <= 2500 AND rating >= 450 AND in_stock = true AND attributes.colour IN ["Blue", "a\b"]"#
        );
        assert_eq!(ids_filter(["a", "b-1"]), r#"id IN ["a", "b-1"]"#);
    }
}
