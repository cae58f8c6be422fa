//! Cases: facet counts and price stats are computed over every match of the query and its
//! filters, not over the page.

use super::{counts, load_catalog, search};
use crate::search::{Facet, SearchFilter, SearchIndex, SearchQuery};

fn colour() -> Facet {
    Facet::Attribute("colour".into())
}

/// Brand, every category level, and an attribute, over the filtered set.
pub async fn facets_count_the_filtered_matches<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let filter = SearchFilter {
        in_stock: Some(true),
        ..Default::default()
    };
    let query = SearchQuery::all()
        .filtered(filter)
        .with_facets([Facet::Brand, Facet::Category, colour()])
        .page(0, 2);
    let results = search(index, query).await;
    assert_eq!(
        (results.total, results.hits.len()),
        (6, 2),
        "facets count beyond the page"
    );
    assert_eq!(
        results.facet(&Facet::Brand),
        counts(&[("Acme", 2), ("Fleet", 1), ("Gadgetry", 1), ("Sonique", 1)])
    );
    assert_eq!(
        results.facet(&Facet::Category),
        counts(&[
            ("Accessories", 2),
            ("Audio", 1),
            ("Clothing", 1),
            ("Electronics", 2),
            ("Footwear", 1),
            ("Home", 1),
            ("Kitchen", 1),
            ("Sneakers", 1),
            ("T-Shirts", 1),
            ("Wallets", 1),
        ])
    );
    assert_eq!(
        results.facet(&colour()),
        counts(&[
            ("Black", 3),
            ("Blue", 1),
            ("Brown", 1),
            ("Red", 2),
            ("Silver", 1),
            ("White", 1)
        ])
    );
    assert_eq!(results.facets.len(), 3, "exactly the requested facets");
}

/// With text, facets count the text matches; a requested facet with no values is present and
/// empty.
pub async fn facets_follow_the_text_query<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let query = SearchQuery::text("acme").with_facets([
        Facet::Brand,
        colour(),
        Facet::Attribute("material".into()),
    ]);
    let results = search(index, query).await;
    assert_eq!(results.total, 3);
    assert_eq!(results.facet(&Facet::Brand), counts(&[("Acme", 3)]));
    assert_eq!(
        results.facet(&colour()),
        counts(&[("Blue", 1), ("Grey", 1), ("Red", 2)])
    );
    assert_eq!(
        results.facets.get("attributes.material"),
        Some(&Default::default())
    );
}

/// Lowest and highest `price_min` over the matches; none without matches.
pub async fn price_stats_cover_the_matches<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let electronics = SearchFilter {
        category: Some("Electronics".into()),
        ..Default::default()
    };
    let results = search(index, SearchQuery::all().filtered(electronics).page(0, 1)).await;
    assert_eq!(results.price_stats, Some((1200, 9900)));
    let results = search(index, SearchQuery::text("mug")).await;
    assert_eq!(results.price_stats, Some((1800, 1800)));
    let results = search(index, SearchQuery::text("zeppelin")).await;
    assert_eq!((results.total, results.price_stats), (0, None));
}
