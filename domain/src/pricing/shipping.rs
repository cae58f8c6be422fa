//! Shipping cost by method.

use serde::{Deserialize, Serialize};

use super::PricingError;
use super::error::ensure_price;
use crate::Money;

/// A band of weight-based shipping: parcels up to `up_to_grams` (inclusive) cost `price`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightBand {
    /// Heaviest parcel in this band, in grams.
    pub up_to_grams: u64,
    /// Price of a parcel in this band.
    pub price: Money,
}

/// How a method's price is computed before the free-shipping threshold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShippingRate {
    /// One price whatever the parcel.
    Flat {
        /// The price.
        amount: Money,
    },
    /// `base + per_kg × started kilograms` (1 g to 1000 g is one kilogram; 0 g is none).
    PerStartedKg {
        /// Fixed part.
        base: Money,
        /// Price of each started kilogram.
        per_kg: Money,
    },
    /// The price of the lightest band the parcel fits in; heavier than every band is an error.
    WeightBands {
        /// Bands, in any order.
        bands: Vec<WeightBand>,
    },
}

/// A shipping method: its rate and an optional threshold from which shipping is free.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingMethod {
    /// How the price is computed.
    pub rate: ShippingRate,
    /// Shipping is free when the merchandise after discount (`subtotal − discount`) is at least
    /// this amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_from: Option<Money>,
}

impl ShippingMethod {
    /// A flat price.
    pub fn flat(amount: Money) -> Self {
        Self {
            rate: ShippingRate::Flat { amount },
            free_from: None,
        }
    }

    /// `base + per_kg × started kilograms`.
    pub fn per_started_kg(base: Money, per_kg: Money) -> Self {
        Self {
            rate: ShippingRate::PerStartedKg { base, per_kg },
            free_from: None,
        }
    }

    /// Weight bands.
    pub fn weight_bands(bands: Vec<WeightBand>) -> Self {
        Self {
            rate: ShippingRate::WeightBands { bands },
            free_from: None,
        }
    }

    /// The same method, free from `threshold` of merchandise after discount.
    pub fn free_from(mut self, threshold: Money) -> Self {
        self.free_from = Some(threshold);
        self
    }
}

/// The shipping cost of a parcel of `weight_grams` whose merchandise after discount is
/// `merchandise` (whose currency is the calculation's).
pub fn shipping_cost(
    method: &ShippingMethod,
    merchandise: Money,
    weight_grams: u64,
) -> Result<Money, PricingError> {
    let currency = merchandise.currency;
    if let Some(threshold) = method.free_from {
        ensure_price("the free-shipping threshold", currency, threshold)?;
        if merchandise.amount >= threshold.amount {
            return Ok(Money::zero(currency));
        }
    }
    match &method.rate {
        ShippingRate::Flat { amount } => {
            ensure_price("the shipping price", currency, *amount)?;
            Ok(*amount)
        }
        ShippingRate::PerStartedKg { base, per_kg } => {
            ensure_price("the shipping base price", currency, *base)?;
            ensure_price("the price per kilogram", currency, *per_kg)?;
            let kilograms = weight_grams.div_ceil(1000);
            let kilograms = i64::try_from(kilograms).map_err(|_| PricingError::Overflow)?;
            Ok(base.checked_add(per_kg.checked_mul(kilograms)?)?)
        }
        ShippingRate::WeightBands { bands } => {
            let mut best: Option<&WeightBand> = None;
            for band in bands {
                ensure_price("a weight band price", currency, band.price)?;
                let fits = weight_grams <= band.up_to_grams;
                if fits && best.is_none_or(|b| band.up_to_grams < b.up_to_grams) {
                    best = Some(band);
                }
            }
            best.map(|b| b.price).ok_or(PricingError::TooHeavy {
                weight_grams,
                max_grams: bands.iter().map(|b| b.up_to_grams).max().unwrap_or(0),
            })
        }
    }
}
