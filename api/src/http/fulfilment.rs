//! Fulfilment (admin): ship an order (its stock leaves), record delivery, refund through the
//! payment provider. Each checks the order's rules and `If-Match` before stock or money moves.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use shop_commands::gateway::{GatewayOutcome, RefundRequest};
use shop_domain::Money;
use shop_domain::inventory::InventoryCommand;
use shop_domain::order::{OrderCommand, RefundId};
use shop_domain::payment::PaymentCommand;
use utoipa::ToSchema;

use super::AppState;
use super::catalog::{Ack, MoneyBody};
use super::input::{Admin, Body, Write, actor};
use super::orders::{order_at, order_for};
use super::output::Written;
use crate::problem::Problem;

/// A shipment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipBody {
    /// The carrier.
    pub carrier: String,
    /// The tracking number.
    pub tracking_number: String,
}

/// Ships an order (admin): the order is marked shipped and its committed stock leaves.
#[utoipa::path(post, path = "/orders/{order_id}/ship", tag = "orders",
    params(("order_id" = String, Path)), request_body = ShipBody,
    responses((status = 200, description = "Shipped", body = Ack)),
    security(("bearer" = [])))]
pub async fn ship(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Admin(caller): Admin,
    headers: HeaderMap,
    write: Write,
    Body(body): Body<ShipBody>,
) -> Result<Written<Ack>, Problem> {
    let (id, order) = order_at(&app, &caller, &headers, &id, write.if_match).await?;
    let ship = OrderCommand::ShipOrder {
        order_id: id.clone(),
        carrier: body.carrier,
        tracking_number: body.tracking_number,
    };
    // The order's rules first (confirmed, carrier and tracking given), then the stock leaves,
    // then the order is marked shipped: a refusal never leaves an order shipped with its stock
    // still committed.
    let ctx = shop_domain::Context::at(app.clock.now());
    <shop_domain::order::Order as shop_domain::Aggregate>::decide(&order, &ship, &ctx)
        .map_err(shop_commands::CommandError::Rejected)?;
    let mut last = None;
    for line in order.lines() {
        let command = write
            .command(
                InventoryCommand::ShipStock {
                    sku: line.sku.clone(),
                    order_id: id.clone(),
                },
                actor(&caller),
            )
            .with_id(write.step(&format!("ship|{}", line.sku)));
        let shipped = app
            .inventory
            .handle(
                &line.sku,
                shop_commands::Command {
                    if_match: None,
                    ..command
                },
            )
            .await?;
        last = shipped.position.max(last);
    }
    // `If-Match` was checked before the stock moved; the order's own write must not fail on it
    // now that the stock has left.
    let ship = shop_commands::Command {
        if_match: None,
        ..write.command(ship, actor(&caller))
    };
    let outcome = app.orders.handle(&id, ship).await?;
    Ok(Written::ok(&outcome, Ack::of(id.as_str(), &outcome)).at(last))
}

/// Records delivery (admin).
#[utoipa::path(post, path = "/orders/{order_id}/deliver", tag = "orders",
    params(("order_id" = String, Path)),
    responses((status = 200, description = "Delivered", body = Ack)),
    security(("bearer" = [])))]
pub async fn deliver(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Admin(caller): Admin,
    headers: HeaderMap,
    write: Write,
) -> Result<Written<Ack>, Problem> {
    let (id, _) = order_for(&app, &caller, &headers, &id).await?;
    let command = OrderCommand::DeliverOrder {
        order_id: id.clone(),
    };
    let outcome = app
        .orders
        .handle(&id, write.command(command, actor(&caller)))
        .await?;
    Ok(Written::ok(&outcome, Ack::of(id.as_str(), &outcome)))
}

/// A refund.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// How much (at most what was captured and not yet refunded).
    pub amount: MoneyBody,
    /// Why (1 to 500 characters).
    pub reason: String,
}

/// Refunds (part of) a captured order through the payment provider (admin).
#[utoipa::path(post, path = "/orders/{order_id}/refund", tag = "orders",
    params(("order_id" = String, Path)), request_body = RefundBody,
    responses((status = 200, description = "Refunded", body = Ack)),
    security(("bearer" = [])))]
