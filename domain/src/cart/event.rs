//! What a cart records. Every event carries the cart id and `at`, the time of the change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CartLine, CartOwner};
use crate::{CartId, Currency, Money, OrderId, ProductId, PromoCode, Sku};

/// A unit price that changed when a merge repriced a line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceChange {
    /// The SKU.
    pub sku: Sku,
    /// The price the line had (in the customer cart, or in the guest cart for its lines).
    pub from: Money,
    /// The current price it has now.
    pub to: Money,
}

/// A merged line whose summed quantity was over the limit and was capped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantityCapped {
    /// The SKU.
    pub sku: Sku,
    /// The summed quantity.
    pub requested: u32,
    /// What the line kept (999).
    pub kept: u32,
}

/// A cart event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CartEvent {
    /// The cart was opened.
    #[serde(rename = "cart.CartCreated.v1")]
    CartCreated {
        /// The cart.
        cart_id: CartId,
        /// Guest (token hash) or customer.
        owner: CartOwner,
        /// The cart's currency.
        currency: Currency,
        /// When.
        at: DateTime<Utc>,
    },
    /// Units of a SKU were added.
    #[serde(rename = "cart.ItemAdded.v1")]
    ItemAdded {
        /// The cart.
        cart_id: CartId,
        /// The SKU.
        sku: Sku,
        /// Its product.
        product_id: ProductId,
        /// Units added.
        quantity: u32,
        /// The line's quantity after adding.
        line_quantity: u32,
        /// The line's unit price from now on.
        unit_price: Money,
        /// The line's unit price before, when the SKU was already in the cart.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_unit_price: Option<Money>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A line's quantity was set.
    #[serde(rename = "cart.ItemQuantityChanged.v1")]
    ItemQuantityChanged {
        /// The cart.
        cart_id: CartId,
        /// The SKU.
        sku: Sku,
        /// Its product.
        product_id: ProductId,
        /// Quantity before.
        from: u32,
        /// Quantity now.
        to: u32,
        /// The line's unit price.
        unit_price: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// A line was removed.
    #[serde(rename = "cart.ItemRemoved.v1")]
    ItemRemoved {
        /// The cart.
        cart_id: CartId,
        /// The SKU.
        sku: Sku,
        /// Its product.
        product_id: ProductId,
        /// The quantity the line had.
        quantity: u32,
        /// The unit price the line had.
        unit_price: Money,
        /// When.
        at: DateTime<Utc>,
    },
    /// A promotion code was applied.
    #[serde(rename = "cart.PromoCodeApplied.v1")]
    PromoCodeApplied {
        /// The cart.
        cart_id: CartId,
        /// The code.
        code: PromoCode,
        /// The code it replaced, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaced: Option<PromoCode>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The promotion code was removed.
    #[serde(rename = "cart.PromoCodeRemoved.v1")]
    PromoCodeRemoved {
        /// The cart.
        cart_id: CartId,
        /// The code removed.
        code: PromoCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// A guest cart was merged into this customer cart.
    #[serde(rename = "cart.GuestCartMerged.v1")]
    GuestCartMerged {
        /// This (customer) cart.
        cart_id: CartId,
        /// The guest cart merged.
        guest_cart_id: CartId,
        /// This cart's lines after the merge, all at current prices.
        lines: Vec<CartLine>,
        /// Every unit price that changed.
        price_changes: Vec<PriceChange>,
        /// Every line whose summed quantity was capped.
        capped: Vec<QuantityCapped>,
        /// When.
        at: DateTime<Utc>,
    },
    /// This guest cart was merged into a customer cart and is closed.
    #[serde(rename = "cart.MergedIntoCart.v1")]
    MergedIntoCart {
        /// This (guest) cart.
        cart_id: CartId,
        /// The customer cart.
        into_cart_id: CartId,
        /// When.
        at: DateTime<Utc>,
    },
    /// The cart expired after its inactivity limit.
    #[serde(rename = "cart.CartExpired.v1")]
    CartExpired {
        /// The cart.
        cart_id: CartId,
        /// Its last change before expiring.
        last_activity: DateTime<Utc>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The cart became an order and is closed.
    #[serde(rename = "cart.CartCheckedOut.v1")]
    CartCheckedOut {
        /// The cart.
        cart_id: CartId,
        /// The order.
        order_id: OrderId,
        /// The lines checked out.
        lines: Vec<CartLine>,
        /// The promotion code, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        promo_code: Option<PromoCode>,
        /// Merchandise subtotal of the lines.
        subtotal: Money,
        /// When.
        at: DateTime<Utc>,
    },
}

impl CartEvent {
    /// When the change happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            CartEvent::CartCreated { at, .. }
            | CartEvent::ItemAdded { at, .. }
            | CartEvent::ItemQuantityChanged { at, .. }
            | CartEvent::ItemRemoved { at, .. }
            | CartEvent::PromoCodeApplied { at, .. }
            | CartEvent::PromoCodeRemoved { at, .. }
            | CartEvent::GuestCartMerged { at, .. }
            | CartEvent::MergedIntoCart { at, .. }
            | CartEvent::CartExpired { at, .. }
            | CartEvent::CartCheckedOut { at, .. } => *at,
        }
    }
}
