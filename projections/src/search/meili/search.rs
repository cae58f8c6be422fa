//! Searches on Meilisearch, asked so that its answer has the port's shape: `page`/`hitsPerPage`
//! mode, whose `totalHits` is exact (offset/limit mode only estimates), `matchingStrategy: all`,
//! `price_min` always among the facets so `facetStats` carries the price range, and product id
//! as the last sort key so ties break as in the embedded adapter.

use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use serde::Deserialize;

use super::{
    MeiliIndex,
    document::{MeiliProduct, parse_position},
    filter::{LIVE, filter_expression},
    tasks::request,
};
use crate::search::{
    Facet, ProductDocument, SearchError, SearchPosition, SearchQuery, SearchResults, SortOrder,
    settings::plain_query_text,
};

const PRICE_FACET: &str = "price_min";

impl MeiliIndex {
    pub(super) async fn run_search(&self, q: &SearchQuery) -> Result<SearchResults, SearchError> {
        q.validate()?;
        let text = plain_query_text(&q.text);
        let filter = filter_expression(&q.filter);
        let facet_names: Vec<String> = q.facets.iter().map(Facet::name).collect();
        let mut facets: Vec<&str> = facet_names.iter().map(String::as_str).collect();
        facets.push(PRICE_FACET);
        let placeholder = !text.chars().any(char::is_alphanumeric);
        let sort = sort_rules(q.sort, placeholder);
        let window = PageWindow::new(q.offset, q.limit);

        let mut search = self.index.search();
        search
            .with_query(&text)
            .with_filter(&filter)
            .with_facets(Selectors::Some(&facets))
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_page(window.page)
            .with_hits_per_page(window.size);
        if !sort.is_empty() {
            search.with_sort(sort);
        }
        let found = request(&self.options, search.execute::<MeiliProduct>()).await?;

        let hits = found
            .hits
            .into_iter()
            .skip(window.skip)
            .take(q.limit)
            .map(|hit| ProductDocument::try_from(hit.result))
            .collect::<Result<Vec<_>, _>>()?;
        let total = found.total_hits.unwrap_or(0) as u64;
        let mut distribution = found.facet_distribution.unwrap_or_default();
        let facets = facet_names
            .into_iter()
            .map(|name| {
                let counts = distribution.remove(&name).unwrap_or_default();
                let counts = counts.into_iter().map(|(v, n)| (v, n as u64)).collect();
                (name, counts)
            })
            .collect();
        let price_stats = found
            .facet_stats
            .and_then(|stats| stats.get(PRICE_FACET).cloned())
            .filter(|_| total > 0)
            // Prices are whole numbers of minor units; Meilisearch reports them as floats.
            .map(|s| (s.min.round() as i64, s.max.round() as i64));
        Ok(SearchResults {
            hits,
            total,
            facets,
            price_stats,
        })
    }

    pub(super) async fn count_live(&self) -> Result<u64, SearchError> {
        let mut search = self.index.search();
        search
            .with_filter(LIVE)
            .with_attributes_to_retrieve(Selectors::Some(&["id"]))
            .with_page(1)
            .with_hits_per_page(1);
        let found = request(&self.options, search.execute::<serde_json::Value>()).await?;
        Ok(found.total_hits.unwrap_or(0) as u64)
    }

    pub(super) async fn newest_position(&self) -> Result<Option<SearchPosition>, SearchError> {
        #[derive(Deserialize)]
        struct PositionOnly {
            position: String,
        }
        // Tombstones included: a deletion is an applied position too.
        let mut search = self.index.search();
        search
            .with_sort(&["position:desc"])
            .with_attributes_to_retrieve(Selectors::Some(&["position"]))
            .with_page(1)
            .with_hits_per_page(1);
        let found = request(&self.options, search.execute::<PositionOnly>()).await?;
        found
            .hits
            .first()
            .map(|hit| parse_position(&hit.result.position))
            .transpose()
    }
}

/// The sort for an order: the field, then product id. A placeholder search has no relevance to
/// keep, so it is in product id order, like the embedded adapter's.
fn sort_rules(sort: SortOrder, placeholder: bool) -> &'static [&'static str] {
    match sort {
        SortOrder::Relevance if placeholder => &["id:asc"],
        // With text, an explicit sort would come before `exactness`; leave relevance alone.
        SortOrder::Relevance => &[],
        SortOrder::PriceAsc => &["price_min:asc", "id:asc"],
        SortOrder::PriceDesc => &["price_min:desc", "id:asc"],
        SortOrder::RatingDesc => &["rating:desc", "id:asc"],
        SortOrder::Newest => &["created_at:desc", "id:asc"],
    }
}

/// One Meilisearch page that contains the requested `offset..offset + limit` window: page mode
/// is the one with an exact total, and it only pages in multiples of `hitsPerPage`.
#[derive(Debug, PartialEq, Eq)]
struct PageWindow {
    /// 1-based.
    page: usize,
    size: usize,
    /// Hits to skip at the start of the page.
    skip: usize,
}

impl PageWindow {
    fn new(offset: usize, limit: usize) -> Self {
        // The smallest page size >= limit with the window inside one page: at most
        // `offset + limit`, usually `limit` or a little more.
        let mut size = limit.max(1);
        while offset % size + limit > size {
            size += 1;
        }
        Self {
            page: offset / size + 1,
            size,
            skip: offset % size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_fit_in_one_page() {
        let w = |offset, limit| PageWindow::new(offset, limit);
        assert_eq!(
            w(0, 10),
            PageWindow {
                page: 1,
                size: 10,
                skip: 0
            }
        );
        assert_eq!(
            w(20, 10),
            PageWindow {
                page: 3,
                size: 10,
                skip: 0
            }
        );
        assert_eq!(
            w(5, 10),
            PageWindow {
                page: 1,
                size: 15,
                skip: 5
            }
        );
        assert_eq!(
            w(1050, 100),
            PageWindow {
                page: 11,
                size: 105,
                skip: 0
            }
        );
        for offset in 0..300 {
            for limit in [1, 7, 20, 100] {
                let p = w(offset, limit);
                assert_eq!((p.page - 1) * p.size + p.skip, offset);
                assert!(p.skip + limit <= p.size);
            }
        }
    }
}
