//! Cases: exact totals, pages, sort orders and refused queries.

use super::{load_catalog, pos, product, search};
use crate::search::{Facet, SearchError, SearchFilter, SearchIndex, SearchQuery, SortOrder};

/// Totals are exact; pages slice one stable order, at any offset.
pub async fn total_and_pagination<I: SearchIndex + ?Sized>(index: &I) {
    let docs = (0..25)
        .map(|i| {
            let mut doc = product(&format!("page-{i:02}"), "Paged lamp");
            doc.price_min = 100 * (25 - i);
            doc.position = pos(1);
            doc
        })
        .collect();
    index.upsert(docs).await.expect("upsert");
    for sort in [SortOrder::PriceDesc, SortOrder::Relevance] {
        for text in ["", "lamp"] {
            let query = |offset, limit| SearchQuery::text(text).sorted(sort).page(offset, limit);
            let all = search(index, query(0, 25)).await;
            assert_eq!((all.total, all.hits.len()), (25, 25));
            let mut paged = Vec::new();
            for offset in [0, 10, 20] {
                let page = search(index, query(offset, 10)).await;
                assert_eq!(page.total, 25, "the total does not depend on the page");
                paged.extend(page.hits);
            }
            assert_eq!(
                paged, all.hits,
                "pages are slices of one order ({sort:?}, {text:?})"
            );
            let odd = search(index, query(5, 10)).await;
            assert_eq!(
                odd.hits,
                all.hits[5..15],
                "an offset need not be a multiple of the limit"
            );
            let past = search(index, query(30, 10)).await;
            assert_eq!((past.total, past.hits.len()), (25, 0));
        }
    }
    let cheapest_first = search(
        index,
        SearchQuery::all().sorted(SortOrder::PriceAsc).page(0, 3),
    )
    .await;
    assert_eq!(cheapest_first.ids(), vec!["page-24", "page-23", "page-22"]);
}

/// Price ascending and descending, ties broken by product id.
pub async fn sort_by_price<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let ascending = search(index, SearchQuery::all().sorted(SortOrder::PriceAsc)).await;
    let order = [
        "stand-phone",
        "tshirt-classic",
        "mug-travel",
        "wallet-slim",
        "sleeve-laptop",
        "hoodie-warm",
        "sneakers-run",
        "headphones-wireless",
    ];
    assert_eq!(ascending.ids(), order);
    let descending = search(index, SearchQuery::all().sorted(SortOrder::PriceDesc)).await;
    assert_eq!(
        descending.ids(),
        order.iter().rev().copied().collect::<Vec<_>>()
    );
    let mut same = product("same-b", "Same price");
    same.price_min = 1200;
    let mut other = product("same-a", "Same price");
    other.price_min = 1200;
    index.upsert(vec![same, other]).await.expect("upsert");
    let tied = search(
        index,
        SearchQuery::all().sorted(SortOrder::PriceAsc).page(0, 3),
    )
    .await;
    assert_eq!(
        tied.ids(),
        vec!["same-a", "same-b", "stand-phone"],
        "ties by product id"
    );
}

/// Best rated first; unrated products last (by product id).
pub async fn sort_by_rating_puts_unrated_last<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let results = search(index, SearchQuery::all().sorted(SortOrder::RatingDesc)).await;
    assert_eq!(
        results.ids(),
        vec![
            "stand-phone",
            "headphones-wireless",
            "tshirt-classic",
            "sneakers-run",
            "sleeve-laptop",
            "wallet-slim",
            "hoodie-warm",
            "mug-travel",
        ]
    );
}

/// Most recently created first.
pub async fn sort_by_newest<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let results = search(index, SearchQuery::all().sorted(SortOrder::Newest)).await;
    assert_eq!(
        results.ids(),
        vec![
            "mug-travel",
            "sleeve-laptop",
            "headphones-wireless",
            "stand-phone",
            "wallet-slim",
            "hoodie-warm",
            "sneakers-run",
            "tshirt-classic",
        ]
    );
}

/// With text, the sort orders equally relevant hits (Meilisearch's `sort` rule comes after
/// `words`, `typo`, `proximity` and `attribute`).
pub async fn sort_applies_within_relevance<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let acme = |sort| SearchQuery::text("acme").sorted(sort);
    let ascending = search(index, acme(SortOrder::PriceAsc)).await;
    assert_eq!(
        ascending.ids(),
        vec!["tshirt-classic", "mug-travel", "hoodie-warm"]
    );
    let newest = search(index, acme(SortOrder::Newest)).await;
    assert_eq!(
        newest.ids(),
        vec!["mug-travel", "hoodie-warm", "tshirt-classic"]
    );
    // An exact title match still comes before a typo, whatever the sort.
    let mut typo = product("lamp-typo", "Brass lamps");
    typo.price_min = 1;
    let mut exact = product("lamp-exact", "Brass lampe");
    exact.price_min = 99_999;
    index.upsert(vec![typo, exact]).await.expect("upsert");
    let query = SearchQuery::text("lampe brass").sorted(SortOrder::PriceAsc);
    assert_eq!(
        search(index, query).await.ids(),
        vec!["lamp-exact", "lamp-typo"]
    );
}

/// Limits outside 1..=100 and names or values a filter cannot express are refused.
pub async fn invalid_queries_are_refused<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let attribute = |key: &str| SearchFilter {
        attributes: [(key.to_owned(), vec!["x".to_owned()])].into(),
        ..Default::default()
    };
    let brand = |value: &str| SearchFilter {
        brands: vec![value.to_owned()],
        ..Default::default()
    };
    let refused = [
        SearchQuery::all().page(0, 0),
        SearchQuery::all().page(0, 101),
        SearchQuery::all().filtered(attribute("col our")),
        SearchQuery::all().filtered(attribute("a.b")),
        SearchQuery::all().filtered(brand("ends with \\")),
        SearchQuery::all().filtered(brand("")),
        SearchQuery::all().with_facets([Facet::Attribute("a\"b".into())]),
    ];
    for query in refused {
        let err = index.search(&query).await.unwrap_err();
        assert!(
            matches!(err, SearchError::InvalidQuery(_)),
            "{query:?}: {err:?}"
        );
    }
    assert_eq!(
        search(index, SearchQuery::all().page(0, 100)).await.total,
        8
    );
    let quoted = SearchQuery::all().filtered(brand("Acme \"Pro\""));
    assert_eq!(
        search(index, quoted).await.total,
        0,
        "quotes in values are escaped, not refused"
    );
}
