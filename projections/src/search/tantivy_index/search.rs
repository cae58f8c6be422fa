//! Runs a search: text query (or every live document), AND-ed filters, one collector pass,
//! then the page's stored documents and the facets trimmed like Meilisearch trims them.

use std::collections::BTreeMap;

use tantivy::{
    Term,
    query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery},
    schema::IndexRecordOption,
};

use super::{
    Inner,
    analysis::query_words,
    collector::{Collected, SearchCollector},
    derive::Deriver,
    filter::filter_queries,
    schema::{backend, stored_product},
    text_query::TextQueryBuilder,
};
use crate::search::{SearchError, SearchQuery, SearchResults, SortOrder};

impl Inner {
    pub(super) fn search(&self, q: &SearchQuery) -> Result<SearchResults, SearchError> {
        let searcher = self.reader.searcher();
        let words = query_words(&mut self.analyzer.clone(), &q.text);
        let text = if words.is_empty() {
            None
        } else {
            let builder = TextQueryBuilder {
                deriver: Deriver {
                    searcher: &searcher,
                    fields: &self.fields.text,
                },
                synonyms: &self.synonyms,
                settings: &self.settings,
                exactness: q.sort == SortOrder::Relevance,
            };
            Some(builder.build(&words)?)
        };
        let scored = text.is_some();
        // Tombstones carry no text, so only a placeholder search has to exclude them.
        let base = text.unwrap_or_else(|| {
            let live = Term::from_field_bool(self.fields.live, true);
            let live = TermQuery::new(live, IndexRecordOption::Basic);
            Box::new(ConstScoreQuery::new(Box::new(live), 0.0))
        });
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, base)];
        clauses.extend(
            filter_queries(&self.fields, &q.filter)
                .into_iter()
                .map(|f| (Occur::Must, f)),
        );
        // Meilisearch never returns hits past `maxTotalHits`; neither does this.
        let cap = self.settings.max_total_hits;
        let top_k = q.offset.saturating_add(q.limit).min(cap);
        let collector = SearchCollector {
            segments: &self.segments,
            top_k,
            sort: q.sort,
            facets: q.facets.clone(),
            scored,
        };
        let collected = searcher
            .search(&BooleanQuery::new(clauses), &collector)
            .map_err(backend)?;
        let Collected {
            count,
            price,
            top,
            facets,
        } = collected;

        let mut hits = Vec::with_capacity(q.limit);
        for ranked in top.iter().skip(q.offset) {
            let doc = searcher.doc(ranked.address).map_err(backend)?;
            if let Some(product) = stored_product(&self.fields, &doc)? {
                hits.push(product);
            }
        }
        let facets = q
            .facets
            .iter()
            .zip(facets)
            .map(|(facet, counts)| {
                let values: BTreeMap<String, u64> = counts
                    .into_values()
                    .take(self.settings.max_values_per_facet)
                    .map(|(display, count)| (display.to_string(), count))
                    .collect();
                (facet.name(), values)
            })
            .collect();
        Ok(SearchResults {
            hits,
            total: count.min(cap as u64),
            facets,
            price_stats: price,
        })
    }
}
