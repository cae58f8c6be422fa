//! The folded cart and its evolve (no rules here).

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CartEvent;
use crate::pricing::{self, PriceLine};
use crate::{CartId, Currency, CustomerId, Money, OrderId, ProductId, PromoCode, Sku};

/// One line of a cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// The SKU.
    pub sku: Sku,
    /// Its product.
    pub product_id: ProductId,
    /// Units, 1..=999.
    pub quantity: u32,
    /// Unit price captured from the catalog.
    pub unit_price: Money,
}

/// Who a cart belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CartOwner {
    /// A guest, reached through a token whose hash (computed by the API) is stored here.
    Guest {
        /// Hash of the guest's token (never the token itself).
        token_hash: String,
    },
    /// A signed-in customer.
    Customer {
        /// The customer.
        customer_id: CustomerId,
    },
}

/// Where a cart is in its life.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CartStatus {
    /// No such cart yet.
    #[default]
    NotCreated,
    /// Accepting changes.
    Open,
    /// Became an order.
    CheckedOut {
        /// The order.
        order_id: OrderId,
    },
    /// A guest cart merged into a customer cart.
    MergedInto {
        /// The customer cart.
        cart_id: CartId,
    },
    /// Expired after its inactivity limit.
    Expired,
}

impl fmt::Display for CartStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CartStatus::NotCreated => f.write_str("not created"),
            CartStatus::Open => f.write_str("open"),
            CartStatus::CheckedOut { order_id } => write!(f, "checked out as order {order_id}"),
            CartStatus::MergedInto { cart_id } => write!(f, "merged into cart {cart_id}"),
            CartStatus::Expired => f.write_str("expired"),
        }
    }
}

/// A cart as its events left it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CartState {
    pub(super) cart_id: Option<CartId>,
    pub(super) owner: Option<CartOwner>,
    pub(super) currency: Option<Currency>,
    pub(super) lines: Vec<CartLine>,
    pub(super) promo_code: Option<PromoCode>,
    pub(super) status: CartStatus,
    pub(super) last_activity: Option<DateTime<Utc>>,
    pub(super) merged_guest_carts: BTreeSet<CartId>,
}

impl CartState {
    /// The cart's id (none before creation).
    pub fn cart_id(&self) -> Option<&CartId> {
        self.cart_id.as_ref()
    }

    /// Guest or customer.
    pub fn owner(&self) -> Option<&CartOwner> {
        self.owner.as_ref()
    }

    /// The cart's currency.
    pub fn currency(&self) -> Option<Currency> {
        self.currency
    }

    /// Lines, in the order their SKUs were first added.
    pub fn lines(&self) -> &[CartLine] {
        &self.lines
    }

    /// The line of `sku`, if any.
    pub fn line(&self, sku: &Sku) -> Option<&CartLine> {
        self.lines.iter().find(|l| &l.sku == sku)
    }

    /// The applied promotion code.
    pub fn promo_code(&self) -> Option<&PromoCode> {
        self.promo_code.as_ref()
    }

    /// Life-cycle status.
    pub fn status(&self) -> &CartStatus {
        &self.status
    }

    /// True while the cart accepts changes.
    pub fn is_open(&self) -> bool {
        self.status == CartStatus::Open
    }

    /// Time of the last change.
    pub fn last_activity(&self) -> Option<DateTime<Utc>> {
        self.last_activity
    }

    /// Guest carts merged into this one.
    pub fn merged_guest_carts(&self) -> &BTreeSet<CartId> {
        &self.merged_guest_carts
    }

    /// The lines as pricing sees them.
    pub fn price_lines(&self) -> Vec<PriceLine> {
        self.lines
            .iter()
            .map(|l| PriceLine::new(l.unit_price, l.quantity))
            .collect()
    }

    /// Merchandise subtotal (none before creation). The cart's limits keep it far from overflow.
    pub fn subtotal(&self) -> Option<Money> {
        let currency = self.currency?;
        pricing::subtotal(currency, &self.price_lines()).ok()
    }

    pub(super) fn apply(&mut self, event: &CartEvent) {
        self.last_activity = Some(event.at());
        match event {
            CartEvent::CartCreated {
                cart_id,
                owner,
                currency,
                ..
            } => {
                self.cart_id = Some(cart_id.clone());
                self.owner = Some(owner.clone());
                self.currency = Some(*currency);
                self.status = CartStatus::Open;
            }
            CartEvent::ItemAdded {
                sku,
                product_id,
                line_quantity,
                unit_price,
                ..
            } => match self.lines.iter_mut().find(|l| &l.sku == sku) {
                Some(line) => {
                    line.quantity = *line_quantity;
                    line.unit_price = *unit_price;
                }
                None => self.lines.push(CartLine {
                    sku: sku.clone(),
                    product_id: product_id.clone(),
                    quantity: *line_quantity,
                    unit_price: *unit_price,
                }),
            },
            CartEvent::ItemQuantityChanged { sku, to, .. } => {
                if let Some(line) = self.lines.iter_mut().find(|l| &l.sku == sku) {
                    line.quantity = *to;
                }
            }
            CartEvent::ItemRemoved { sku, .. } => self.lines.retain(|l| &l.sku != sku),
            CartEvent::PromoCodeApplied { code, .. } => self.promo_code = Some(code.clone()),
            CartEvent::PromoCodeRemoved { .. } => self.promo_code = None,
            CartEvent::GuestCartMerged {
                guest_cart_id,
                lines,
                ..
            } => {
                self.lines = lines.clone();
                self.merged_guest_carts.insert(guest_cart_id.clone());
            }
            CartEvent::MergedIntoCart { into_cart_id, .. } => {
                self.status = CartStatus::MergedInto {
                    cart_id: into_cart_id.clone(),
                };
            }
            CartEvent::CartExpired { .. } => self.status = CartStatus::Expired,
            CartEvent::CartCheckedOut { order_id, .. } => {
                self.status = CartStatus::CheckedOut {
                    order_id: order_id.clone(),
                };
            }
        }
    }
}
