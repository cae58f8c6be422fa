//! End-to-end tests over real HTTP: a `shop` server started in the test process on port 0 (the
//! embedded stores in a temporary directory, or Postgres events and Postgres read models in a
//! fresh schema) and driven with an HTTP client, as a storefront or admin tool would.
//!
//! This library is the harness: [`Shop`] starts a server and speaks to it ([`Shop::call`]), with
//! bearer tokens minted for any role ([`Shop::token`]).

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use shop_api::server::{Server, Settings};
use shop_eventstore::EventStore;
use shop_projections::store::ReadStore;
use shop_projections::store::postgres::{PostgresReadOptions, PostgresReadStore};

/// The secret the test servers verify tokens with.
pub const SECRET: &str = "the end-to-end tests' secret, 32+ bytes";

/// A running server and a client for it.
pub struct Shop {
    /// The server.
    pub server: Server,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop").field("base", &self.base).finish()
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Headers (lower-case names).
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
    /// The body as text.
    pub text: String,
}

impl Answer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem's `code`.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
}

/// How to reach the server: who calls and with what.
#[derive(Debug, Clone, Default)]
pub struct Call {
    /// `Authorization: Bearer …`.
    pub token: Option<String>,
    /// `X-Cart-Token`.
    pub cart_token: Option<String>,
    /// `Idempotency-Key`.
    pub key: Option<String>,
    /// `If-Match`.
    pub if_match: Option<String>,
    /// `X-Min-Position`.
    pub min_position: Option<String>,
}

impl Call {
    /// As the holder of `token`.
    pub fn as_(token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..Self::default()
        }
    }

    /// As a guest with a cart token.
    pub fn guest(cart_token: &str) -> Self {
        Self {
            cart_token: Some(cart_token.to_owned()),
            ..Self::default()
        }
    }

    /// With an `Idempotency-Key`.
    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    /// Reading at least `position`.
    pub fn at(mut self, position: Option<&str>) -> Self {
        self.min_position = position.map(str::to_owned);
        self
    }
}

fn settings(dir: &std::path::Path) -> Settings {
    Settings {
        jwt_secret: Some(SECRET.into()),
        ..Settings::embedded(dir)
    }
}

impl Shop {
    /// A server on the embedded stores in a fresh directory.
    pub async fn embedded() -> Self {
        Self::embedded_with(|s| s).await
    }

