//! The Postgres adapter (in progress).
