//! Global positions in `$all`.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A place in `$all`. Opaque beyond ordering and serialisation: EventStoreDB's is a
/// commit/prepare pair of log offsets, Postgres's a (transaction id, sequence) pair and the embedded
/// store's a plain sequence number (both parts equal). Callers compare positions, store them as
/// checkpoints (`to_string`/`parse`, or serde) and hand them back; they never do arithmetic on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    commit: u64,
    prepare: u64,
}

impl Position {
    /// For adapters: a position from its two parts.
    pub const fn new(commit: u64, prepare: u64) -> Self {
        Self { commit, prepare }
    }

    /// For adapters and checkpoint tables: the commit part.
    pub const fn commit(&self) -> u64 {
        self.commit
    }

    /// For adapters and checkpoint tables: the prepare part.
    pub const fn prepare(&self) -> u64 {
        self.prepare
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.commit, self.prepare)
    }
}

/// A string that is not `<commit>.<prepare>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid position {0:?}: expected <commit>.<prepare>, two unsigned integers")]
pub struct ParsePositionError(String);

impl FromStr for Position {
    type Err = ParsePositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParsePositionError(s.chars().take(64).collect());
        let (commit, prepare) = s.split_once('.').ok_or_else(err)?;
        Ok(Self {
            commit: commit.parse().map_err(|_| err())?,
            prepare: prepare.parse().map_err(|_| err())?,
        })
    }
}

impl Serialize for Position {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_orders_by_commit_then_prepare() {
        let p = Position::new(12, 7);
        assert_eq!(p.to_string().parse::<Position>().unwrap(), p);
        assert!(Position::new(1, 9) < Position::new(2, 0));
        assert!(Position::new(2, 1) < Position::new(2, 3));
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"12.7\"");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "12", "a.b", "1.2.3", "-1.0", "1."] {
            assert!(bad.parse::<Position>().is_err(), "{bad}");
        }
    }
}
