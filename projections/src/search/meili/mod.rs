//! The Meilisearch [`SearchIndex`], for production: one Meilisearch index (primary key `id`)
//! configured on connect to match the port (see `settings.rs`). Writes wait for their task, so
//! they are visible when the call returns; every request and task wait is bounded.
//!
//! The position rule relies on the projection worker being the index's only writer: a write
//! first reads the positions held for its ids (`id IN [...]`), then enqueues only what is
//! newer. Deletions are tombstone documents in the same index (`deleted: true`, filtered out of
//! every search), so a deletion and the check against it live in one place.

mod document;
mod filter;
mod search;
mod settings;
mod tasks;
mod write;

use std::{fmt, time::Duration};

use async_trait::async_trait;
use meilisearch_sdk::{client::Client, indexes::Index, tasks::Task};

use self::tasks::{failed_as_existing_index, finished, request, run_task, sdk_error};
use super::{
    ProductDocument, SearchError, SearchIndex, SearchPosition, SearchQuery, SearchResults,
    SearchSettings,
};

/// Timeouts for talking to Meilisearch.
#[derive(Debug, Clone)]
pub struct MeiliOptions {
    /// Longest wait for one HTTP request.
    pub request_timeout: Duration,
    /// Longest wait for a write task to be processed (large batches and settings changes on a
    /// big index take a while; the SDK's default of 5 s is too short for those).
    pub task_timeout: Duration,
}

impl Default for MeiliOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            task_timeout: Duration::from_secs(120),
        }
    }
}

/// A product index on a Meilisearch server. Cloning shares the connection.
#[derive(Clone)]
pub struct MeiliIndex {
    client: Client,
    index: Index,
    options: MeiliOptions,
}

impl fmt::Debug for MeiliIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeiliIndex")
            .field("url", &self.client.get_host())
            .field("index", &self.index.uid)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl MeiliIndex {
    /// Connects, creates the index if needed and applies the settings (waiting for both).
    pub async fn connect(
        url: &str,
        api_key: Option<String>,
        index_uid: &str,
        settings: SearchSettings,
    ) -> Result<Self, SearchError> {
        Self::connect_with(url, api_key, index_uid, settings, MeiliOptions::default()).await
    }

    /// [`connect`](Self::connect) with other timeouts.
    pub async fn connect_with(
        url: &str,
        api_key: Option<String>,
        index_uid: &str,
        settings: SearchSettings,
        options: MeiliOptions,
    ) -> Result<Self, SearchError> {
        let client = Client::new(url, api_key).map_err(sdk_error)?;
        let created = request(&options, client.create_index(index_uid, Some("id"))).await?;
        let task = finished(&client, &options, &created).await?;
        if let Task::Failed { content } = &task
            && !failed_as_existing_index(&task)
        {
            return Err(SearchError::Backend(format!(
                "cannot create meilisearch index {index_uid}: {}",
                content.error.error_message
            )));
        }
        let index = client.index(index_uid);
        let index_settings = settings::index_settings(&settings);
        run_task(&client, &options, index.set_settings(&index_settings)).await?;
        Ok(Self {
            client,
            index,
            options,
        })
    }

    /// Deletes the whole Meilisearch index (tests, benchmarks).
    pub async fn delete_index(&self) -> Result<(), SearchError> {
        run_task(&self.client, &self.options, self.index.clone().delete()).await
    }
}

#[async_trait]
impl SearchIndex for MeiliIndex {
    async fn upsert(&self, docs: Vec<ProductDocument>) -> Result<usize, SearchError> {
        self.upsert_docs(docs).await
    }

    async fn delete(
        &self,
        product_id: &str,
        position: SearchPosition,
    ) -> Result<bool, SearchError> {
        self.delete_doc(product_id, position).await
    }

    async fn set_in_stock(
        &self,
        updates: Vec<(String, bool, SearchPosition)>,
    ) -> Result<usize, SearchError> {
        self.update_stock(updates).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        self.run_search(query).await
    }

    async fn get(&self, product_id: &str) -> Result<Option<ProductDocument>, SearchError> {
        self.get_doc(product_id).await
    }

    async fn position(&self) -> Result<Option<SearchPosition>, SearchError> {
        self.newest_position().await
    }

    async fn count(&self) -> Result<u64, SearchError> {
        self.count_live().await
    }

    async fn clear(&self) -> Result<(), SearchError> {
        run_task(
            &self.client,
            &self.options,
            self.index.delete_all_documents(),
        )
        .await
    }

    async fn health(&self) -> Result<(), SearchError> {
        let health = request(&self.options, self.client.health()).await?;
        if health.status != "available" {
            return Err(SearchError::Unavailable(format!(
                "meilisearch status is {:?}",
                health.status
            )));
        }
        request(&self.options, self.index.get_stats())
            .await
            .map(drop)
    }
}
