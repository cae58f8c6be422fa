//! Operations over HTTP: the per-client rate limit (429 with Retry-After), load shedding (503
//! with Retry-After), `/metrics`, readiness, guest orders followed with their cart token, and
//! the correlation id travelling from a request into the events it wrote.

use std::time::Duration;

use serde_json::json;
use shop_tests::steps::{add, checkout, order_status, product, receive};
use shop_tests::{Call, Shop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_rate_is_told_to_wait_and_others_are_not() {
    let shop = Shop::embedded_with(|s| shop_api::server::Settings {
        rate_limit: 2,
        rate_burst: 5,
        ..s
    })
    .await;
    let greedy = Call::as_(&Shop::token("customer", "greedy"));
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(shop.call("GET", "/products", &greedy, None).await);
    }
    let limited: Vec<_> = statuses.iter().filter(|a| a.status == 429).collect();
    assert!(
        limited.len() >= 2,
        "{:?}",
        statuses.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert_eq!(statuses[0].status, 200);
    assert_eq!(limited[0].code(), "rate_limited");
    assert!(limited[0].header("retry-after").is_some());
    // Another client has its own allowance; probes are never limited.
    let other = Call::as_(&Shop::token("customer", "polite"));
    assert_eq!(
        shop.call("GET", "/products", &other, None).await.status,
        200
    );
    assert_eq!(
        shop.call("GET", "/healthz", &greedy, None).await.status,
        200
    );
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_in_flight_cap_are_shed_at_once() {
    let shop = Shop::embedded_with(|s| shop_api::server::Settings {
        max_in_flight: 1,
        // Long, so that answering a position beyond the log only after the wait is unmistakable.
        consistency_wait_ms: 20_000,
        ..s
    })
    .await;
    // A slow client holds the only slot: its request's body trickles in.
    let addr = shop.server.addr;
    let slow = async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                b"POST /carts HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n\
                  Content-Length: 2\r\nConnection: close\r\n\r\n{",
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        stream.write_all(b"}").await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    let fast = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        shop.call("GET", "/products", &Call::default(), None).await
    };
    let (slow, shed) = tokio::join!(slow, fast);
    assert!(slow.starts_with("HTTP/1.1 201"), "{slow}");
    assert_eq!((shed.status, shed.code()), (503, "overloaded"));
    assert_eq!(shed.header("retry-after"), Some("1"));
    // A position the log has not reached is answered stale at once, not after the wait.
    let started = std::time::Instant::now();
    let ahead = shop
        .call(
            "GET",
            "/products",
            &Call::default().at(Some("999999999999.0")),
            None,
        )
        .await;
    assert_eq!(ahead.header("x-consistency"), Some("stale"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered without waiting the 20 s"
    );
    // Once the slot is free, requests are served again.
    assert_eq!(
        shop.call("GET", "/products", &Call::default(), None)
            .await
            .status,
        200
    );
    let metrics = shop.call("GET", "/metrics", &Call::default(), None).await;
    assert!(
        metrics.text.contains("shop_http_shed_total 1"),
        "{}",
        metrics.text
    );
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_readiness_guest_orders_and_correlation() {
    let shop = Shop::embedded().await;
    let admin = Call::as_(&Shop::token("admin", "ops"));
    product(&shop, &admin, "mug", "Mug", "Acme", &[("MUG-1", 900)]).await;
    receive(&shop, &admin, "MUG-1", 3).await;

    // A guest checks out and follows the order with the cart's token; nobody else sees it.
    let cart = shop
        .call(
            "POST",
            "/carts",
            &Call::default().key("guest-cart-1"),
            Some(json!({})),
        )
        .await;
    let (cart_id, token) = (
        cart.json["cart_id"].as_str().unwrap().to_owned(),
        cart.json["cart_token"].as_str().unwrap().to_owned(),
    );
    let guest = Call::guest(&token);
    assert_eq!(
        add(&shop, &guest, &cart_id, "mug", "MUG-1", 1).await.status,
        200
    );
    let accepted = checkout(&shop, &guest, &cart_id, "tok_approve").await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let order = accepted.json["order_id"].as_str().unwrap().to_owned();
    order_status(&shop, &guest, &order, &["confirmed"]).await;
    let stranger = shop
        .call("GET", &format!("/orders/{order}"), &Call::default(), None)
        .await;
    assert_eq!(stranger.status, 404);
    let other_cart = shop
        .call("POST", "/carts", &Call::default(), Some(json!({})))
        .await;
    let other = Call::guest(other_cart.json["cart_token"].as_str().unwrap());
    assert_eq!(
        shop.call("GET", &format!("/orders/{order}"), &other, None)
            .await
            .status,
        404
    );

    // The correlation id a client sends is answered and recorded on the events it caused.
    let correlation = uuid::Uuid::new_v4().to_string();
    let response = reqwest::Client::new()
        .post(format!("{}/inventory/MUG-1/receive", shop.base))
        .bearer_auth(Shop::token("admin", "ops"))
        .header("X-Correlation-Id", &correlation)
        .json(&json!({"warehouse": "main", "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok()),
        Some(correlation.as_str())
    );
    let analyst = Call::as_(&Shop::token("analyst", "ann"));
    let mut found = false;
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/events?limit=1000&after={a}"),
            None => "/events?limit=1000".to_owned(),
        };
        let page = shop.call("GET", &path, &analyst, None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let events = page.json["events"].as_array().unwrap();
        found |= events.iter().any(|e| {
            e["correlation_id"] == correlation.as_str()
                && e["event_type"] == "inventory.StockReceived.v1"
                && e["actor"] == "admin:ops"
        });
        match page.json["next_after"].as_str() {
            Some(next) if !events.is_empty() => after = Some(next.to_owned()),
            _ => break,
        }
    }
    assert!(found, "the receipt carries the request's correlation id");
    // The feed is the shop's history, not the server's bookkeeping or the provider's secrets:
    // no idempotency records (a guest cart's token is in one), no payment method tokens.
    let everything = shop.call("GET", "/events?limit=1000", &analyst, None).await;
    assert!(
        !everything.text.contains("idempotency-"),
        "{}",
        everything.text
    );
    assert!(!everything.text.contains("tok_approve"));
    assert!(
        !everything.text.contains(&token),
        "a guest cart token leaked"
    );
    assert!(everything.text.contains("[redacted]"));

    // Analysts: the day's sales, and the feed narrowed to one category.
    let sales = shop
        .until("/analytics/products/mug/daily", &analyst, |a| {
            a.json["items"][0]["units"] == 1
        })
        .await;
    assert_eq!(sales.json["items"][0]["revenue"], 900);
    let day = sales.json["items"][0]["day"].as_str().unwrap().to_owned();
    let that_day = shop
        .call("GET", &format!("/analytics/days/{day}"), &analyst, None)
        .await;
    assert_eq!(that_day.json["items"][0]["product_id"], "mug");
    let orders_only = shop
        .call("GET", "/events?category=order&limit=1000", &analyst, None)
        .await;
    let streams = orders_only.json["events"].as_array().unwrap();
    assert!(!streams.is_empty());
    assert!(
        streams
            .iter()
            .all(|e| e["stream"].as_str().unwrap().starts_with("order-"))
    );

    // Metrics: latency by route template and status, command counters, projection lag.
    let metrics = shop.call("GET", "/metrics", &Call::default(), None).await;
    assert_eq!(metrics.status, 200);
    for needle in [
        "shop_http_request_duration_seconds_bucket{method=\"GET\",route=\"/orders/{order_id}\",status=\"200\",le=\"+Inf\"}",
        "shop_http_request_duration_seconds_count{method=\"POST\",route=\"/carts/{cart_id}/checkout\",status=\"202\"} 1",
        "shop_command_commands_total{aggregate=\"inventory\"}",
        "shop_command_conflicts_total{aggregate=\"cart\"}",
        "shop_projection_lag_seconds{projection=\"orders\"}",
        "shop_sagas_failing 0",
        "shop_sagas{state=\"running\"} 0",
        "shop_sagas{state=\"stuck\"} 0",
        "shop_deadlines_pending ",
    ] {
        assert!(
            metrics.text.contains(needle),
            "{needle} missing from\n{}",
            metrics.text
        );
    }
    assert_eq!(
        shop.call("GET", "/readyz", &Call::default(), None)
            .await
            .status,
        200
    );
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tax_rates_and_shipping_methods_come_from_the_settings() {
    let shop = Shop::embedded_with(|s| shop_api::server::Settings {
        tax_rates: Some("DE=700,AT=1000".into()),
        shipping_methods: Some("pickup=0,courier=1500:10000".into()),
        ..s
    })
    .await;
    let admin = Call::as_(&Shop::token("admin", "ops"));
    product(&shop, &admin, "book", "Book", "Acme", &[("BOOK-1", 1_000)]).await;
    let alice = Call::as_(&Shop::token("customer", "alice"));
    let cart = shop_tests::steps::customer_cart(&shop, &alice).await;
    add(&shop, &alice, &cart, "book", "BOOK-1", 1).await;
    let quote = |query: &'static str| {
        let (shop, alice, cart) = (&shop, &alice, &cart);
        async move {
            shop.call("GET", &format!("/carts/{cart}?{query}"), alice, None)
                .await
                .json
        }
    };
    let pickup = quote("shipping_method=pickup").await;
    assert_eq!(pickup["quote"]["tax"]["amount"], 70, "{pickup}");
    assert_eq!(pickup["quote"]["shipping"]["amount"], 0);
    let courier = quote("shipping_method=courier&country=AT").await;
    assert_eq!(courier["quote"]["shipping"]["amount"], 1_500);
    assert_eq!(
        courier["quote"]["tax"]["amount"], 250,
        "10 % of 1,000 + 1,500"
    );
    let unknown = quote("shipping_method=standard").await;
    assert!(unknown["quote"].is_null());
    assert!(
        unknown["quote_error"].as_str().unwrap().contains("pickup"),
        "{unknown}"
    );
    let abroad = quote("shipping_method=pickup&country=FR").await;
    assert!(abroad["quote"].is_null(), "no tax rate for FR: {abroad}");
    shop.stop().await;
}
