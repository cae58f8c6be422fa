//! Carts. A guest's cart is reached only with the token answered when it was created
//! (`X-Cart-Token`; only its SHA-256 is stored); a customer's cart only by that customer. Anyone
//! else is answered 404, as for a cart that does not exist. Carts are read from their own stream
//! (not a read model): a cart is small, and its prices and totals must be exact.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use shop_commands::{AddToCart, CartError, MergeCarts};
use shop_domain::cart::{CartCommand, CartOwner, CartState as Cart, CartStatus};
use shop_domain::{CartId, Currency, CustomerId, ProductId, PromoCode, Sku};
use utoipa::ToSchema;

use super::AppState;
use super::catalog::{Ack, MoneyBody};
use super::checkout::Quote;
use super::input::{
    Body, Check, MaybeCaller, Write, actor, forbidden, guest, invalid_id, not_found,
};
use super::output::{Read, Written};
use crate::auth::{Caller, Role};
use crate::problem::Problem;

/// The header that carries a guest cart's token.
pub const TOKEN_HEADER: &str = "x-cart-token";

/// The stored hash of a cart token.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A guest cart's token: HMAC-SHA-256 of the cart id under the server's key. Unguessable without
/// the key, never stored (only its SHA-256 is, in the cart's events), and the same whenever it is
/// computed again, so a retried creation answers the token that works.
fn token_for(key: &[u8; 32], cart_id: &CartId) -> String {
    use hmac::Mac as _;
    let mut mac =
        hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(cart_id.as_str().as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Who may reach a cart.
pub fn may_access(owner: &CartOwner, caller: Option<&Caller>, headers: &HeaderMap) -> bool {
    match owner {
        CartOwner::Guest { token_hash: stored } => headers
            .get(TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|token| token_hash(token.trim()) == *stored),
        CartOwner::Customer { customer_id } => {
            caller.is_some_and(|c| c.role == Role::Customer && c.subject == customer_id.as_str())
        }
    }
}

/// The cart `id`, if the caller may reach it (404 otherwise).
pub async fn load(
    app: &AppState,
    id: &str,
    caller: Option<&Caller>,
    headers: &HeaderMap,
) -> Result<(CartId, Cart, Option<u64>), Problem> {
    let id = CartId::new(id).map_err(|e| invalid_id("cart id", e))?;
    let (cart, revision) = app.carts.load(&id).await?;
    match cart.owner() {
        Some(owner) if may_access(owner, caller, headers) => Ok((id, cart, revision)),
        _ => Err(not_found("cart")),
    }
}

/// A new cart.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCartBody {
    /// The cart's currency (default EUR).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub currency: Option<Currency>,
}

/// A created cart.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedCart {
    /// The cart.
    pub cart_id: String,
    /// For a guest: the token that reaches the cart (send it as `X-Cart-Token`); shown once.
    pub cart_token: Option<String>,
    /// Revision (also the `ETag`).
    pub revision: Option<u64>,
}

/// Creates a cart: a guest's (answering its token) or, with a customer's token, the customer's.
#[utoipa::path(post, path = "/carts", tag = "carts", request_body = CreateCartBody,
    responses((status = 201, description = "Created", body = CreatedCart)))]
pub async fn create_cart(
    State(app): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    write: Write,
    Body(body): Body<CreateCartBody>,
) -> Result<Written<CreatedCart>, Problem> {
    let cart_id = CartId::new(format!("cart-{}", write.command_id.simple()))
        .map_err(|e| Problem::internal(&e))?;
    let (owner, token, who) = match &caller {
        None => {
            let token = token_for(&app.cart_token_key, &cart_id);
            let owner = CartOwner::Guest {
                token_hash: token_hash(&token),
            };
            (owner, Some(token), guest())
        }
        Some(c) if c.role == Role::Customer => {
            let customer_id =
                CustomerId::new(c.subject.clone()).map_err(|e| invalid_id("subject", e))?;
            (CartOwner::Customer { customer_id }, None, actor(c))
        }
        Some(c) => return Err(forbidden(c.role)),
    };
    let create = CartCommand::CreateCart {
        cart_id: cart_id.clone(),
        owner,
        currency: body.currency.unwrap_or(Currency::EUR),
    };
    let outcome = app
        .carts
        .handle(&cart_id, write.command(create, who))
        .await?;
    if outcome.events_written == 0 && token.is_some() {
        // The key created this cart before and its record has lapsed: the token was answered
        // then, and is not handed out again to whoever sends the key now.
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "cart_exists",
            "Cart exists",
            "this Idempotency-Key created a cart before; its token was answered then",
        ));
    }
    Ok(Written::created(
        &outcome,
        format!("/carts/{cart_id}"),
        CreatedCart {
            cart_id: cart_id.as_str().to_owned(),
            cart_token: token,
            revision: outcome.revision,
        },
    ))
}

