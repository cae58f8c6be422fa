//! The promotion's rules. A command whose effect is already in place (the same create, a repeated
//! redemption for the same order, releasing what is not in use) is a no-op before any other
//! check, so retries stay harmless after the promotion expires or is deactivated.

use super::{PromotionCommand, PromotionEvent, PromotionRejection, PromotionState, PromotionTerms};
use crate::{Context, CustomerId, Discount, Money, OrderId};

/// Highest fixed discount or minimum subtotal, in minor units (the unit-price cap).
pub const MAX_AMOUNT_MINOR: i64 = crate::pricing::MAX_UNIT_PRICE_MINOR;
/// Longest reason (deactivation, release), in characters.
pub const MAX_REASON_CHARS: usize = 1_000;

type Decision = Result<Vec<PromotionEvent>, PromotionRejection>;

pub(super) fn decide(
    state: &PromotionState,
    command: &PromotionCommand,
    ctx: &Context,
) -> Decision {
    match command {
        PromotionCommand::CreatePromotion {
            code,
            discount,
            minimum_subtotal,
            valid_from,
            valid_until,
            usage_limit,
            per_customer_limit,
        } => create(
            state,
            PromotionTerms {
                code: code.clone(),
                discount: *discount,
                minimum_subtotal: *minimum_subtotal,
                valid_from: *valid_from,
                valid_until: *valid_until,
                usage_limit: *usage_limit,
                per_customer_limit: *per_customer_limit,
            },
            ctx,
        ),
        PromotionCommand::DeactivatePromotion { reason } => deactivate(state, reason),
        PromotionCommand::RedeemPromotion {
            order_id,
            customer_id,
            subtotal,
        } => redeem(state, order_id, customer_id.as_ref(), *subtotal, ctx),
        PromotionCommand::ReleaseRedemption { order_id, reason } => {
            release(state, order_id, reason)
        }
    }
}

fn validate_reason(reason: &str) -> Result<(), PromotionRejection> {
    if reason.trim().is_empty() {
        return Err(PromotionRejection::EmptyReason {
            max: MAX_REASON_CHARS,
        });
    }
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(PromotionRejection::ReasonTooLong {
            chars,
            max: MAX_REASON_CHARS,
        });
    }
    Ok(())
}

fn in_range(amount: Money) -> bool {
    (1..=MAX_AMOUNT_MINOR).contains(&amount.amount)
}

fn validate_terms(terms: &PromotionTerms, ctx: &Context) -> Result<(), PromotionRejection> {
    match terms.discount {
        Discount::Percentage { basis_points } => {
            if !(1..=10_000).contains(&basis_points) {
                return Err(PromotionRejection::InvalidPercentage { basis_points });
            }
        }
        Discount::FixedAmount { amount } => {
            if !in_range(amount) {
                return Err(PromotionRejection::InvalidFixedAmount {
                    amount,
                    max: Money::new(MAX_AMOUNT_MINOR, amount.currency),
                });
            }
        }
    }
    if let Some(minimum) = terms.minimum_subtotal {
        if !in_range(minimum) {
            return Err(PromotionRejection::InvalidMinimumSubtotal {
                amount: minimum,
                max: Money::new(MAX_AMOUNT_MINOR, minimum.currency),
            });
        }
        if let Discount::FixedAmount { amount } = terms.discount
            && amount.currency != minimum.currency
        {
            return Err(PromotionRejection::TermsCurrencyMismatch {
                discount: amount.currency,
                minimum: minimum.currency,
            });
        }
    }
    if terms.valid_until <= terms.valid_from {
        return Err(PromotionRejection::EmptyWindow {
            valid_from: terms.valid_from,
            valid_until: terms.valid_until,
        });
    }
    if terms.valid_until <= ctx.now {
        return Err(PromotionRejection::EndsInThePast {
            valid_until: terms.valid_until,
        });
    }
    if terms.usage_limit == Some(0) {
        return Err(PromotionRejection::ZeroUsageLimit);
    }
    if terms.per_customer_limit == Some(0) {
        return Err(PromotionRejection::ZeroPerCustomerLimit);
    }
    Ok(())
}

fn create(state: &PromotionState, terms: PromotionTerms, ctx: &Context) -> Decision {
    if let Some(existing) = state.terms() {
        return if *existing == terms {
            Ok(vec![])
        } else {
            Err(PromotionRejection::AlreadyExists {
                code: existing.code.clone(),
            })
        };
    }
    validate_terms(&terms, ctx)?;
    Ok(vec![PromotionEvent::PromotionCreated {
        code: terms.code,
        discount: terms.discount,
        minimum_subtotal: terms.minimum_subtotal,
        valid_from: terms.valid_from,
        valid_until: terms.valid_until,
        usage_limit: terms.usage_limit,
        per_customer_limit: terms.per_customer_limit,
    }])
}

