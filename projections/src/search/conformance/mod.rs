//! The port's conformance suite: the executable form of the `SearchIndex` contract, run
//! unchanged against every adapter (`projections/tests/search_*.rs`). Written to Meilisearch's
//! documented behaviour, not to either adapter: typo budgets by word length (a first-letter typo
//! counts two), the last word as a prefix, mutual synonyms, filters, facets over the filtered
//! matches, exact totals, sorts, and the position rule that makes replays harmless.
//!
//! Each case gets a fresh, empty index. Use it with
//! [`search_conformance_tests!`](crate::search_conformance_tests).

mod facets;
mod filters;
mod matching;
mod paging;
mod positions;
mod writes;

use std::collections::{BTreeMap, BTreeSet};

pub use facets::*;
pub use filters::*;
pub use matching::*;
pub use paging::*;
pub use positions::*;
pub use writes::*;

use super::{ProductDocument, SearchIndex, SearchPosition, SearchQuery, SearchResults};

/// Generates one `#[tokio::test]` per conformance case. The factory is an `async fn() -> F`
/// where `F` derefs to a `SearchIndex` (a `Box`, or a fixture that owns a temp dir or a server
/// index); an optional `teardown = path` (`async fn(F)`) runs after each case, even one that
/// failed; `ignore = "why"` marks every case `#[ignore]` (for suites that need a server).
#[macro_export]
macro_rules! search_conformance_tests {
    ($factory:path) => {
        $crate::search_conformance_tests!(
            @list $factory, $crate::search::conformance::drop_fixture, [ ]
        );
    };
    ($factory:path, teardown = $teardown:path) => {
        $crate::search_conformance_tests!(@list $factory, $teardown, [ ]);
    };
    ($factory:path, teardown = $teardown:path, ignore = $why:literal) => {
        $crate::search_conformance_tests!(@list $factory, $teardown, [ #[ignore = $why] ]);
    };
    (@list $factory:path, $teardown:path, $attrs:tt) => {
        $crate::search_conformance_tests!(@cases $factory, $teardown, $attrs;
            upsert_then_get,
            invalid_documents_write_nothing,
            count_follows_writes,
            delete_removes_everywhere,
            clear_empties_everything,
            older_upsert_is_ignored,
            replay_at_the_same_position_is_a_no_op,
            delete_leaves_a_tombstone,
            delete_of_an_unknown_product_guards_it,
            set_in_stock_is_guarded,
            position_is_the_newest_applied,
            typo_budget_follows_word_length,
            first_letter_typo_counts_double,
            transposition_is_one_typo,
            last_word_is_a_prefix,
            synonyms_work_both_ways,
            all_words_must_match,
            title_match_ranks_above_description,
            placeholder_returns_everything_with_facets,
            filter_by_brand,
            filter_by_category_at_any_level,
            filter_by_price_range,
            filter_by_rating,
            filter_by_stock,
            filter_by_attributes,
            filter_values_ignore_case,
            facets_count_the_filtered_matches,
            facets_follow_the_text_query,
            price_stats_cover_the_matches,
            total_and_pagination,
            sort_by_price,
            sort_by_rating_puts_unrated_last,
            sort_by_newest,
            sort_applies_within_relevance,
            invalid_queries_are_refused
        );
    };
    (@cases $factory:path, $teardown:path, $attrs:tt; $($case:ident),* $(,)?) => {
        $( $crate::search_conformance_tests!(@case $factory, $teardown, $attrs, $case); )*
    };
    (@case $factory:path, $teardown:path, [ $($attr:tt)* ], $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $($attr)*
        async fn $case() {
            let fixture = $factory().await;
            let outcome = $crate::search::conformance::catch_unwind(
                $crate::search::conformance::$case(&*fixture),
            )
            .await;
            $teardown(fixture).await;
            if let Err(panic) = outcome {
                ::std::panic::resume_unwind(panic);
            }
        }
    };
}

/// Runs a case, catching its panic so the fixture can be torn down first.
#[doc(hidden)]
pub async fn catch_unwind(case: impl Future<Output = ()>) -> std::thread::Result<()> {
    futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(case)).await
}

/// The default teardown: dropping the fixture is enough.
pub async fn drop_fixture<F>(fixture: F) {
    drop(fixture);
}

/// Position `n` (both parts equal, as the embedded event store's).
pub fn pos(n: u64) -> SearchPosition {
    SearchPosition(n, n)
}

/// A product with plain defaults, at position 1.
pub fn product(id: &str, title: &str) -> ProductDocument {
    ProductDocument {
        product_id: id.to_owned(),
        title: title.to_owned(),
        description: String::new(),
        brand: String::new(),
        category: Vec::new(),
        currency: "EUR".to_owned(),
        price_min: 1000,
        price_max: 1000,
        rating: None,
        review_count: 0,
        in_stock: true,
        attributes: BTreeMap::new(),
        skus: vec![format!("{id}-sku")],
        image: None,
        created_at: 1_700_000_000_000,
        position: pos(1),
    }
}

struct Row {
    id: &'static str,
    title: &'static str,
    brand: &'static str,
    category: [&'static str; 2],
    description: &'static str,
    price: (i64, i64),
    rating: Option<u32>,
    in_stock: bool,
    colours: &'static [&'static str],
    sizes: &'static [&'static str],
}

