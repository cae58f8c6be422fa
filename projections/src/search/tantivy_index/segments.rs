//! What every search needs from a segment, prepared once per segment instead of once per query:
//! the opened fast columns, the product ids and the facet values (strings and their normalised
//! forms), in term-ordinal order. Reading a dictionary entry by ordinal costs a block
//! decompression, and opening columns parses their headers; with a dozen segments that was a
//! good part of each query. Segments are immutable, so a Tantivy `Warmer` prepares each one when
//! a reader first sees it and drops it when no searcher uses it any more.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
};

use tantivy::{
    Searcher, SearcherGeneration, SegmentReader, Warmer,
    columnar::{Column, StrColumn},
    index::SegmentId,
};

use super::schema::{ATTR_SEPARATOR, columns};
use crate::search::document::normalize_value;

/// One facet value as counted and shown.
#[derive(Debug)]
pub(super) struct FacetValue {
    /// The term as stored (`colour\u{1f}Blue` for attributes).
    pub raw: Box<str>,
    /// What results show (`Blue`).
    pub display: Arc<str>,
    /// What values are merged and ordered by (`blue`).
    pub key: Arc<str>,
}

/// A facet column and its values by ordinal.
#[derive(Clone)]
pub(super) struct FacetColumn {
    pub column: StrColumn,
    pub values: Arc<Vec<FacetValue>>,
}

/// One segment, ready to search.
#[derive(Clone)]
pub(super) struct SegmentData {
    pub id_column: Option<StrColumn>,
    /// Product ids by ordinal (so in id order).
    pub ids: Arc<Vec<Box<str>>>,
    pub price: Option<Column<i64>>,
    pub rating: Option<Column<u64>>,
    pub created_at: Option<Column<i64>>,
    pub brand: Option<FacetColumn>,
    pub category: Option<FacetColumn>,
    pub attributes: Option<FacetColumn>,
}

/// The prepared segments of every live searcher.
#[derive(Default)]
pub(super) struct SegmentCache {
    segments: RwLock<HashMap<SegmentId, Arc<SegmentData>>>,
}

impl std::fmt::Debug for SegmentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.segments.read().map_or(0, |m| m.len());
        f.debug_struct("SegmentCache")
            .field("segments", &count)
            .finish()
    }
}

impl SegmentCache {
    /// A segment's data, prepared now if the warmer has not seen it.
    pub fn get(&self, segment: &SegmentReader) -> tantivy::Result<Arc<SegmentData>> {
        let key = segment.segment_id();
        if let Some(data) = self.segments.read().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(data);
        }
        let data = Arc::new(prepare(segment)?);
        if let Ok(mut segments) = self.segments.write() {
            segments.insert(key, Arc::clone(&data));
        }
        Ok(data)
    }
}

impl Warmer for SegmentCache {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        for segment in searcher.segment_readers() {
            self.get(segment)?;
        }
        Ok(())
    }

    fn garbage_collect(&self, live_generations: &[&SearcherGeneration]) {
        let live: HashSet<SegmentId> = live_generations
            .iter()
            .flat_map(|generation| generation.segments().keys().copied())
            .collect();
        if let Ok(mut segments) = self.segments.write() {
            segments.retain(|id, _| live.contains(id));
        }
    }
}

fn prepare(segment: &SegmentReader) -> tantivy::Result<SegmentData> {
    let fast = segment.fast_fields();
    let id_column = fast.str(columns::ID)?;
    let ids = match &id_column {
        Some(column) => Arc::new(terms(column)?),
        None => Arc::default(),
    };
    let facet = |name: &str, strip_key: bool| -> tantivy::Result<Option<FacetColumn>> {
        let Some(column) = fast.str(name)? else {
            return Ok(None);
        };
        let values = terms(&column)?
            .into_iter()
            .map(|raw| {
                let shown = match (strip_key, raw.split_once(ATTR_SEPARATOR)) {
                    (true, Some((_, value))) => value,
                    _ => &raw,
                };
                FacetValue {
                    display: Arc::from(shown),
                    key: Arc::from(normalize_value(shown)),
                    raw,
                }
            })
            .collect();
        Ok(Some(FacetColumn {
            column,
            values: Arc::new(values),
        }))
    };
    Ok(SegmentData {
        ids,
        price: fast.column_opt(columns::PRICE_MIN)?,
        rating: fast.column_opt(columns::RATING)?,
        created_at: fast.column_opt(columns::CREATED_AT)?,
        brand: facet(columns::BRAND, false)?,
        category: facet(columns::CATEGORY, false)?,
        attributes: facet(columns::ATTR, true)?,
        id_column,
    })
}

/// A column's dictionary, front to back (one decompression per block).
fn terms(column: &StrColumn) -> tantivy::Result<Vec<Box<str>>> {
    let mut out = Vec::with_capacity(column.num_terms());
    let mut stream = column.dictionary().stream()?;
    while let Some((key, _)) = stream.next() {
        out.push(String::from_utf8_lossy(key).into());
    }
    Ok(out)
}
