//! Projection workers: subscribe to `$all` from a checkpoint and build the SQL read models (and,
//! with the search module, the search index), applying each event's effect exactly once.
//!
//! - [`rows`]: typed rows declared with [`table!`], and the working set a projection reads and
//!   writes while it applies a batch.
//! - [`store`]: the read-model database port ([`store::ReadStore`]) with SQLite and Postgres
//!   adapters; a batch's rows and checkpoints commit in one transaction.
//! - [`runner`]: the projection trait and the runner (batching, retries, poison policy, status,
//!   waiting for a position, exclusive ownership, rebuilds into shadow tables).
//! - [`models`]: the read models themselves.
//! - [`search`]: the `SearchIndex` port with its Tantivy and Meilisearch adapters.
//! - [`bench`]: `shop bench projections` (rebuild throughput and lag).

pub mod bench;
pub mod models;
pub mod rows;
pub mod runner;
pub mod search;
pub mod store;
