//! What can be asked of a cart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CartLine, CartOwner};
use crate::{CartId, Currency, Money, OrderId, ProductId, PromoCode, Sku};

/// A cart command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CartCommand {
    /// Opens the cart. A guest owner carries the hash of the guest's token (what the API gives,
    /// e.g. a SHA-256 hex digest), never the token itself.
    CreateCart {
        /// This cart's id.
        cart_id: CartId,
        /// Guest (token hash) or customer.
        owner: CartOwner,
        /// Every price in the cart is in this currency.
        currency: Currency,
    },
    /// Adds units of a SKU at the catalog price captured now; a SKU already in the cart gains the
    /// quantity and takes this price.
    AddItem {
        /// The SKU.
        sku: Sku,
        /// Its product.
        product_id: ProductId,
        /// Units to add, 1..=999 (and the line's total at most 999).
        quantity: u32,
        /// Catalog unit price at the time of adding, in the cart's currency.
        unit_price: Money,
    },
    /// Sets a line's quantity (1..=999; use `RemoveItem` to drop a line).
    ChangeQuantity {
        /// The SKU.
        sku: Sku,
        /// New quantity.
        quantity: u32,
    },
    /// Removes a line (nothing happens if it is not in the cart).
    RemoveItem {
        /// The SKU.
        sku: Sku,
    },
    /// Applies a promotion code, replacing any other.
    ApplyPromoCode {
        /// The code.
        code: PromoCode,
    },
    /// Removes the promotion code, if any.
    RemovePromoCode {},
    /// Merges a guest cart into this customer cart. Carries the guest cart's lines and the current
    /// price of every SKU in either cart.
    MergeGuestCart {
        /// The guest cart being merged.
        guest_cart_id: CartId,
        /// Its lines (with the prices they were added at).
        guest_lines: Vec<CartLine>,
        /// Current catalog unit price of every SKU in either cart, in this cart's currency.
        current_prices: BTreeMap<Sku, Money>,
    },
    /// Closes this guest cart as merged into a customer cart.
    CloseAsMerged {
        /// The customer cart it was merged into.
        into_cart_id: CartId,
    },
    /// Expires the cart; accepted only after the inactivity limit (7 days for a guest cart, 30 for
    /// a customer cart since the last change).
    ExpireCart {},
    /// Closes the cart for an order.
    CheckOut {
        /// The order placed from it.
        order_id: OrderId,
    },
}
