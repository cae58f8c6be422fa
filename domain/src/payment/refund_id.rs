//! The id of one refund of a payment.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{InvalidId, MAX_ID_LEN};

/// Names one refund, so a retried refund is recorded once. Same rules as every other id: 1 to 100
/// ASCII letters, digits, `-`, `_`, `.` or `:`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefundId(String);

impl RefundId {
    /// Checks and wraps `value`.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= MAX_ID_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if ok {
            Ok(Self(value))
        } else {
            Err(InvalidId {
                kind: "refund id",
                value: value.chars().take(40).collect(),
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RefundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RefundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefundId({:?})", self.0)
    }
}

impl std::str::FromStr for RefundId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for RefundId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RefundId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_ids_are_checked() {
        assert!(RefundId::new("rf-1").is_ok());
        assert!(RefundId::new("").is_err());
        assert!(RefundId::new("a b").is_err());
        assert!(serde_json::from_str::<RefundId>("\"x/y\"").is_err());
        assert_eq!(
            serde_json::to_string(&RefundId::new("rf-1").unwrap()).unwrap(),
            "\"rf-1\""
        );
    }
}
