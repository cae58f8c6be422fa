//! The inventory's rules.

use chrono::{DateTime, Utc};

use super::state::Entry;
use super::{
    AdjustmentReason, Allocation, DEFAULT_RESERVATION_HOLD, InventoryCommand as C,
    InventoryEvent as E, InventoryRejection as R, InventoryState, MAX_BACKORDER_LIMIT,
    MAX_NOTE_CHARS, MAX_QUANTITY, MAX_REASON_CHARS, MAX_RESERVATION_HOLD, MAX_WAREHOUSES,
    ReleaseReason, ReservationStage, ReservationStatus,
};
use crate::{Context, OrderId, Sku, WarehouseId};

type Decision = Result<Vec<E>, R>;

pub(super) fn decide(state: &InventoryState, command: &C, ctx: &Context) -> Decision {
    if let Some(expected) = state.sku()
        && expected != command.sku()
    {
        return Err(R::WrongSku {
            expected: expected.clone(),
            got: command.sku().clone(),
        });
    }
    match command {
        C::ReceiveStock {
            sku,
            warehouse,
            quantity,
            note,
        } => receive(state, sku, warehouse, *quantity, note),
        C::AdjustStock {
            sku,
            warehouse,
            delta,
            reason,
        } => adjust(state, sku, warehouse, *delta, reason),
        C::ReserveStock {
            sku,
            order_id,
            quantity,
            expires_at,
        } => reserve(state, sku, order_id, *quantity, *expires_at, ctx),
        C::ReleaseReservation {
            sku,
            order_id,
            reason,
        } => release(state, sku, order_id, *reason, ctx),
        C::CommitReservation { sku, order_id } => commit(state, sku, order_id),
        C::ShipStock { sku, order_id } => ship(state, sku, order_id),
        C::SetBackorderPolicy { sku, limit } => {
            if *limit == 0 || *limit > MAX_BACKORDER_LIMIT {
                return Err(R::InvalidBackorderLimit {
                    limit: *limit,
                    max: MAX_BACKORDER_LIMIT,
                });
            }
            if state.backorder_limit() == Some(*limit) {
                return Ok(vec![]);
            }
            Ok(vec![E::BackorderPolicySet {
                sku: sku.clone(),
                limit: *limit,
            }])
        }
        C::ClearBackorderPolicy { sku } => Ok(match state.backorder_limit() {
            None => vec![],
            Some(_) => vec![E::BackorderPolicyCleared { sku: sku.clone() }],
        }),
    }
}

fn check_quantity(quantity: i64) -> Result<(), R> {
    if quantity == 0 || quantity.unsigned_abs() > u64::from(MAX_QUANTITY) {
        return Err(R::InvalidQuantity {
            quantity,
            max: MAX_QUANTITY,
        });
    }
    Ok(())
}

fn check_text(text: &str, field: &'static str, max: usize) -> Result<(), R> {
    if text.trim().is_empty() || text.chars().count() > max {
        return Err(R::InvalidText { field, max });
    }
    Ok(())
}

/// A new warehouse may only be opened while the SKU is under the warehouse limit.
fn check_warehouse(state: &InventoryState, sku: &Sku, warehouse: &WarehouseId) -> Result<(), R> {
    if !state.knows_warehouse(warehouse) && state.warehouse_count() >= MAX_WAREHOUSES {
        return Err(R::TooManyWarehouses {
            sku: sku.clone(),
            max: MAX_WAREHOUSES,
        });
    }
    Ok(())
}

fn receive(
    state: &InventoryState,
    sku: &Sku,
    warehouse: &WarehouseId,
    quantity: u32,
    note: &Option<String>,
) -> Decision {
    check_quantity(i64::from(quantity))?;
    if let Some(note) = note {
        check_text(note, "receipt note", MAX_NOTE_CHARS)?;
    }
    check_warehouse(state, sku, warehouse)?;
    Ok(vec![E::StockReceived {
        sku: sku.clone(),
        warehouse: warehouse.clone(),
        quantity,
        note: note.clone(),
    }])
}

