//! One line of an order.

use serde::{Deserialize, Serialize};

use crate::cart::CartLine;
use crate::pricing::{PriceLine, PricingError, line_total};
use crate::{Money, ProductId, Sku};

/// What was bought of one SKU, at the unit price the customer agreed to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The SKU.
    pub sku: Sku,
    /// Its product.
    pub product_id: ProductId,
    /// Units, 1..=999.
    pub quantity: u32,
    /// Price of one unit.
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub subtotal: Money,
}

impl OrderLine {
    /// A line with its subtotal computed. A negative unit price or an overflow is an error.
    pub fn new(
        sku: Sku,
        product_id: ProductId,
        quantity: u32,
        unit_price: Money,
    ) -> Result<Self, PricingError> {
        Ok(Self {
            subtotal: line_total(unit_price, quantity)?,
            sku,
            product_id,
            quantity,
            unit_price,
        })
    }

    /// The order line for a checked-out cart line.
    pub fn from_cart_line(line: &CartLine) -> Result<Self, PricingError> {
        Self::new(
            line.sku.clone(),
            line.product_id.clone(),
            line.quantity,
            line.unit_price,
        )
    }

    /// The line as pricing sees it (weightless).
    pub fn price_line(&self) -> PriceLine {
        PriceLine::new(self.unit_price, self.quantity)
    }
}
