//! Carts read model: each cart with its owner, status, promotion and subtotal, and its lines with
//! the price captured when they were added.

use async_trait::async_trait;
use shop_domain::cart::{CartEvent, CartLine, CartOwner};
use shop_eventstore::RecordedEvent;

use super::{json, millis};
use crate::rows::{Rows, TableDef, TableRow, text};
use crate::runner::{ApplyError, Projection};
use crate::table;

table! {
    /// A cart.
    pub struct CartRow in "carts" {
        key { cart_id: String }
        fields {
            /// `guest` or `customer`.
            owner_kind: String,
            customer_id: Option<String>,
            /// The hash of a guest cart's token (what the API compares against).
            token_hash: Option<String>,
            currency: String,
            /// `open`, `checked_out`, `merged` or `expired`.
            status: String,
            order_id: Option<String>,
            merged_into: Option<String>,
            promo_code: Option<String>,
            subtotal: i64,
            units: i64,
            line_count: i64,
            /// JSON: the lines, in the order they were first added.
            lines: String,
            created_at: i64,
            updated_at: i64,
        }
        indexes [["customer_id", "status"], ["token_hash"]]
    }
}

table! {
    /// One line of a cart.
    pub struct CartLineRow in "cart_lines" {
        key { cart_id: String, sku: String }
        fields {
            product_id: String,
            quantity: i64,
            unit_price: i64,
            line_total: i64,
            position: i64,
        }
        indexes []
    }
}

/// The carts projection.
#[derive(Debug, Clone, Copy)]
pub struct CartsModel;

/// Rewrites a cart's lines (rows and JSON) and totals from `lines`.
/// Writes a change of the cart's lines from `old` to `new`: deletes the lines that went, puts the
/// lines that are new or differ (a line keeps its row while neither it nor its position changes),
/// and refreshes the cart's totals and JSON.
fn set_lines(rows: &mut Rows<'_>, cart: &mut CartRow, old: &[CartLine], new: &[CartLine]) {
    for gone in old.iter().filter(|o| !new.iter().any(|l| l.sku == o.sku)) {
        rows.delete::<CartLineRow>(vec![text(&cart.cart_id), text(gone.sku.as_str())]);
    }
    let mut subtotal = 0i64;
    let mut units = 0i64;
    for (i, line) in new.iter().enumerate() {
        let total = line
            .unit_price
            .amount
            .saturating_mul(i64::from(line.quantity));
        subtotal = subtotal.saturating_add(total);
        units += i64::from(line.quantity);
        if old.get(i) == Some(line) {
            continue;
        }
        rows.put(CartLineRow {
            cart_id: cart.cart_id.clone(),
            sku: line.sku.to_string(),
            product_id: line.product_id.to_string(),
            quantity: i64::from(line.quantity),
            unit_price: line.unit_price.amount,
            line_total: total,
            position: i as i64,
        });
    }
    cart.subtotal = subtotal;
    cart.units = units;
    cart.line_count = new.len() as i64;
    cart.lines = json(&new);
}

