//! The route × caller matrix: every route of the API, called by no one, an expired token, a token
//! with a wrong signature, an analyst, an auditor, another customer, the owning customer and an
//! admin, answers exactly the status the table says. Someone else's cart or order is a 404, as
//! if it did not exist. A test at the end checks the table covers every route of the OpenAPI
//! document, so a new route cannot be added without its row.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use shop_tests::steps::{add, checkout, customer_cart, order_status, product, receive};
use shop_tests::{Call, SECRET, Shop};

/// The callers, in the order of a row's statuses: denied callers first, so that the allowed
/// ones act on resources no earlier cell has changed.
const CALLERS: [&str; 8] = [
    "none", "expired", "bad_sig", "analyst", "auditor", "bob", "alice", "admin",
];

fn callers() -> Vec<Call> {
    vec![
        Call::default(),
        Call::as_(&Shop::token_with("customer", "alice", -1, SECRET)),
        Call::as_(&Shop::token_with(
            "admin",
            "mallory",
            3600,
            "a different secret of at least 32 bytes",
        )),
        Call::as_(&Shop::token("analyst", "ann")),
        Call::as_(&Shop::token("auditor", "aud")),
        Call::as_(&Shop::token("customer", "bob")),
        Call::as_(&Shop::token("customer", "alice")),
        Call::as_(&Shop::token("admin", "ops")),
    ]
}

struct Row {
    method: &'static str,
    /// `{order}`, `{cart}`, `{cart2}`, `{cart3}`, `{shipped}` are replaced by the fixtures' ids.
    path: &'static str,
    body: Option<Value>,
    expect: [u16; 8],
}

fn row(method: &'static str, path: &'static str, body: Option<Value>, expect: [u16; 8]) -> Row {
    Row {
        method,
        path,
        body,
        expect,
    }
}

