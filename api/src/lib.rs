//! The `shop` application: configuration, the command-line interface, and the server (`serve`)
//! that wires the REST API ([`http`]) to the command handlers, projections, search feed and
//! process managers in one process.

pub mod auth;
pub mod cli;
pub mod http;
pub mod http_bench;
pub mod idempotency;
pub mod problem;
pub mod request_id;
pub mod sagas;
pub mod seed;
pub mod server;
pub mod stores;
