//! Quotes and checkout. A quote prices a cart for a destination and shipping method with the
//! pure pricing functions (promotion discount, shipping, tax). Checking out closes the cart,
//! redeems its promotion, places the order with the quoted totals and records the start of the
//! checkout saga, then answers `202 Accepted`: the process managers reserve stock, authorize
//! the payment and confirm (or compensate) in the background; the client follows the order.
//!
//! Every step's command id is derived from the request's, and the order id from the cart, so a
//! retried checkout (same `Idempotency-Key`) completes the steps a failure interrupted without
//! doing any twice.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use shop_domain::cart::{CartCommand, CartOwner, CartState as Cart, CartStatus};
use shop_domain::checkout::CheckoutLine;
use shop_domain::order::{Order, OrderCommand, OrderLine, OrderStatus};
use shop_domain::pricing::{Destination, MissingRate, ShippingMethod, TaxRates, Totals};
use shop_domain::promotion::PromotionCommand;
use shop_domain::{Address, CartId, Currency, Discount, Money, OrderId, PaymentId};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::catalog::MoneyBody;
use super::input::{Body, Check, MaybeCaller, Write, actor, guest};
use super::output::Written;
use crate::problem::Problem;

/// Tax rates and shipping methods. Shipping prices are in minor units of the cart's currency.
#[derive(Clone, Debug)]
pub struct PricingConfig {
    /// Tax rates by destination.
    pub tax: TaxRates,
    /// The destination country when a quote names none.
    pub home_country: String,
    /// Shipping methods by name: (price, free from).
    pub shipping: BTreeMap<String, (i64, Option<i64>)>,
}

impl Default for PricingConfig {
    /// EU VAT standard rates for the shop's markets (unknown destinations are refused), and
    /// `standard` (4.90, free from 50.00) and `express` (9.90) shipping.
    fn default() -> Self {
        let tax = [
            ("AT", 2000),
            ("BE", 2100),
            ("DE", 1900),
            ("DK", 2500),
            ("ES", 2100),
            ("FI", 2550),
            ("FR", 2000),
            ("IE", 2300),
            ("IT", 2200),
            ("LU", 1700),
            ("NL", 2100),
            ("PL", 2300),
            ("PT", 2300),
            ("SE", 2500),
        ]
        .into_iter()
        .fold(TaxRates::new(MissingRate::Reject), |t, (c, r)| {
            t.with_country(c, r)
        })
        .taxing_shipping(true);
        Self {
            tax,
            home_country: "DE".into(),
            shipping: BTreeMap::from([
                ("standard".to_owned(), (490, Some(5000))),
                ("express".to_owned(), (990, None)),
            ]),
        }
    }
}

/// What a cart costs, delivered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Quote {
    /// Merchandise.
    pub subtotal: MoneyBody,
    /// Promotion discount.
    pub discount: MoneyBody,
    /// Tax.
    pub tax: MoneyBody,
    /// Shipping.
    pub shipping: MoneyBody,
    /// What the customer pays.
    pub total: MoneyBody,
    /// The destination country.
    pub country: String,
    /// The shipping method.
    pub shipping_method: String,
}

impl From<(&Totals, String, String)> for Quote {
    fn from((t, country, method): (&Totals, String, String)) -> Self {
        Self {
            subtotal: t.subtotal.into(),
            discount: t.discount.into(),
            tax: t.tax.into(),
            shipping: t.shipping.into(),
            total: t.total.into(),
            country,
            shipping_method: method,
        }
    }
}

