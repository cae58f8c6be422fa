//! The cart's rules.

use chrono::{DateTime, Utc};

use super::merge::merge_guest_cart;
use super::{
    CUSTOMER_CART_TTL, CartCommand, CartEvent, CartOwner, CartRejection, CartState, CartStatus,
    GUEST_CART_TTL, MAX_TOKEN_HASH_LEN, MIN_TOKEN_HASH_LEN,
};
use crate::pricing::{self, MAX_LINE_QUANTITY, MAX_LINES, MAX_UNIT_PRICE_MINOR};
use crate::{CartId, Context, Currency, Money, OrderId, ProductId, PromoCode, Sku};

pub(super) fn decide(
    state: &CartState,
    command: &CartCommand,
    ctx: &Context,
) -> Result<Vec<CartEvent>, CartRejection> {
    let at = ctx.now;
    match command {
        CartCommand::CreateCart {
            cart_id,
            owner,
            currency,
        } => create(state, cart_id, owner, *currency, at),
        CartCommand::AddItem {
            sku,
            product_id,
            quantity,
            unit_price,
        } => add_item(state, sku, product_id, *quantity, *unit_price, at),
        CartCommand::ChangeQuantity { sku, quantity } => change_quantity(state, sku, *quantity, at),
        CartCommand::RemoveItem { sku } => remove_item(state, sku, at),
        CartCommand::ApplyPromoCode { code } => apply_promo_code(state, code, at),
        CartCommand::RemovePromoCode {} => remove_promo_code(state, at),
        CartCommand::MergeGuestCart {
            guest_cart_id,
            guest_lines,
            current_prices,
        } => merge_guest_cart(state, guest_cart_id, guest_lines, current_prices, at),
        CartCommand::CloseAsMerged { into_cart_id } => close_as_merged(state, into_cart_id, at),
        CartCommand::ExpireCart {} => expire(state, at),
        CartCommand::CheckOut { order_id } => check_out(state, order_id, at),
    }
}

/// The cart's id, or `NotFound` before creation.
pub(super) fn existing(state: &CartState) -> Result<&CartId, CartRejection> {
    state.cart_id.as_ref().ok_or(CartRejection::NotFound)
}

/// The cart's id if it accepts changes.
pub(super) fn open(state: &CartState) -> Result<&CartId, CartRejection> {
    let cart_id = existing(state)?;
    if state.status == CartStatus::Open {
        Ok(cart_id)
    } else {
        Err(CartRejection::NotOpen {
            cart_id: cart_id.clone(),
            status: state.status.clone(),
        })
    }
}

/// The cart's currency (set at creation).
pub(super) fn currency(state: &CartState) -> Result<Currency, CartRejection> {
    state.currency.ok_or(CartRejection::NotFound)
}

pub(super) fn check_quantity(sku: &Sku, quantity: u32) -> Result<(), CartRejection> {
    if (1..=MAX_LINE_QUANTITY).contains(&quantity) {
        Ok(())
    } else {
        Err(CartRejection::InvalidQuantity {
            sku: sku.clone(),
            quantity,
        })
    }
}

pub(super) fn check_price(
    currency: Currency,
    cart_id: &CartId,
    sku: &Sku,
    price: Money,
) -> Result<(), CartRejection> {
    if price.currency != currency {
        return Err(CartRejection::CurrencyMismatch {
            cart_id: cart_id.clone(),
            sku: sku.clone(),
            expected: currency,
            found: price.currency,
        });
    }
    if !(0..=MAX_UNIT_PRICE_MINOR).contains(&price.amount) {
        return Err(CartRejection::InvalidPrice {
            sku: sku.clone(),
            price,
            max: MAX_UNIT_PRICE_MINOR,
        });
    }
    Ok(())
}

