//! Orders read model: per customer, with status, lines, totals, payment and shipment, and a
//! status timeline (one row per order event, keyed by the event's revision in the order stream).

use async_trait::async_trait;
use shop_domain::order::{OrderEvent, OrderStatus};
use shop_eventstore::RecordedEvent;

use super::{json, millis};
use crate::rows::{Rows, TableDef, TableRow, text};
use crate::runner::{ApplyError, Projection};
use crate::table;

table! {
    /// An order.
    pub struct OrderRow in "orders" {
        key { order_id: String }
        fields {
            customer_id: Option<String>,
            cart_id: Option<String>,
            /// `placed`, `payment_pending`, `confirmed`, `shipped`, `delivered`, `payment_failed`,
            /// `cancelled`.
            status: String,
            currency: String,
            subtotal: i64,
            discount: i64,
            tax: i64,
            shipping: i64,
            total: i64,
            captured: i64,
            refunded: i64,
            payment_id: Option<String>,
            promo_code: Option<String>,
            shipping_method: String,
            /// JSON.
            shipping_address: String,
            /// JSON.
            billing_address: String,
            line_count: i64,
            carrier: Option<String>,
            tracking_number: Option<String>,
            cancel_reason: Option<String>,
            failure_reason: Option<String>,
            placed_at: i64,
            updated_at: i64,
        }
        indexes [["customer_id", "placed_at"], ["status", "updated_at"]]
    }
}

table! {
    /// One line of an order.
    pub struct OrderLineRow in "order_lines" {
        key { order_id: String, sku: String }
        fields {
            product_id: String,
            quantity: i64,
            unit_price: i64,
            subtotal: i64,
            position: i64,
        }
        indexes [["product_id"]]
    }
}

table! {
    /// A step of an order's status timeline.
    pub struct TimelineRow in "order_timeline" {
        append_only;
        key { order_id: String, revision: i64 }
        fields {
            /// The event, e.g. `OrderShipped`.
            event: String,
            /// The status after it.
            status: String,
            detail: Option<String>,
            at: i64,
        }
        indexes []
    }
}

/// The orders projection.
#[derive(Debug, Clone, Copy)]
pub struct OrdersModel;

fn status_code(status: OrderStatus) -> String {
    status.code().to_owned()
}

#[async_trait]
impl Projection for OrdersModel {
    fn name(&self) -> &'static str {
        "orders"
    }

    fn rebuild_weight(&self) -> u32 {
        8
    }

    fn tables(&self) -> &'static [&'static TableDef] {
        &[OrderRow::TABLE, OrderLineRow::TABLE, TimelineRow::TABLE]
    }

    fn categories(&self) -> &'static [&'static str] {
        &["order"]
    }

    async fn apply(&self, event: &RecordedEvent, rows: &mut Rows<'_>) -> Result<(), ApplyError> {
        let decoded = rows.decode::<OrderEvent>(event)?;
        let id = decoded.order_id().to_string();
        let at = millis(decoded.at());
        let name = event
            .event_type
            .split('.')
            .nth(1)
            .unwrap_or(&event.event_type)
            .to_owned();
        if let OrderEvent::OrderPlaced {
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
        } = &*decoded
        {
            rows.put(OrderRow {
                order_id: id.clone(),
                customer_id: customer_id.as_ref().map(ToString::to_string),
                cart_id: cart_id.as_ref().map(ToString::to_string),
                status: status_code(OrderStatus::Placed),
                currency: currency.to_string(),
                subtotal: totals.subtotal.amount,
                discount: totals.discount.amount,
                tax: totals.tax.amount,
                shipping: totals.shipping.amount,
                total: totals.total.amount,
                captured: 0,
                refunded: 0,
                payment_id: None,
                promo_code: promo_code.as_ref().map(ToString::to_string),
                shipping_method: shipping_method.clone(),
                shipping_address: json(shipping_address),
                billing_address: json(billing_address),
                line_count: lines.len() as i64,
                carrier: None,
                tracking_number: None,
                cancel_reason: None,
                failure_reason: None,
                placed_at: at,
                updated_at: at,
            });
            for (i, line) in lines.iter().enumerate() {
                rows.put(OrderLineRow {
                    order_id: id.clone(),
                    sku: line.sku.to_string(),
                    product_id: line.product_id.to_string(),
                    quantity: i64::from(line.quantity),
                    unit_price: line.unit_price.amount,
                    subtotal: line.subtotal.amount,
                    position: i as i64,
                });
            }
            rows.append(TimelineRow {
                order_id: id,
                revision: event.revision as i64,
                event: name,
                status: status_code(OrderStatus::Placed),
                detail: None,
                at,
            });
            return Ok(());
        }
        let Some(mut order) = rows.get::<OrderRow>(vec![text(&id)]).await? else {
            return Err(ApplyError::Poison(format!(
                "{} for order {id}, which was never placed",
                event.event_type
            )));
        };
        let (status, detail) = match &*decoded {
            OrderEvent::OrderPlaced { .. } => unreachable!("handled above"),
            OrderEvent::PaymentPending { payment_id, .. } => {
                order.payment_id = Some(payment_id.to_string());
                (
                    Some(OrderStatus::PaymentPending),
                    Some(format!("payment {payment_id}")),
                )
            }
            OrderEvent::OrderConfirmed { .. } => (Some(OrderStatus::Confirmed), None),
            OrderEvent::PaymentCaptured { amount, .. } => {
                order.captured = amount.amount;
                (None, Some(format!("captured {amount}")))
            }
            OrderEvent::PaymentFailed { reason, .. } => {
                order.failure_reason = Some(reason.clone());
                (Some(OrderStatus::PaymentFailed), Some(reason.clone()))
            }
            OrderEvent::OrderShipped {
                carrier,
                tracking_number,
                ..
            } => {
                let detail = format!("{carrier} {tracking_number}");
                order.carrier = Some(carrier.clone());
                order.tracking_number = Some(tracking_number.clone());
                (Some(OrderStatus::Shipped), Some(detail))
            }
            OrderEvent::OrderDelivered { .. } => (Some(OrderStatus::Delivered), None),
            OrderEvent::OrderCancelled { reason, .. } => {
                order.cancel_reason = Some(reason.to_string());
                (Some(OrderStatus::Cancelled), Some(reason.to_string()))
            }
            OrderEvent::OrderRefunded {
                amount,
                total_refunded,
                reason,
                ..
            } => {
                order.refunded = total_refunded.amount;
                (None, Some(format!("refunded {amount}: {reason}")))
            }
        };
        if let Some(status) = status {
            order.status = status_code(status);
        }
        order.updated_at = at;
        rows.append(TimelineRow {
            order_id: id.clone(),
            revision: event.revision as i64,
            event: name,
            status: order.status.clone(),
            detail,
            at,
        });
        rows.put(order);
        Ok(())
    }
}