fn method(app: &AppState, name: &str, currency: Currency) -> Result<ShippingMethod, String> {
    let (price, free_from) = app.pricing.shipping.get(name).ok_or_else(|| {
        format!(
            "unknown shipping method {name:?}: {}",
            app.pricing
                .shipping
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let mut method = ShippingMethod::flat(Money::new(*price, currency));
    if let Some(free) = free_from {
        method = method.free_from(Money::new(*free, currency));
    }
    Ok(method)
}

/// The discount the cart's promotion gives now, if it applies.
async fn discount(app: &AppState, cart: &Cart) -> Result<Option<Discount>, String> {
    let Some(code) = cart.promo_code() else {
        return Ok(None);
    };
    let (promotion, _) = app
        .promotions
        .load(code)
        .await
        .map_err(|e| format!("promotion {code}: {e}"))?;
    let now = app.clock.now();
    if !promotion.exists()
        || !promotion.is_active()
        || !promotion.terms().is_some_and(|t| t.is_within_window(now))
    {
        return Ok(None);
    }
    let Some(terms) = promotion.terms() else {
        return Ok(None);
    };
    if let (Some(min), Some(subtotal)) = (terms.minimum_subtotal, cart.subtotal())
        && subtotal.amount < min.amount
    {
        return Ok(None);
    }
    Ok(Some(terms.discount))
}

/// The totals of `cart` delivered to `country`/`region` by `method_name`.
pub async fn totals(
    app: &AppState,
    cart: &Cart,
    country: Option<&str>,
    region: Option<&str>,
    method_name: Option<&str>,
) -> Result<(Totals, String, String), String> {
    let currency = cart.currency().unwrap_or(Currency::EUR);
    let method_name = method_name.unwrap_or("standard").to_owned();
    let method = method(app, &method_name, currency)?;
    let country = country
        .unwrap_or(&app.pricing.home_country)
        .trim()
        .to_ascii_uppercase();
    let destination = Destination::new(&country, region);
    let discount = discount(app, cart).await?;
    let totals = shop_domain::pricing::quote(
        currency,
        &cart.price_lines(),
        discount.as_ref(),
        &destination,
        &method,
        &app.pricing.tax,
    )
    .map_err(|e| e.to_string())?;
    Ok((totals, country, method_name))
}

/// A quote for the cart view.
pub async fn quote(
    app: &AppState,
    cart: &Cart,
    country: Option<&str>,
    region: Option<&str>,
    method_name: Option<&str>,
) -> Result<Quote, String> {
    let (totals, country, method) = totals(app, cart, country, region, method_name).await?;
    Ok(Quote::from((&totals, country, method)))
}

/// An address.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    /// Recipient.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// More.
    #[serde(default)]
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Region or state.
    #[serde(default)]
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: String,
    /// ISO country code.
    pub country: String,
}

impl AddressBody {
    fn address(&self, check: &mut Check, at: &str) -> Option<Address> {
        let address = Address {
            name: self.name.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone(),
            city: self.city.clone(),
            region: self.region.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.trim().to_ascii_uppercase(),
        };
        check.field(at, address.validate().map(|()| address))
    }
}

/// Checking out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    /// Where to ship.
    pub shipping_address: AddressBody,
    /// Where to bill (default: the shipping address).
    #[serde(default)]
    pub billing_address: Option<AddressBody>,
    /// `standard` or `express`.
    #[serde(default)]
    pub shipping_method: Option<String>,
    /// The payment method token from the payment provider's client SDK (sandbox:
    /// `tok_approve`, `tok_decline`, `tok_insufficient_funds`, …).
    pub payment_token: String,
}

/// A checkout accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutAccepted {
    /// The order.
    pub order_id: String,
    /// `placed`: payment and stock are being settled; follow the order.
    pub status: String,
    /// Where to follow it.
    pub order_url: String,
    /// What will be charged.
    pub total: MoneyBody,
}

/// Namespace of order ids: one order per cart.
const ORDER_NAMESPACE: Uuid = Uuid::from_u128(0x0bde_7a5c_3e21_4f90_8d6b_c4a3_e2f1_0a9b);

/// The order a cart checked out at `revision` becomes.
pub fn order_id_of(cart_id: &str, revision: u64) -> OrderId {
    OrderId::new(format!(
        "ord-{}",
        Uuid::new_v5(&ORDER_NAMESPACE, format!("{cart_id}@{revision}").as_bytes()).simple()
    ))
    .expect("a uuid makes an order id")
}

fn unprocessable(code: &'static str, detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        code,
        "Cannot check out",
        detail,
    )
}

/// 412 for an `If-Match` that does not hold.
fn mismatch(cart_id: &CartId, expected: u64, actual: Option<u64>) -> Result<Problem, Problem> {
    Ok(shop_commands::CommandError::<String>::RevisionMismatch {
        stream: shop_commands::CommandHandler::<shop_domain::cart::Cart>::stream_of(cart_id)?,
        expected,
        actual,
    }
    .into())
}

