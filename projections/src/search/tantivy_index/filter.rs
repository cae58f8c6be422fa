//! Filters as Tantivy queries: lowercased terms for string values (Meilisearch compares facet
//! values case-insensitively), fast-field ranges for numbers. Each clause scores zero, so
//! filters never change the order of hits.

use std::ops::Bound;

use tantivy::{
    Term,
    query::{BooleanQuery, ConstScoreQuery, Query, RangeQuery, TermQuery, TermSetQuery},
    schema::IndexRecordOption,
};

/// Up to this many terms, a union of term queries; past it, a `TermSetQuery`. The set query
/// builds an FST per search, whose zeroed allocation alone costs more than a few terms' lookups.
const MAX_UNION_TERMS: usize = 64;

/// Documents with any of the terms.
pub(super) fn any_term(terms: Vec<Term>) -> Box<dyn Query> {
    let term_query = |t| Box::new(TermQuery::new(t, IndexRecordOption::Basic)) as Box<dyn Query>;
    if terms.len() > MAX_UNION_TERMS {
        return Box::new(TermSetQuery::new(terms));
    }
    let mut queries: Vec<Box<dyn Query>> = terms.into_iter().map(term_query).collect();
    if queries.len() == 1 {
        queries.remove(0)
    } else {
        Box::new(BooleanQuery::union(queries))
    }
}

use super::schema::{Fields, attr_term};
use crate::search::{SearchFilter, document::normalize_value};

/// One query per filter condition; a document matches when it matches all of them.
pub(super) fn filter_queries(f: &Fields, filter: &SearchFilter) -> Vec<Box<dyn Query>> {
    let mut out: Vec<Box<dyn Query>> = Vec::new();
    if !filter.brands.is_empty() {
        let terms = filter
            .brands
            .iter()
            .map(|b| Term::from_field_text(f.brand_key, &normalize_value(b)));
        out.push(any_term(terms.collect()));
    }
    if let Some(category) = &filter.category {
        let term = Term::from_field_text(f.category_key, &normalize_value(category));
        out.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
    }
    if filter.price_min.is_some() || filter.price_max.is_some() {
        let bound = |v: Option<i64>| match v {
            Some(v) => Bound::Included(Term::from_field_i64(f.price_min, v)),
            None => Bound::Unbounded,
        };
        let (lower, upper) = (bound(filter.price_min), bound(filter.price_max));
        out.push(Box::new(RangeQuery::new(lower, upper)));
    }
    if let Some(rating) = filter.rating_min {
        let lower = Bound::Included(Term::from_field_u64(f.rating, u64::from(rating)));
        out.push(Box::new(RangeQuery::new(lower, Bound::Unbounded)));
    }
    if let Some(in_stock) = filter.in_stock {
        let term = Term::from_field_bool(f.in_stock, in_stock);
        out.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
    }
    for (key, values) in &filter.attributes {
        let terms = values
            .iter()
            .map(|v| Term::from_field_text(f.attr_key, &attr_term(key, v)));
        out.push(any_term(terms.collect()));
    }
    out.into_iter()
        .map(|q| Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>)
        .collect()
}
