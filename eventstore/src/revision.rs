//! Stream revisions: what an append expects, and what a stream has.

use std::fmt;

/// What an append requires of the stream's current revision. Revisions count from 0 (the first
/// event of a stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedRevision {
    /// No check; for decisions that do not depend on the stream's state.
    Any,
    /// The stream must not exist (never written, or soft-deleted).
    NoStream,
    /// The stream must exist.
    StreamExists,
    /// The stream's last event must have exactly this revision.
    Exact(u64),
}

/// What a stream has now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CurrentRevision {
    /// The stream does not exist (or is soft-deleted).
    NoStream,
    /// The revision of the stream's last event.
    Current(u64),
}

impl ExpectedRevision {
    /// Does a stream at `current` satisfy this expectation?
    pub fn accepts(self, current: CurrentRevision) -> bool {
        match (self, current) {
            (Self::Any, _) => true,
            (Self::NoStream, CurrentRevision::NoStream) => true,
            (Self::StreamExists, CurrentRevision::Current(_)) => true,
            (Self::Exact(e), CurrentRevision::Current(c)) => e == c,
            _ => false,
        }
    }
}

impl fmt::Display for ExpectedRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::StreamExists => f.write_str("stream exists"),
            Self::Exact(n) => write!(f, "revision {n}"),
        }
    }
}

impl fmt::Display for CurrentRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoStream => f.write_str("no stream"),
            Self::Current(n) => write!(f, "revision {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CurrentRevision as C, ExpectedRevision as E};

    #[test]
    fn each_expectation_accepts_exactly_its_cases() {
        assert!(E::Any.accepts(C::NoStream) && E::Any.accepts(C::Current(3)));
        assert!(E::NoStream.accepts(C::NoStream) && !E::NoStream.accepts(C::Current(0)));
        assert!(E::StreamExists.accepts(C::Current(0)) && !E::StreamExists.accepts(C::NoStream));
        assert!(E::Exact(2).accepts(C::Current(2)));
        assert!(!E::Exact(2).accepts(C::Current(3)) && !E::Exact(0).accepts(C::NoStream));
    }
}
