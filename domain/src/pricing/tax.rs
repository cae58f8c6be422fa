//! Tax by destination.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::PricingError;
use super::error::ensure_price;
use crate::{Address, Money};

/// Where goods go, as tax needs it: an ISO 3166-1 alpha-2 country and an optional region code.
/// Codes are compared upper-case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Country code (`DE`, `US`).
    pub country: String,
    /// Region code (`CA`, `BY`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Destination {
    /// A destination; codes are normalised to upper case.
    pub fn new(country: &str, region: Option<&str>) -> Self {
        Self {
            country: country.trim().to_ascii_uppercase(),
            region: region
                .map(|r| r.trim().to_ascii_uppercase())
                .filter(|r| !r.is_empty()),
        }
    }
}

impl From<&Address> for Destination {
    fn from(address: &Address) -> Self {
        Self::new(&address.country, address.region.as_deref())
    }
}

/// What to do when the table has no row for a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingRate {
    /// Charge no tax.
    Zero,
    /// Refuse to quote ([`PricingError::NoTaxRate`]).
    Reject,
}

/// Tax rates in basis points (19 % = 1900) by country, with optional per-region overrides
/// (a region row wins over its country's row), a rule for destinations with no row, and whether
/// shipping is taxed along with the merchandise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxRates {
    countries: BTreeMap<String, u32>,
    regions: BTreeMap<String, BTreeMap<String, u32>>,
    when_missing: MissingRate,
    tax_shipping: bool,
}

impl TaxRates {
    /// An empty table: every destination falls to `when_missing`; shipping is not taxed.
    pub fn new(when_missing: MissingRate) -> Self {
        Self {
            countries: BTreeMap::new(),
            regions: BTreeMap::new(),
            when_missing,
            tax_shipping: false,
        }
    }

    /// Adds or replaces the rate of a country.
    pub fn with_country(mut self, country: &str, basis_points: u32) -> Self {
        self.countries
            .insert(country.trim().to_ascii_uppercase(), basis_points);
        self
    }

    /// Adds or replaces the rate of one region of a country (overrides the country's rate).
    pub fn with_region(mut self, country: &str, region: &str, basis_points: u32) -> Self {
        self.regions
            .entry(country.trim().to_ascii_uppercase())
            .or_default()
            .insert(region.trim().to_ascii_uppercase(), basis_points);
        self
    }

    /// Whether shipping is part of the taxable base.
    pub fn taxing_shipping(mut self, tax_shipping: bool) -> Self {
        self.tax_shipping = tax_shipping;
        self
    }

    /// True when shipping is part of the taxable base.
    pub fn taxes_shipping(&self) -> bool {
        self.tax_shipping
    }

    /// What happens for a destination with no row.
    pub fn when_missing(&self) -> MissingRate {
        self.when_missing
    }

    /// The rate for `destination` in basis points: the region's row, else the country's row, else
    /// zero or [`PricingError::NoTaxRate`] as the table says. Rates above 100 % are refused.
    pub fn rate_for(&self, destination: &Destination) -> Result<u32, PricingError> {
        let country = destination.country.trim().to_ascii_uppercase();
        let region = destination
            .region
            .as_deref()
            .map(|r| r.trim().to_ascii_uppercase());
        let regional = region
            .as_ref()
            .and_then(|r| self.regions.get(&country).and_then(|rs| rs.get(r)));
        let rate = match regional.or_else(|| self.countries.get(&country)) {
            Some(&rate) => rate,
            None => match self.when_missing {
                MissingRate::Zero => 0,
                MissingRate::Reject => {
                    return Err(PricingError::NoTaxRate { country, region });
                }
            },
        };
        if rate > 10_000 {
            return Err(PricingError::InvalidTaxRate {
                country,
                basis_points: rate,
            });
        }
        Ok(rate)
    }
}

/// Tax on `(subtotal − discount)`, plus `shipping` when the table taxes shipping, at the
/// destination's rate. Computed once on that whole base and rounded half away from zero to the
/// minor unit.
pub fn tax(
    rates: &TaxRates,
    destination: &Destination,
    subtotal: Money,
    discount: Money,
    shipping: Money,
) -> Result<Money, PricingError> {
    let currency = subtotal.currency;
    ensure_price("the subtotal", currency, subtotal)?;
    ensure_price("the discount", currency, discount)?;
    ensure_price("shipping", currency, shipping)?;
    if discount.amount > subtotal.amount {
        return Err(PricingError::DiscountExceedsSubtotal { discount, subtotal });
    }
    let rate = rates.rate_for(destination)?;
    let mut base = subtotal.checked_sub(discount)?;
    if rates.taxes_shipping() {
        base = base.checked_add(shipping)?;
    }
    Ok(base.checked_mul_ratio(i64::from(rate), 10_000)?)
}
