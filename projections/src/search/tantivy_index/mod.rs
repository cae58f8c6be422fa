//! The embedded [`SearchIndex`]: Tantivy in the process, on disk under the data directory (or in
//! memory for tests). One `IndexWriter` lives as long as the index; every write call commits
//! before it returns and reloads the reader, so writes are durable and visible on return.
//!
//! Matching follows Meilisearch's rules (typo budgets, prefix on the last word, n-grams, split
//! words, synonyms; see `text_query.rs`), so this adapter and [`MeiliIndex`] pass one
//! conformance suite.
//!
//! [`MeiliIndex`]: crate::search::MeiliIndex

mod analysis;
mod collector;
mod derive;
mod distance;
mod filter;
mod held;
pub(super) mod schema;
mod search;
mod segments;
mod text_query;
mod write;

use std::{
    fmt,
    path::Path,
    sync::{Arc, Mutex, MutexGuard},
};

use async_trait::async_trait;
use tantivy::{
    Index, IndexReader, IndexWriter, ReloadPolicy, Warmer, directory::MmapDirectory,
    merge_policy::LogMergePolicy, tokenizer::TextAnalyzer,
};

use self::{
    analysis::Synonyms,
    held::HeldPositions,
    schema::{Fields, backend},
    segments::SegmentCache,
};
use super::{
    ProductDocument, SearchError, SearchIndex, SearchPosition, SearchQuery, SearchResults,
    SearchSettings,
};

/// Writer memory for an in-memory (test) index: Tantivy's minimum for one thread.
const IN_MEMORY_WRITER_BYTES: usize = 15_000_000;
/// Writer memory per indexing thread for an index on disk.
const WRITER_BYTES_PER_THREAD: usize = 48_000_000;
/// Indexing threads for an index on disk (each commit writes one segment per thread).
const MAX_WRITER_THREADS: usize = 2;

/// The embedded search index. Cloning shares it.
#[derive(Clone)]
pub struct TantivyIndex {
    inner: Arc<Inner>,
}

struct Inner {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// The one writer; holding this lock is what serialises write calls.
    writer: Mutex<IndexWriter>,
    /// What the index holds per product, as of the last commit.
    held: Mutex<HeldPositions>,
    /// What searches need from each segment, kept current by the reader (a warmer).
    segments: Arc<SegmentCache>,
    settings: SearchSettings,
    synonyms: Synonyms,
    analyzer: TextAnalyzer,
}

impl fmt::Debug for TantivyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TantivyIndex")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl TantivyIndex {
    /// Opens the index in `dir` (created if empty), reading back the positions it holds. Blocks
    /// while it reads them (tens of milliseconds per 100,000 products).
    pub fn open(dir: &Path, settings: SearchSettings) -> Result<Self, SearchError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| SearchError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        let directory = MmapDirectory::open(dir).map_err(backend)?;
        let (schema, fields) = schema::schema();
        let index = Index::open_or_create(directory, schema).map_err(backend)?;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_WRITER_THREADS);
        let writer = index
            .writer_with_num_threads(threads, threads * WRITER_BYTES_PER_THREAD)
            .map_err(backend)?;
        Self::assemble(index, fields, writer, settings)
    }

    /// A fresh index in memory (tests, benchmarks).
    pub fn in_memory(settings: SearchSettings) -> Result<Self, SearchError> {
        let (schema, fields) = schema::schema();
        let index = Index::create_in_ram(schema);
        let writer = index
            .writer_with_num_threads(1, IN_MEMORY_WRITER_BYTES)
            .map_err(backend)?;
        Self::assemble(index, fields, writer, settings)
    }

    fn assemble(
        index: Index,
        fields: Fields,
        writer: IndexWriter,
        settings: SearchSettings,
    ) -> Result<Self, SearchError> {
        writer.set_merge_policy(Box::new(merge_policy()));
        schema::register_tokenizers(&index);
        let segments = Arc::new(SegmentCache::default());
        let warmer: Arc<dyn Warmer> = segments.clone();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .warmers(vec![Arc::downgrade(&warmer)])
            .try_into()
            .map_err(backend)?;
        let held = HeldPositions::load(&reader.searcher(), &segments)?;
        let mut analyzer = schema::words_analyzer();
        let synonyms = Synonyms::new(&settings.synonyms, &mut analyzer);
        let inner = Inner {
            index,
            reader,
            fields,
            writer: Mutex::new(writer),
            held: Mutex::new(held),
            segments,
            settings,
            synonyms,
            analyzer,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Runs blocking index work off the async runtime.
    async fn blocking<T, F>(&self, work: F) -> Result<T, SearchError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, SearchError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| SearchError::Backend(format!("search task failed: {e}")))?
    }
}

/// Every write call commits a segment, and every search pays per segment (dictionary walks for
/// typo derivations, columns opened for facets), so segments are merged sooner than Tantivy's
/// default (4 of a level instead of 8), and segments a fifth deleted (upserts delete the old
/// version) are merged too.
fn merge_policy() -> LogMergePolicy {
    let mut policy = LogMergePolicy::default();
    policy.set_min_num_segments(4);
    policy.set_del_docs_ratio_before_merge(0.2);
    policy
}

/// Locks a mutex; a poisoned one (a panic mid-write) is reported rather than unwrapped.
fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>, SearchError> {
    mutex
        .lock()
        .map_err(|_| SearchError::Backend("search index lock poisoned by an earlier panic".into()))
}

#[async_trait]
impl SearchIndex for TantivyIndex {
    async fn upsert(&self, docs: Vec<ProductDocument>) -> Result<usize, SearchError> {
        self.blocking(move |inner| inner.upsert(docs)).await
    }

    async fn delete(
        &self,
        product_id: &str,
        position: SearchPosition,
    ) -> Result<bool, SearchError> {
        let id = product_id.to_owned();
        self.blocking(move |inner| inner.delete(&id, position))
            .await
    }

    async fn set_in_stock(
        &self,
        updates: Vec<(String, bool, SearchPosition)>,
    ) -> Result<usize, SearchError> {
        self.blocking(move |inner| inner.set_in_stock(updates))
            .await
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        query.validate()?;
        let query = query.clone();
        self.blocking(move |inner| inner.search(&query)).await
    }

    async fn get(&self, product_id: &str) -> Result<Option<ProductDocument>, SearchError> {
        let id = product_id.to_owned();
        self.blocking(move |inner| inner.get(&inner.reader.searcher(), &id))
            .await
    }

    async fn position(&self) -> Result<Option<SearchPosition>, SearchError> {
        Ok(lock(&self.inner.held)?.newest())
    }

    async fn count(&self) -> Result<u64, SearchError> {
        self.blocking(|inner| inner.count()).await
    }

    async fn clear(&self) -> Result<(), SearchError> {
        self.blocking(|inner| inner.clear()).await
    }

    async fn health(&self) -> Result<(), SearchError> {
        // A poisoned lock (a panic mid-write) or unreadable index metadata cannot serve.
        drop(lock(&self.inner.writer)?);
        drop(lock(&self.inner.held)?);
        self.blocking(|inner| inner.index.searchable_segment_ids().map_err(backend))
            .await
            .map(drop)
    }
}