    /// The same, with settings changed by `tune`.
    pub async fn embedded_with(tune: impl FnOnce(Settings) -> Settings) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let server = Server::start(tune(settings(dir.path())))
            .await
            .expect("the server starts");
        Self::around(server, dir)
    }

    /// A server on Postgres events and Postgres read models, each in a fresh schema; `None` when
    /// no test database is configured (a failure instead when `SHOP_REQUIRE_POSTGRES=1`).
    pub async fn postgres() -> Option<Self> {
        let url = shop_eventstore::test_support::postgres_url()?;
        let schema = shop_eventstore::test_support::fresh_schema(&url, "e2e").await;
        Some(Self::postgres_in(&url, &schema).await)
    }

    /// Two servers on the same Postgres schemas, as two API nodes of one shop: the first started
    /// runs the projections, the second waits as their standby.
    pub async fn postgres_pair() -> Option<(Self, Self)> {
        let url = shop_eventstore::test_support::postgres_url()?;
        let schema = shop_eventstore::test_support::fresh_schema(&url, "e2e").await;
        let first = Self::postgres_in(&url, &schema).await;
        let second = Self::postgres_in(&url, &schema).await;
        Some((first, second))
    }

    async fn postgres_in(url: &str, schema: &str) -> Self {
        let events: Arc<dyn EventStore> =
            Arc::new(shop_eventstore::test_support::postgres_store_in(schema).await);
        let reads: Arc<dyn ReadStore> = Arc::new(
            PostgresReadStore::connect(
                url,
                PostgresReadOptions {
                    schema: Some(format!("{schema}_read")),
                    max_connections: 8,
                },
            )
            .await
            .expect("connect the read models"),
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        let server = Server::start_on(settings(dir.path()), events, reads)
            .await
            .expect("the server starts");
        Self::around(server, dir)
    }

    fn around(server: Server, dir: tempfile::TempDir) -> Self {
        // Server logs in the test's output when RUST_LOG asks for them.
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        Self {
            base: format!("http://{}", server.addr),
            server,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// A token for `sub` in `role`, valid for an hour.
    pub fn token(role: &str, sub: &str) -> String {
        Self::token_with(role, sub, 3600, SECRET)
    }

    /// A token valid for `ttl` seconds from now (negative: expired), signed with `secret`.
    pub fn token_with(role: &str, sub: &str, ttl: i64, secret: &str) -> String {
        let role = match role {
            "admin" => shop_api::auth::Role::Admin,
            "auditor" => shop_api::auth::Role::Auditor,
            "analyst" => shop_api::auth::Role::Analyst,
            _ => shop_api::auth::Role::Customer,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        // Expired: issued an hour ago for a minute (well past the 30 s leeway).
        let (issued, lifetime) = if ttl < 0 {
            (now - 3600, 60)
        } else {
            (now, ttl as u64)
        };
        shop_api::auth::mint_hs256(secret.as_bytes(), sub, role, issued, lifetime).expect("a token")
    }

    /// Sends a request; `body` as JSON when given.
    pub async fn call(&self, method: &str, path: &str, call: &Call, body: Option<Value>) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &call.token {
            request = request.bearer_auth(token);
        }
        if let Some(token) = &call.cart_token {
            request = request.header("X-Cart-Token", token);
        }
        if let Some(key) = &call.key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(tag) = &call.if_match {
            request = request.header("If-Match", tag);
        }
        if let Some(position) = &call.min_position {
            request = request.header("X-Min-Position", position);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            text,
        }
    }

    /// Sends raw bytes with a content type.
    pub async fn raw(&self, path: &str, call: &Call, content_type: &str, body: Vec<u8>) -> Answer {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(token) = &call.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        Answer {
            status,
            headers,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// Asks `GET path` until `done` holds for the answer (up to 20 s), and returns it.
    pub async fn until(&self, path: &str, call: &Call, done: impl Fn(&Answer) -> bool) -> Answer {
        let mut last = None;
        for _ in 0..400 {
            let answer = self.call("GET", path, call, None).await;
            if done(&answer) {
                return answer;
            }
            last = Some(answer);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("GET {path} never got there: {last:?}");
    }

    /// The event log's head.
    pub async fn head(&self) -> Option<shop_eventstore::Position> {
        self.server.events.head_position().await.expect("the head")
    }

    /// The events written after `head`, but for the background workers' own bookkeeping, which
    /// lands whenever it likes (checkpoint saves, deadlines, saga notes): what requests wrote
    /// since.
    pub async fn written_since(&self, head: Option<shop_eventstore::Position>) -> Vec<String> {
        let mut read = shop_eventstore::ReadAll::forwards().limit(10_000);
        if let Some(head) = head {
            read = read.from(head);
        }
        self.server
            .events
            .read_all(read)
            .await
            .expect("the log")
            .into_iter()
            .filter(|e| {
                let stream = e.stream.as_str();
                !["checkpoint-", "deadline-", "checkout-"]
                    .iter()
                    .any(|p| stream.starts_with(p))
            })
            .map(|e| format!("{} {}", e.stream, e.event_type))
            .collect()
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.server.stop().await.expect("a clean stop");
    }
}

/// Steps the end-to-end tests share: set up a catalog, fill carts, check out, wait for orders.
pub mod steps {
    use serde_json::{Value, json};

    use super::{Answer, Call, Shop};

    /// The position a command response wrote (`X-Consistency-Position`).
    pub fn position(answer: &Answer) -> Option<String> {
        answer.header("x-consistency-position").map(str::to_owned)
    }

    /// Creates a product (as `admin`) with one variant per `(sku, cents)`; asserts 201.
    pub async fn product(
        shop: &Shop,
        admin: &Call,
        id: &str,
        title: &str,
        brand: &str,
        skus: &[(&str, i64)],
    ) -> Answer {
        let variants: Vec<Value> = skus
            .iter()
            .map(|(sku, cents)| {
                json!({"sku": sku, "price": {"amount": cents, "currency": "EUR"},
                       "attributes": {"colour": "blue"}, "weight_grams": 300})
            })
            .collect();
        let answer = shop
            .call(
                "POST",
                "/products",
                admin,
                Some(json!({
                    "product_id": id, "title": title, "brand": brand,
                    "description": format!("{title} by {brand}"),
                    "category": ["Clothing", "Shirts"], "variants": variants,
                })),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        answer
    }

    /// Receives stock into warehouse `main` (as `admin`); asserts 200.
    pub async fn receive(shop: &Shop, admin: &Call, sku: &str, quantity: u32) -> Answer {
        let answer = shop
            .call(
                "POST",
                &format!("/inventory/{sku}/receive"),
                admin,
                Some(json!({"warehouse": "main", "quantity": quantity})),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer
    }

    /// A valid German shipping address.
    pub fn address() -> Value {
        json!({"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "Berlin",
               "postal_code": "10115", "country": "DE"})
    }

    /// Checks the cart out to [`address`] paying with the sandbox token `token`.
    pub async fn checkout(shop: &Shop, call: &Call, cart: &str, token: &str) -> Answer {
        shop.call(
            "POST",
            &format!("/carts/{cart}/checkout"),
            call,
            Some(json!({"shipping_address": address(), "payment_token": token})),
        )
        .await
    }

    /// Adds `quantity` of `sku` to the cart.
    pub async fn add(
        shop: &Shop,
        call: &Call,
        cart: &str,
        product: &str,
        sku: &str,
        quantity: u32,
    ) -> Answer {
        shop.call(
            "POST",
            &format!("/carts/{cart}/items"),
            call,
            Some(json!({"product_id": product, "sku": sku, "quantity": quantity})),
        )
        .await
    }

    /// Creates a cart for the customer `who`; returns its id.
    pub async fn customer_cart(shop: &Shop, who: &Call) -> String {
        let cart = shop.call("POST", "/carts", who, Some(json!({}))).await;
        assert_eq!(cart.status, 201, "{}", cart.text);
        assert!(
            cart.json["cart_token"].is_null(),
            "a customer's cart has no token"
        );
        cart.json["cart_id"].as_str().unwrap().to_owned()
    }

    /// Waits until the order's status is one of `want`; returns the order.
    pub async fn order_status(shop: &Shop, call: &Call, order: &str, want: &[&str]) -> Answer {
        shop.until(&format!("/orders/{order}"), call, |a| {
            a.status == 200 && want.contains(&a.json["status"].as_str().unwrap_or(""))
        })
        .await
    }
}
