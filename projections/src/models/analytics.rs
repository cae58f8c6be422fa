//! Analytics: revenue and units per product per day, and "customers who bought this also
//! bought" counts, both from confirmed orders. An order counts on the day it was confirmed (UTC),
//! at its lines' merchandise subtotals (before discount, tax and shipping); an order cancelled
//! after confirmation is taken out again from that same day.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shop_domain::order::OrderEvent;
use shop_eventstore::RecordedEvent;

use super::json;
use crate::rows::{Rows, TableDef, TableRow, text};
use crate::runner::{ApplyError, Projection};
use crate::table;

table! {
    /// Sales of one product on one day.
    pub struct ProductDay in "analytics_product_daily" {
        key { product_id: String, day: String, currency: String }
        fields { units: i64, revenue: i64, orders: i64 }
        indexes [["day"]]
    }
}

table! {
    /// How many confirmed orders contained both products.
    pub struct CoPurchase in "analytics_co_purchases" {
        key { product_id: String, other_product_id: String }
        fields { orders: i64 }
        indexes [["product_id", "orders"]]
    }
}

table! {
    /// What analytics remembers of an order (internal).
    pub struct OrderFacts in "analytics_orders" {
        key { order_id: String }
        fields {
            currency: String,
            /// JSON: product id → [units, revenue].
            products: String,
            /// The day it was counted on, once confirmed.
            counted_day: Option<String>,
        }
        indexes []
    }
}

/// The analytics projection.
#[derive(Debug, Clone, Copy)]
pub struct Analytics;

type Products = BTreeMap<String, (i64, i64)>;

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

impl Analytics {
    /// Adds (`sign` 1) or takes out (-1) an order's products on `day`.
    async fn count(
        rows: &mut Rows<'_>,
        facts: &OrderFacts,
        day: &str,
        sign: i64,
    ) -> Result<(), ApplyError> {
        let products: Products = serde_json::from_str(&facts.products)
            .map_err(|e| ApplyError::Poison(format!("stored order products: {e}")))?;
        for (product, (units, revenue)) in &products {
            let key = vec![text(product), text(day), text(&facts.currency)];
            let mut row = rows.get::<ProductDay>(key).await?.unwrap_or(ProductDay {
                product_id: product.clone(),
                day: day.to_owned(),
                currency: facts.currency.clone(),
                units: 0,
                revenue: 0,
                orders: 0,
            });
            row.units += sign * units;
            row.revenue += sign * revenue;
            row.orders += sign;
            rows.put(row);
            for other in products.keys().filter(|o| *o != product) {
                let key = vec![text(product), text(other)];
                let mut pair = rows.get::<CoPurchase>(key).await?.unwrap_or(CoPurchase {
                    product_id: product.clone(),
                    other_product_id: other.clone(),
                    orders: 0,
                });
                pair.orders += sign;
                if pair.orders > 0 {
                    rows.put(pair);
                } else {
                    rows.delete::<CoPurchase>(vec![text(product), text(other)]);
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Projection for Analytics {
    fn name(&self) -> &'static str {
        "analytics"
    }

    fn rebuild_weight(&self) -> u32 {
        3
    }

    fn tables(&self) -> &'static [&'static TableDef] {
        &[ProductDay::TABLE, CoPurchase::TABLE, OrderFacts::TABLE]
    }

    fn categories(&self) -> &'static [&'static str] {
        &["order"]
    }

    async fn apply(&self, event: &RecordedEvent, rows: &mut Rows<'_>) -> Result<(), ApplyError> {
        let decoded = rows.decode::<OrderEvent>(event)?;
        let id = decoded.order_id().to_string();
        match &*decoded {
            OrderEvent::OrderPlaced {
                lines, currency, ..
            } => {
                let mut products = Products::new();
                for line in lines {
                    let entry = products.entry(line.product_id.to_string()).or_default();
                    entry.0 += i64::from(line.quantity);
                    entry.1 += line.subtotal.amount;
                }
                rows.put(OrderFacts {
                    order_id: id,
                    currency: currency.to_string(),
                    products: json(&products),
                    counted_day: None,
                });
            }
            OrderEvent::OrderConfirmed { at, .. } => {
                if let Some(mut facts) = rows.get::<OrderFacts>(vec![text(&id)]).await?
                    && facts.counted_day.is_none()
                {
                    let d = day(*at);
                    Self::count(rows, &facts, &d, 1).await?;
                    facts.counted_day = Some(d);
                    rows.put(facts);
                }
            }
            OrderEvent::OrderCancelled { .. } => {
                if let Some(mut facts) = rows.get::<OrderFacts>(vec![text(&id)]).await?
                    && let Some(d) = facts.counted_day.take()
                {
                    Self::count(rows, &facts, &d, -1).await?;
                    rows.put(facts);
                }
            }
            _ => {}
        }
        Ok(())
    }
}
