//! Turns query text into the words Meilisearch would search for, with the same analyzer the
//! documents went through: at most ten words, the last one a prefix unless something follows it,
//! and where hard separators (`.`, `!`, `?`, `;`, line breaks) cut the query (no n-gram spans
//! them). Also normalises the synonym map the same way.

use std::collections::{BTreeMap, HashMap};

use tantivy::tokenizer::{TextAnalyzer, TokenStream as _};

use crate::search::settings::{MAX_QUERY_WORDS, plain_query_text};

/// The analysed query.
#[derive(Debug, Default)]
pub(super) struct QueryWords {
    pub words: Vec<String>,
    /// Whether the last word also matches as a prefix: Meilisearch only does so when no token
    /// (not even a space) follows it.
    pub last_is_prefix: bool,
    /// `breaks[i]`: a hard separator lies between `words[i]` and `words[i + 1]`.
    pub breaks: Vec<bool>,
}

impl QueryWords {
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// Characters charabia treats as hard separators (they move words apart, ending n-grams).
const HARD_SEPARATORS: &[char] = &[
    '.', '!', '?', ';', '\n', '\r', '…', '¡', '¿', '。', '！', '？',
];

/// Analyses query text.
pub(super) fn query_words(analyzer: &mut TextAnalyzer, text: &str) -> QueryWords {
    let plain = plain_query_text(text);
    let mut tokens = Vec::new();
    let mut stream = analyzer.token_stream(&plain);
    while stream.advance() {
        let token = stream.token();
        tokens.push((token.text.clone(), token.offset_from, token.offset_to));
    }
    let more_than_limit = tokens.len() > MAX_QUERY_WORDS;
    tokens.truncate(MAX_QUERY_WORDS);
    let last_is_prefix = match tokens.last() {
        Some((_, _, end)) => !more_than_limit && plain.len() <= *end,
        None => false,
    };
    let breaks = tokens
        .windows(2)
        .map(|pair| {
            let gap = plain.get(pair[0].2..pair[1].1).unwrap_or_default();
            gap.contains(HARD_SEPARATORS)
        })
        .collect();
    QueryWords {
        words: tokens.into_iter().map(|(word, _, _)| word).collect(),
        last_is_prefix,
        breaks,
    }
}

/// Synonyms keyed by their analysed words: `t-shirt` is the key `[t, shirt]` and the phrase
/// `t shirt`, as Meilisearch normalises its `synonyms` setting.
#[derive(Debug, Default)]
pub(super) struct Synonyms(HashMap<Vec<String>, Vec<Vec<String>>>);

impl Synonyms {
    pub fn new(map: &BTreeMap<String, Vec<String>>, analyzer: &mut TextAnalyzer) -> Self {
        let mut out: HashMap<Vec<String>, Vec<Vec<String>>> = HashMap::new();
        for (key, values) in map {
            let key = words_of(analyzer, key);
            if key.is_empty() {
                continue;
            }
            let phrases = out.entry(key).or_default();
            for value in values {
                let phrase = words_of(analyzer, value);
                if !phrase.is_empty() && !phrases.contains(&phrase) {
                    phrases.push(phrase);
                }
            }
        }
        Self(out)
    }

    /// The phrases a sequence of query words stands for.
    pub fn get(&self, words: &[String]) -> &[Vec<String>] {
        self.0.get(words).map(Vec::as_slice).unwrap_or_default()
    }
}

fn words_of(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        words.push(stream.token().text.clone());
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::tantivy_index::schema::words_analyzer;

    #[test]
    fn last_word_is_a_prefix_only_at_the_very_end() {
        let mut a = words_analyzer();
        let q = query_words(&mut a, "Blue T-Shirt");
        assert_eq!(q.words, ["blue", "t", "shirt"]);
        assert!(q.last_is_prefix);
        assert!(!query_words(&mut a, "blue shirt ").last_is_prefix);
        assert!(!query_words(&mut a, "blue shirt.").last_is_prefix);
    }

    #[test]
    fn ten_words_at_most_and_hard_separators_are_seen() {
        let mut a = words_analyzer();
        let q = query_words(&mut a, "a b c d e f g h i j k");
        assert_eq!(q.words.len(), 10);
        assert!(!q.last_is_prefix);
        let q = query_words(&mut a, "red. shirt, tee");
        assert_eq!(q.breaks, [true, false]);
    }

    #[test]
    fn synonyms_are_analysed() {
        let mut a = words_analyzer();
        let map = BTreeMap::from([("T-Shirt".to_string(), vec!["Tee".to_string()])]);
        let s = Synonyms::new(&map, &mut a);
        assert_eq!(
            s.get(&["t".into(), "shirt".into()]),
            [vec!["tee".to_string()]]
        );
    }
}