#[async_trait]
impl Projection for CartsModel {
    fn name(&self) -> &'static str {
        "carts"
    }

    fn rebuild_weight(&self) -> u32 {
        7
    }

    fn tables(&self) -> &'static [&'static TableDef] {
        &[CartRow::TABLE, CartLineRow::TABLE]
    }

    fn categories(&self) -> &'static [&'static str] {
        &["cart"]
    }

    async fn apply(&self, event: &RecordedEvent, rows: &mut Rows<'_>) -> Result<(), ApplyError> {
        let decoded = rows.decode::<CartEvent>(event)?;
        let at = millis(decoded.at());
        if let CartEvent::CartCreated {
            cart_id,
            owner,
            currency,
            ..
        } = &*decoded
        {
            let (owner_kind, customer_id, token_hash) = match owner {
                CartOwner::Guest { token_hash } => ("guest", None, Some(token_hash.clone())),
                CartOwner::Customer { customer_id } => {
                    ("customer", Some(customer_id.to_string()), None)
                }
            };
            rows.put(CartRow {
                cart_id: cart_id.to_string(),
                owner_kind: owner_kind.into(),
                customer_id,
                token_hash,
                currency: currency.to_string(),
                status: "open".into(),
                order_id: None,
                merged_into: None,
                promo_code: None,
                subtotal: 0,
                units: 0,
                line_count: 0,
                lines: "[]".into(),
                created_at: at,
                updated_at: at,
            });
            return Ok(());
        }
        let id = match &*decoded {
            CartEvent::CartCreated { cart_id, .. }
            | CartEvent::ItemAdded { cart_id, .. }
            | CartEvent::ItemQuantityChanged { cart_id, .. }
            | CartEvent::ItemRemoved { cart_id, .. }
            | CartEvent::PromoCodeApplied { cart_id, .. }
            | CartEvent::PromoCodeRemoved { cart_id, .. }
            | CartEvent::GuestCartMerged { cart_id, .. }
            | CartEvent::MergedIntoCart { cart_id, .. }
            | CartEvent::CartExpired { cart_id, .. }
            | CartEvent::CartCheckedOut { cart_id, .. } => cart_id.to_string(),
        };
        let Some(mut cart) = rows.get::<CartRow>(vec![text(&id)]).await? else {
            return Err(ApplyError::Poison(format!(
                "{} for cart {id}, which was never created",
                event.event_type
            )));
        };
        // Only the events that change lines read and rewrite them.
        let changes_lines = matches!(
            &*decoded,
            CartEvent::ItemAdded { .. }
                | CartEvent::ItemQuantityChanged { .. }
                | CartEvent::ItemRemoved { .. }
                | CartEvent::GuestCartMerged { .. }
        );
        let old: Vec<CartLine> = if changes_lines {
            serde_json::from_str(&cart.lines)
                .map_err(|e| ApplyError::Poison(format!("stored cart lines: {e}")))?
        } else {
            Vec::new()
        };
        let mut lines = old.clone();
        match &*decoded {
            CartEvent::CartCreated { .. } => unreachable!("handled above"),
            CartEvent::ItemAdded {
                sku,
                product_id,
                line_quantity,
                unit_price,
                ..
            } => match lines.iter_mut().find(|l| l.sku == *sku) {
                Some(line) => {
                    line.quantity = *line_quantity;
                    line.unit_price = *unit_price;
                }
                None => lines.push(CartLine {
                    sku: sku.clone(),
                    product_id: product_id.clone(),
                    quantity: *line_quantity,
                    unit_price: *unit_price,
                }),
            },
            CartEvent::ItemQuantityChanged { sku, to, .. } => {
                if let Some(line) = lines.iter_mut().find(|l| l.sku == *sku) {
                    line.quantity = *to;
                }
            }
            CartEvent::ItemRemoved { sku, .. } => lines.retain(|l| l.sku != *sku),
            CartEvent::PromoCodeApplied { code, .. } => cart.promo_code = Some(code.to_string()),
            CartEvent::PromoCodeRemoved { .. } => cart.promo_code = None,
            CartEvent::GuestCartMerged { lines: merged, .. } => lines = merged.clone(),
            CartEvent::MergedIntoCart { into_cart_id, .. } => {
                cart.status = "merged".into();
                cart.merged_into = Some(into_cart_id.to_string());
            }
            CartEvent::CartExpired { .. } => cart.status = "expired".into(),
            CartEvent::CartCheckedOut { order_id, .. } => {
                cart.status = "checked_out".into();
                cart.order_id = Some(order_id.to_string());
            }
        }
        if changes_lines {
            set_lines(rows, &mut cart, &old, &lines);
        }
        cart.updated_at = at;
        rows.put(cart);
        Ok(())
    }
}