fn create(
    state: &CartState,
    cart_id: &CartId,
    owner: &CartOwner,
    currency: Currency,
    at: DateTime<Utc>,
) -> Result<Vec<CartEvent>, CartRejection> {
    if let Some(existing) = &state.cart_id {
        let same = existing == cart_id
            && state.owner.as_ref() == Some(owner)
            && state.currency == Some(currency);
        return if same {
            Ok(vec![])
        } else {
            Err(CartRejection::AlreadyExists {
                cart_id: existing.clone(),
            })
        };
    }
    if let CartOwner::Guest { token_hash } = owner {
        let len = token_hash.chars().count();
        let printable = token_hash.bytes().all(|b| b.is_ascii_graphic());
        if !printable || !(MIN_TOKEN_HASH_LEN..=MAX_TOKEN_HASH_LEN).contains(&len) {
            return Err(CartRejection::InvalidTokenHash {
                len,
                min: MIN_TOKEN_HASH_LEN,
                max: MAX_TOKEN_HASH_LEN,
            });
        }
    }
    Ok(vec![CartEvent::CartCreated {
        cart_id: cart_id.clone(),
        owner: owner.clone(),
        currency,
        at,
    }])
}

fn add_item(
    state: &CartState,
    sku: &Sku,
    product_id: &ProductId,
    quantity: u32,
    unit_price: Money,
    at: DateTime<Utc>,
) -> Result<Vec<CartEvent>, CartRejection> {
    let cart_id = open(state)?;
    check_quantity(sku, quantity)?;
    check_price(currency(state)?, cart_id, sku, unit_price)?;
    let (line_quantity, previous_unit_price) = match state.line(sku) {
        Some(line) => {
            if &line.product_id != product_id {
                return Err(CartRejection::ProductMismatch {
                    sku: sku.clone(),
                    in_cart: line.product_id.clone(),
                    given: product_id.clone(),
                });
            }
            let total = u64::from(line.quantity) + u64::from(quantity);
            let line_quantity = u32::try_from(total)
                .ok()
                .filter(|q| *q <= MAX_LINE_QUANTITY)
                .ok_or_else(|| CartRejection::QuantityTooLarge {
                    sku: sku.clone(),
                    requested: total,
                    max: MAX_LINE_QUANTITY,
                })?;
            (line_quantity, Some(line.unit_price))
        }
        None => {
            if state.lines.len() >= MAX_LINES {
                return Err(CartRejection::TooManyLines {
                    cart_id: cart_id.clone(),
                    lines: state.lines.len() + 1,
                    max: MAX_LINES,
                });
            }
            (quantity, None)
        }
    };
    Ok(vec![CartEvent::ItemAdded {
        cart_id: cart_id.clone(),
        sku: sku.clone(),
        product_id: product_id.clone(),
        quantity,
        line_quantity,
        unit_price,
        previous_unit_price,
        at,
    }])
}

fn change_quantity(
    state: &CartState,
    sku: &Sku,
    quantity: u32,
    at: DateTime<Utc>,
) -> Result<Vec<CartEvent>, CartRejection> {
    let cart_id = open(state)?;
    check_quantity(sku, quantity)?;
    let line = state
        .line(sku)
        .ok_or_else(|| CartRejection::ItemNotInCart {
            cart_id: cart_id.clone(),
            sku: sku.clone(),
        })?;
    if line.quantity == quantity {
        return Ok(vec![]);
    }
    Ok(vec![CartEvent::ItemQuantityChanged {
        cart_id: cart_id.clone(),
        sku: sku.clone(),
        product_id: line.product_id.clone(),
        from: line.quantity,
        to: quantity,
        unit_price: line.unit_price,
        at,
    }])
}

fn remove_item(
    state: &CartState,
    sku: &Sku,
    at: DateTime<Utc>,
) -> Result<Vec<CartEvent>, CartRejection> {
    let cart_id = open(state)?;
    let Some(line) = state.line(sku) else {
        return Ok(vec![]);
    };
    Ok(vec![CartEvent::ItemRemoved {
        cart_id: cart_id.clone(),
        sku: sku.clone(),
        product_id: line.product_id.clone(),
        quantity: line.quantity,
        unit_price: line.unit_price,
        at,
    }])
}

