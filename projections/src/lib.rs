//! Projection workers: subscribe to `$all` from a checkpoint and build the SQL read models and the
//! search index, applying each event exactly once. The runner and read models arrive with the
//! projections issue; this crate is the place they go.
