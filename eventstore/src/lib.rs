//! The event store: the one place where shop's facts are written, and the port every other crate
//! reads them through.
//!
//! [`EventStore`] is the port: append a batch to one stream with an [`ExpectedRevision`], read a
//! stream or `$all` in either direction, follow `$all` with a catch-up subscription, soft-delete
//! streams and set their metadata. Three adapters implement it with the same semantics (proved by
//! the one conformance suite in [`conformance`], run against each):
//!
//! - `sqlite::SqliteEventStore`: the embedded default. One writer thread with group commit, WAL,
//!   `synchronous=FULL`.
//! - `postgres::PostgresEventStore`: for one-database and multi-process deployments. Positions
//!   are `(transaction id, sequence)` pairs and readers never pass a transaction that may still
//!   commit, so no subscriber can skip an event (see `docs/adr/0002-postgres-positions.md`).
//! - `esdb::EsdbEventStore` (feature `esdb`): EventStoreDB/KurrentDB through the official client.
//!
//! The crate knows nothing of the domain: events are typed by versioned names (`cart.ItemAdded.v1`)
//! and carry JSON. [`Upcasters`] turns old versions into current ones on read.

pub mod bench;
#[cfg(feature = "conformance")]
pub mod conformance;
mod envelope;
mod error;
#[cfg(feature = "esdb")]
pub mod esdb;
mod filter;
mod limits;
mod port;
mod position;
pub mod postgres;
mod revision;
pub mod sqlite;
mod stream_name;
mod subscription;
#[cfg(feature = "conformance")]
pub mod test_support;
mod upcast;

pub use envelope::{Actor, EventData, Json, Metadata, RecordedEvent};
pub use error::{Error, Result, ValidationError};
pub use filter::AllFilter;
pub use limits::Limits;
pub use port::{
    AllPage, AppendResult, DeleteResult, Direction, EventStore, EventStream, ReadAll, ReadStream,
    StreamMetadata, StreamStart, SubscribeAll,
};
pub use position::Position;
pub use revision::{CurrentRevision, ExpectedRevision};
pub use stream_name::StreamName;
pub use upcast::{UpcastError, Upcasters, Upcasting};