fn adjust(
    state: &InventoryState,
    sku: &Sku,
    warehouse: &WarehouseId,
    delta: i32,
    reason: &AdjustmentReason,
) -> Decision {
    check_quantity(i64::from(delta))?;
    let direction_ok = match reason {
        AdjustmentReason::Damaged | AdjustmentReason::Lost => delta < 0,
        AdjustmentReason::Found => delta > 0,
        AdjustmentReason::CountCorrection => true,
        AdjustmentReason::Other { text } => {
            check_text(text, "adjustment reason", MAX_REASON_CHARS)?;
            true
        }
    };
    if !direction_ok {
        return Err(R::AdjustmentDirection {
            reason: reason.clone(),
            delta,
        });
    }
    let available = state.level(warehouse).available;
    if delta < 0 && u64::from(delta.unsigned_abs()) > available {
        return Err(R::AdjustmentBelowZero {
            warehouse: warehouse.clone(),
            available,
            delta,
        });
    }
    check_warehouse(state, sku, warehouse)?;
    Ok(vec![E::StockAdjusted {
        sku: sku.clone(),
        warehouse: warehouse.clone(),
        delta,
        reason: reason.clone(),
    }])
}

/// The warehouse choice rule: greedily, from the most available stock down (ties by ascending
/// warehouse id). The caller guarantees `quantity` does not exceed the total available.
fn pick(state: &InventoryState, quantity: u64) -> Vec<Allocation> {
    let mut candidates: Vec<_> = state.levels().filter(|(_, l)| l.available > 0).collect();
    candidates.sort_by(|(a_id, a), (b_id, b)| b.available.cmp(&a.available).then(a_id.cmp(b_id)));
    let mut left = quantity;
    let mut allocations = Vec::new();
    for (warehouse, level) in candidates {
        if left == 0 {
            break;
        }
        let take = left.min(level.available);
        // `take <= quantity`, which came from a u32.
        let Ok(units) = u32::try_from(take) else {
            break;
        };
        allocations.push(Allocation {
            warehouse: warehouse.clone(),
            quantity: units,
        });
        left -= take;
    }
    allocations
}

fn reserve(
    state: &InventoryState,
    sku: &Sku,
    order_id: &OrderId,
    quantity: u32,
    expires_at: Option<DateTime<Utc>>,
    ctx: &Context,
) -> Decision {
    check_quantity(i64::from(quantity))?;
    if let Some(entry) = state.entry(order_id) {
        return match entry.status {
            ReservationStatus::Released { reason } => Err(R::ReservationReleased {
                order_id: order_id.clone(),
                reason,
            }),
            _ if entry.quantity == quantity => Ok(vec![]),
            _ => Err(R::ReservationConflict {
                order_id: order_id.clone(),
                reserved: entry.quantity,
                requested: quantity,
            }),
        };
    }
    let latest = ctx.now.checked_add_signed(MAX_RESERVATION_HOLD);
    let expires_at = expires_at
        .or_else(|| ctx.now.checked_add_signed(DEFAULT_RESERVATION_HOLD))
        .filter(|at| *at > ctx.now && latest.is_some_and(|latest| *at <= latest))
        .ok_or(R::InvalidExpiry {
            expires_at: expires_at.unwrap_or(ctx.now),
            now: ctx.now,
            max_days: MAX_RESERVATION_HOLD.num_days(),
        })?;

    let sellable = state.sellable();
    let from_stock = u64::from(quantity).min(sellable);
    // `from_stock <= quantity`, so the difference fits.
    let backordered = u32::try_from(u64::from(quantity) - from_stock).unwrap_or(quantity);
    if backordered > 0 {
        let Some(limit) = state.backorder_limit() else {
            return Err(R::InsufficientStock {
                sku: sku.clone(),
                requested: quantity,
                available: sellable,
            });
        };
        let headroom = u64::from(limit).saturating_sub(state.backordered());
        if u64::from(backordered) > headroom {
            return Err(R::BackorderLimitExceeded {
                sku: sku.clone(),
                requested: quantity,
                available: sellable,
                headroom,
            });
        }
    }
    Ok(vec![E::StockReserved {
        sku: sku.clone(),
        order_id: order_id.clone(),
        quantity,
        allocations: pick(state, from_stock),
        backordered,
        expires_at,
    }])
}

