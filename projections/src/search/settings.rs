//! Index settings both adapters apply the same way: synonyms, typo thresholds and facet/hit
//! limits. Meilisearch stores them in the index; the embedded adapter takes them at open.

use std::collections::BTreeMap;

/// How an index matches and counts. [`Default`] is what shop runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchSettings {
    /// Word (or phrase) -> its synonyms, one way, as Meilisearch's `synonyms` setting; build
    /// mutual groups with [`SearchSettings::mutual`]. Keys and values go through the same
    /// tokenizer as the text (`t-shirt` is the phrase `t shirt`).
    pub synonyms: BTreeMap<String, Vec<String>>,
    /// Query words of at least this many characters tolerate one typo (Meilisearch
    /// `minWordSizeForTypos.oneTypo`).
    pub one_typo_min_len: u8,
    /// Query words of at least this many characters tolerate two typos (`twoTypos`).
    pub two_typos_min_len: u8,
    /// Values returned per facet, the first ones in normalised alphabetical order (Meilisearch
    /// `faceting.maxValuesPerFacet`).
    pub max_values_per_facet: usize,
    /// Meilisearch caps `totalHits` and reachable hits at `pagination.maxTotalHits`; shop sets
    /// it high so totals are exact, and the embedded adapter applies the same cap.
    pub max_total_hits: usize,
}

/// The synonym groups shop ships with: each word stands for every other in its group.
pub const DEFAULT_SYNONYM_GROUPS: &[&[&str]] = &[
    &["tee", "t-shirt", "tshirt"],
    &["sneakers", "trainers"],
    &["hoodie", "sweatshirt"],
    &["phone", "smartphone"],
    &["laptop", "notebook"],
    &["tv", "television"],
];

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            synonyms: Self::mutual(DEFAULT_SYNONYM_GROUPS),
            one_typo_min_len: 5,
            two_typos_min_len: 9,
            max_values_per_facet: 100,
            max_total_hits: 100_000_000,
        }
    }
}

impl SearchSettings {
    /// Meilisearch's one-way map for groups of mutual synonyms.
    pub fn mutual(groups: &[&[&str]]) -> BTreeMap<String, Vec<String>> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for group in groups {
            for word in *group {
                let others = group.iter().filter(|w| *w != word).map(|w| w.to_string());
                map.entry(word.to_string()).or_default().extend(others);
            }
        }
        map
    }

    /// The same settings with other synonyms.
    pub fn with_synonyms(mut self, synonyms: BTreeMap<String, Vec<String>>) -> Self {
        self.synonyms = synonyms;
        self
    }

    /// How many typos a query word of this many characters may have (Meilisearch counts
    /// characters, not bytes).
    pub(crate) fn typo_budget(&self, chars: usize) -> u8 {
        if chars < usize::from(self.one_typo_min_len) {
            0
        } else if chars < usize::from(self.two_typos_min_len) {
            1
        } else {
            2
        }
    }
}

/// Meilisearch only looks at a query's first ten words.
pub(crate) const MAX_QUERY_WORDS: usize = 10;

/// Rewrites query text so both adapters read it the same way: Meilisearch gives `"…"` (phrase
/// search) and a word-initial `-` (negation) a meaning the embedded adapter does not implement,
/// so both are turned into plain separators before either adapter sees the text.
pub(crate) fn plain_query_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_space = true;
    for c in text.chars() {
        let plain = match c {
            '"' => ' ',
            '-' if after_space => ' ',
            c => c,
        };
        after_space = plain.is_whitespace();
        out.push(plain);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutual_groups_point_both_ways() {
        let map = SearchSettings::mutual(&[&["tee", "t-shirt", "tshirt"]]);
        assert_eq!(map["tee"], vec!["t-shirt", "tshirt"]);
        assert_eq!(map["t-shirt"], vec!["tee", "tshirt"]);
    }

    #[test]
    fn typo_budget_follows_word_length() {
        let s = SearchSettings::default();
        assert_eq!(s.typo_budget(4), 0);
        assert_eq!(s.typo_budget(5), 1);
        assert_eq!(s.typo_budget(8), 1);
        assert_eq!(s.typo_budget(9), 2);
    }

    #[test]
    fn quotes_and_negations_become_separators() {
        assert_eq!(
            plain_query_text(r#""red" -shirt t-shirt"#),
            " red   shirt t-shirt"
        );
        assert_eq!(plain_query_text("-x"), " x");
    }
}
