//! product (in progress).