/// A checkout that failed after redeeming its promotion gives the redemption back (best
/// effort: the promotion release process manager does not see an order that was never placed).
async fn give_back_promotion(
    app: &AppState,
    write: &Write,
    cart: &Cart,
    order_id: &OrderId,
    who: shop_eventstore::Actor,
) {
    let Some(code) = cart.promo_code() else {
        return;
    };
    let release = PromotionCommand::ReleaseRedemption {
        order_id: order_id.clone(),
        reason: "the checkout did not go through".into(),
    };
    let command = write.command(release, who).with_id(write.step("release"));
    let command = shop_commands::Command {
        if_match: None,
        ..command
    };
    if let Err(e) = app.promotions.handle(code, command).await {
        tracing::warn!(%code, %order_id, error = %e, "giving a promotion back failed");
    }
}

/// Checks the cart out: 202 with the order to follow.
#[utoipa::path(post, path = "/carts/{cart_id}/checkout", tag = "carts",
    params(("cart_id" = String, Path)), request_body = CheckoutBody,
    responses((status = 202, description = "Accepted: follow the order", body = CheckoutAccepted)))]
pub async fn checkout(
    State(app): State<AppState>,
    Path(id): Path<String>,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    write: Write,
    Body(body): Body<CheckoutBody>,
) -> Result<Written<CheckoutAccepted>, Problem> {
    let (cart_id, cart, revision) =
        super::carts::load(&app, &id, caller.as_ref(), &headers).await?;
    let mut check = Check::new();
    let shipping = body
        .shipping_address
        .address(&mut check, "/shipping_address");
    let billing = match &body.billing_address {
        Some(b) => b.address(&mut check, "/billing_address"),
        None => shipping.clone(),
    };
    let token = body.payment_token.trim().to_owned();
    check.ensure(
        !token.is_empty() && token.len() <= 200,
        "/payment_token",
        "1 to 200 characters",
    );
    check.done()?;
    let (shipping, billing) = (shipping.expect("checked"), billing.expect("checked"));
    // An open cart becomes the order named by the cart and the revision read (a checkout that
    // failed because the cart changed leaves the next attempt a fresh order id, so a promotion
    // given back can be redeemed again). A cart already checked out is a retry: the remaining
    // steps are finished for the order it became.
    let (order_id, closing) = match cart.status() {
        CartStatus::Open => (order_id_of(cart_id.as_str(), revision.unwrap_or(0)), true),
        CartStatus::CheckedOut { order_id } => (order_id.clone(), false),
        _ => {
            return Err(unprocessable(
                "cart_closed",
                format!("cart {cart_id} is not open"),
            ));
        }
    };
    // `If-Match` is checked before anything is written (the promotion is redeemed before the
    // cart closes).
    if closing
        && let Some(expected) = write.if_match
        && revision != Some(expected)
    {
        return Err(mismatch(&cart_id, expected, revision)?);
    }
    let (placed, _) = app.orders.load(&order_id).await?;
    if matches!(
        placed.status(),
        OrderStatus::PaymentFailed | OrderStatus::Cancelled
    ) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "order_ended",
            "Order ended",
            format!(
                "this cart became order {order_id}, which has ended ({}); start a new cart",
                placed.status().code()
            ),
        ));
    }
    if cart.lines().is_empty() {
        return Err(unprocessable("cart_empty", "the cart has no items"));
    }
    let (totals, _, method_name) = totals(
        &app,
        &cart,
        Some(&shipping.country),
        shipping.region.as_deref(),
        body.shipping_method.as_deref(),
    )
    .await
    .map_err(|e| unprocessable("cannot_quote", e))?;
    let customer_id = match cart.owner() {
        Some(CartOwner::Customer { customer_id }) => Some(customer_id.clone()),
        _ => None,
    };
    let who = caller.as_ref().map_or_else(guest, actor);
    let mut last = None;

    // Whether this request's redemption wrote the promotion's use (and may give it back).
    let mut redeemed_here = false;
    if closing
        && let Some(code) = cart.promo_code()
        && !totals.discount.is_zero()
    {
        let redeem = PromotionCommand::RedeemPromotion {
            order_id: order_id.clone(),
            customer_id: customer_id.clone(),
            subtotal: totals.subtotal,
        };
        let command = write
            .command(redeem, who.clone())
            .with_id(write.step("redeem"));
        let outcome = app
            .promotions
            .handle(
                code,
                shop_commands::Command {
                    if_match: None,
                    ..command
                },
            )
            .await?;
        redeemed_here = outcome.events_written > 0;
        last = outcome.position.max(last);
    }

    if closing {
        // Closed at exactly the revision read: the order is built from these lines, so an item
        // added meanwhile (another tab) makes this fail instead of being dropped silently.
        let close = write.command(
            CartCommand::CheckOut {
                order_id: order_id.clone(),
            },
            who.clone(),
        );
        let close = shop_commands::Command {
            if_match: revision,
            ..close
        };
        match app.carts.handle(&cart_id, close).await {
            Ok(closed) => last = closed.position.max(last),
            Err(shop_commands::CommandError::RevisionMismatch { .. }) => {
                // The cart moved on. Give the promotion back only if this request took it and
                // no other request closed the cart into this order meanwhile (a double click:
                // the other one's order keeps it).
                let (now, _) = app.carts.load(&cart_id).await?;
                let closed_into_ours = matches!(now.status(),
                    CartStatus::CheckedOut { order_id: o } if o == &order_id);
                if redeemed_here && !closed_into_ours {
                    give_back_promotion(&app, &write, &cart, &order_id, who.clone()).await;
                }
                return Err(match write.if_match {
                    Some(expected) => {
                        mismatch(&cart_id, expected, now_revision(&app, &cart_id).await)?
                    }
                    None => Problem::new(
                        StatusCode::CONFLICT,
                        "cart_changed",
                        "Cart changed",
                        "the cart changed while it was being checked out: look at it again \
                         and check out once more",
                    ),
                });
            }
            // Anything else is worth retrying with the same key, which finishes the checkout
            // (the promotion stays taken for it).
            Err(other) => return Err(other.into()),
        }
    }

    let total = match placed.total() {
        // Placed by an earlier attempt: its totals stand.
        Some(total) => total,
        None => {
            let lines: Vec<OrderLine> = cart
                .lines()
                .iter()
                .map(|l| {
                    OrderLine::new(
                        l.sku.clone(),
                        l.product_id.clone(),
                        l.quantity,
                        l.unit_price,
                    )
                })
                .collect::<Result<_, _>>()
                .map_err(|e| unprocessable("cannot_quote", e.to_string()))?;
            let place = OrderCommand::PlaceOrder {
                order_id: order_id.clone(),
                customer_id,
                cart_id: Some(cart_id.clone()),
                lines,
                currency: totals.currency(),
                totals,
                shipping_address: Box::new(shipping),
                billing_address: Box::new(billing),
                promo_code: cart.promo_code().cloned(),
                shipping_method: method_name,
            };
            let command = write
                .command(place, who.clone())
                .with_id(write.step("place"));
            let placed = app
                .orders
                .handle(
                    &order_id,
                    shop_commands::Command {
                        if_match: None,
                        ..command
                    },
                )
                .await?;
            last = placed.position.max(last);
            totals.total
        }
    };

    let payment_id =
        PaymentId::new(format!("pay-{order_id}")).map_err(|e| Problem::internal(&e))?;
    let saga = app
        .checkout
        .state(&order_id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    if saga.order_id.is_none() {
        let saga_lines = cart
            .lines()
            .iter()
            .map(|l| CheckoutLine {
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect();
        let started = app
            .checkout
            .submit(&order_id, &payment_id, saga_lines, total, &token)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "recording a checkout's start failed");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Try again",
                    "the checkout could not be recorded; retry with the same Idempotency-Key",
                )
                .retry_after(1)
            })?;
        last = started.position.max(last);
    }
    let order_revision = super::output::revision_of::<Order>(&app, &order_id).await?;
    tracing::info!(%order_id, %cart_id, total = total.amount, "checkout accepted");
    let outcome = shop_commands::Outcome {
        stream: shop_commands::CommandHandler::<Order>::stream_of(&order_id)?,
        revision: order_revision,
        position: last,
        events_written: 0,
    };
    Ok(Written::accepted(
        &outcome,
        format!("/orders/{order_id}"),
        CheckoutAccepted {
            order_id: order_id.as_str().to_owned(),
            status: "placed".into(),
            order_url: format!("/orders/{order_id}"),
            total: total.into(),
        },
    ))
}

/// The cart's revision now (for a 412's message).
async fn now_revision(app: &AppState, cart_id: &CartId) -> Option<u64> {
    super::output::revision_of::<shop_domain::cart::Cart>(app, cart_id)
        .await
        .ok()
        .flatten()
}
