//! Cases: what text matches, as Meilisearch documents it. Query words of 1-4 letters must be
//! exact, 5-8 letters allow one typo, 9+ two; a typo on the first letter counts two; a
//! transposition is one typo; the last word also matches as a prefix; synonyms are mutual;
//! every word must match; title matches outrank description matches.

use super::{counts, id_set, ids, load_catalog, matches, product, search};
use crate::search::{Facet, SearchIndex, SearchQuery};

/// One typo for 5-8 letters, two for 9+, none under 5.
pub async fn typo_budget_follows_word_length<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    // The tested word comes first, so it is not a prefix.
    let shirt = ids(&["tshirt-classic"]);
    assert_eq!(matches(index, "shirt cotton").await, shirt, "exact");
    assert_eq!(
        matches(index, "shirl cotton").await,
        shirt,
        "5 letters, 1 typo"
    );
    assert_eq!(
        matches(index, "sofr cotton").await,
        ids(&[]),
        "4 letters, 1 typo"
    );
    assert_eq!(
        matches(index, "soft cotton").await,
        shirt,
        "4 letters, exact"
    );
    let headphones = ids(&["headphones-wireless"]);
    assert_eq!(
        matches(index, "hedphonez wireless").await,
        headphones,
        "10 letters, 2 typos"
    );
    assert_eq!(
        matches(index, "headphonez wireless").await,
        headphones,
        "10 letters, 1 typo"
    );
    assert_eq!(
        matches(index, "hxadphqnez wireless").await,
        ids(&[]),
        "10 letters, 3 typos"
    );
    assert_eq!(
        matches(index, "wiraless headphones").await,
        headphones,
        "8 letters, 1 typo"
    );
    assert_eq!(
        matches(index, "wiraleds headphones").await,
        ids(&[]),
        "8 letters, 2 typos"
    );
}

/// A typo on the first letter costs two: impossible under 9 letters, all of the budget above.
pub async fn first_letter_typo_counts_double<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    assert_eq!(matches(index, "chirt cotton").await, ids(&[]), "5 letters");
    let headphones = ids(&["headphones-wireless"]);
    assert_eq!(
        matches(index, "jeadphones wireless").await,
        headphones,
        "10 letters"
    );
    assert_eq!(
        matches(index, "jeadphonez wireless").await,
        ids(&[]),
        "first letter + 1"
    );
}

/// Swapping two adjacent letters is one typo.
pub async fn transposition_is_one_typo<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    assert_eq!(
        matches(index, "shrit cotton").await,
        ids(&["tshirt-classic"])
    );
    assert_eq!(
        matches(index, "wirelses headphones").await,
        ids(&["headphones-wireless"])
    );
}

/// Only the last word matches as a prefix (search as you type).
pub async fn last_word_is_a_prefix<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let headphones = ids(&["headphones-wireless"]);
    assert_eq!(matches(index, "headph").await, headphones);
    assert_eq!(matches(index, "wireless headph").await, headphones);
    assert_eq!(
        matches(index, "headph wireless").await,
        ids(&[]),
        "not the last word"
    );
    assert_eq!(
        matches(index, "sl").await,
        ids(&["wallet-slim", "sleeve-laptop"])
    );
}

/// Synonyms work in both directions, for words and hyphenated phrases.
pub async fn synonyms_work_both_ways<I: SearchIndex + ?Sized>(index: &I) {
    let docs = vec![
        with_description(product("syn-tee", "Graphic Tee"), "Printed front"),
        with_description(product("syn-tshirt", "Plain T-Shirt"), "Heavy fabric"),
        with_description(product("syn-sneakers", "Court Sneakers"), "Low top"),
        with_description(product("syn-trainers", "Trail Trainers"), "Grippy sole"),
        with_description(product("syn-tote", "Canvas Tote"), "Everyday bag"),
    ];
    index.upsert(docs).await.expect("upsert");
    let tees = ids(&["syn-tee", "syn-tshirt"]);
    assert_eq!(matches(index, "tee").await, tees, "tee -> t-shirt");
    assert_eq!(matches(index, "t-shirt").await, tees, "t-shirt -> tee");
    let shoes = ids(&["syn-sneakers", "syn-trainers"]);
    assert_eq!(
        matches(index, "sneakers").await,
        shoes,
        "sneakers -> trainers"
    );
    assert_eq!(
        matches(index, "trainers").await,
        shoes,
        "trainers -> sneakers"
    );
}

fn with_description(
    mut doc: crate::search::ProductDocument,
    description: &str,
) -> crate::search::ProductDocument {
    doc.description = description.to_owned();
    doc
}

/// Every query word must match (`matchingStrategy: all`).
pub async fn all_words_must_match<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    assert_eq!(matches(index, "cotton").await, ids(&["tshirt-classic"]));
    assert_eq!(matches(index, "cotton wallet").await, ids(&[]));
    assert_eq!(
        matches(index, "acme").await,
        ids(&["tshirt-classic", "hoodie-warm", "mug-travel"])
    );
    assert_eq!(matches(index, "acme hoodie").await, ids(&["hoodie-warm"]));
}

/// A word in the title ranks above the same word only in the description.
pub async fn title_match_ranks_above_description<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    let results = search(index, SearchQuery::text("wallet")).await;
    assert_eq!(results.ids(), vec!["wallet-slim", "mug-travel"]);
    let results = search(index, SearchQuery::text("sleeve")).await;
    assert_eq!(results.ids(), vec!["sleeve-laptop"]);
}

/// Empty text matches every product, with facets over all of them.
pub async fn placeholder_returns_everything_with_facets<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    for text in ["", "   "] {
        let query = SearchQuery::text(text).with_facets([Facet::Brand, Facet::Category]);
        let results = search(index, query).await;
        assert_eq!(results.total, 8);
        assert_eq!(results.hits.len(), 8);
        assert_eq!(id_set(&results).len(), 8);
        assert_eq!(
            results.facet(&Facet::Brand),
            counts(&[("Acme", 3), ("Fleet", 1), ("Gadgetry", 2), ("Sonique", 1)]),
            "unbranded products are not counted"
        );
        assert_eq!(results.facet(&Facet::Category).get("Accessories"), Some(&3));
        assert_eq!(results.price_stats, Some((1200, 9900)));
    }
}