/// A cart line.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    /// SKU.
    pub sku: String,
    /// Product.
    pub product_id: String,
    /// Units.
    pub quantity: u32,
    /// Price of one unit when it was added.
    pub unit_price: MoneyBody,
    /// Units × price.
    pub line_total: MoneyBody,
}

/// A cart with its totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartView {
    /// The cart.
    pub cart_id: String,
    /// `open`, `checked_out`, `merged`, `expired`.
    pub status: String,
    /// `guest` or `customer`.
    pub owner: String,
    /// Currency.
    pub currency: String,
    /// Lines, in the order first added.
    pub lines: Vec<LineView>,
    /// The promotion code applied.
    pub promo_code: Option<String>,
    /// The order it became, once checked out.
    pub order_id: Option<String>,
    /// Subtotal, discount, tax, shipping and total for the destination asked for.
    pub quote: Option<Quote>,
    /// Why there is no quote (e.g. no tax rate for the destination).
    pub quote_error: Option<String>,
}

/// Where to quote for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuoteQuery {
    /// ISO country code of the destination (default: the shop's home country).
    pub country: Option<String>,
    /// Region, where it has its own tax rate.
    pub region: Option<String>,
    /// A shipping method (`standard` by default).
    pub shipping_method: Option<String>,
}

fn status(status: &CartStatus) -> &'static str {
    match status {
        CartStatus::Open => "open",
        CartStatus::CheckedOut { .. } => "checked_out",
        CartStatus::MergedInto { .. } => "merged",
        _ => "expired",
    }
}

/// A cart with its lines and a quote (tax and shipping for `?country=&region=&shipping_method=`).
#[utoipa::path(get, path = "/carts/{cart_id}", tag = "carts",
    params(("cart_id" = String, Path), QuoteQuery,
        ("X-Cart-Token" = Option<String>, Header, description = "A guest cart's token")),
    responses((status = 200, description = "The cart", body = CartView)))]
pub async fn get_cart(
    State(app): State<AppState>,
    Path(id): Path<String>,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    Query(query): Query<QuoteQuery>,
) -> Result<Read<CartView>, Problem> {
    let (id, cart, revision) = load(&app, &id, caller.as_ref(), &headers).await?;
    let currency = cart.currency().unwrap_or(Currency::EUR);
    let (quote, quote_error) = match super::checkout::quote(
        &app,
        &cart,
        query.country.as_deref(),
        query.region.as_deref(),
        query.shipping_method.as_deref(),
    )
    .await
    {
        Ok(q) => (Some(q), None),
        Err(e) => (None, Some(e)),
    };
    let view = CartView {
        cart_id: id.as_str().to_owned(),
        status: status(cart.status()).to_owned(),
        owner: match cart.owner() {
            Some(CartOwner::Customer { .. }) => "customer".into(),
            _ => "guest".into(),
        },
        currency: currency.as_str().to_owned(),
        lines: cart
            .lines()
            .iter()
            .map(|l| LineView {
                sku: l.sku.as_str().to_owned(),
                product_id: l.product_id.as_str().to_owned(),
                quantity: l.quantity,
                unit_price: l.unit_price.into(),
                line_total: shop_domain::pricing::line_total(l.unit_price, l.quantity)
                    .unwrap_or(l.unit_price)
                    .into(),
            })
            .collect(),
        promo_code: cart.promo_code().map(|c| c.as_str().to_owned()),
        order_id: match cart.status() {
            CartStatus::CheckedOut { order_id } => Some(order_id.as_str().to_owned()),
            _ => None,
        },
        quote,
        quote_error,
    };
    Ok(Read::new(view, super::fresh::Freshness::Unasked).revision(revision))
}

