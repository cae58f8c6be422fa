//! The `shop` application: configuration, the command-line interface and the axum server that
//! wires commands, projections and process managers together (`serve`; its REST routes arrive
//! with the REST API issue).

pub mod auth;
pub mod cli;
pub mod idempotency;
pub mod problem;
pub mod request_id;
pub mod sagas;
pub mod seed;
pub mod server;
pub mod stores;
