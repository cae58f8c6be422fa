//! Merging a guest cart into a customer cart (the customer cart's side).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::decide::{check_price, check_quantity, currency, existing, open};
use super::{
    CartEvent, CartLine, CartOwner, CartRejection, CartState, PriceChange, QuantityCapped,
};
use crate::pricing::{MAX_LINE_QUANTITY, MAX_LINES};
use crate::{CartId, Money, ProductId, Sku};

/// A line being merged: summed quantity and every price it had before.
struct Merging {
    sku: Sku,
    product_id: ProductId,
    quantity: u64,
    old_prices: Vec<Money>,
}

/// Sums quantities per SKU (customer lines first, then new guest SKUs in guest order), caps each
/// at 999, reprices every line to `current_prices` and lists what changed. Merging the same guest
/// cart again changes nothing.
pub(super) fn merge_guest_cart(
    state: &CartState,
    guest_cart_id: &CartId,
    guest_lines: &[CartLine],
    current_prices: &BTreeMap<Sku, Money>,
    at: DateTime<Utc>,
) -> Result<Vec<CartEvent>, CartRejection> {
    let cart_id = existing(state)?;
    if state.merged_guest_carts.contains(guest_cart_id) {
        return Ok(vec![]);
    }
    if guest_cart_id == cart_id {
        return Err(CartRejection::MergeIntoItself {
            cart_id: cart_id.clone(),
        });
    }
    if !matches!(state.owner, Some(CartOwner::Customer { .. })) {
        return Err(CartRejection::NotACustomerCart {
            cart_id: cart_id.clone(),
        });
    }
    let cart_id = open(state)?;
    let currency = currency(state)?;
    let too_many = |lines: usize| CartRejection::TooManyLines {
        cart_id: cart_id.clone(),
        lines,
        max: MAX_LINES,
    };
    if guest_lines.len() > MAX_LINES {
        return Err(too_many(guest_lines.len()));
    }

    let mut merging: Vec<Merging> = state
        .lines
        .iter()
        .map(|l| Merging {
            sku: l.sku.clone(),
            product_id: l.product_id.clone(),
            quantity: u64::from(l.quantity),
            old_prices: vec![l.unit_price],
        })
        .collect();
    for guest in guest_lines {
        check_quantity(&guest.sku, guest.quantity)?;
        match merging.iter_mut().find(|m| m.sku == guest.sku) {
            Some(m) => {
                if m.product_id != guest.product_id {
                    return Err(CartRejection::ProductMismatch {
                        sku: guest.sku.clone(),
                        in_cart: m.product_id.clone(),
                        given: guest.product_id.clone(),
                    });
                }
                m.quantity += u64::from(guest.quantity);
                if !m.old_prices.contains(&guest.unit_price) {
                    m.old_prices.push(guest.unit_price);
                }
            }
            None => merging.push(Merging {
                sku: guest.sku.clone(),
                product_id: guest.product_id.clone(),
                quantity: u64::from(guest.quantity),
                old_prices: vec![guest.unit_price],
            }),
        }
    }
    if merging.len() > MAX_LINES {
        return Err(too_many(merging.len()));
    }

    let mut lines = Vec::with_capacity(merging.len());
    let mut price_changes = Vec::new();
    let mut capped = Vec::new();
    for m in merging {
        let price = current_prices
            .get(&m.sku)
            .copied()
            .ok_or_else(|| CartRejection::MissingPrice { sku: m.sku.clone() })?;
        check_price(currency, cart_id, &m.sku, price)?;
        let kept = u32::try_from(m.quantity)
            .unwrap_or(u32::MAX)
            .min(MAX_LINE_QUANTITY);
        if m.quantity > u64::from(MAX_LINE_QUANTITY) {
            capped.push(QuantityCapped {
                sku: m.sku.clone(),
                requested: u32::try_from(m.quantity).unwrap_or(u32::MAX),
                kept,
            });
        }
        for from in m.old_prices.into_iter().filter(|p| *p != price) {
            price_changes.push(PriceChange {
                sku: m.sku.clone(),
                from,
                to: price,
            });
        }
        lines.push(CartLine {
            sku: m.sku,
            product_id: m.product_id,
            quantity: kept,
            unit_price: price,
        });
    }
    Ok(vec![CartEvent::GuestCartMerged {
        cart_id: cart_id.clone(),
        guest_cart_id: guest_cart_id.clone(),
        lines,
        price_changes,
        capped,
        at,
    }])
}
