//! One pass over the matching documents that does everything a search needs: the exact count,
//! the top `offset + limit` hits in order, facet counts and price stats. Facets are counted on
//! the fast columns' term ordinals (one array increment per value) and turned into values once
//! per segment, from the segment's prepared data (segments.rs), which keeps faceted queries
//! cheap at 100,000 products.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap},
    ops::Range,
    sync::Arc,
};

use tantivy::{
    DocAddress, DocId, Score, SegmentOrdinal, SegmentReader,
    collector::{Collector, SegmentCollector},
    columnar::Column,
};

use super::{
    schema::ATTR_SEPARATOR,
    segments::{FacetColumn, SegmentCache, SegmentData},
};
use crate::search::{Facet, SortOrder};

/// A hit's rank in its segment: greater is better. Ties on score and sort value go to the
/// smaller product id (term ordinals are in id order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SegmentRank(i64, i64, Reverse<u64>, Reverse<DocId>);

/// A hit ready to be merged with other segments' hits.
#[derive(Debug)]
pub(super) struct Ranked {
    pub score: i64,
    pub sort_value: i64,
    pub id: Box<str>,
    pub address: DocAddress,
}

/// Counts per facet value: normalised value -> (displayed value, count).
pub(super) type FacetCounts = BTreeMap<Arc<str>, (Arc<str>, u64)>;

/// What a search collected.
#[derive(Debug, Default)]
pub(super) struct Collected {
    pub count: u64,
    pub price: Option<(i64, i64)>,
    /// Best first.
    pub top: Vec<Ranked>,
    /// In the order of the requested facets.
    pub facets: Vec<FacetCounts>,
}

/// The collector.
pub(super) struct SearchCollector<'a> {
    pub segments: &'a SegmentCache,
    pub top_k: usize,
    pub sort: SortOrder,
    pub facets: Vec<Facet>,
    pub scored: bool,
}

