//! Postal addresses, as orders and tax rules need them.

use serde::{Deserialize, Serialize};

/// A postal address. `country` is an ISO 3166-1 alpha-2 code (`DE`, `US`); `region` an optional
/// subdivision code (`CA`, `BY`) used by regional tax rates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Recipient name.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// Flat, floor, company (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Region / state code, if the country has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, upper-case.
    pub country: String,
}

/// Why an address is not usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// A required field is empty.
    #[error("address field {0} is required")]
    Missing(&'static str),
    /// A field is longer than 200 characters.
    #[error("address field {0} is longer than 200 characters")]
    TooLong(&'static str),
    /// The country is not two upper-case letters.
    #[error("country {0:?} is not an ISO 3166-1 alpha-2 code such as DE or US")]
    InvalidCountry(String),
}

impl Address {
    /// Checks required fields, lengths and the country code.
    pub fn validate(&self) -> Result<(), AddressError> {
        let fields: [(&'static str, Option<&str>, bool); 7] = [
            ("name", Some(&self.name), true),
            ("line1", Some(&self.line1), true),
            ("line2", self.line2.as_deref(), false),
            ("city", Some(&self.city), true),
            ("region", self.region.as_deref(), false),
            ("postal_code", Some(&self.postal_code), true),
            ("country", Some(&self.country), true),
        ];
        for (name, value, required) in fields {
            match value {
                Some(v) if v.chars().count() > 200 => return Err(AddressError::TooLong(name)),
                Some(v) if required && v.trim().is_empty() => {
                    return Err(AddressError::Missing(name));
                }
                None if required => return Err(AddressError::Missing(name)),
                _ => {}
            }
        }
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(AddressError::InvalidCountry(
                self.country.chars().take(8).collect(),
            ));
        }
        Ok(())
    }
}
