//! Command handling: the write side's machinery. A [`CommandHandler`] per aggregate loads a
//! stream (held in memory while busy, else from a snapshot and the tail, else from the start),
//! decides with the pure domain, appends with the exact expected revision and, when another writer
//! got there first, reloads and decides again with bounded, jittered retries. Commands for one
//! stream are queued and decided in batches, one append per batch, which is what lets a single hot
//! SKU sell out in a flash sale without a storm of conflicts. Every command carries an id; the
//! events it writes have ids derived from it, and a retried command answers its original outcome.
//!
//! The payment gateway port and its sandbox adapter live here ([`gateway`]); the checkout saga's
//! process manager and the durable deadline scheduler will too.

pub mod bench;
mod cache;
mod carts;
pub mod checkout;
pub mod checkout_bench;
pub mod checkpoint;
mod clock;
pub mod codec;
mod config;
pub mod deadlines;
mod envelope;
mod error;
pub mod follower;
pub mod gateway;
mod handler;
mod outcome;
pub mod promotions;
mod recent;
pub mod reservations;
pub mod snapshot;
mod stream;
mod worker;

pub use carts::{AddToCart, CartError, CartService, MergeCarts};
pub use clock::{Clock, IdGenerator, ManualClock, RandomIds, SequentialIds, SystemClock};
pub use config::HandlerConfig;
pub use envelope::{Command, event_id};
pub use error::CommandError;
pub use handler::{CommandHandler, HandleResult, HandlerStats};
pub use outcome::Outcome;