#[rustfmt::skip]
const CATALOG: &[Row] = &[
    Row { id: "tshirt-classic", title: "Classic Cotton T-Shirt", brand: "Acme", category: ["Clothing", "T-Shirts"], description: "A soft everyday shirt made of organic cotton", price: (1500, 1900), rating: Some(450), in_stock: true, colours: &["Blue", "Red"], sizes: &["S", "M", "L"] },
    Row { id: "sneakers-run", title: "Running Sneakers", brand: "Fleet", category: ["Footwear", "Sneakers"], description: "Lightweight shoes for daily runs", price: (6000, 7500), rating: Some(420), in_stock: true, colours: &["Black", "White"], sizes: &["42", "43"] },
    Row { id: "hoodie-warm", title: "Warm Hoodie", brand: "Acme", category: ["Clothing", "Hoodies"], description: "Fleece lined for cold mornings", price: (3500, 3500), rating: None, in_stock: false, colours: &["Grey"], sizes: &["M", "L"] },
    Row { id: "wallet-slim", title: "Slim Wallet", brand: "", category: ["Accessories", "Wallets"], description: "Leather with a coin pocket", price: (2500, 2500), rating: Some(380), in_stock: true, colours: &["Brown"], sizes: &[] },
    Row { id: "stand-phone", title: "Smartphone Stand", brand: "Gadgetry", category: ["Electronics", "Accessories"], description: "Adjustable stand for any phone", price: (1200, 1200), rating: Some(490), in_stock: true, colours: &["Black"], sizes: &[] },
    Row { id: "headphones-wireless", title: "Wireless Headphones", brand: "Sonique", category: ["Electronics", "Audio"], description: "Noise cancelling with a long battery life", price: (9900, 12900), rating: Some(470), in_stock: true, colours: &["Black", "Silver"], sizes: &[] },
    Row { id: "sleeve-laptop", title: "Laptop Sleeve", brand: "Gadgetry", category: ["Electronics", "Accessories"], description: "Padded sleeve for a 13 inch notebook", price: (2900, 2900), rating: Some(400), in_stock: false, colours: &["Grey", "Blue"], sizes: &[] },
    Row { id: "mug-travel", title: "Travel Mug", brand: "Acme", category: ["Home", "Kitchen"], description: "Keeps coffee hot for hours at a wallet friendly price", price: (1800, 1800), rating: None, in_stock: true, colours: &["Red"], sizes: &[] },
];

/// Eight products across five top-level categories, used by most cases (see the table in
/// this file). Created one second apart in table order, at position 1.
pub fn catalog() -> Vec<ProductDocument> {
    CATALOG
        .iter()
        .zip(1i64..)
        .map(|(row, n)| {
            let mut attributes = BTreeMap::new();
            let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            attributes.insert("colour".to_owned(), list(row.colours));
            if !row.sizes.is_empty() {
                attributes.insert("size".to_owned(), list(row.sizes));
            }
            ProductDocument {
                brand: row.brand.to_owned(),
                category: list(&row.category),
                description: row.description.to_owned(),
                price_min: row.price.0,
                price_max: row.price.1,
                rating: row.rating,
                review_count: row.rating.map_or(0, |_| 12),
                in_stock: row.in_stock,
                attributes,
                image: Some(format!("https://img.example/{}.jpg", row.id)),
                created_at: 1_700_000_000_000 + n * 1000,
                ..product(row.id, row.title)
            }
        })
        .collect()
}

/// Writes the catalog.
pub async fn load_catalog<I: SearchIndex + ?Sized>(index: &I) {
    let applied = index.upsert(catalog()).await.expect("upsert the catalog");
    assert_eq!(applied, CATALOG.len(), "every catalog product is applied");
}

/// Runs a query that must succeed.
pub async fn search<I: SearchIndex + ?Sized>(index: &I, query: SearchQuery) -> SearchResults {
    index.search(&query).await.expect("search")
}

/// The ids of the hits, as a set.
pub fn id_set(results: &SearchResults) -> BTreeSet<String> {
    results.hits.iter().map(|h| h.product_id.clone()).collect()
}

/// A set of ids from literals.
pub fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Counts from literals.
pub fn counts(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
    list.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The ids matched by a text query (first 100).
pub async fn matches<I: SearchIndex + ?Sized>(index: &I, text: &str) -> BTreeSet<String> {
    id_set(&search(index, SearchQuery::text(text).page(0, 100)).await)
}
