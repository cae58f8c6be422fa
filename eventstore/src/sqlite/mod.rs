//! The embedded SQLite adapter (in progress).
