//! The position the index holds for each product, kept in memory so the position rule costs no
//! lookup per write. The documents (and tombstones) carry their positions, so the map is rebuilt
//! from the index when it is opened and always agrees with what was last committed.

use std::collections::HashMap;

use tantivy::Searcher;

use super::{
    schema::{backend, columns},
    segments::SegmentCache,
};
use crate::search::{SearchError, SearchPosition};

/// What the index holds for one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Held {
    pub position: SearchPosition,
    /// `false`: a deletion tombstone.
    pub live: bool,
}

/// Product id -> what the index holds, and the newest position applied.
#[derive(Debug, Default)]
pub(super) struct HeldPositions {
    map: HashMap<String, Held>,
    newest: Option<SearchPosition>,
}

impl HeldPositions {
    pub fn get(&self, id: &str) -> Option<Held> {
        self.map.get(id).copied()
    }

    pub fn newest(&self) -> Option<SearchPosition> {
        self.newest
    }

    /// Records what a successful commit wrote.
    pub fn apply(&mut self, changes: impl IntoIterator<Item = (String, Held)>) {
        for (id, held) in changes {
            self.newest = self.newest.max(Some(held.position));
            self.map.insert(id, held);
        }
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.newest = None;
    }

    /// Reads every document's id, position and liveness from the fast columns.
    pub fn load(searcher: &Searcher, segments: &SegmentCache) -> Result<Self, SearchError> {
        let mut held = Self::default();
        for segment in searcher.segment_readers() {
            let fast = segment.fast_fields();
            let data = segments.get(segment).map_err(backend)?;
            let Some(ords) = &data.id_column else {
                continue;
            };
            let names = &data.ids;
            let commit = fast.u64(columns::POS_COMMIT).map_err(backend)?;
            let prepare = fast.u64(columns::POS_PREPARE).map_err(backend)?;
            let live = fast.bool(columns::LIVE).map_err(backend)?;
            for doc in segment.doc_ids_alive() {
                let id = ords
                    .term_ords(doc)
                    .next()
                    .and_then(|ord| names.get(usize::try_from(ord).ok()?));
                if let Some(id) = id {
                    let position = SearchPosition(
                        commit.first(doc).unwrap_or_default(),
                        prepare.first(doc).unwrap_or_default(),
                    );
                    let live = live.first(doc).unwrap_or(false);
                    held.apply([(id.to_string(), Held { position, live })]);
                }
            }
        }
        Ok(held)
    }
}
