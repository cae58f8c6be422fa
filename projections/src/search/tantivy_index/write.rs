//! Writes: each call applies the position rule against what the index holds, stages its
//! changes in the one writer, commits, and only then records the new positions. A failed call
//! rolls the writer back, so memory and disk never disagree.

use std::collections::{HashMap, HashSet};

use tantivy::{
    IndexWriter, Searcher,
    collector::{Count, DocSetCollector},
    query::TermQuery,
    schema::IndexRecordOption,
};

use super::{
    Inner,
    held::Held,
    lock,
    schema::{backend, id_term, product_doc, stored_product, tombstone_doc},
};
use crate::search::{
    ProductDocument, SearchError, SearchPosition,
    document::{check_documents, check_product_id},
};

/// What one write call changed, to record once committed.
type Staged = HashMap<String, Held>;

impl Inner {
    pub(super) fn upsert(&self, docs: Vec<ProductDocument>) -> Result<usize, SearchError> {
        check_documents(&docs)?;
        self.write(|inner, writer, staged| {
            let mut applied = 0;
            for doc in &docs {
                if !inner.is_newer(staged, &doc.product_id, doc.position)? {
                    continue;
                }
                writer.delete_term(id_term(&inner.fields, &doc.product_id));
                writer
                    .add_document(product_doc(&inner.fields, doc)?)
                    .map_err(backend)?;
                let held = Held {
                    position: doc.position,
                    live: true,
                };
                staged.insert(doc.product_id.clone(), held);
                applied += 1;
            }
            Ok(applied)
        })
    }

    pub(super) fn delete(&self, id: &str, position: SearchPosition) -> Result<bool, SearchError> {
        check_product_id(id)?;
        self.write(|inner, writer, staged| {
            if !inner.is_newer(staged, id, position)? {
                return Ok(false);
            }
            writer.delete_term(id_term(&inner.fields, id));
            writer
                .add_document(tombstone_doc(&inner.fields, id, position))
                .map_err(backend)?;
            staged.insert(
                id.to_owned(),
                Held {
                    position,
                    live: false,
                },
            );
            Ok(true)
        })
    }

    pub(super) fn set_in_stock(
        &self,
        updates: Vec<(String, bool, SearchPosition)>,
    ) -> Result<usize, SearchError> {
        for (id, _, _) in &updates {
            check_product_id(id)?;
        }
        self.write(|inner, writer, staged| {
            // Taken under the writer lock: no other call can commit while this one reads.
            let searcher = inner.reader.searcher();
            // Documents rewritten earlier in this call, so a second update builds on the first.
            let mut rewritten: HashMap<&str, ProductDocument> = HashMap::new();
            let mut applied = 0;
            for (id, in_stock, position) in &updates {
                let current = match staged.get(id) {
                    Some(held) => Some(*held),
                    None => lock(&inner.held)?.get(id),
                };
                let Some(held) = current.filter(|h| h.live && *position > h.position) else {
                    continue;
                };
                let doc = match rewritten.remove(id.as_str()) {
                    Some(doc) => Some(doc),
                    None => inner.get(&searcher, id)?,
                };
                let Some(mut doc) = doc else { continue };
                doc.in_stock = *in_stock;
                doc.position = *position;
                writer.delete_term(id_term(&inner.fields, id));
                writer
                    .add_document(product_doc(&inner.fields, &doc)?)
                    .map_err(backend)?;
                staged.insert(
                    id.clone(),
                    Held {
                        position: *position,
                        ..held
                    },
                );
                rewritten.insert(id, doc);
                applied += 1;
            }
            Ok(applied)
        })
    }

    pub(super) fn clear(&self) -> Result<(), SearchError> {
        let mut writer = lock(&self.writer)?;
        let committed = writer.delete_all_documents().and_then(|_| writer.commit());
        if let Err(e) = committed {
            rollback(&mut writer);
            return Err(backend(e));
        }
        lock(&self.held)?.clear();
        self.reader.reload().map_err(backend)
    }

    /// The stored product with this id, if live in `searcher`'s view.
    pub(super) fn get(
        &self,
        searcher: &Searcher,
        id: &str,
    ) -> Result<Option<ProductDocument>, SearchError> {
        let query = TermQuery::new(id_term(&self.fields, id), IndexRecordOption::Basic);
        let found: HashSet<_> = searcher.search(&query, &DocSetCollector).map_err(backend)?;
        for address in found {
            let doc = searcher.doc(address).map_err(backend)?;
            if let Some(product) = stored_product(&self.fields, &doc)? {
                return Ok(Some(product));
            }
        }
        Ok(None)
    }

    pub(super) fn count(&self) -> Result<u64, SearchError> {
        let live = tantivy::Term::from_field_bool(self.fields.live, true);
        let query = TermQuery::new(live, IndexRecordOption::Basic);
        let n = self
            .reader
            .searcher()
            .search(&query, &Count)
            .map_err(backend)?;
        Ok(n as u64)
    }

    /// Whether a write at `position` is newer than what the index holds (or this call staged).
    fn is_newer(
        &self,
        staged: &Staged,
        id: &str,
        position: SearchPosition,
    ) -> Result<bool, SearchError> {
        let current = match staged.get(id) {
            Some(held) => Some(*held),
            None => lock(&self.held)?.get(id),
        };
        Ok(current.is_none_or(|h| position > h.position))
    }

    /// Runs `stage` with the writer, then commits (if anything was staged) and records it.
    fn write<T>(
        &self,
        stage: impl FnOnce(&Self, &mut IndexWriter, &mut Staged) -> Result<T, SearchError>,
    ) -> Result<T, SearchError> {
        let mut writer = lock(&self.writer)?;
        let mut staged = Staged::new();
        let staged_ok = stage(self, &mut writer, &mut staged);
        let value = match staged_ok {
            Ok(value) if staged.is_empty() => return Ok(value),
            Ok(value) => value,
            Err(e) => {
                rollback(&mut writer);
                return Err(e);
            }
        };
        if let Err(e) = writer.commit() {
            rollback(&mut writer);
            return Err(backend(e));
        }
        // Committed: record it before anything else can fail.
        lock(&self.held)?.apply(staged);
        self.reader.reload().map_err(backend)?;
        Ok(value)
    }
}

/// Drops whatever was staged so the next call starts from the last commit.
fn rollback(writer: &mut IndexWriter) {
    if let Err(e) = writer.rollback() {
        tracing::error!(error = %e, "search index rollback failed");
    }
}
