//! pricing (in progress).
