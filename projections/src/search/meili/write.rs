//! Writes on Meilisearch under the position rule: read what the index holds for the batch's
//! ids, keep what is newer (in order, as the embedded adapter does), write that as one task and
//! wait for it. Correct as long as the projection worker is the index's only writer.

use std::collections::HashMap;

use meilisearch_sdk::documents::{DocumentsQuery, DocumentsResults};

use super::{
    MeiliIndex,
    document::{HELD_FIELDS, HeldDoc, MeiliProduct, StockPatch, Tombstone, parse_position},
    filter::ids_filter,
    tasks::{is_not_found, request, run_task, sdk_error},
};
use crate::search::{
    ProductDocument, SearchError, SearchPosition,
    document::{check_documents, check_product_id},
};

/// What the index holds for one product.
#[derive(Debug, Clone, Copy)]
struct Held {
    position: SearchPosition,
    live: bool,
}

impl MeiliIndex {
    pub(super) async fn upsert_docs(
        &self,
        docs: Vec<ProductDocument>,
    ) -> Result<usize, SearchError> {
        check_documents(&docs)?;
        let mut held = self
            .held(docs.iter().map(|d| d.product_id.as_str()))
            .await?;
        // The last applied version of each product, in first-seen order.
        let mut order: Vec<&str> = Vec::new();
        let mut latest: HashMap<&str, &ProductDocument> = HashMap::new();
        let mut applied = 0;
        for doc in &docs {
            let id = doc.product_id.as_str();
            if held.get(id).is_some_and(|h| doc.position <= h.position) {
                continue;
            }
            held.insert(
                id.to_owned(),
                Held {
                    position: doc.position,
                    live: true,
                },
            );
            if latest.insert(id, doc).is_none() {
                order.push(id);
            }
            applied += 1;
        }
        if applied > 0 {
            let payload: Vec<MeiliProduct> = order
                .iter()
                .filter_map(|id| latest.get(id))
                .map(|doc| MeiliProduct::from(*doc))
                .collect();
            let write = self.index.add_or_replace(&payload, Some("id"));
            run_task(&self.client, &self.options, write).await?;
        }
        Ok(applied)
    }

    pub(super) async fn delete_doc(
        &self,
        id: &str,
        position: SearchPosition,
    ) -> Result<bool, SearchError> {
        check_product_id(id)?;
        let held = self.held([id]).await?;
        if held.get(id).is_some_and(|h| position <= h.position) {
            return Ok(false);
        }
        let tombstone = [Tombstone {
            id: id.to_owned(),
            position: position.to_key(),
            deleted: true,
        }];
        let write = self.index.add_or_replace(&tombstone, Some("id"));
        run_task(&self.client, &self.options, write).await?;
        Ok(true)
    }

    pub(super) async fn update_stock(
        &self,
        updates: Vec<(String, bool, SearchPosition)>,
    ) -> Result<usize, SearchError> {
        for (id, _, _) in &updates {
            check_product_id(id)?;
        }
        let mut held = self
            .held(updates.iter().map(|(id, _, _)| id.as_str()))
            .await?;
        let mut order: Vec<&str> = Vec::new();
        let mut patches: HashMap<&str, StockPatch> = HashMap::new();
        let mut applied = 0;
        for (id, in_stock, position) in &updates {
            let Some(current) = held.get_mut(id.as_str()) else {
                continue;
            };
            if !current.live || *position <= current.position {
                continue;
            }
            current.position = *position;
            let patch = StockPatch {
                id: id.clone(),
                in_stock: *in_stock,
                position: position.to_key(),
            };
            if patches.insert(id, patch).is_none() {
                order.push(id);
            }
            applied += 1;
        }
        if applied > 0 {
            let payload: Vec<&StockPatch> = order.iter().filter_map(|id| patches.get(id)).collect();
            // `PUT /documents` merges these fields into the stored product.
            let write = self.index.add_or_update(&payload, Some("id"));
            run_task(&self.client, &self.options, write).await?;
        }
        Ok(applied)
    }

    pub(super) async fn get_doc(&self, id: &str) -> Result<Option<ProductDocument>, SearchError> {
        let call = self.index.get_document::<serde_json::Value>(id);
        let value = match tokio::time::timeout(self.options.request_timeout, call).await {
            Err(_) => return Err(SearchError::Timeout),
            Ok(Err(e)) if is_not_found(&e) => return Ok(None),
            Ok(result) => result.map_err(sdk_error)?,
        };
        if value.get("deleted").and_then(serde_json::Value::as_bool) != Some(false) {
            return Ok(None);
        }
        let stored: MeiliProduct = serde_json::from_value(value)
            .map_err(|e| SearchError::Backend(format!("unreadable stored product {id}: {e}")))?;
        ProductDocument::try_from(stored).map(Some)
    }

    /// What the index holds for these ids (absent ids are not in the map).
    async fn held<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, Held>, SearchError> {
        let mut unique: Vec<&str> = ids.into_iter().collect();
        unique.sort_unstable();
        unique.dedup();
        if unique.is_empty() {
            return Ok(HashMap::new());
        }
        let filter = ids_filter(unique.iter().copied());
        let mut query = DocumentsQuery::new(&self.index);
        query
            .with_filter(&filter)
            .with_fields(HELD_FIELDS)
            .with_limit(unique.len());
        let found: DocumentsResults<HeldDoc> =
            request(&self.options, self.index.get_documents_with(&query)).await?;
        found
            .results
            .into_iter()
            .map(|doc| {
                let position = parse_position(&doc.position)?;
                Ok((
                    doc.id,
                    Held {
                        position,
                        live: !doc.deleted,
                    },
                ))
            })
            .collect()
    }
}