fn known<'a>(state: &'a InventoryState, order_id: &OrderId) -> Result<&'a Entry, R> {
    state.entry(order_id).ok_or_else(|| R::UnknownReservation {
        order_id: order_id.clone(),
    })
}

fn release(
    state: &InventoryState,
    sku: &Sku,
    order_id: &OrderId,
    reason: ReleaseReason,
    ctx: &Context,
) -> Decision {
    let entry = known(state, order_id)?;
    let stage = match entry.status {
        ReservationStatus::Released { .. } => return Ok(vec![]),
        ReservationStatus::Shipped => {
            return Err(R::AlreadyShipped {
                order_id: order_id.clone(),
            });
        }
        ReservationStatus::Committed if reason != ReleaseReason::Cancelled => {
            return Err(R::ReservationCommitted {
                order_id: order_id.clone(),
                reason,
            });
        }
        ReservationStatus::Committed => ReservationStage::Committed,
        ReservationStatus::Reserved { expires_at }
            if reason == ReleaseReason::Expired && ctx.now < expires_at =>
        {
            return Err(R::NotYetExpired {
                order_id: order_id.clone(),
                expires_at,
            });
        }
        ReservationStatus::Reserved { .. } => ReservationStage::Reserved,
    };
    Ok(vec![E::ReservationReleased {
        sku: sku.clone(),
        order_id: order_id.clone(),
        quantity: entry.quantity,
        allocations: state.allocations(entry),
        backordered: entry.backordered,
        stage,
        reason,
    }])
}

fn commit(state: &InventoryState, sku: &Sku, order_id: &OrderId) -> Decision {
    let entry = known(state, order_id)?;
    match entry.status {
        ReservationStatus::Committed | ReservationStatus::Shipped => Ok(vec![]),
        ReservationStatus::Released { reason } => Err(R::ReservationReleased {
            order_id: order_id.clone(),
            reason,
        }),
        // A lapsed hold that nobody released yet still holds its stock: the sale may proceed.
        ReservationStatus::Reserved { .. } => Ok(vec![E::ReservationCommitted {
            sku: sku.clone(),
            order_id: order_id.clone(),
            quantity: entry.quantity,
            allocations: state.allocations(entry),
            backordered: entry.backordered,
        }]),
    }
}

fn ship(state: &InventoryState, sku: &Sku, order_id: &OrderId) -> Decision {
    let entry = known(state, order_id)?;
    match entry.status {
        ReservationStatus::Shipped => return Ok(vec![]),
        ReservationStatus::Released { reason } => {
            return Err(R::ReservationReleased {
                order_id: order_id.clone(),
                reason,
            });
        }
        ReservationStatus::Reserved { .. } => {
            return Err(R::NotCommitted {
                order_id: order_id.clone(),
            });
        }
        ReservationStatus::Committed => {}
    }
    let available = state.available();
    if u64::from(entry.backordered) > available {
        return Err(R::BackorderNotInStock {
            sku: sku.clone(),
            order_id: order_id.clone(),
            backordered: entry.backordered,
            available,
        });
    }
    Ok(vec![E::StockShipped {
        sku: sku.clone(),
        order_id: order_id.clone(),
        quantity: entry.quantity,
        allocations: state.allocations(entry),
        backorder_allocations: pick(state, u64::from(entry.backordered)),
    }])
}