fn deactivate(state: &PromotionState, reason: &str) -> Decision {
    let terms = state.terms().ok_or(PromotionRejection::NotFound)?;
    if !state.is_active() {
        return Ok(vec![]);
    }
    validate_reason(reason)?;
    Ok(vec![PromotionEvent::PromotionDeactivated {
        code: terms.code.clone(),
        reason: reason.to_owned(),
    }])
}

fn redeem(
    state: &PromotionState,
    order_id: &OrderId,
    customer_id: Option<&CustomerId>,
    subtotal: Money,
    ctx: &Context,
) -> Decision {
    let terms = state.terms().ok_or(PromotionRejection::NotFound)?;
    let code = &terms.code;
    if let Some(existing) = state.redemption(order_id) {
        return if existing.released {
            Err(PromotionRejection::RedemptionWasReleased {
                code: code.clone(),
                order_id: order_id.clone(),
            })
        } else if existing.customer_id.as_ref() == customer_id && existing.subtotal == subtotal {
            Ok(vec![])
        } else {
            Err(PromotionRejection::OrderAlreadyRedeemed {
                code: code.clone(),
                order_id: order_id.clone(),
            })
        };
    }
    if let Some(reason) = state.deactivation_reason() {
        return Err(PromotionRejection::Inactive {
            code: code.clone(),
            reason: reason.to_owned(),
        });
    }
    if ctx.now < terms.valid_from {
        return Err(PromotionRejection::NotYetValid {
            code: code.clone(),
            valid_from: terms.valid_from,
        });
    }
    if ctx.now >= terms.valid_until {
        return Err(PromotionRejection::Expired {
            code: code.clone(),
            valid_until: terms.valid_until,
        });
    }
    if subtotal.amount <= 0 {
        return Err(PromotionRejection::NonPositiveSubtotal { subtotal });
    }
    let mismatch = |expected| PromotionRejection::CurrencyMismatch {
        code: code.clone(),
        expected,
        found: subtotal.currency,
    };
    if let Some(currency) = terms.currency()
        && currency != subtotal.currency
    {
        return Err(mismatch(currency));
    }
    if let Some(minimum) = terms.minimum_subtotal
        && subtotal.amount < minimum.amount
    {
        return Err(PromotionRejection::BelowMinimum {
            code: code.clone(),
            subtotal,
            minimum,
        });
    }
    if let Some(limit) = terms.usage_limit
        && state.usage_count() >= limit
    {
        return Err(PromotionRejection::UsageLimitReached {
            code: code.clone(),
            limit,
        });
    }
    let customer_usage_count = match (terms.per_customer_limit, customer_id) {
        (Some(_), None) => {
            return Err(PromotionRejection::CustomerRequired { code: code.clone() });
        }
        (Some(limit), Some(customer)) if state.customer_usage(customer) >= limit => {
            return Err(PromotionRejection::CustomerLimitReached {
                code: code.clone(),
                customer_id: customer.clone(),
                limit,
            });
        }
        (_, Some(customer)) => Some(state.customer_usage(customer).saturating_add(1)),
        (None, None) => None,
    };
    let discount_amount = terms
        .discount
        .amount_off(subtotal)
        .map_err(|_| mismatch(terms.currency().unwrap_or(subtotal.currency)))?;
    Ok(vec![PromotionEvent::PromotionRedeemed {
        code: code.clone(),
        order_id: order_id.clone(),
        customer_id: customer_id.cloned(),
        subtotal,
        discount_amount,
        usage_count: state.usage_count().saturating_add(1),
        customer_usage_count,
    }])
}

fn release(state: &PromotionState, order_id: &OrderId, reason: &str) -> Decision {
    // Nothing redeemed (unknown promotion or order) or already given back: nothing to release.
    let Some(terms) = state.terms() else {
        return Ok(vec![]);
    };
    let Some(redemption) = state.redemption(order_id).filter(|r| !r.released) else {
        return Ok(vec![]);
    };
    validate_reason(reason)?;
    let customer_usage_count = redemption
        .customer_id
        .as_ref()
        .map(|c| state.customer_usage(c).saturating_sub(1));
    Ok(vec![PromotionEvent::RedemptionReleased {
        code: terms.code.clone(),
        order_id: order_id.clone(),
        customer_id: redemption.customer_id.clone(),
        discount_amount: redemption.discount_amount,
        reason: reason.to_owned(),
        usage_count: state.usage_count().saturating_sub(1),
        customer_usage_count,
    }])
}