fn apply_promo_code(
    state: &CartState,
    code: &PromoCode,
    at: DateTime<Utc>,
) -> Result<Vec<CartEvent>, CartRejection> {
    let cart_id = open(state)?;
    if state.promo_code.as_ref() == Some(code) {
        return Ok(vec![]);
    }
    Ok(vec![CartEvent::PromoCodeApplied {
        cart_id: cart_id.clone(),
        code: code.clone(),
        replaced: state.promo_code.clone(),
        at,
    }])
}

fn remove_promo_code(
    state: &CartState,
    at: DateTime<Utc>,
) -> Result<Vec<CartEvent>, CartRejection> {
    let cart_id = open(state)?;
    let Some(code) = &state.promo_code else {
        return Ok(vec![]);
    };
    Ok(vec![CartEvent::PromoCodeRemoved {
        cart_id: cart_id.clone(),
        code: code.clone(),
        at,
    }])
}

fn close_as_merged(
    state: &CartState,
    into_cart_id: &CartId,
    at: DateTime<Utc>,
) -> Result<Vec<CartEvent>, CartRejection> {
    let cart_id = existing(state)?;
    if into_cart_id == cart_id {
        return Err(CartRejection::MergeIntoItself {
            cart_id: cart_id.clone(),
        });
    }
    if let CartStatus::MergedInto { cart_id: into } = &state.status {
        return if into == into_cart_id {
            Ok(vec![])
        } else {
            Err(CartRejection::AlreadyMerged {
                cart_id: cart_id.clone(),
                into_cart_id: into.clone(),
            })
        };
    }
    if !matches!(state.owner, Some(CartOwner::Guest { .. })) {
        return Err(CartRejection::NotAGuestCart {
            cart_id: cart_id.clone(),
        });
    }
    let cart_id = open(state)?;
    Ok(vec![CartEvent::MergedIntoCart {
        cart_id: cart_id.clone(),
        into_cart_id: into_cart_id.clone(),
        at,
    }])
}

fn expire(state: &CartState, at: DateTime<Utc>) -> Result<Vec<CartEvent>, CartRejection> {
    if state.status == CartStatus::Expired {
        return Ok(vec![]);
    }
    let cart_id = open(state)?;
    let limit = match state.owner {
        Some(CartOwner::Customer { .. }) => CUSTOMER_CART_TTL,
        _ => GUEST_CART_TTL,
    };
    // An open cart always has a last activity (its creation); without one, never expire.
    let last_activity = state.last_activity.unwrap_or(at);
    let expires_at = last_activity
        .checked_add_signed(limit)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if at < expires_at || state.last_activity.is_none() {
        return Err(CartRejection::StillActive {
            cart_id: cart_id.clone(),
            last_activity,
            expires_at,
        });
    }
    Ok(vec![CartEvent::CartExpired {
        cart_id: cart_id.clone(),
        last_activity,
        at,
    }])
}

fn check_out(
    state: &CartState,
    order_id: &OrderId,
    at: DateTime<Utc>,
) -> Result<Vec<CartEvent>, CartRejection> {
    let cart_id = existing(state)?;
    if let CartStatus::CheckedOut { order_id: done } = &state.status {
        return if done == order_id {
            Ok(vec![])
        } else {
            Err(CartRejection::AlreadyCheckedOut {
                cart_id: cart_id.clone(),
                order_id: done.clone(),
            })
        };
    }
    let cart_id = open(state)?;
    if state.lines.is_empty() {
        return Err(CartRejection::EmptyCart {
            cart_id: cart_id.clone(),
        });
    }
    let subtotal = pricing::subtotal(currency(state)?, &state.price_lines())
        .map_err(CartRejection::Pricing)?;
    Ok(vec![CartEvent::CartCheckedOut {
        cart_id: cart_id.clone(),
        order_id: order_id.clone(),
        lines: state.lines.clone(),
        promo_code: state.promo_code.clone(),
        subtotal,
        at,
    }])
}
