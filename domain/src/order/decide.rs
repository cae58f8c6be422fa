//! The order's rules: dispatch, shared checks and placing. Payment steps are in `pay.rs`,
//! shipping and cancelling in `fulfil.rs`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::state::Placement;
use super::{
    MAX_SHIPPING_METHOD_CHARS, OrderCommand as C, OrderEvent as E, OrderLine, OrderRejection as R,
    OrderState, OrderStatus as S, fulfil, pay,
};
use crate::pricing::{MAX_LINE_QUANTITY, MAX_LINES, MAX_UNIT_PRICE_MINOR, Totals};
use crate::{Address, Context, Currency, Money, OrderId};

pub(super) type Decision = Result<Vec<E>, R>;

pub(super) fn decide(state: &OrderState, command: &C, ctx: &Context) -> Decision {
    let id = command.order_id();
    if let Some(expected) = state.order_id()
        && expected != id
    {
        return Err(R::WrongOrder {
            expected: expected.clone(),
            got: id.clone(),
        });
    }
    let at = ctx.now;
    match command {
        C::PlaceOrder {
            customer_id,
            cart_id,
            lines,
            currency,
            totals,
            shipping_address,
            billing_address,
            promo_code,
            shipping_method,
            ..
        } => place(
            state,
            id,
            Placement {
                customer_id: customer_id.clone(),
                cart_id: cart_id.clone(),
                lines: lines.clone(),
                currency: *currency,
                totals: *totals,
                shipping_address: Address::clone(shipping_address),
                billing_address: Address::clone(billing_address),
                promo_code: promo_code.clone(),
                shipping_method: shipping_method.clone(),
            },
            at,
        ),
        C::MarkPaymentPending { payment_id, .. } => pay::mark_pending(state, id, payment_id, at),
        C::ConfirmOrder { payment_id, .. } => pay::confirm(state, id, payment_id.as_ref(), at),
        C::RecordPaymentCaptured {
            payment_id, amount, ..
        } => pay::capture(state, id, payment_id, *amount, at),
        C::MarkPaymentFailed { reason, .. } => pay::fail(state, id, reason, at),
        C::RefundOrder {
            refund_id,
            amount,
            reason,
            ..
        } => pay::refund(state, id, refund_id, *amount, reason, at),
        C::ShipOrder {
            carrier,
            tracking_number,
            ..
        } => fulfil::ship(state, id, carrier, tracking_number, at),
        C::DeliverOrder { .. } => fulfil::deliver(state, id, at),
        C::CancelOrder { reason, .. } => fulfil::cancel(state, id, reason, at),
    }
}

/// What the order was placed with; an order not placed yet cannot do `action`.
pub(super) fn placed<'a>(state: &'a OrderState, action: &'static str) -> Result<&'a Placement, R> {
    state.placement.as_ref().ok_or(R::WrongStatus {
        action,
        status: S::NotPlaced,
    })
}

pub(super) fn check_text(text: &str, field: &'static str, max: usize) -> Result<(), R> {
    if text.trim().is_empty() || text.chars().count() > max {
        return Err(R::InvalidText { field, max });
    }
    Ok(())
}

pub(super) fn check_currency(expected: Currency, amount: Money) -> Result<(), R> {
    if amount.currency == expected {
        Ok(())
    } else {
        Err(R::CurrencyMismatch {
            expected,
            got: amount.currency,
        })
    }
}

/// A positive amount in the order's currency.
pub(super) fn check_amount(placement: &Placement, amount: Money) -> Result<(), R> {
    check_currency(placement.currency, amount)?;
    if amount.amount <= 0 {
        return Err(R::InvalidAmount { amount });
    }
    Ok(())
}

fn place(state: &OrderState, order_id: &OrderId, p: Placement, at: DateTime<Utc>) -> Decision {
    if let Some(recorded) = &state.placement {
        return if *recorded == p {
            Ok(vec![])
        } else {
            Err(R::AlreadyPlaced {
                order_id: order_id.clone(),
            })
        };
    }
    let lines_subtotal = check_lines(p.currency, &p.lines)?;
    check_totals(p.currency, &p.totals, lines_subtotal)?;
    for (which, address) in [
        ("shipping", &p.shipping_address),
        ("billing", &p.billing_address),
    ] {
        address
            .validate()
            .map_err(|error| R::InvalidAddress { which, error })?;
    }
    check_text(
        &p.shipping_method,
        "shipping method",
        MAX_SHIPPING_METHOD_CHARS,
    )?;
    Ok(vec![E::OrderPlaced {
        order_id: order_id.clone(),
        customer_id: p.customer_id,
        cart_id: p.cart_id,
        lines: p.lines,
        currency: p.currency,
        totals: p.totals,
        shipping_address: Box::new(p.shipping_address),
        billing_address: Box::new(p.billing_address),
        promo_code: p.promo_code,
        shipping_method: p.shipping_method,
        at,
    }])
}

/// Checks every line and returns the sum of their subtotals.
fn check_lines(currency: Currency, lines: &[OrderLine]) -> Result<Money, R> {
    if lines.is_empty() || lines.len() > MAX_LINES {
        return Err(R::InvalidLineCount {
            count: lines.len(),
            max: MAX_LINES,
        });
    }
    let mut seen = BTreeSet::new();
    let mut sum = Money::zero(currency);
    for line in lines {
        let sku = &line.sku;
        if !seen.insert(sku) {
            return Err(R::DuplicateSku { sku: sku.clone() });
        }
        if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
            return Err(R::InvalidQuantity {
                sku: sku.clone(),
                quantity: line.quantity,
                max: MAX_LINE_QUANTITY,
            });
        }
        check_currency(currency, line.unit_price)?;
        check_currency(currency, line.subtotal)?;
        if !(0..=MAX_UNIT_PRICE_MINOR).contains(&line.unit_price.amount) {
            return Err(R::InvalidUnitPrice {
                sku: sku.clone(),
                unit_price: line.unit_price,
                max: MAX_UNIT_PRICE_MINOR,
            });
        }
        let expected = line.unit_price.checked_mul(i64::from(line.quantity))?;
        if line.subtotal != expected {
            return Err(R::LineSubtotalMismatch {
                sku: sku.clone(),
                expected,
                got: line.subtotal,
            });
        }
        sum = sum.checked_add(expected)?;
    }
    Ok(sum)
}

/// Every part in the order's currency and not negative, discount ≤ subtotal, subtotal = the
/// lines' sum, total = subtotal − discount + tax + shipping.
fn check_totals(currency: Currency, totals: &Totals, lines_subtotal: Money) -> Result<(), R> {
    for part in [
        totals.subtotal,
        totals.discount,
        totals.tax,
        totals.shipping,
        totals.total,
    ] {
        check_currency(currency, part)?;
    }
    let computed = Totals::from_parts(
        totals.subtotal,
        totals.discount,
        totals.tax,
        totals.shipping,
    )
    .map_err(R::InvalidTotals)?;
    if totals.subtotal != lines_subtotal {
        return Err(R::SubtotalMismatch {
            expected: lines_subtotal,
            got: totals.subtotal,
        });
    }
    if totals.total != computed.total {
        return Err(R::TotalMismatch {
            expected: computed.total,
            got: totals.total,
        });
    }
    Ok(())
}
