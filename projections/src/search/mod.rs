//! The `SearchIndex` port: product search with typo tolerance, synonyms, filters, facets and
//! sorting, written to Meilisearch's documented behaviour so that the embedded default
//! ([`TantivyIndex`]) and production ([`MeiliIndex`]) answer the same queries the same way. One
//! conformance suite (`conformance`, feature `conformance`) runs against both.
//!
//! Documents carry the `$all` position they were built from and the index ignores any write
//! that is not newer than what it holds for that product (deletions leave a tombstone), so the
//! projection worker may replay and retry freely. Writes are visible to searches when the call
//! returns. See docs/search.md for the semantics and the differences that remain.

pub mod bench;
#[cfg(feature = "conformance")]
pub mod conformance;
mod document;
mod error;
mod feed;
mod meili;
mod query;
mod settings;
mod tantivy_index;

use async_trait::async_trait;

pub(crate) use document::is_plain_attribute_key;
pub use document::{ProductDocument, SearchPosition};
pub use error::SearchError;
pub use feed::{SearchFeed, SearchFeedHandle, SearchFeedOptions, SearchFeedStatus};
pub use meili::{MeiliIndex, MeiliOptions};
pub use query::{Facet, MAX_LIMIT, SearchFilter, SearchQuery, SearchResults, SortOrder};
pub use settings::{DEFAULT_SYNONYM_GROUPS, SearchSettings};
pub use tantivy_index::TantivyIndex;

/// A product search index. Implementations are cheap to share (`Arc` inside) and safe to call
/// concurrently; the projection worker is expected to be the only writer.
#[async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// Writes documents, in order. A document whose `position` is not newer than the position
    /// the index holds for that product (including a deletion tombstone) is ignored, so replays
    /// and retries are harmless. Returns how many were applied. The batch is checked first: one
    /// invalid document fails the call and writes nothing.
    async fn upsert(&self, docs: Vec<ProductDocument>) -> Result<usize, SearchError>;

    /// Removes a product as of `position`, leaving a tombstone so that older upserts arriving
    /// later stay ignored. Returns whether it was applied (`false`: the index already holds that
    /// product at this position or a newer one).
    async fn delete(&self, product_id: &str, position: SearchPosition)
    -> Result<bool, SearchError>;

    /// Updates only `in_stock` (inventory changes), guarded by position like `upsert`; products
    /// the index does not hold (or holds as deleted) are skipped. Returns how many were applied.
    async fn set_in_stock(
        &self,
        updates: Vec<(String, bool, SearchPosition)>,
    ) -> Result<usize, SearchError>;

    /// Runs a query (see [`SearchQuery`]).
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError>;

    /// One product, if the index holds it (not deleted).
    async fn get(&self, product_id: &str) -> Result<Option<ProductDocument>, SearchError>;

    /// The newest position the index has applied (documents and tombstones), for
    /// read-your-writes and restarts; `None` when empty.
    async fn position(&self) -> Result<Option<SearchPosition>, SearchError>;

    /// How many products the index holds (tombstones excluded).
    async fn count(&self) -> Result<u64, SearchError>;

    /// Deletes everything, tombstones included (before a rebuild).
    async fn clear(&self) -> Result<(), SearchError>;

    /// Whether the index can serve.
    async fn health(&self) -> Result<(), SearchError>;
}
