//! Identifier newtypes. Ids are text so they can be UUIDs, SKUs or human codes; each kind is its own
//! type so a cart id cannot be passed where an order id is meant. Every id is checked once, where it
//! is made: 1 to 100 characters of ASCII letters, digits, `-`, `_`, `.` and `:` (safe inside stream
//! names, URLs and log lines).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text is not a valid id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?} is invalid: use 1 to 100 letters, digits, '-', '_', '.' or ':'")]
pub struct InvalidId {
    /// Which id kind.
    pub kind: &'static str,
    /// The offending text (shortened).
    pub value: String,
}

/// Longest id accepted.
pub const MAX_ID_LEN: usize = 100;

fn check(kind: &'static str, value: &str) -> Result<(), InvalidId> {
    let ok = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(InvalidId {
            kind,
            value: value.chars().take(40).collect(),
        })
    }
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps `value`.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                check($kind, &value)?;
                Ok(Self(value))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_id!(
    /// A product (`product-<id>`).
    ProductId,
    "product id"
);
text_id!(
    /// A stock-keeping unit: one variant of a product (`inventory-<sku>`).
    Sku,
    "SKU"
);
text_id!(
    /// A warehouse holding stock.
    WarehouseId,
    "warehouse id"
);
text_id!(
    /// A cart (`cart-<id>`).
    CartId,
    "cart id"
);
text_id!(
    /// An order (`order-<id>`); also names its stock reservations and its checkout saga.
    OrderId,
    "order id"
);
text_id!(
    /// A payment (`payment-<id>`).
    PaymentId,
    "payment id"
);
text_id!(
    /// A customer account.
    CustomerId,
    "customer id"
);
text_id!(
    /// A product review.
    ReviewId,
    "review id"
);
text_id!(
    /// A durable deadline (`deadline-<id>`), e.g. a checkout's reservation expiry.
    DeadlineId,
    "deadline id"
);
text_id!(
    /// A promotion code (`promotion-<code>`), stored upper-case.
    PromoCode,
    "promotion code"
);

impl PromoCode {
    /// Codes are case-insensitive: `summer10` and `SUMMER10` are the same promotion.
    pub fn normalised(value: &str) -> Result<Self, InvalidId> {
        Self::new(value.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(Sku::new("TSHIRT-RED-M").is_ok());
        assert!(Sku::new("").is_err());
        assert!(Sku::new("a b").is_err());
        assert!(Sku::new("x".repeat(101)).is_err());
        let err = CartId::new("a/b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cart id \"a/b\" is invalid: use 1 to 100 letters, digits, '-', '_', '.' or ':'"
        );
        assert!(serde_json::from_str::<OrderId>("\"o 1\"").is_err());
        assert_eq!(
            PromoCode::normalised("summer10").unwrap().as_str(),
            "SUMMER10"
        );
    }
}
