//! Money: integer minor units with an ISO 4217 currency. Never floats; arithmetic is checked and
//! mixing currencies is an error, not a panic.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 4217 alphabetic currency code (`EUR`, `USD`, `JPY`): three ASCII upper-case letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Euro.
    pub const EUR: Self = Self(*b"EUR");
    /// US dollar.
    pub const USD: Self = Self(*b"USD");
    /// Pound sterling.
    pub const GBP: Self = Self(*b"GBP");
    /// Japanese yen (no minor unit).
    pub const JPY: Self = Self(*b"JPY");

    /// Parses a code; lower case is accepted and normalised.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(MoneyError::InvalidCurrency(code.chars().take(16).collect()));
        }
        let mut out = [0u8; 3];
        for (o, b) in out.iter_mut().zip(bytes) {
            *o = b.to_ascii_uppercase();
        }
        Ok(Self(out))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point (ISO 4217 exponent) for display; 2 unless known otherwise.
    pub fn exponent(&self) -> u32 {
        match &self.0 {
            b"JPY" | b"KRW" | b"ISK" | b"CLP" | b"VND" | b"UGX" | b"XAF" | b"XOF" => 0,
            b"BHD" | b"KWD" | b"OMR" | b"JOD" | b"TND" | b"LYD" | b"IQD" => 3,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Why a money operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Two amounts in different currencies were combined.
    #[error("cannot combine amounts in {left} and {right}")]
    CurrencyMismatch {
        /// The left operand's currency.
        left: Currency,
        /// The right operand's currency.
        right: Currency,
    },
    /// The result does not fit in 64-bit minor units.
    #[error("amount out of range")]
    Overflow,
    /// Not an ISO 4217 code.
    #[error("{0:?} is not a currency code (expected three letters such as EUR)")]
    InvalidCurrency(String),
}

/// An amount of money in minor units (cents for EUR). May be negative (adjustments, refunds).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units.
    pub amount: i64,
    /// Currency.
    pub currency: Currency,
}

impl Money {
    /// `amount` minor units of `currency`.
    pub const fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// True when zero.
    pub fn is_zero(&self) -> bool {
        self.amount == 0
    }

    /// True when below zero.
    pub fn is_negative(&self) -> bool {
        self.amount < 0
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self - other`.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self × quantity`.
    pub fn checked_mul(self, quantity: i64) -> Result<Money, MoneyError> {
        let amount = self
            .amount
            .checked_mul(quantity)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self × numerator / denominator`, rounded half away from zero to the minor unit. Used for
    /// percentages (`bps / 10_000`) and tax rates.
    pub fn checked_mul_ratio(self, numerator: i64, denominator: i64) -> Result<Money, MoneyError> {
        if denominator == 0 {
            return Err(MoneyError::Overflow);
        }
        let product = i128::from(self.amount) * i128::from(numerator);
        let d = i128::from(denominator);
        let (q, r) = (product / d, product % d);
        // Round half away from zero: compare twice the remainder with the divisor.
        let rounded = if 2 * r.abs() >= d.abs() {
            if (product < 0) != (d < 0) {
                q - 1
            } else {
                q + 1
            }
        } else {
            q
        };
        let amount = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// The smaller of two amounts in the same currency.
    pub fn min(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        Ok(if other.amount < self.amount {
            other
        } else {
            self
        })
    }

    /// Sums amounts that must all be in `currency` (the currency of an empty sum).
    pub fn sum(
        currency: Currency,
        items: impl IntoIterator<Item = Money>,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(m))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = self.currency.exponent();
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        if exp == 0 {
            return write!(f, "{sign}{abs} {}", self.currency);
        }
        let unit = 10u64.pow(exp);
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / unit,
            abs % unit,
            self.currency,
            width = exp as usize
        )
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur(amount: i64) -> Money {
        Money::new(amount, Currency::EUR)
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let err = eur(100)
            .checked_add(Money::new(100, Currency::USD))
            .unwrap_err();
        assert_eq!(err.to_string(), "cannot combine amounts in EUR and USD");
    }

    #[test]
    fn overflow_is_an_error() {
        assert_eq!(eur(i64::MAX).checked_add(eur(1)), Err(MoneyError::Overflow));
        assert_eq!(eur(i64::MAX).checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(
            eur(i64::MAX).checked_mul_ratio(3, 2),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn ratio_rounds_half_away_from_zero() {
        assert_eq!(eur(5).checked_mul_ratio(1, 2).unwrap(), eur(3));
        assert_eq!(eur(-5).checked_mul_ratio(1, 2).unwrap(), eur(-3));
        assert_eq!(eur(4).checked_mul_ratio(1, 3).unwrap(), eur(1));
        assert_eq!(eur(1999).checked_mul_ratio(2000, 10_000).unwrap(), eur(400));
    }

    #[test]
    fn displays_with_the_currency_exponent() {
        assert_eq!(eur(1999).to_string(), "19.99 EUR");
        assert_eq!(eur(-5).to_string(), "-0.05 EUR");
        assert_eq!(Money::new(500, Currency::JPY).to_string(), "500 JPY");
    }

    #[test]
    fn currency_codes_are_validated_and_normalised() {
        assert_eq!(Currency::parse("eur").unwrap(), Currency::EUR);
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("E1R").is_err());
        let json = serde_json::to_string(&eur(1)).unwrap();
        assert_eq!(json, r#"{"amount":1,"currency":"EUR"}"#);
        assert!(serde_json::from_str::<Money>(r#"{"amount":1,"currency":"xx"}"#).is_err());
    }

    proptest! {
        #[test]
        fn ratio_matches_exact_rational_rounding(a in -1_000_000_000i64..1_000_000_000, n in 0i64..20_000, d in 1i64..20_000) {
            let got = eur(a).checked_mul_ratio(n, d).unwrap().amount;
            let exact = (a as f64) * (n as f64) / (d as f64);
            prop_assert!((got as f64 - exact).abs() <= 0.5 + 1e-6);
        }
    }
}
