//! The Meilisearch index settings that make it behave like the port says (and like the
//! embedded adapter): attribute order, ranking rules, typo thresholds, synonyms, facet and hit
//! limits. Applied on every connect, so a changed setting reaches existing indexes.

use std::collections::{BTreeMap, HashMap};

use meilisearch_sdk::settings::{
    FacetSortValue, FacetingSettings, MinWordSizeForTypos, PaginationSetting, Settings,
    TypoToleranceSettings,
};

use crate::search::SearchSettings;

/// Searchable attributes, most important first (the `attribute` ranking rule).
pub(super) const SEARCHABLE: [&str; 4] = ["title", "brand", "category", "description"];
/// `id` for reading positions by id; `deleted` to hide tombstones; `price_min` is also what
/// `facetStats` needs. `attributes` makes every `attributes.<key>` filterable and facetable.
pub(super) const FILTERABLE: [&str; 8] = [
    "id",
    "deleted",
    "brand",
    "category",
    "price_min",
    "rating",
    "in_stock",
    "attributes",
];
/// `id` breaks ties; `position` finds the newest position applied.
pub(super) const SORTABLE: [&str; 5] = ["price_min", "rating", "created_at", "id", "position"];
/// Meilisearch's default rules, spelled out so an index configured otherwise is corrected.
pub(super) const RANKING_RULES: [&str; 6] = [
    "words",
    "typo",
    "proximity",
    "attribute",
    "sort",
    "exactness",
];

/// The settings for an index.
pub(super) fn index_settings(s: &SearchSettings) -> Settings {
    let synonyms: HashMap<String, Vec<String>> = s.synonyms.clone().into_iter().collect();
    let typos = TypoToleranceSettings {
        enabled: Some(true),
        disable_on_attributes: Some(Vec::new()),
        disable_on_words: Some(Vec::new()),
        min_word_size_for_typos: Some(MinWordSizeForTypos {
            one_typo: Some(s.one_typo_min_len),
            two_typos: Some(s.two_typos_min_len),
        }),
        disable_on_numbers: None,
    };
    let faceting = FacetingSettings {
        max_values_per_facet: s.max_values_per_facet,
        sort_facet_values_by: Some(BTreeMap::from([("*".to_owned(), FacetSortValue::Alpha)])),
    };
    Settings::new()
        .with_searchable_attributes(SEARCHABLE)
        .with_filterable_attributes(FILTERABLE)
        .with_sortable_attributes(SORTABLE)
        .with_ranking_rules(RANKING_RULES)
        .with_synonyms(synonyms)
        .with_stop_words(Vec::<String>::new())
        .with_distinct_attribute(None::<String>)
        .with_typo_tolerance(typos)
        .with_faceting(faceting)
        .with_pagination(PaginationSetting {
            max_total_hits: s.max_total_hits,
        })
}
