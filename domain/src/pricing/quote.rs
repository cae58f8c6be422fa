//! Totals and the full quote.

use serde::{Deserialize, Serialize};

use super::error::ensure_price;
use super::{
    Destination, PriceLine, PricingError, ShippingMethod, TaxRates, discount_amount, shipping_cost,
    subtotal, tax, total_weight_grams,
};
use crate::{Currency, Discount, Money};

/// The price of a basket: `total = subtotal − discount + tax + shipping`, `discount ≤ subtotal`,
/// every part non-negative and in one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Merchandise subtotal.
    pub subtotal: Money,
    /// Promotion discount (taken off the subtotal).
    pub discount: Money,
    /// Tax.
    pub tax: Money,
    /// Shipping.
    pub shipping: Money,
    /// What the customer pays.
    pub total: Money,
}

impl Totals {
    /// Totals from their parts, checking currency, signs and `discount ≤ subtotal`, with the total
    /// computed.
    pub fn from_parts(
        subtotal: Money,
        discount: Money,
        tax: Money,
        shipping: Money,
    ) -> Result<Self, PricingError> {
        let currency = subtotal.currency;
        ensure_price("the subtotal", currency, subtotal)?;
        ensure_price("the discount", currency, discount)?;
        ensure_price("tax", currency, tax)?;
        ensure_price("shipping", currency, shipping)?;
        if discount.amount > subtotal.amount {
            return Err(PricingError::DiscountExceedsSubtotal { discount, subtotal });
        }
        let total = subtotal
            .checked_sub(discount)?
            .checked_add(tax)?
            .checked_add(shipping)?;
        Ok(Self {
            subtotal,
            discount,
            tax,
            shipping,
            total,
        })
    }

    /// The currency of every part.
    pub fn currency(&self) -> Currency {
        self.subtotal.currency
    }
}

/// Prices a basket in `currency`: the subtotal of `lines`, the `discount` on it, shipping by
/// `method` (free-shipping threshold compared with `subtotal − discount`, weight from the lines),
/// tax for `destination` from `rates`, and the total.
pub fn quote(
    currency: Currency,
    lines: &[PriceLine],
    discount: Option<&Discount>,
    destination: &Destination,
    method: &ShippingMethod,
    rates: &TaxRates,
) -> Result<Totals, PricingError> {
    let subtotal = subtotal(currency, lines)?;
    let discount = discount_amount(discount, subtotal)?;
    let merchandise = subtotal.checked_sub(discount)?;
    let shipping = shipping_cost(method, merchandise, total_weight_grams(lines)?)?;
    let tax = tax(rates, destination, subtotal, discount, shipping)?;
    Totals::from_parts(subtotal, discount, tax, shipping)
}