fn cart_problem(error: CartError) -> Problem {
    match error {
        CartError::Cart(e) => e.into(),
        CartError::Product(e) => e.into(),
        e @ (CartError::UnknownProduct(_) | CartError::UnknownVariant { .. }) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_product",
            "Unknown product",
            e.to_string(),
        ),
        e => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
            "Refused by the rules",
            e.to_string(),
        ),
    }
}

/// An item to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItemBody {
    /// The product.
    pub product_id: String,
    /// The variant.
    pub sku: String,
    /// Units to add, 1 to 999.
    pub quantity: u32,
}

fn who(caller: Option<&Caller>) -> shop_eventstore::Actor {
    caller.map_or_else(guest, actor)
}

/// Adds units of a variant at its current price.
#[utoipa::path(post, path = "/carts/{cart_id}/items", tag = "carts",
    params(("cart_id" = String, Path)), request_body = AddItemBody,
    responses((status = 200, description = "Added", body = Ack)))]
pub async fn add_item(
    State(app): State<AppState>,
    Path(id): Path<String>,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    write: Write,
    Body(body): Body<AddItemBody>,
) -> Result<Written<Ack>, Problem> {
    let (cart_id, _, _) = load(&app, &id, caller.as_ref(), &headers).await?;
    let mut check = Check::new();
    let product_id = check.field("/product_id", ProductId::new(body.product_id));
    let sku = check.field("/sku", Sku::new(body.sku));
    check.done()?;
    let add = AddToCart {
        cart_id: cart_id.clone(),
        product_id: product_id.expect("checked"),
        sku: sku.expect("checked"),
        quantity: body.quantity,
    };
    let outcome = app
        .cart_service
        .add_item(write.command(add, who(caller.as_ref())))
        .await
        .map_err(cart_problem)?;
    Ok(Written::ok(&outcome, Ack::of(cart_id.as_str(), &outcome)))
}

/// A new quantity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantityBody {
    /// Units, 1 to 999 (remove the line to drop it).
    pub quantity: u32,
}

async fn cart_command(
    app: &AppState,
    id: &str,
    caller: Option<&Caller>,
    headers: &HeaderMap,
    write: &Write,
    command: CartCommand,
) -> Result<Written<Ack>, Problem> {
    let (cart_id, _, _) = load(app, id, caller, headers).await?;
    let outcome = app
        .carts
        .handle(&cart_id, write.command(command, who(caller)))
        .await?;
    Ok(Written::ok(&outcome, Ack::of(cart_id.as_str(), &outcome)))
}

/// Changes a line's quantity.
#[utoipa::path(put, path = "/carts/{cart_id}/items/{sku}", tag = "carts",
    params(("cart_id" = String, Path), ("sku" = String, Path)), request_body = QuantityBody,
    responses((status = 200, description = "Changed", body = Ack)))]
pub async fn change_quantity(
    State(app): State<AppState>,
    Path((id, sku)): Path<(String, String)>,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    write: Write,
    Body(body): Body<QuantityBody>,
) -> Result<Written<Ack>, Problem> {
    let sku = Sku::new(sku).map_err(|e| invalid_id("sku", e))?;
    let command = CartCommand::ChangeQuantity {
        sku,
        quantity: body.quantity,
    };
    cart_command(&app, &id, caller.as_ref(), &headers, &write, command).await
}

/// Removes a line.
#[utoipa::path(delete, path = "/carts/{cart_id}/items/{sku}", tag = "carts",
    params(("cart_id" = String, Path), ("sku" = String, Path)),
    responses((status = 200, description = "Removed", body = Ack)))]
pub async fn remove_item(
    State(app): State<AppState>,
    Path((id, sku)): Path<(String, String)>,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    write: Write,
) -> Result<Written<Ack>, Problem> {
    let sku = Sku::new(sku).map_err(|e| invalid_id("sku", e))?;
    cart_command(
        &app,
        &id,
        caller.as_ref(),
        &headers,
        &write,
        CartCommand::RemoveItem { sku },
    )
    .await
}

