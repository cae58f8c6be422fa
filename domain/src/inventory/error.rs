//! Why the inventory refuses a command.

use chrono::{DateTime, Utc};

use super::{AdjustmentReason, ReleaseReason};
use crate::{OrderId, Sku, WarehouseId};

/// A refused inventory command; the message says what to do instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InventoryRejection {
    /// The command names another SKU than this stream's.
    #[error("this is the inventory of SKU {expected}; the command is for SKU {got}")]
    WrongSku {
        /// The stream's SKU.
        expected: Sku,
        /// The command's SKU.
        got: Sku,
    },
    /// A quantity or delta of zero or beyond the per-command limit.
    #[error("quantity {quantity} is invalid: use 1 to {max} units per command")]
    InvalidQuantity {
        /// What was asked (a signed delta for adjustments).
        quantity: i64,
        /// The per-command limit.
        max: u32,
    },
    /// A text is blank or too long.
    #[error("the {field} must be 1 to {max} characters and not blank")]
    InvalidText {
        /// Which text.
        field: &'static str,
        /// Its length limit in characters.
        max: usize,
    },
    /// The SKU already sits in as many warehouses as allowed.
    #[error("SKU {sku} is already stocked in {max} warehouses; use one of them")]
    TooManyWarehouses {
        /// The SKU.
        sku: Sku,
        /// The limit.
        max: usize,
    },
    /// An adjustment would take a warehouse's available stock below zero.
    #[error(
        "cannot adjust warehouse {warehouse} by {delta}: only {available} units are available \
         (reserved and committed stock cannot be adjusted away)"
    )]
    AdjustmentBelowZero {
        /// The warehouse.
        warehouse: WarehouseId,
        /// Its available stock.
        available: u64,
        /// The requested change.
        delta: i32,
    },
    /// The adjustment's sign contradicts its reason (damage that adds stock, found goods that
    /// remove it).
    #[error("a '{reason}' adjustment cannot change stock by {delta}; check the sign or the reason")]
    AdjustmentDirection {
        /// The reason given.
        reason: AdjustmentReason,
        /// The requested change.
        delta: i32,
    },
    /// Not enough sellable stock, and no backorders allowed.
    #[error("only {available} of SKU {sku} available, {requested} requested")]
    InsufficientStock {
        /// The SKU.
        sku: Sku,
        /// Units asked for.
        requested: u32,
        /// Units that could be reserved now.
        available: u64,
    },
    /// Backorders are allowed but this reservation would exceed the limit.
    #[error(
        "only {available} of SKU {sku} available and {headroom} more may be backordered, \
         {requested} requested"
    )]
    BackorderLimitExceeded {
        /// The SKU.
        sku: Sku,
        /// Units asked for.
        requested: u32,
        /// Units that could be reserved from stock.
        available: u64,
        /// Units that could still be backordered.
        headroom: u64,
    },
    /// The order already holds a reservation for a different quantity.
    #[error(
        "order {order_id} already reserved {reserved} units; release it before reserving \
         {requested}"
    )]
    ReservationConflict {
        /// The order.
        order_id: OrderId,
        /// Its reserved quantity.
        reserved: u32,
        /// The quantity now asked for.
        requested: u32,
    },
    /// No reservation for this order.
    #[error("there is no reservation for order {order_id}")]
    UnknownReservation {
        /// The order.
        order_id: OrderId,
    },
    /// The reservation was released and cannot be used again.
    #[error("the reservation of order {order_id} was released ({reason}); reserve for a new order")]
    ReservationReleased {
        /// The order.
        order_id: OrderId,
        /// Why it was released.
        reason: ReleaseReason,
    },
    /// The reservation's stock has shipped; nothing is left to release.
    #[error("the stock of order {order_id} has already shipped; record a return instead")]
    AlreadyShipped {
        /// The order.
        order_id: OrderId,
    },
    /// A committed (sold) reservation can only be released by cancelling the order.
    #[error(
        "the reservation of order {order_id} is committed to a sale; only cancelling the order \
         releases it, not '{reason}'"
    )]
    ReservationCommitted {
        /// The order.
        order_id: OrderId,
        /// The reason that was given.
        reason: ReleaseReason,
    },
    /// Shipping needs a committed reservation.
    #[error("the reservation of order {order_id} is not committed yet; commit it before shipping")]
    NotCommitted {
        /// The order.
        order_id: OrderId,
    },
    /// An `expired` release before the hold lapsed.
    #[error("the reservation of order {order_id} holds until {expires_at}; it has not expired")]
    NotYetExpired {
        /// The order.
        order_id: OrderId,
        /// When it lapses.
        expires_at: DateTime<Utc>,
    },
    /// The requested expiry is not in the future or too far in it.
    #[error(
        "a reservation must expire after now ({now}) and within {max_days} days; \
         {expires_at} is not"
    )]
    InvalidExpiry {
        /// The requested expiry.
        expires_at: DateTime<Utc>,
        /// The command's time.
        now: DateTime<Utc>,
        /// The longest hold in days.
        max_days: i64,
    },
    /// The order's backordered units have not all arrived.
    #[error(
        "order {order_id} needs {backordered} backordered units of SKU {sku} but only \
         {available} are available; receive stock before shipping"
    )]
    BackorderNotInStock {
        /// The SKU.
        sku: Sku,
        /// The order.
        order_id: OrderId,
        /// Its backordered units.
        backordered: u32,
        /// Units available now.
        available: u64,
    },
    /// A backorder limit of zero or beyond the maximum.
    #[error("backorder limit {limit} is invalid: use 1 to {max}, or clear the policy")]
    InvalidBackorderLimit {
        /// The requested limit.
        limit: u32,
        /// The maximum.
        max: u32,
    },
}
