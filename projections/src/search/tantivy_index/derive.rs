//! Which dictionary words a query word stands for, found the way Meilisearch finds them: the
//! word itself, every word it is a prefix of (last word only), words within its typo budget (at
//! most 150 with one typo and 50 with two, the first in dictionary order, as Meilisearch caps
//! them), the best split into two adjacent words, and its synonyms. Dictionaries are read across
//! all searchable fields and segments, like Meilisearch's one words FST.

use std::collections::BTreeMap;

use tantivy::{
    Searcher, Term,
    collector::Count,
    query::{BooleanQuery, FuzzyTermQuery, PhraseQuery, Query},
    schema::Field,
};

use super::{distance::typos, schema::backend};
use crate::search::SearchError;

/// Meilisearch's caps on typo derivations per query term.
const MAX_ONE_TYPO: usize = 150;
const MAX_TWO_TYPOS: usize = 50;

/// What one query term (a word, or an n-gram of adjacent words glued together) matches.
#[derive(Debug, Default, Clone)]
pub(super) struct Derivations {
    /// The term as typed (matched exactly).
    pub word: String,
    /// Also every word starting with `word` (zero typos).
    pub prefix: bool,
    pub one_typo: Vec<String>,
    pub two_typos: Vec<String>,
    /// Two words that must appear side by side (counts as one typo).
    pub split: Option<(String, String)>,
    /// Phrases that stand for the term (zero typos).
    pub synonyms: Vec<Vec<String>>,
}

/// Reads derivations from a searcher's dictionaries.
pub(super) struct Deriver<'a> {
    pub searcher: &'a Searcher,
    pub fields: &'a [Field; 4],
}

impl Deriver<'_> {
    /// All derivations of `word` under a typo budget.
    pub fn derive(
        &self,
        word: &str,
        budget: u8,
        prefix: bool,
        synonyms: Vec<Vec<String>>,
    ) -> Result<Derivations, SearchError> {
        let (one_typo, two_typos) = self.typo_words(word, budget, prefix)?;
        Ok(Derivations {
            word: word.to_owned(),
            prefix,
            one_typo,
            two_typos,
            split: self.split(word)?,
            synonyms,
        })
    }

    /// Whether any dictionary holds `word`, or (with `prefix`) a word starting with it.
    pub fn exists(&self, word: &str, prefix: bool) -> Result<bool, SearchError> {
        if !prefix {
            return self.has_term(word);
        }
        let automaton = FuzzyTermQuery::new_prefix(self.term(word), 0, true)
            .automaton()
            .map_err(backend)?;
        for segment in self.searcher.segment_readers() {
            for field in self.fields {
                let index = segment.inverted_index(*field).map_err(backend)?;
                let mut stream = index
                    .terms()
                    .search(&automaton)
                    .into_stream()
                    .map_err(backend)?;
                if stream.advance() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    fn typo_words(
        &self,
        word: &str,
        budget: u8,
        prefix: bool,
    ) -> Result<(Vec<String>, Vec<String>), SearchError> {
        if budget == 0 {
            return Ok(Default::default());
        }
        let query: Vec<char> = word.chars().collect();
        let fuzzy = if prefix {
            FuzzyTermQuery::new_prefix(self.term(word), budget, true)
        } else {
            FuzzyTermQuery::new(self.term(word), budget, true)
        };
        let automaton = fuzzy.automaton().map_err(backend)?;
        // Sorted, so the caps keep the first words in dictionary order as Meilisearch does.
        let mut found: BTreeMap<String, u8> = BTreeMap::new();
        for segment in self.searcher.segment_readers() {
            for field in self.fields {
                let index = segment.inverted_index(*field).map_err(backend)?;
                let mut stream = index
                    .terms()
                    .search(&automaton)
                    .into_stream()
                    .map_err(backend)?;
                while stream.advance() {
                    let Ok(candidate) = std::str::from_utf8(stream.key()) else {
                        continue;
                    };
                    if found.contains_key(candidate) {
                        continue;
                    }
                    if let Some(n @ 1..) = typos(&query, candidate, budget, prefix) {
                        found.insert(candidate.to_owned(), n);
                    }
                }
            }
        }
        let with = |n: u8, cap: usize| {
            found
                .iter()
                .filter(|(_, t)| **t == n)
                .map(|(w, _)| w.clone())
                .take(cap)
                .collect::<Vec<_>>()
        };
        Ok((with(1, MAX_ONE_TYPO), with(2, MAX_TWO_TYPOS)))
    }

    /// The split of `word` into two words found side by side in the most documents.
    fn split(&self, word: &str) -> Result<Option<(String, String)>, SearchError> {
        let mut best: Option<(usize, &str, &str)> = None;
        for (at, _) in word.char_indices().skip(1) {
            let (left, right) = word.split_at(at);
            if !self.has_term(left)? || !self.has_term(right)? {
                continue;
            }
            let adjacent: Vec<Box<dyn Query>> = self
                .fields
                .iter()
                .map(|f| {
                    let terms = vec![
                        Term::from_field_text(*f, left),
                        Term::from_field_text(*f, right),
                    ];
                    Box::new(PhraseQuery::new(terms)) as Box<dyn Query>
                })
                .collect();
            let count = self
                .searcher
                .search(&BooleanQuery::union(adjacent), &Count)
                .map_err(backend)?;
            if count > 0 && best.is_none_or(|(most, _, _)| count > most) {
                best = Some((count, left, right));
            }
        }
        Ok(best.map(|(_, l, r)| (l.to_owned(), r.to_owned())))
    }

    fn has_term(&self, word: &str) -> Result<bool, SearchError> {
        for segment in self.searcher.segment_readers() {
            for field in self.fields {
                let index = segment.inverted_index(*field).map_err(backend)?;
                if index.terms().term_ord(word).map_err(backend)?.is_some() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    fn term(&self, word: &str) -> Term {
        // The automaton only depends on the text; any text field will do.
        Term::from_field_text(self.fields[0], word)
    }
}
