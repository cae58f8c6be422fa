//! The read models. Each is a [`Projection`](crate::runner::Projection) owning its tables;
//! [`all`] lists them for a runner.

pub mod analytics;
pub mod audit;
pub mod carts;
pub mod catalog;
pub mod invariants;
pub mod inventory;
pub mod orders;
pub mod payments;
pub mod sagas;
pub mod search;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::runner::Projection;

/// Read-model settings.
#[derive(Clone, Debug)]
pub struct ModelOptions {
    /// At or below this many available units a SKU shows as "low stock".
    pub low_stock_threshold: i64,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            low_stock_threshold: 5,
        }
    }
}

/// Every read model.
pub fn all(options: &ModelOptions) -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(catalog::Catalog::new(options.low_stock_threshold)),
        Arc::new(inventory::InventoryModel),
        Arc::new(invariants::InvariantChecker),
        Arc::new(carts::CartsModel),
        Arc::new(orders::OrdersModel),
        Arc::new(payments::PaymentsModel),
        Arc::new(audit::OrderAudit),
        Arc::new(sagas::SagasModel),
        Arc::new(analytics::Analytics),
        Arc::new(search::SearchModel),
    ]
}

/// How an inventory event changes a SKU's units available for sale, over all warehouses
/// (reservations take units, releases give them back, shipping a backorder takes them; committing
/// a reservation moves units that were already unavailable).
pub(crate) fn available_delta(event: &shop_domain::inventory::InventoryEvent) -> i64 {
    use shop_domain::inventory::{Allocation, InventoryEvent};
    let units = |allocations: &[Allocation]| -> i64 {
        allocations.iter().map(|a| i64::from(a.quantity)).sum()
    };
    match event {
        InventoryEvent::StockReceived { quantity, .. } => i64::from(*quantity),
        InventoryEvent::StockAdjusted { delta, .. } => i64::from(*delta),
        InventoryEvent::StockReserved { allocations, .. } => -units(allocations),
        InventoryEvent::ReservationReleased { allocations, .. } => units(allocations),
        InventoryEvent::StockShipped {
            backorder_allocations,
            ..
        } => -units(backorder_allocations),
        InventoryEvent::ReservationCommitted { .. }
        | InventoryEvent::BackorderPolicySet { .. }
        | InventoryEvent::BackorderPolicyCleared { .. } => 0,
    }
}

/// Unix milliseconds.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// A UUID as read models store it (lower-case, hyphenated), without going through `fmt`: the
/// audit trail writes three per event.
pub(crate) fn uuid_text(id: &uuid::Uuid) -> String {
    let mut buffer = uuid::Uuid::encode_buffer();
    id.hyphenated().encode_lower(&mut buffer).to_owned()
}

/// JSON text of a value (read models store nested data as JSON documents).
pub(crate) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}
