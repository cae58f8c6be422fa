//! inventory (in progress).
