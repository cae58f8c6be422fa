//! Lines, subtotal and discount.

use serde::{Deserialize, Serialize};

use super::PricingError;
use super::error::{ensure_currency, ensure_price};
use crate::{Currency, Discount, Money};

/// What pricing needs to know about one line: unit price, quantity and (for weight-based
/// shipping) the weight of one unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceLine {
    /// Price of one unit.
    pub unit_price: Money,
    /// Units.
    pub quantity: u32,
    /// Weight of one unit in grams (0 when unknown or irrelevant).
    #[serde(default)]
    pub unit_weight_grams: u32,
}

impl PriceLine {
    /// A weightless line.
    pub fn new(unit_price: Money, quantity: u32) -> Self {
        Self {
            unit_price,
            quantity,
            unit_weight_grams: 0,
        }
    }

    /// The same line with a unit weight.
    pub fn weighing(mut self, unit_weight_grams: u32) -> Self {
        self.unit_weight_grams = unit_weight_grams;
        self
    }
}

/// `unit_price × quantity`. A negative unit price is an error.
pub fn line_total(unit_price: Money, quantity: u32) -> Result<Money, PricingError> {
    ensure_price("unit price", unit_price.currency, unit_price)?;
    Ok(unit_price.checked_mul(i64::from(quantity))?)
}

/// The merchandise subtotal: the sum of the line totals, all in `currency` (zero for no lines).
pub fn subtotal(currency: Currency, lines: &[PriceLine]) -> Result<Money, PricingError> {
    lines.iter().try_fold(Money::zero(currency), |acc, line| {
        ensure_currency("a unit price", currency, line.unit_price)?;
        Ok(acc.checked_add(line_total(line.unit_price, line.quantity)?)?)
    })
}

/// The parcel weight in grams: the sum of unit weight × quantity.
pub fn total_weight_grams(lines: &[PriceLine]) -> Result<u64, PricingError> {
    lines.iter().try_fold(0u64, |acc, line| {
        let w = u64::from(line.unit_weight_grams)
            .checked_mul(u64::from(line.quantity))
            .ok_or(PricingError::Overflow)?;
        acc.checked_add(w).ok_or(PricingError::Overflow)
    })
}

/// What `discount` takes off `subtotal` (zero without one): never negative and never more than the
/// subtotal (see [`Discount::amount_off`]). A fixed amount in another currency is an error.
pub fn discount_amount(
    discount: Option<&Discount>,
    subtotal: Money,
) -> Result<Money, PricingError> {
    match discount {
        None => Ok(Money::zero(subtotal.currency)),
        Some(d) => {
            if let Discount::FixedAmount { amount } = d {
                ensure_currency("the discount", subtotal.currency, *amount)?;
            }
            Ok(d.amount_off(subtotal)?)
        }
    }
}
