//! promotion (in progress).
