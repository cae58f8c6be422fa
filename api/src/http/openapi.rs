//! The route table and the OpenAPI 3.1 document, built together by `utoipa-axum` from the
//! handlers' `#[utoipa::path]` attributes: a route cannot exist without its documentation, and
//! the document cannot name a route that does not exist. A [`Modify`] adds what every operation
//! shares: the bearer scheme and the problem+json error responses each kind of route can answer.

use std::sync::OnceLock;

use axum::Json;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{
    AppState, analytics, carts, catalog, checkout, fulfilment, inventory, metrics, ops, orders,
    promotions, reviews, search, trails,
};
use crate::problem::{FieldError, Problem};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "shop",
        description = "An event-sourced commerce backend. Conventions (errors, idempotency keys, \
            ETags, read-your-writes, pagination, roles) are in docs/api.md."
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&Conventions),
    tags(
        (name = "catalog"), (name = "search"), (name = "inventory"), (name = "carts"),
        (name = "orders"), (name = "payments"), (name = "promotions"), (name = "analytics"), (name = "operations"),
    )
)]
struct Doc;

/// Adds the bearer scheme and the shared error responses.
struct Conventions;

fn problem(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

fn add_errors(operation: &mut Operation, path: &str, mutation: bool) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut errors = vec![
        (
            "400",
            "Bad request: malformed input, an invalid id, cursor or header",
        ),
        ("429", "Rate limited (Retry-After)"),
        ("500", "Internal error (logged; no details)"),
        ("503", "Overloaded or a store unavailable (Retry-After)"),
    ];
    if secured {
        errors.push(("401", "No, malformed, expired or invalid bearer token"));
        errors.push(("403", "The caller's role may not do this"));
    }
    if path.contains('{') {
        errors.push(("404", "No such resource, or not the caller's"));
    }
    if mutation {
        errors.extend([
            (
                "409",
                "Busy, or a request with this Idempotency-Key is still running",
            ),
            ("412", "If-Match does not hold"),
            ("413", "Body too large"),
            ("415", "Body is not JSON"),
            (
                "422",
                "Invalid fields, refused by the rules, or an Idempotency-Key reused",
            ),
        ]);
    }
    for (code, description) in errors {
        operation
            .responses
            .responses
            .entry(code.to_owned())
            .or_insert_with(|| problem(description));
    }
}

impl Modify for Conventions {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (operation, mutation) in [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ] {
                if let Some(operation) = operation {
                    add_errors(operation, path, mutation);
                }
            }
        }
    }
}

/// Every route, documented.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(ops::events))
        .routes(routes!(analytics::product_daily))
        .routes(routes!(analytics::day))
        .routes(routes!(ops::projections))
        .routes(routes!(ops::rebuild))
        .routes(routes!(ops::sagas))
        .routes(routes!(ops::retry_saga))
        .routes(routes!(catalog::create_product, catalog::list_products))
        .routes(routes!(catalog::get_product, catalog::update_product))
        .routes(routes!(catalog::add_variant))
        .routes(routes!(catalog::change_price))
        .routes(routes!(catalog::discontinue))
        .routes(routes!(reviews::submit_review, reviews::list_reviews))
        .routes(routes!(reviews::approve_review))
        .routes(routes!(reviews::reject_review))
        .routes(routes!(reviews::recommendations))
        .routes(routes!(search::search))
        .routes(routes!(inventory::stock))
        .routes(routes!(inventory::receive))
        .routes(routes!(inventory::adjust))
        .routes(routes!(carts::create_cart))
        .routes(routes!(carts::get_cart))
        .routes(routes!(carts::add_item))
        .routes(routes!(carts::change_quantity, carts::remove_item))
        .routes(routes!(carts::apply_promo, carts::remove_promo))
        .routes(routes!(carts::merge))
        .routes(routes!(checkout::checkout))
        .routes(routes!(orders::list_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::cancel))
        .routes(routes!(fulfilment::ship))
        .routes(routes!(fulfilment::deliver))
        .routes(routes!(fulfilment::refund))
        .routes(routes!(trails::payments))
        .routes(routes!(trails::audit))
        .routes(routes!(promotions::create))
        .routes(routes!(promotions::get))
        .routes(routes!(promotions::deactivate))
}

/// The OpenAPI document (built once).
pub fn openapi() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(|| routes().split_for_parts().1)
}

/// `GET /openapi.json`.
async fn document() -> impl IntoResponse {
    Json(openapi().clone())
}

/// The routes (with `/openapi.json`) and the document.
pub fn split(_app: AppState) -> (axum::Router<AppState>, OpenApi) {
    let (router, doc) = routes().split_for_parts();
    (
        router.route("/openapi.json", axum::routing::get(document)),
        doc,
    )
}
