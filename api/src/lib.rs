//! The `shop` application: configuration, the command-line interface and (with the REST API issue)
//! the axum server that wires commands, projections and process managers together.

pub mod cli;
pub mod sagas;
pub mod stores;
