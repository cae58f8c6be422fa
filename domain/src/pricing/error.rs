//! Why a price cannot be computed.

use crate::{Currency, Money, MoneyError};

/// Why a pricing calculation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// An amount is in another currency than the calculation.
    #[error(
        "{what} is in {found} but the calculation is in {expected}: use one currency throughout"
    )]
    CurrencyMismatch {
        /// Which amount.
        what: &'static str,
        /// The calculation's currency.
        expected: Currency,
        /// The amount's currency.
        found: Currency,
    },
    /// A result does not fit in 64-bit minor units.
    #[error("amount out of range: the result does not fit in 64-bit minor units")]
    Overflow,
    /// A price, fee or threshold below zero.
    #[error("{what} must not be negative (got {amount})")]
    NegativeAmount {
        /// Which amount.
        what: &'static str,
        /// The offending amount.
        amount: Money,
    },
    /// A discount larger than the subtotal it applies to.
    #[error("discount {discount} is larger than the subtotal {subtotal}")]
    DiscountExceedsSubtotal {
        /// The discount.
        discount: Money,
        /// The subtotal.
        subtotal: Money,
    },
    /// No tax rate for the destination and the table rejects unknown destinations.
    #[error("no tax rate for country {country}{}: add one to the tax table", region.as_deref().map(|r| format!(" region {r}")).unwrap_or_default())]
    NoTaxRate {
        /// Destination country.
        country: String,
        /// Destination region, if any.
        region: Option<String>,
    },
    /// A tax rate above 100 %.
    #[error(
        "tax rate of {basis_points} basis points for {country} is above 100 %: fix the tax table"
    )]
    InvalidTaxRate {
        /// The country whose row is wrong.
        country: String,
        /// The rate found.
        basis_points: u32,
    },
    /// A parcel heavier than the heaviest weight band of the shipping method.
    #[error(
        "a parcel of {weight_grams} g is over the {max_grams} g limit of this shipping method: choose another method"
    )]
    TooHeavy {
        /// The parcel's weight.
        weight_grams: u64,
        /// The heaviest band (0 when the method has none).
        max_grams: u64,
    },
    /// Not a currency code (only reachable through malformed data).
    #[error("{0:?} is not a currency code")]
    InvalidCurrency(String),
}

impl From<MoneyError> for PricingError {
    fn from(e: MoneyError) -> Self {
        match e {
            MoneyError::CurrencyMismatch { left, right } => PricingError::CurrencyMismatch {
                what: "an amount",
                expected: left,
                found: right,
            },
            MoneyError::Overflow => PricingError::Overflow,
            MoneyError::InvalidCurrency(code) => PricingError::InvalidCurrency(code),
        }
    }
}

/// `amount` must be in `expected`.
pub(super) fn ensure_currency(
    what: &'static str,
    expected: Currency,
    amount: Money,
) -> Result<(), PricingError> {
    if amount.currency == expected {
        Ok(())
    } else {
        Err(PricingError::CurrencyMismatch {
            what,
            expected,
            found: amount.currency,
        })
    }
}

/// `amount` must be in `expected` and not below zero.
pub(super) fn ensure_price(
    what: &'static str,
    expected: Currency,
    amount: Money,
) -> Result<(), PricingError> {
    ensure_currency(what, expected, amount)?;
    if amount.is_negative() {
        return Err(PricingError::NegativeAmount { what, amount });
    }
    Ok(())
}