impl Collector for SearchCollector<'_> {
    type Fruit = Collected;
    type Child = SegmentSearch;

    fn for_segment(
        &self,
        segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentSearch> {
        let data = self.segments.get(segment)?;
        let sort = match self.sort {
            SortOrder::Relevance => SortValue::None,
            SortOrder::PriceAsc => SortValue::Ascending(data.price.clone()),
            SortOrder::PriceDesc => SortValue::Descending(data.price.clone()),
            SortOrder::RatingDesc => SortValue::Rating(data.rating.clone()),
            SortOrder::Newest => SortValue::Descending(data.created_at.clone()),
        };
        let facets = self
            .facets
            .iter()
            .map(|facet| FacetCounter::new(&data, facet))
            .collect();
        Ok(SegmentSearch {
            segment_ord,
            top_k: self.top_k,
            count: 0,
            price_range: None,
            sort,
            heap: BinaryHeap::with_capacity(self.top_k + 1),
            facets,
            data,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scored
    }

    fn merge_fruits(&self, fruits: Vec<Collected>) -> tantivy::Result<Collected> {
        let mut out = Collected {
            facets: vec![FacetCounts::new(); self.facets.len()],
            ..Collected::default()
        };
        for fruit in fruits {
            out.count += fruit.count;
            out.price = match (out.price, fruit.price) {
                (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                (a, b) => a.or(b),
            };
            out.top.extend(fruit.top);
            for (merged, counts) in out.facets.iter_mut().zip(fruit.facets) {
                for (key, (display, count)) in counts {
                    add_count(merged, key, display, count);
                }
            }
        }
        out.top.sort_by(|a, b| {
            (b.score, b.sort_value)
                .cmp(&(a.score, a.sort_value))
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.address.cmp(&b.address))
        });
        out.top.truncate(self.top_k);
        Ok(out)
    }
}

/// Adds to a value's count. Spellings of one normalised value may differ between products;
/// the smallest is shown, so the choice does not depend on segment order.
fn add_count(counts: &mut FacetCounts, key: Arc<str>, display: Arc<str>, count: u64) {
    let entry = counts
        .entry(key)
        .or_insert_with(|| (Arc::clone(&display), 0));
    if display < entry.0 {
        entry.0 = display;
    }
    entry.1 += count;
}

enum SortValue {
    None,
    Ascending(Option<Column<i64>>),
    Descending(Option<Column<i64>>),
    /// Unrated products sort last.
    Rating(Option<Column<u64>>),
}

impl SortValue {
    fn get(&self, doc: DocId) -> i64 {
        let first = |c: &Option<Column<i64>>| c.as_ref().and_then(|c| c.first(doc));
        match self {
            Self::None => 0,
            Self::Ascending(c) => first(c).map_or(i64::MIN, |v| v.saturating_neg()),
            Self::Descending(c) => first(c).unwrap_or(i64::MIN),
            Self::Rating(c) => c
                .as_ref()
                .and_then(|c| c.first(doc))
                .map_or(i64::MIN, |v| i64::try_from(v).unwrap_or(i64::MAX)),
        }
    }
}

/// One segment's share of the work.
pub(super) struct SegmentSearch {
    segment_ord: SegmentOrdinal,
    top_k: usize,
    count: u64,
    price_range: Option<(i64, i64)>,
    sort: SortValue,
    /// The best `top_k` so far, worst on top.
    heap: BinaryHeap<Reverse<SegmentRank>>,
    facets: Vec<FacetCounter>,
    data: Arc<SegmentData>,
}

impl SegmentCollector for SegmentSearch {
    type Fruit = Collected;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.count += 1;
        if let Some(price) = self.data.price.as_ref().and_then(|c| c.first(doc)) {
            self.price_range = Some(match self.price_range {
                Some((lo, hi)) => (lo.min(price), hi.max(price)),
                None => (price, price),
            });
        }
        for facet in &mut self.facets {
            facet.collect(doc);
        }
        if self.top_k == 0 {
            return;
        }
        // Scores are sums of whole numbers (text_query.rs), so rounding loses nothing.
        let score = score.round() as i64;
        let id_ord = self
            .data
            .id_column
            .as_ref()
            .and_then(|ids| ids.term_ords(doc).next())
            .unwrap_or(u64::MAX);
        let rank = SegmentRank(score, self.sort.get(doc), Reverse(id_ord), Reverse(doc));
        if self.heap.len() < self.top_k {
            self.heap.push(Reverse(rank));
        } else if self.heap.peek().is_some_and(|worst| rank > worst.0) {
            self.heap.pop();
            self.heap.push(Reverse(rank));
        }
    }

    fn harvest(self) -> Collected {
        let ids = &self.data.ids;
        let top = self
            .heap
            .into_iter()
            .map(
                |Reverse(SegmentRank(score, sort_value, Reverse(ord), Reverse(doc)))| {
                    let id = usize::try_from(ord).ok().and_then(|ord| ids.get(ord));
                    Ranked {
                        score,
                        sort_value,
                        id: id.cloned().unwrap_or_default(),
                        address: DocAddress::new(self.segment_ord, doc),
                    }
                },
            )
            .collect();
        Collected {
            count: self.count,
            price: self.price_range,
            top,
            facets: self.facets.into_iter().map(FacetCounter::harvest).collect(),
        }
    }
}

/// Counts one facet's values in one segment, by term ordinal.
struct FacetCounter {
    column: Option<FacetColumn>,
    /// The ordinals this facet counts (one attribute key's values are one range).
    ords: Range<u64>,
    counts: Vec<u32>,
    /// The last document counted per ordinal, so a value repeated in a document counts once.
    last_doc: Vec<DocId>,
}

impl FacetCounter {
    fn new(data: &SegmentData, facet: &Facet) -> Self {
        let (column, key) = match facet {
            Facet::Brand => (data.brand.clone(), None),
            Facet::Category => (data.category.clone(), None),
            Facet::Attribute(key) => (data.attributes.clone(), Some(key.as_str())),
        };
        let ords = match (&column, key) {
            (None, _) => 0..0,
            (Some(c), None) => 0..c.values.len() as u64,
            (Some(c), Some(key)) => {
                // One key's values are contiguous: `key\u{1f}…` sorts between `key\u{1f}` and
                // `key\u{20}`.
                let start = format!("{key}{ATTR_SEPARATOR}");
                let from = c.values.partition_point(|v| *v.raw < *start);
                let to = from + c.values[from..].partition_point(|v| v.raw.starts_with(&start));
                from as u64..to as u64
            }
        };
        let size = usize::try_from(ords.end - ords.start).unwrap_or(0);
        Self {
            column,
            ords,
            counts: vec![0; size],
            last_doc: vec![DocId::MAX; size],
        }
    }

    fn collect(&mut self, doc: DocId) {
        let Some(facet) = &self.column else { return };
        for ord in facet.column.term_ords(doc) {
            if self.ords.contains(&ord) {
                let i = (ord - self.ords.start) as usize;
                if self.last_doc[i] != doc {
                    self.last_doc[i] = doc;
                    self.counts[i] += 1;
                }
            }
        }
    }

    fn harvest(self) -> FacetCounts {
        let mut out = FacetCounts::new();
        let Some(facet) = &self.column else {
            return out;
        };
        let values = facet.values.iter().skip(self.ords.start as usize);
        for (value, count) in values.zip(&self.counts).filter(|(_, n)| **n > 0) {
            let (key, display) = (Arc::clone(&value.key), Arc::clone(&value.display));
            add_count(&mut out, key, display, u64::from(*count));
        }
        out
    }
}