fn rows(guest_cart: &str, guest_token: &str) -> Vec<Row> {
    let variant = json!({"sku": "MX-2", "price": {"amount": 900, "currency": "EUR"}});
    let promo = json!({"code": "MATRIX", "discount": {"kind": "percentage", "basis_points": 500},
                       "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2100-01-01T00:00:00Z"});
    let address = json!({"name": "A", "line1": "1 Way", "city": "Berlin", "postal_code": "10115",
                         "country": "DE"});
    let public = [200; 8];
    // none, expired, bad_sig, analyst, auditor, bob, alice, admin
    vec![
        row("GET", "/healthz", None, public),
        row("GET", "/readyz", None, public),
        row("GET", "/metrics", None, public),
        row("GET", "/openapi.json", None, public),
        row(
            "GET",
            "/events?limit=5",
            None,
            [401, 401, 401, 200, 200, 403, 403, 403],
        ),
        row(
            "GET",
            "/analytics/products/matrix/daily",
            None,
            [401, 401, 401, 200, 403, 403, 403, 200],
        ),
        row(
            "GET",
            "/analytics/days/2026-12-01",
            None,
            [401, 401, 401, 200, 403, 403, 403, 200],
        ),
        row(
            "GET",
            "/admin/projections",
            None,
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "POST",
            "/admin/projections/catalog/rebuild",
            None,
            [401, 401, 401, 403, 403, 403, 403, 202],
        ),
        row(
            "GET",
            "/admin/sagas?stuck=true",
            None,
            [401, 401, 401, 403, 200, 403, 403, 200],
        ),
        row(
            "POST",
            "/admin/sagas/{order}/retry",
            None,
            // The saga is confirmed: nothing to retry.
            [401, 401, 401, 403, 403, 403, 403, 409],
        ),
        row("GET", "/products", None, public),
        row(
            "POST",
            "/products",
            Some(json!({"product_id": "matrix-new", "title": "New",
            "variants": [{"sku": "MXN-1", "price": {"amount": 100, "currency": "EUR"}}]})),
            [401, 401, 401, 403, 403, 403, 403, 201],
        ),
        row("GET", "/products/matrix", None, public),
        row(
            "PATCH",
            "/products/matrix",
            Some(json!({"title": "Matrix Tee"})),
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "POST",
            "/products/matrix/variants",
            Some(variant),
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "PUT",
            "/products/matrix/variants/MX-1/price",
            Some(json!({"price": {"amount": 1100, "currency": "EUR"}})),
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "POST",
            "/products/matrix-old/discontinue",
            Some(json!({"reason": "end of line"})),
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "GET",
            "/products/matrix/reviews",
            None,
            [200, 401, 401, 200, 200, 200, 200, 200],
        ),
        row(
            "POST",
            "/products/matrix/reviews",
            Some(json!({"rating": 5, "text": "great"})),
            [401, 401, 401, 403, 403, 201, 201, 403],
        ),
        row(
            "POST",
            "/products/matrix/reviews/{review}/approve",
            None,
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "POST",
            "/products/matrix/reviews/{review}/reject",
            Some(json!({"reason": "spam"})),
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row("GET", "/products/matrix/recommendations", None, public),
        row("GET", "/search?q=matrix", None, public),
        row(
            "GET",
            "/inventory/MX-1",
            None,
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "POST",
            "/inventory/MX-1/receive",
            Some(json!({"warehouse": "main", "quantity": 5})),
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "POST",
            "/inventory/MX-1/adjust",
            Some(json!({"warehouse": "main", "delta": -1, "reason": "damaged"})),
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "POST",
            "/promotions",
            Some(promo),
            [401, 401, 401, 403, 403, 403, 403, 201],
        ),
        row(
            "POST",
            "/carts",
            Some(json!({})),
            [201, 401, 401, 403, 403, 201, 201, 403],
        ),
        row(
            "GET",
            "/carts/{cart}",
            None,
            [404, 401, 401, 404, 404, 404, 200, 404],
        ),
        row(
            "POST",
            "/carts/{cart}/items",
            Some(json!({"product_id": "matrix", "sku": "MX-1", "quantity": 1})),
            [404, 401, 401, 404, 404, 404, 200, 404],
        ),
        row(
            "PUT",
            "/carts/{cart}/items/MX-1",
            Some(json!({"quantity": 2})),
            [404, 401, 401, 404, 404, 404, 200, 404],
        ),
        row(
            "DELETE",
            "/carts/{cart}/items/MX-1",
            None,
            [404, 401, 401, 404, 404, 404, 200, 404],
        ),
        row(
            "POST",
            "/carts/{cart}/promo",
            Some(json!({"code": "MATRIX"})),
            [404, 401, 401, 404, 404, 404, 200, 404],
        ),
        row(
            "DELETE",
            "/carts/{cart}/promo",
            None,
            [404, 401, 401, 404, 404, 404, 200, 404],
        ),
        row(
            "POST",
            "/carts/{cart2}/merge",
            Some(json!({"guest_cart_id": guest_cart, "guest_cart_token": guest_token})),
            [401, 401, 401, 404, 404, 404, 200, 404],
        ),
        row(
            "POST",
            "/carts/{cart3}/checkout",
            Some(json!({"shipping_address": address, "payment_token": "tok_approve"})),
            [404, 401, 401, 404, 404, 404, 202, 404],
        ),
        row(
            "GET",
            "/orders",
            None,
            [401, 401, 401, 403, 200, 200, 200, 200],
        ),
        row(
            "GET",
            "/orders/{order}",
            None,
            [404, 401, 401, 404, 200, 404, 200, 200],
        ),
        row(
            "GET",
            "/orders/{order}/payments",
            None,
            [401, 401, 401, 403, 200, 404, 200, 200],
        ),
        row(
            "GET",
            "/orders/{order}/audit",
            None,
            [401, 401, 401, 403, 200, 403, 403, 200],
        ),
        row(
            "POST",
            "/orders/{shipped}/ship",
            Some(json!({"carrier": "DHL", "tracking_number": "1"})),
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "POST",
            "/orders/{shipped}/deliver",
            None,
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "POST",
            "/orders/{shipped}/refund",
            Some(json!({"amount": {"amount": 100, "currency": "EUR"}, "reason": "goodwill"})),
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        // Alice cancels her order first; the admin's later cancel finds it cancelled already.
        row(
            "POST",
            "/orders/{order}/cancel",
            Some(json!({})),
            [401, 401, 401, 403, 403, 404, 200, 422],
        ),
        row(
            "GET",
            "/promotions/MATRIX",
            None,
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
        row(
            "POST",
            "/promotions/MATRIX/deactivate",
            Some(json!({"reason": "over"})),
            [401, 401, 401, 403, 403, 403, 403, 200],
        ),
    ]
}

struct Fixtures {
    order: String,
    shipped: String,
    cart: String,
    cart2: String,
    cart3: String,
    guest_cart: String,
    guest_token: String,
}

async fn fixtures(shop: &Shop) -> Fixtures {
    let admin = Call::as_(&Shop::token("admin", "ops"));
    let alice = Call::as_(&Shop::token("customer", "alice"));
    product(shop, &admin, "matrix", "Matrix", "Acme", &[("MX-1", 1_000)]).await;
    product(
        shop,
        &admin,
        "matrix-old",
        "Old Matrix",
        "Acme",
        &[("MXO-1", 1_000)],
    )
    .await;
    receive(shop, &admin, "MX-1", 100).await;
    let mut orders = Vec::new();
    for _ in 0..2 {
        let cart = customer_cart(shop, &alice).await;
        add(shop, &alice, &cart, "matrix", "MX-1", 1).await;
        let accepted = checkout(shop, &alice, &cart, "tok_approve").await;
        assert_eq!(accepted.status, 202, "{}", accepted.text);
        let order = accepted.json["order_id"].as_str().unwrap().to_owned();
        order_status(shop, &alice, &order, &["confirmed"]).await;
        orders.push(order);
    }
    let cart = customer_cart(shop, &alice).await;
    let cart2 = customer_cart(shop, &alice).await;
    let cart3 = customer_cart(shop, &alice).await;
    add(shop, &alice, &cart3, "matrix", "MX-1", 1).await;
    let guest = shop
        .call("POST", "/carts", &Call::default(), Some(json!({})))
        .await;
    Fixtures {
        order: orders[0].clone(),
        shipped: orders[1].clone(),
        cart,
        cart2,
        cart3,
        guest_cart: guest.json["cart_id"].as_str().unwrap().to_owned(),
        guest_token: guest.json["cart_token"].as_str().unwrap().to_owned(),
    }
}

/// The newest review still pending moderation.
async fn a_review(shop: &Shop) -> String {
    let admin = Call::as_(&Shop::token("admin", "ops"));
    let pending = shop
        .until("/products/matrix/reviews?status=pending", &admin, |a| {
            a.json["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    pending.json["items"][0]["review_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_caller_as_the_table_says() {
    let shop = Shop::embedded().await;
    let f = fixtures(&shop).await;
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for row in rows(&f.guest_cart, &f.guest_token) {
        // A pending review for each moderation row (the approval takes the first).
        let review = if row.path.contains("{review}") {
            Some(a_review(&shop).await)
        } else {
            None
        };
        let path = row
            .path
            .replace("{order}", &f.order)
            .replace("{shipped}", &f.shipped)
            .replace("{cart}", &f.cart)
            .replace("{cart2}", &f.cart2)
            .replace("{cart3}", &f.cart3)
            .replace("{review}", review.as_deref().unwrap_or(""));
        covered.insert((row.method, template(row.path)));
        for (i, call) in callers().iter().enumerate() {
            // Refunds need a key (each caller its own, as keys are scoped to the caller anyway).
            let call = if row.path.ends_with("/refund") {
                call.clone().key(&format!("matrix-refund-{i}"))
            } else {
                call.clone()
            };
            let answer = shop.call(row.method, &path, &call, row.body.clone()).await;
            if answer.status != row.expect[i] {
                failures.push(format!(
                    "{} {} as {}: {} (expected {}) {}",
                    row.method, row.path, CALLERS[i], answer.status, row.expect[i], answer.text
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Every documented route has a row.
    let doc = shop
        .call("GET", "/openapi.json", &Call::default(), None)
        .await;
    let mut documented = BTreeSet::new();
    for (path, item) in doc.json["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let covered: BTreeSet<(String, String)> = covered
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p))
        .collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the matrix: {missing:?}"
    );
    shop.stop().await;
}

/// A row's path as the OpenAPI document names it (`/orders/{order_id}`).
fn template(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let named: Vec<String> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let parent = if i > 0 { segments[i - 1] } else { "" };
            match (*s, parent) {
                ("{order}" | "{shipped}", _) => "{order_id}".to_owned(),
                ("{cart}" | "{cart2}" | "{cart3}", _) => "{cart_id}".to_owned(),
                ("{review}", _) => "{review_id}".to_owned(),
                (_, "products") if !s.is_empty() => "{product_id}".to_owned(),
                (_, "variants" | "items") => "{sku}".to_owned(),
                (_, "inventory") => "{sku}".to_owned(),
                (_, "promotions") => "{code}".to_owned(),
                (_, "days") => "{day}".to_owned(),
                (_, "projections") => "{name}".to_owned(),
                (_, "sagas") => "{order_id}".to_owned(),
                _ => (*s).to_owned(),
            }
        })
        .collect();
    named.join("/")
}
