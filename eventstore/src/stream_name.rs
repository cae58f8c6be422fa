//! Validated stream names.

use std::fmt;

use crate::ValidationError;

/// The longest stream name accepted, in bytes.
pub const MAX_STREAM_NAME_BYTES: usize = 200;

/// A stream name such as `order-7f9c…` or `inventory-SKU-123`: `category-id`, as EventStoreDB's
/// `$ce-` projection expects. Validated once, at the edge: 1 to 200 bytes, no whitespace or control
/// characters, and not starting with `$` (reserved for system streams).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamName(String);

impl StreamName {
    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, ValidationError> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.len() > MAX_STREAM_NAME_BYTES {
            Some("it is longer than 200 bytes")
        } else if name.starts_with('$') {
            Some("names starting with '$' are reserved for system streams")
        } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Some("it contains whitespace or control characters")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ValidationError::InvalidStreamName {
                name: name.chars().take(64).collect(),
                reason,
            }),
            None => Ok(Self(name)),
        }
    }

    /// `category-id` from its parts; the category must not contain `-`.
    pub fn from_parts(category: &str, id: impl fmt::Display) -> Result<Self, ValidationError> {
        if category.is_empty() || category.contains('-') {
            return Err(ValidationError::InvalidStreamName {
                name: category.chars().take(64).collect(),
                reason: "a category must be non-empty and contain no '-'",
            });
        }
        Self::new(format!("{category}-{id}"))
    }

    /// The part before the first `-` (the whole name if there is none), as EventStoreDB's
    /// by-category projection splits it.
    pub fn category(&self) -> &str {
        self.0.split_once('-').map_or(&self.0, |(c, _)| c)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StreamName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for StreamName {
    type Error = ValidationError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_category_id_names() {
        let s = StreamName::new("inventory-SKU-42").unwrap();
        assert_eq!(s.category(), "inventory");
        assert_eq!(
            StreamName::from_parts("cart", 7).unwrap().as_str(),
            "cart-7"
        );
        assert_eq!(StreamName::new("plain").unwrap().category(), "plain");
    }

    #[test]
    fn rejects_bad_names_with_a_reason() {
        for bad in ["", "$all", "a b", "tab\there", &"x".repeat(201)] {
            let err = StreamName::new(bad).unwrap_err();
            assert!(err.to_string().starts_with("invalid stream name"), "{err}");
        }
        assert!(StreamName::from_parts("a-b", 1).is_err());
    }
}
