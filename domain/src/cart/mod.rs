//! cart (in progress).
