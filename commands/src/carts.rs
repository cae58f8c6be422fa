//! Cart commands that need the catalog: adding an item captures the variant's current price from
//! the product aggregate (the cart itself never looks prices up), and merging a guest cart on
//! sign-in reprices every line to the current catalog price. Prices are read from the product's
//! stream, not from a read model, so a cart never captures a price older than the last accepted
//! price change.

use std::collections::BTreeMap;

use shop_domain::cart::{Cart, CartCommand, CartRejection, CartStatus};
use shop_domain::product::{Product, ProductRejection};
use shop_domain::{CartId, Money, ProductId, Sku};
use uuid::Uuid;

use crate::{Command, CommandError, CommandHandler, Outcome};

/// Namespace of the ids of the commands a cart operation sends after its first.
const STEP_NAMESPACE: Uuid = Uuid::from_u128(0x2f6e_1c3a_9b7d_4a05_8e21_6c4f_0d9b_3a58);

/// Adds units of a product variant to a cart at the variant's current price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddToCart {
    /// The cart.
    pub cart_id: CartId,
    /// The product.
    pub product_id: ProductId,
    /// The variant.
    pub sku: Sku,
    /// Units to add.
    pub quantity: u32,
}

/// Merges a guest cart into a customer's cart (on sign-in). The caller has checked that the
/// customer holds the guest cart's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeCarts {
    /// The guest cart.
    pub guest_cart_id: CartId,
    /// The customer's cart.
    pub into_cart_id: CartId,
}

/// Why a cart operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CartError {
    /// The cart (or the command machinery) said no.
    #[error(transparent)]
    Cart(#[from] CommandError<CartRejection>),
    /// Reading the product failed.
    #[error(transparent)]
    Product(#[from] CommandError<ProductRejection>),
    /// No such product.
    #[error("product {0} does not exist")]
    UnknownProduct(ProductId),
    /// The product has no such variant.
    #[error("product {product_id} has no variant {sku}")]
    UnknownVariant {
        /// The product.
        product_id: ProductId,
        /// The SKU asked for.
        sku: Sku,
    },
    /// The product is no longer sold.
    #[error("product {0} is discontinued and can no longer be added to a cart")]
    Discontinued(ProductId),
    /// The guest cart cannot be merged.
    #[error("cart {cart_id} cannot be merged: it is {status}")]
    NotMergeable {
        /// The guest cart.
        cart_id: CartId,
        /// Where it stands.
        status: CartStatus,
    },
}

/// Runs cart operations that read the catalog.
#[derive(Clone, Debug)]
pub struct CartService {
    carts: CommandHandler<Cart>,
    products: CommandHandler<Product>,
}

impl CartService {
    /// A service over these handlers.
    pub fn new(carts: CommandHandler<Cart>, products: CommandHandler<Product>) -> Self {
        Self { carts, products }
    }

    /// Adds the item at the variant's current catalog price. A retry with the same command id
    /// answers the original outcome (the price captured the first time stands).
    pub async fn add_item(&self, command: Command<AddToCart>) -> Result<Outcome, CartError> {
        let AddToCart {
            cart_id,
            product_id,
            sku,
            quantity,
        } = command.body.clone();
        let unit_price = self.current_price(&product_id, &sku).await?;
        let add = command.map(|_| CartCommand::AddItem {
            sku,
            product_id,
            quantity,
            unit_price,
        });
        Ok(self.carts.handle(&cart_id, add).await?)
    }

    /// Merges the guest cart into the customer's cart at current prices, then closes the guest
    /// cart. Two commands on two streams: the second has an id derived from the first, so a retry
    /// after a failure between them completes the merge without merging twice.
    pub async fn merge(&self, command: Command<MergeCarts>) -> Result<Outcome, CartError> {
        let MergeCarts {
            guest_cart_id,
            into_cart_id,
        } = command.body.clone();
        let (guest, _) = self.carts.load(&guest_cart_id).await?;
        match guest.status() {
            CartStatus::Open => {}
            CartStatus::MergedInto { cart_id } if *cart_id == into_cart_id => {}
            status => {
                return Err(CartError::NotMergeable {
                    cart_id: guest_cart_id,
                    status: status.clone(),
                });
            }
        }
        let (customer, _) = self.carts.load(&into_cart_id).await?;
        let mut current_prices = BTreeMap::new();
        for line in guest.lines().iter().chain(customer.lines()) {
            if !current_prices.contains_key(&line.sku) {
                // A variant no longer sold keeps the price it was added at; checkout decides.
                let price = match self.current_price(&line.product_id, &line.sku).await {
                    Ok(price) => price,
                    Err(CartError::Discontinued(_) | CartError::UnknownVariant { .. }) => {
                        line.unit_price
                    }
                    Err(e) => return Err(e),
                };
                current_prices.insert(line.sku.clone(), price);
            }
        }
        let close_id = Uuid::new_v5(&STEP_NAMESPACE, command.id.as_bytes());
        let close = command
            .clone()
            .map(|_| CartCommand::CloseAsMerged {
                into_cart_id: into_cart_id.clone(),
            })
            .with_id(close_id);
        // `If-Match` speaks of the customer's cart, not of the guest cart being closed.
        let close = Command {
            if_match: None,
            ..close
        };
        let merge = command.map(|_| CartCommand::MergeGuestCart {
            guest_cart_id: guest_cart_id.clone(),
            guest_lines: guest.lines().to_vec(),
            current_prices,
        });
        let outcome = self.carts.handle(&into_cart_id, merge).await?;
        self.carts.handle(&guest_cart_id, close).await?;
        Ok(outcome)
    }

    /// The variant's price now, from the product's stream.
    async fn current_price(&self, product_id: &ProductId, sku: &Sku) -> Result<Money, CartError> {
        let (product, _) = self.products.load(product_id).await?;
        if !product.exists() {
            return Err(CartError::UnknownProduct(product_id.clone()));
        }
        if product.is_discontinued() {
            return Err(CartError::Discontinued(product_id.clone()));
        }
        product
            .variant(sku)
            .map(|v| v.price)
            .ok_or_else(|| CartError::UnknownVariant {
                product_id: product_id.clone(),
                sku: sku.clone(),
            })
    }
}
