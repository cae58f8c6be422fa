//! What a promotion takes off: shared by the promotion aggregate (which decides whether it applies)
//! and pricing (which computes the amount).

use serde::{Deserialize, Serialize};

use crate::{Money, MoneyError};

/// A discount on an order's merchandise subtotal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Discount {
    /// A share of the subtotal in basis points (1 % = 100), 1..=10_000.
    Percentage {
        /// Basis points.
        basis_points: u32,
    },
    /// A fixed amount, never more than the subtotal.
    FixedAmount {
        /// The amount off (positive, in the order's currency).
        amount: Money,
    },
}

impl Discount {
    /// The amount this discount takes off `subtotal`: rounded half away from zero, never more
    /// than the subtotal and never negative. A fixed amount in another currency is an error.
    pub fn amount_off(&self, subtotal: Money) -> Result<Money, MoneyError> {
        if subtotal.amount <= 0 {
            return Ok(Money::zero(subtotal.currency));
        }
        let off = match *self {
            Discount::Percentage { basis_points } => {
                subtotal.checked_mul_ratio(i64::from(basis_points.min(10_000)), 10_000)?
            }
            Discount::FixedAmount { amount } => {
                Money::new(amount.amount.max(0), amount.currency).min(subtotal)?
            }
        };
        off.min(subtotal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    #[test]
    fn discounts_never_exceed_the_subtotal() {
        let sub = Money::new(1000, Currency::EUR);
        let pct = Discount::Percentage { basis_points: 1500 };
        assert_eq!(pct.amount_off(sub).unwrap(), Money::new(150, Currency::EUR));
        let fixed = Discount::FixedAmount {
            amount: Money::new(5000, Currency::EUR),
        };
        assert_eq!(fixed.amount_off(sub).unwrap(), sub);
        let usd = Discount::FixedAmount {
            amount: Money::new(5, Currency::USD),
        };
        assert!(usd.amount_off(sub).is_err());
    }
}
