//! Why a cart refuses a command.

use chrono::{DateTime, Utc};

use super::CartStatus;
use crate::pricing::PricingError;
use crate::{CartId, Currency, Money, OrderId, ProductId, Sku};

/// A cart rejection; each message says what to do instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CartRejection {
    /// The cart was never created.
    #[error("this cart does not exist: create it first")]
    NotFound,
    /// Creating a cart that exists with another id, owner or currency.
    #[error("cart {cart_id} already exists with another owner or currency")]
    AlreadyExists {
        /// The existing cart.
        cart_id: CartId,
    },
    /// A guest token hash of the wrong shape.
    #[error(
        "a guest cart needs a token hash of {min} to {max} printable ASCII characters (e.g. a SHA-256 hex digest), got {len} characters"
    )]
    InvalidTokenHash {
        /// Length given (in characters).
        len: usize,
        /// Shortest accepted.
        min: usize,
        /// Longest accepted.
        max: usize,
    },
    /// The cart is checked out, merged or expired.
    #[error("cart {cart_id} is {status} and accepts no more changes: start a new cart")]
    NotOpen {
        /// The cart.
        cart_id: CartId,
        /// Its status.
        status: CartStatus,
    },
    /// A quantity outside 1..=999.
    #[error(
        "quantity {quantity} for {sku} is out of range: use 1 to 999 (remove the item to drop it)"
    )]
    InvalidQuantity {
        /// The SKU.
        sku: Sku,
        /// The quantity given.
        quantity: u32,
    },
    /// Adding would take a line over 999 units.
    #[error("{sku} would have {requested} units: a line holds at most {max}")]
    QuantityTooLarge {
        /// The SKU.
        sku: Sku,
        /// The resulting quantity.
        requested: u64,
        /// The limit.
        max: u32,
    },
    /// A new SKU when the cart already has the maximum number of lines.
    #[error("cart {cart_id} would have {lines} lines: at most {max}, remove one first")]
    TooManyLines {
        /// The cart.
        cart_id: CartId,
        /// Lines it would have.
        lines: usize,
        /// The limit.
        max: usize,
    },
    /// A price in another currency than the cart's.
    #[error("the price of {sku} is in {found} but cart {cart_id} is in {expected}")]
    CurrencyMismatch {
        /// The cart.
        cart_id: CartId,
        /// The SKU.
        sku: Sku,
        /// The cart's currency.
        expected: Currency,
        /// The price's currency.
        found: Currency,
    },
    /// A negative or absurd unit price.
    #[error("the unit price of {sku} must be between 0 and {max} minor units (got {price})")]
    InvalidPrice {
        /// The SKU.
        sku: Sku,
        /// The price given.
        price: Money,
        /// Highest accepted, in minor units.
        max: i64,
    },
    /// The same SKU under another product.
    #[error("{sku} belongs to product {in_cart} in this cart, not {given}")]
    ProductMismatch {
        /// The SKU.
        sku: Sku,
        /// The product on the cart line.
        in_cart: ProductId,
        /// The product given.
        given: ProductId,
    },
    /// Changing the quantity of a SKU not in the cart.
    #[error("{sku} is not in cart {cart_id}: add it first")]
    ItemNotInCart {
        /// The cart.
        cart_id: CartId,
        /// The SKU.
        sku: Sku,
    },
    /// Merging into a guest cart.
    #[error(
        "cart {cart_id} is a guest cart: guest carts are merged into customer carts, not the other way"
    )]
    NotACustomerCart {
        /// The cart.
        cart_id: CartId,
    },
    /// Closing a customer cart as merged.
    #[error("cart {cart_id} is a customer cart: only guest carts are closed as merged")]
    NotAGuestCart {
        /// The cart.
        cart_id: CartId,
    },
    /// Merging a cart into itself.
    #[error("cart {cart_id} cannot be merged into itself")]
    MergeIntoItself {
        /// The cart.
        cart_id: CartId,
    },
    /// A merge without the current price of a SKU involved.
    #[error(
        "the merge has no current price for {sku}: send the current price of every SKU in both carts"
    )]
    MissingPrice {
        /// The SKU.
        sku: Sku,
    },
    /// Closing a guest cart as merged into another cart than before.
    #[error("cart {cart_id} was already merged into cart {into_cart_id}")]
    AlreadyMerged {
        /// The guest cart.
        cart_id: CartId,
        /// Where it went.
        into_cart_id: CartId,
    },
    /// Expiring a cart changed too recently.
    #[error(
        "cart {cart_id} is still active: last changed at {last_activity}, it can expire from {expires_at}"
    )]
    StillActive {
        /// The cart.
        cart_id: CartId,
        /// Its last change.
        last_activity: DateTime<Utc>,
        /// The earliest expiry.
        expires_at: DateTime<Utc>,
    },
    /// Checking out an empty cart.
    #[error("cart {cart_id} is empty: add an item before checking out")]
    EmptyCart {
        /// The cart.
        cart_id: CartId,
    },
    /// Checking out again for another order.
    #[error("cart {cart_id} was already checked out as order {order_id}")]
    AlreadyCheckedOut {
        /// The cart.
        cart_id: CartId,
        /// The order it became.
        order_id: OrderId,
    },
    /// The lines cannot be priced (only reachable through inconsistent data).
    #[error("the cart cannot be priced: {0}")]
    Pricing(PricingError),
}
