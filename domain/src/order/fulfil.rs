//! The rules for fulfilment: shipping, delivery and cancellation.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::decide::{Decision, check_text, placed};
use super::state::Placement;
use super::{
    CancelReason, MAX_CARRIER_CHARS, MAX_REASON_CHARS, MAX_TRACKING_CHARS, OrderEvent as E,
    OrderRejection as R, OrderState, OrderStatus as S,
};
use crate::{Money, OrderId};

pub(super) fn ship(
    state: &OrderState,
    order_id: &OrderId,
    carrier: &str,
    tracking_number: &str,
    at: DateTime<Utc>,
) -> Decision {
    placed(state, "ship")?;
    check_text(carrier, "carrier", MAX_CARRIER_CHARS)?;
    check_text(tracking_number, "tracking number", MAX_TRACKING_CHARS)?;
    if let Some(recorded) = state.shipment() {
        return if recorded.carrier == carrier && recorded.tracking_number == tracking_number {
            Ok(vec![])
        } else {
            Err(R::ShipmentConflict {
                carrier: recorded.carrier.clone(),
                tracking_number: recorded.tracking_number.clone(),
            })
        };
    }
    match state.status() {
        S::Confirmed => Ok(vec![E::OrderShipped {
            order_id: order_id.clone(),
            carrier: carrier.to_string(),
            tracking_number: tracking_number.to_string(),
            at,
        }]),
        status => Err(R::WrongStatus {
            action: "ship",
            status,
        }),
    }
}

pub(super) fn deliver(state: &OrderState, order_id: &OrderId, at: DateTime<Utc>) -> Decision {
    placed(state, "deliver")?;
    match state.status() {
        S::Shipped => Ok(vec![E::OrderDelivered {
            order_id: order_id.clone(),
            at,
        }]),
        S::Delivered => Ok(vec![]),
        status => Err(R::WrongStatus {
            action: "deliver",
            status,
        }),
    }
}

pub(super) fn cancel(
    state: &OrderState,
    order_id: &OrderId,
    reason: &CancelReason,
    at: DateTime<Utc>,
) -> Decision {
    let placement = placed(state, "cancel")?;
    check_reason(placement, reason)?;
    match state.status() {
        from @ (S::Placed | S::PaymentPending | S::Confirmed) => {
            let currency = placement.currency;
            let refund_due = Money::new(state.captured.unwrap_or(0), currency)
                .checked_sub(Money::new(state.refunded, currency))?;
            Ok(vec![E::OrderCancelled {
                order_id: order_id.clone(),
                reason: reason.clone(),
                from,
                was_confirmed: from == S::Confirmed,
                payment_id: state.payment_id().cloned(),
                refund_due,
                at,
            }])
        }
        S::Cancelled => match state.cancel_reason() {
            Some(recorded) if recorded != reason => Err(R::AlreadyCancelled {
                reason: recorded.clone(),
            }),
            _ => Ok(vec![]),
        },
        status @ (S::Shipped | S::Delivered) => Err(R::CancelAfterShipping { status }),
        status => Err(R::WrongStatus {
            action: "cancel",
            status,
        }),
    }
}

/// Out-of-stock SKUs: at least one, each once, each on the order; an administrator's note: text.
fn check_reason(placement: &Placement, reason: &CancelReason) -> Result<(), R> {
    match reason {
        CancelReason::OutOfStock { skus } => {
            if skus.is_empty() {
                return Err(R::NoOutOfStockSkus);
            }
            let mut seen = BTreeSet::new();
            for sku in skus {
                if !seen.insert(sku) {
                    return Err(R::DuplicateSku { sku: sku.clone() });
                }
                if !placement.lines.iter().any(|l| &l.sku == sku) {
                    return Err(R::SkuNotOnOrder { sku: sku.clone() });
                }
            }
            Ok(())
        }
        CancelReason::Admin { note } => check_text(note, "cancellation note", MAX_REASON_CHARS),
        CancelReason::CustomerRequest | CancelReason::Expired => Ok(()),
    }
}
