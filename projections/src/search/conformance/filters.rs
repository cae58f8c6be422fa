//! Cases: each filter on its own, and case-insensitive values. Filters AND together; values
//! within one filter are alternatives.

use std::collections::BTreeMap;

use super::{id_set, ids, load_catalog, search};
use crate::search::{SearchFilter, SearchIndex, SearchQuery};

async fn filtered<I: SearchIndex + ?Sized>(
    index: &I,
    filter: SearchFilter,
) -> std::collections::BTreeSet<String> {
    let results = search(index, SearchQuery::all().filtered(filter).page(0, 100)).await;
    assert_eq!(
        results.total,
        results.hits.len() as u64,
        "total counts the filtered set"
    );
    id_set(&results)
}

fn attrs(list: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    list.iter()
        .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
        .collect()
}

/// Any of the listed brands.
pub async fn filter_by_brand<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let filter = SearchFilter {
        brands: vec!["Fleet".into(), "Sonique".into()],
        ..Default::default()
    };
    assert_eq!(
        filtered(index, filter).await,
        ids(&["sneakers-run", "headphones-wireless"])
    );
    let filter = SearchFilter {
        brands: vec!["Nobody".into()],
        ..Default::default()
    };
    assert_eq!(filtered(index, filter).await, ids(&[]));
}

/// A category matches at any level of the path.
pub async fn filter_by_category_at_any_level<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let by = |c: &str| SearchFilter {
        category: Some(c.into()),
        ..Default::default()
    };
    assert_eq!(
        filtered(index, by("Clothing")).await,
        ids(&["tshirt-classic", "hoodie-warm"])
    );
    assert_eq!(
        filtered(index, by("T-Shirts")).await,
        ids(&["tshirt-classic"])
    );
    assert_eq!(
        filtered(index, by("Accessories")).await,
        ids(&["wallet-slim", "stand-phone", "sleeve-laptop"])
    );
}

/// `price_min` within inclusive bounds; either bound may be open.
pub async fn filter_by_price_range<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let range = |min, max| SearchFilter {
        price_min: min,
        price_max: max,
        ..Default::default()
    };
    assert_eq!(
        filtered(index, range(Some(1500), Some(2500))).await,
        ids(&["tshirt-classic", "wallet-slim", "mug-travel"]),
        "both bounds inclusive"
    );
    assert_eq!(
        filtered(index, range(Some(6000), None)).await,
        ids(&["sneakers-run", "headphones-wireless"])
    );
    assert_eq!(
        filtered(index, range(None, Some(1200))).await,
        ids(&["stand-phone"])
    );
    assert_eq!(
        filtered(index, range(Some(3000), Some(2000))).await,
        ids(&[])
    );
}

/// A minimum rating; unrated products never match.
pub async fn filter_by_rating<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let min = |r| SearchFilter {
        rating_min: Some(r),
        ..Default::default()
    };
    assert_eq!(
        filtered(index, min(450)).await,
        ids(&["tshirt-classic", "stand-phone", "headphones-wireless"])
    );
    assert_eq!(
        filtered(index, min(0)).await.len(),
        6,
        "unrated products are out"
    );
}

/// In stock or not.
pub async fn filter_by_stock<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let stock = |s| SearchFilter {
        in_stock: Some(s),
        ..Default::default()
    };
    assert_eq!(
        filtered(index, stock(false)).await,
        ids(&["hoodie-warm", "sleeve-laptop"])
    );
    assert_eq!(filtered(index, stock(true)).await.len(), 6);
}

/// Any of the values per attribute; all the attributes.
pub async fn filter_by_attributes<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let by = |a| SearchFilter {
        attributes: a,
        ..Default::default()
    };
    assert_eq!(
        filtered(index, by(attrs(&[("colour", &["Blue", "Brown"])]))).await,
        ids(&["tshirt-classic", "wallet-slim", "sleeve-laptop"])
    );
    assert_eq!(
        filtered(
            index,
            by(attrs(&[("colour", &["Blue", "Grey"]), ("size", &["L"])]))
        )
        .await,
        ids(&["tshirt-classic", "hoodie-warm"])
    );
    assert_eq!(
        filtered(index, by(attrs(&[("material", &["Wool"])]))).await,
        ids(&[])
    );
    // Filters combine with each other and with text.
    let filter = SearchFilter {
        attributes: attrs(&[("colour", &["Black"])]),
        category: Some("Electronics".into()),
        price_max: Some(5000),
        ..Default::default()
    };
    assert_eq!(filtered(index, filter.clone()).await, ids(&["stand-phone"]));
    let query = SearchQuery::text("headphones").filtered(filter);
    assert!(search(index, query).await.hits.is_empty());
}

/// String filter values compare case-insensitively and trimmed.
pub async fn filter_values_ignore_case<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let filter = SearchFilter {
        brands: vec!["aCME".into()],
        category: Some(" clothing ".into()),
        attributes: attrs(&[("colour", &["RED"])]),
        ..Default::default()
    };
    assert_eq!(filtered(index, filter).await, ids(&["tshirt-classic"]));
}
