//! Builds the Tantivy query for the words of a search, following Meilisearch's query graph with
//! `matchingStrategy: all`: every word must be matched, either by itself or inside an n-gram of
//! up to three adjacent words glued together (`t shirt` also finds `tshirt`), each term through
//! its derivations (see derive.rs).
//!
//! Scores stand in for Meilisearch's ranking rules, which are a lexicographic bucket sort:
//! fewer typos first, then the best attribute (title > brand > category > description), then
//! exact words over prefixes and typos. Every match kind gets a constant score whose weights
//! make the sum order like that sort (typos dominate attributes, attributes dominate
//! exactness). Proximity and word position inside an attribute are not modelled (docs/search.md).

use tantivy::{
    Term,
    query::{
        BooleanQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery, FuzzyTermQuery, Occur,
        PhraseQuery, Query, TermQuery,
    },
    schema::{Field, IndexRecordOption},
};

use super::{
    analysis::{QueryWords, Synonyms},
    derive::{Derivations, Deriver},
    filter::any_term,
};
use crate::search::{SearchError, SearchSettings, settings::MAX_QUERY_WORDS};

/// Score of one typo (per term); larger than all attribute and exactness points of a query.
const TYPO_WEIGHT: f32 = 1000.0;
/// Score per attribute rank step per word; larger than all exactness points of a query.
const ATTRIBUTE_WEIGHT: f32 = (MAX_QUERY_WORDS + 1) as f32;
/// Score of an exact word.
const EXACT_WEIGHT: f32 = 1.0;
/// Bound on alternative segmentations (n-gram paths) of one query.
const MAX_PATHS: usize = 64;

/// A matchable unit: `len` query words starting at `start`.
struct Node {
    start: usize,
    len: usize,
    query: Box<dyn Query>,
}

/// Everything needed to build a text query.
pub(super) struct TextQueryBuilder<'a> {
    pub deriver: Deriver<'a>,
    pub synonyms: &'a Synonyms,
    pub settings: &'a SearchSettings,
    /// Whether exact words outrank other matches (Meilisearch's `exactness` comes after `sort`,
    /// so it only shows when sorting by relevance).
    pub exactness: bool,
}

impl TextQueryBuilder<'_> {
    /// The query for non-empty `words`.
    pub fn build(&self, q: &QueryWords) -> Result<Box<dyn Query>, SearchError> {
        let n = q.words.len();
        let mut nodes = Vec::new();
        for start in 0..n {
            for len in 1..=3.min(n - start) {
                // An n-gram never spans a hard separator.
                if q.breaks[start..start + len - 1].iter().any(|b| *b) {
                    break;
                }
                if let Some(node) = self.node(q, start, len)? {
                    nodes.push(node);
                }
            }
        }
        let mut paths = Vec::new();
        collect_paths(&nodes, 0, n, &mut Vec::new(), &mut paths);
        let mut alternatives: Vec<Box<dyn Query>> = paths
            .into_iter()
            .map(|path| {
                let must = path
                    .iter()
                    .map(|i| (Occur::Must, nodes[*i].query.box_clone()));
                Box::new(BooleanQuery::new(must.collect())) as Box<dyn Query>
            })
            .collect();
        Ok(match alternatives.len() {
            0 => Box::new(EmptyQuery),
            1 => alternatives.remove(0),
            _ => Box::new(DisjunctionMaxQuery::new(alternatives)),
        })
    }

    fn node(&self, q: &QueryWords, start: usize, len: usize) -> Result<Option<Node>, SearchError> {
        let words = &q.words[start..start + len];
        let word = words.concat();
        let prefix = q.last_is_prefix && start + len == q.words.len();
        let budget = self
            .settings
            .typo_budget(word.chars().count())
            .saturating_sub(u8::try_from(len - 1).unwrap_or(u8::MAX));
        let mut synonyms = self.synonyms.get(std::slice::from_ref(&word)).to_vec();
        if len > 1 {
            synonyms.extend(self.synonyms.get(words).iter().cloned());
        }
        let mut d = self.deriver.derive(&word, budget, prefix, synonyms)?;
        if len > 1 {
            // Splitting an n-gram back into its own words is not a new derivation.
            if d.split
                .as_ref()
                .is_some_and(|(l, r)| len == 2 && *l == words[0] && *r == words[1])
            {
                d.split = None;
            }
            let matches_nothing = d.one_typo.is_empty()
                && d.two_typos.is_empty()
                && d.split.is_none()
                && d.synonyms.is_empty()
                && !self.deriver.exists(&word, prefix)?;
            if matches_nothing {
                return Ok(None);
            }
        }
        let query = self.node_query(&d, len);
        Ok(Some(Node { start, len, query }))
    }

    /// The best-scoring way the term matches, over all fields and derivations.
    fn node_query(&self, d: &Derivations, len: usize) -> Box<dyn Query> {
        let k = len as f32;
        let score = |typos: u8, rank: usize, exact: bool| {
            let attribute = ATTRIBUTE_WEIGHT * (3 - rank.min(3)) as f32;
            let exact = if exact && self.exactness && len == 1 {
                EXACT_WEIGHT
            } else {
                0.0
            };
            k * (2.0 * TYPO_WEIGHT + attribute + exact) - TYPO_WEIGHT * f32::from(typos)
        };
        let mut kinds: Vec<Box<dyn Query>> = Vec::new();
        for (rank, field) in self.deriver.fields.iter().enumerate() {
            let mut push = |query: Box<dyn Query>, typos: u8, exact: bool| {
                kinds.push(Box::new(ConstScoreQuery::new(
                    query,
                    score(typos, rank, exact),
                )));
            };
            push(term_query(*field, &d.word), 0, true);
            if d.prefix {
                let term = Term::from_field_text(*field, &d.word);
                push(
                    Box::new(FuzzyTermQuery::new_prefix(term, 0, true)),
                    0,
                    false,
                );
            }
            for (words, typos) in [(&d.one_typo, 1), (&d.two_typos, 2)] {
                if !words.is_empty() {
                    let terms = words.iter().map(|w| Term::from_field_text(*field, w));
                    push(any_term(terms.collect()), typos, false);
                }
            }
            if let Some((left, right)) = &d.split {
                push(phrase(*field, &[left.clone(), right.clone()]), 1, false);
            }
            for synonym in &d.synonyms {
                push(phrase(*field, synonym), 0, false);
            }
        }
        Box::new(DisjunctionMaxQuery::new(kinds))
    }
}

fn term_query(field: Field, word: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, word),
        IndexRecordOption::Basic,
    ))
}

fn phrase(field: Field, words: &[String]) -> Box<dyn Query> {
    match words {
        [one] => term_query(field, one),
        _ => {
            let terms = words
                .iter()
                .map(|w| Term::from_field_text(field, w))
                .collect();
            Box::new(PhraseQuery::new(terms))
        }
    }
}

/// Every way to cover positions `at..n` with consecutive nodes (bounded by [`MAX_PATHS`]).
fn collect_paths(
    nodes: &[Node],
    at: usize,
    n: usize,
    path: &mut Vec<usize>,
    out: &mut Vec<Vec<usize>>,
) {
    if out.len() >= MAX_PATHS {
        return;
    }
    if at == n {
        out.push(path.clone());
        return;
    }
    for (i, node) in nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| node.start == at)
    {
        path.push(i);
        collect_paths(nodes, at + node.len, n, path, out);
        path.pop();
    }
}