/// A promotion code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoBody {
    /// The code.
    pub code: String,
}

/// Applies a promotion code (checked against the promotion now; again at checkout).
#[utoipa::path(post, path = "/carts/{cart_id}/promo", tag = "carts",
    params(("cart_id" = String, Path)), request_body = PromoBody,
    responses((status = 200, description = "Applied", body = Ack)))]
pub async fn apply_promo(
    State(app): State<AppState>,
    Path(id): Path<String>,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    write: Write,
    Body(body): Body<PromoBody>,
) -> Result<Written<Ack>, Problem> {
    // The cart first: whether a code is valid is nobody's business but the cart's owner's.
    load(&app, &id, caller.as_ref(), &headers).await?;
    let mut check = Check::new();
    let code = check.field("/code", PromoCode::new(body.code));
    check.done()?;
    let code = code.expect("checked");
    let (promotion, _) = app.promotions.load(&code).await?;
    let now = app.clock.now();
    if !promotion.exists()
        || !promotion.is_active()
        || !promotion.terms().is_some_and(|t| t.is_within_window(now))
    {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "promo_not_valid",
            "Promotion not valid",
            format!("promotion code {code} is not valid now"),
        ));
    }
    cart_command(
        &app,
        &id,
        caller.as_ref(),
        &headers,
        &write,
        CartCommand::ApplyPromoCode { code },
    )
    .await
}

/// Removes the promotion code.
#[utoipa::path(delete, path = "/carts/{cart_id}/promo", tag = "carts",
    params(("cart_id" = String, Path)),
    responses((status = 200, description = "Removed", body = Ack)))]
pub async fn remove_promo(
    State(app): State<AppState>,
    Path(id): Path<String>,
    MaybeCaller(caller): MaybeCaller,
    headers: HeaderMap,
    write: Write,
) -> Result<Written<Ack>, Problem> {
    cart_command(
        &app,
        &id,
        caller.as_ref(),
        &headers,
        &write,
        CartCommand::RemovePromoCode {},
    )
    .await
}

/// The guest cart to merge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The guest cart.
    pub guest_cart_id: String,
    /// Its token.
    pub guest_cart_token: String,
}

/// Merges a guest cart into the customer's cart (on sign-in), repricing every line.
#[utoipa::path(post, path = "/carts/{cart_id}/merge", tag = "carts",
    params(("cart_id" = String, Path)), request_body = MergeBody,
    responses((status = 200, description = "Merged", body = Ack)),
    security(("bearer" = [])))]
pub async fn merge(
    State(app): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    write: Write,
    Body(body): Body<MergeBody>,
) -> Result<Written<Ack>, Problem> {
    let (into, _, _) = load(&app, &id, Some(&caller), &headers).await?;
    let mut guest_headers = HeaderMap::new();
    if let Ok(value) = body.guest_cart_token.parse() {
        guest_headers.insert(TOKEN_HEADER, value);
    }
    let (guest_id, guest_cart, _) = load(&app, &body.guest_cart_id, None, &guest_headers).await?;
    if !matches!(guest_cart.owner(), Some(CartOwner::Guest { .. })) {
        return Err(not_found("cart"));
    }
    let merge = MergeCarts {
        guest_cart_id: guest_id,
        into_cart_id: into.clone(),
    };
    let outcome = app
        .cart_service
        .merge(write.command(merge, actor(&caller)))
        .await
        .map_err(cart_problem)?;
    Ok(Written::ok(&outcome, Ack::of(into.as_str(), &outcome)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_the_same_for_a_cart_and_differ_between_carts_and_keys() {
        let (a, b) = (
            CartId::new("cart-a").unwrap(),
            CartId::new("cart-b").unwrap(),
        );
        let key = [7u8; 32];
        assert_eq!(token_for(&key, &a), token_for(&key, &a));
        assert_ne!(token_for(&key, &a), token_for(&key, &b));
        assert_ne!(token_for(&key, &a), token_for(&[8u8; 32], &a));
        assert_eq!(token_for(&key, &a).len(), 43, "256 bits, base64url");
        assert_ne!(token_hash(&token_for(&key, &a)), token_for(&key, &a));
    }
}