pub async fn refund(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Admin(caller): Admin,
    headers: HeaderMap,
    write: Write,
    Body(body): Body<RefundBody>,
) -> Result<Written<Ack>, Problem> {
    // Money leaves the shop: a retry must be recognisable, so the key is required.
    if !headers.contains_key(super::idempotent::KEY_HEADER) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "Idempotency-Key required",
            "a refund needs an Idempotency-Key, so that a retry cannot refund twice",
        ));
    }
    let (id, order) = order_at(&app, &caller, &headers, &id, write.if_match).await?;
    let amount: Money = body.amount.into();
    let refusal = |detail: String| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
            "Refused by the rules",
            detail,
        )
    };
    let refundable = order.refundable().unwrap_or(Money::zero(amount.currency));
    if amount.amount <= 0
        || amount.currency != refundable.currency
        || amount.amount > refundable.amount
    {
        return Err(refusal(format!(
            "a refund is positive and at most the refundable {} {}",
            refundable.amount, refundable.currency
        )));
    }
    let payment_id = order
        .payment_id()
        .cloned()
        .ok_or_else(|| refusal("the order has no payment".into()))?;
    let (payment, _) = app.payments.load(&payment_id).await?;
    let authorization = payment
        .authorization_reference()
        .ok_or_else(|| refusal("the payment was never authorized".into()))?
        .to_owned();
    // The refund's id names the provider call too: a retry repeats the same refund.
    let key = format!("refund-{}", write.step("refund").simple());
    let refund_id = RefundId::new(key.clone()).map_err(|e| Problem::internal(&e))?;
    let record_on_order = OrderCommand::RefundOrder {
        order_id: id.clone(),
        refund_id: refund_id.clone(),
        amount,
        reason: body.reason.clone(),
    };
    // The order's rules (reason, amount, number of refunds) are asked before any money moves:
    // a refusal after the provider paid would leave the money gone and the order unaware. A
    // refund already recorded under this id (a retry) passes.
    if order.refund(&refund_id).is_none() {
        let ctx = shop_domain::Context::at(app.clock.now());
        <shop_domain::order::Order as shop_domain::Aggregate>::decide(
            &order,
            &record_on_order,
            &ctx,
        )
        .map_err(|rejection| refusal(rejection.to_string()))?;
    }
    let answer = app
        .gateway
        .refund(RefundRequest {
            idempotency_key: key,
            authorization,
            amount,
        })
        .await;
    let reference = match answer {
        Ok(GatewayOutcome::Approved { reference, .. }) => reference,
        Ok(GatewayOutcome::Declined { code, message }) => {
            return Err(refusal(format!(
                "the provider declined the refund: {code}: {message}"
            )));
        }
        Err(shop_commands::gateway::GatewayError::Invalid(message)) => {
            return Err(refusal(format!(
                "the provider refused the refund: {message}"
            )));
        }
        Err(e) => {
            tracing::warn!(error = %e, "refund call failed");
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "gateway_unavailable",
                "Payment provider unavailable",
                "the refund could not be confirmed; retry with the same Idempotency-Key",
            )
            .retry_after(5));
        }
    };
    let record = PaymentCommand::RefundPayment {
        payment_id: payment_id.clone(),
        refund_id: refund_id.clone(),
        gateway_reference: reference,
        amount,
    };
    let command = write
        .command(record, actor(&caller))
        .with_id(write.step("payment"));
    let recorded = app
        .payments
        .handle(
            &payment_id,
            shop_commands::Command {
                if_match: None,
                ..command
            },
        )
        .await?;
    let command = write
        .command(record_on_order, actor(&caller))
        .with_id(write.step("order"));
    // `If-Match` was checked before the money moved.
    let command = shop_commands::Command {
        if_match: None,
        ..command
    };
    let outcome = app.orders.handle(&id, command).await?;
    Ok(Written::ok(&outcome, Ack::of(id.as_str(), &outcome)).at(recorded.position))
}
