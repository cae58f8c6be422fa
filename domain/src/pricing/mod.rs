//! Pricing: the pure calculations carts, orders and the checkout share. Given priced lines, an
//! optional promotion [`Discount`](crate::Discount), a [`Destination`], a [`ShippingMethod`] and a
//! [`TaxRates`] table, [`quote`] returns the [`Totals`] (subtotal, discount, tax, shipping,
//! total) where `total = subtotal − discount + tax + shipping` and `discount ≤ subtotal`.
//!
//! Money is integer minor units; every operation is checked. Mixing currencies, negative prices,
//! overflow, a missing tax rate (when the table says so) or a parcel heavier than the heaviest
//! shipping band are a typed [`PricingError`], never a panic.
//!
//! Rounding: the only inexact steps are a percentage discount ([`crate::Discount::amount_off`])
//! and tax. Tax is computed once, on the whole taxable base, and rounded half away from zero to
//! the minor unit (never per line), so a quote and an order built from it agree to the cent.

mod error;
mod lines;
mod quote;
mod shipping;
mod tax;
#[cfg(test)]
mod tests;

pub use error::PricingError;
pub use lines::{PriceLine, discount_amount, line_total, subtotal, total_weight_grams};
pub use quote::{Totals, quote};
pub use shipping::{ShippingMethod, ShippingRate, WeightBand, shipping_cost};
pub use tax::{Destination, MissingRate, TaxRates, tax};

/// Most units of one SKU on one cart or order line.
pub const MAX_LINE_QUANTITY: u32 = 999;
/// Most lines on one cart or order.
pub const MAX_LINES: usize = 100;
/// Highest unit price accepted, in minor units (100 million major units). With
/// [`MAX_LINES`] × [`MAX_LINE_QUANTITY`] this keeps any cart's subtotal far inside `i64`.
pub const MAX_UNIT_PRICE_MINOR: i64 = 10_000_000_000;
