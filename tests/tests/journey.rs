//! The shop end to end over HTTP, on the embedded stores and on Postgres (events and read
//! models): a guest browses and searches, fills a cart, signs in (the cart merges), checks out
//! and sees the order confirmed; an admin ships and delivers it and the customer sees the
//! timeline. Then a declined card, an out-of-stock race, idempotent retries, read-your-writes,
//! and bad input that changes nothing.

use serde_json::json;
use shop_tests::steps::{add, checkout, customer_cart, order_status, position, product, receive};
use shop_tests::{Call, Shop};

async fn journey(shop: Shop) {
    let admin = Call::as_(&Shop::token("admin", "ops-anna"));
    let alice = Call::as_(&Shop::token("customer", "alice"));

    // The catalog and its stock.
    product(
        &shop,
        &admin,
        "linen-shirt",
        "Linen Shirt",
        "Nordkind",
        &[("LS-M", 4_900), ("LS-L", 4_900)],
    )
    .await;
    product(
        &shop,
        &admin,
        "wool-socks",
        "Wool Socks",
        "Acme",
        &[("WS-1", 1_200)],
    )
    .await;
    receive(&shop, &admin, "LS-M", 10).await;
    let stocked = receive(&shop, &admin, "WS-1", 10).await;
    let written = position(&stocked);

    // A guest browses (reading its own writes) and searches with a typo and facets.
    let guest = Call::default();
    let list = shop
        .call(
            "GET",
            "/products?limit=1",
            &guest.clone().at(written.as_deref()),
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.header("x-consistency"), Some("fresh"));
    assert_eq!(list.json["items"].as_array().unwrap().len(), 1);
    let next = list.json["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let page2 = shop
        .call(
            "GET",
            &format!("/products?limit=1&cursor={next}"),
            &guest,
            None,
        )
        .await;
    assert_eq!(page2.json["items"].as_array().unwrap().len(), 1);
    assert_ne!(
        page2.json["items"][0]["product_id"],
        list.json["items"][0]["product_id"]
    );
    assert!(
        page2.json["next_cursor"].is_null(),
        "two products, two pages"
    );
    let one = shop
        .call("GET", "/products/linen-shirt", &guest, None)
        .await;
    assert_eq!(one.json["variants"].as_array().unwrap().len(), 2);
    assert!(one.header("etag").is_some());
    let hits = shop
        .until(
            "/search?q=linnen&facets=brand&in_stock=true",
            &guest.clone().at(written.as_deref()),
            |a| a.status == 200 && a.json["total"] == 1,
        )
        .await;
    assert_eq!(hits.json["hits"][0]["product_id"], "linen-shirt");
    assert_eq!(hits.json["facets"]["brand"]["Nordkind"], 1);

    // The guest fills a cart.
    let cart = shop.call("POST", "/carts", &guest, Some(json!({}))).await;
    assert_eq!(cart.status, 201, "{}", cart.text);
    let guest_cart = cart.json["cart_id"].as_str().unwrap().to_owned();
    let token = cart.json["cart_token"].as_str().unwrap().to_owned();
    let as_guest = Call::guest(&token);
    assert_eq!(
        add(&shop, &as_guest, &guest_cart, "linen-shirt", "LS-M", 2)
            .await
            .status,
        200
    );
    let view = shop
        .call("GET", &format!("/carts/{guest_cart}"), &as_guest, None)
        .await;
    assert_eq!(view.json["quote"]["subtotal"]["amount"], 9_800);
    assert_eq!(
        view.json["quote"]["shipping"]["amount"], 0,
        "free from 50 EUR"
    );
    // Without the token the cart does not exist.
    let nope = shop
        .call("GET", &format!("/carts/{guest_cart}"), &guest, None)
        .await;
    assert_eq!(nope.status, 404);

    // Alice signs in: her cart takes the guest's lines.
    let alices = customer_cart(&shop, &alice).await;
    assert_eq!(
        add(&shop, &alice, &alices, "wool-socks", "WS-1", 1)
            .await
            .status,
        200
    );
    let merged = shop
        .call(
            "POST",
            &format!("/carts/{alices}/merge"),
            &alice,
            Some(json!({"guest_cart_id": guest_cart, "guest_cart_token": token})),
        )
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    let view = shop
        .call("GET", &format!("/carts/{alices}"), &alice, None)
        .await;
    assert_eq!(
        view.json["lines"].as_array().unwrap().len(),
        2,
        "{}",
        view.text
    );

    // She checks out; the saga confirms the order.
    let accepted = checkout(
        &shop,
        &alice.clone().key("alice-checkout-1"),
        &alices,
        "tok_approve",
    )
    .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let order = accepted.json["order_id"].as_str().unwrap().to_owned();
    assert_eq!(
        accepted.header("location"),
        Some(format!("/orders/{order}").as_str())
    );
    // A retry of the same request answers the same order.
    let again = checkout(
        &shop,
        &alice.clone().key("alice-checkout-1"),
        &alices,
        "tok_approve",
    )
    .await;
    assert_eq!(
        (again.status, &again.json["order_id"]),
        (202, &accepted.json["order_id"])
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    // A second click without the key finds the cart checked out: the same order, nothing new.
    let double = checkout(&shop, &alice, &alices, "tok_approve").await;
    assert_eq!(
        (double.status, &double.json["order_id"]),
        (202, &accepted.json["order_id"])
    );
    order_status(&shop, &alice, &order, &["confirmed"]).await;
    let mine = shop.call("GET", "/orders", &alice, None).await;
    assert_eq!(mine.json["items"][0]["order_id"], order.as_str());

    // The admin ships and delivers; Alice sees the timeline and her payment.
    let shipped = shop
        .call(
            "POST",
            &format!("/orders/{order}/ship"),
            &admin,
            Some(json!({"carrier": "DHL", "tracking_number": "JJD000123"})),
        )
        .await;
    assert_eq!(shipped.status, 200, "{}", shipped.text);
    let delivered = shop
        .call("POST", &format!("/orders/{order}/deliver"), &admin, None)
        .await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);
    let seen = shop
        .call(
            "GET",
            &format!("/orders/{order}"),
            &alice.clone().at(position(&delivered).as_deref()),
            None,
        )
        .await;
    assert_eq!(seen.json["status"], "delivered", "{}", seen.text);
    let events: Vec<&str> = seen.json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["event"].as_str().unwrap_or(""))
        .collect();
    for step in [
        "OrderPlaced",
        "OrderConfirmed",
        "OrderShipped",
        "OrderDelivered",
    ] {
        assert!(
            events.iter().any(|e| e.contains(step)),
            "{step} missing from {events:?}"
        );
    }
    let paid = shop
        .until(&format!("/orders/{order}/payments"), &alice, |a| {
            a.json["payments"][0]["status"] == "captured"
        })
        .await;
    assert_eq!(
        paid.json["payments"][0]["captured"],
        seen.json["total"]["amount"]
    );
    // Someone else's order does not exist for Bob.
    let bob = Call::as_(&Shop::token("customer", "bob"));
    assert_eq!(
        shop.call("GET", &format!("/orders/{order}"), &bob, None)
            .await
            .status,
        404
    );

    // Bob's card is declined: his order fails and its stock comes back.
    // He has a one-time code; the failed order gives it back.
    let once = json!({"code": "ONCE", "discount": {"kind": "fixed_amount", "amount": {"amount": 200, "currency": "EUR"}},
                      "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2100-01-01T00:00:00Z",
                      "usage_limit": 1});
    assert_eq!(
        shop.call("POST", "/promotions", &admin, Some(once))
            .await
            .status,
        201
    );
    let bobs = customer_cart(&shop, &bob).await;
    add(&shop, &bob, &bobs, "wool-socks", "WS-1", 1).await;
    let applied = shop
        .call(
            "POST",
            &format!("/carts/{bobs}/promo"),
            &bob,
            Some(json!({"code": "ONCE"})),
        )
        .await;
    assert_eq!(applied.status, 200, "{}", applied.text);
    let quoted = shop
        .call("GET", &format!("/carts/{bobs}"), &bob, None)
        .await;
    assert_eq!(
        quoted.json["quote"]["discount"]["amount"], 200,
        "{}",
        quoted.text
    );
    let declined = checkout(&shop, &bob, &bobs, "tok_decline").await;
    assert_eq!(declined.status, 202, "{}", declined.text);
    let bob_order = declined.json["order_id"].as_str().unwrap().to_owned();
    let failed = order_status(&shop, &bob, &bob_order, &["payment_failed", "cancelled"]).await;
    assert!(failed.json["failure_reason"].is_string() || failed.json["cancel_reason"].is_string());
    assert_eq!(failed.json["discount"]["amount"], 200);
    shop.until("/promotions/ONCE", &admin, |a| {
        a.json["used"] == 0 && a.json["remaining"] == 1
    })
    .await;
    // Trying the same cart again (another card) is refused: its order has ended.
    let again = checkout(&shop, &bob, &bobs, "tok_approve").await;
    assert_eq!(
        (again.status, again.code()),
        (409, "order_ended"),
        "{}",
        again.text
    );

    // An out-of-stock race: one unit left of a new SKU, two buyers; one order is confirmed.
    product(
        &shop,
        &admin,
        "last-tee",
        "Last Tee",
        "Acme",
        &[("LT-1", 1_500)],
    )
    .await;
    receive(&shop, &admin, "LT-1", 1).await;
    let (carol, dave) = (
        Call::as_(&Shop::token("customer", "carol")),
        Call::as_(&Shop::token("customer", "dave")),
    );
    let (c_cart, d_cart) = (
        customer_cart(&shop, &carol).await,
        customer_cart(&shop, &dave).await,
    );
    add(&shop, &carol, &c_cart, "last-tee", "LT-1", 1).await;
    add(&shop, &dave, &d_cart, "last-tee", "LT-1", 1).await;
    let (c, d) = tokio::join!(
        checkout(&shop, &carol, &c_cart, "tok_approve"),
        checkout(&shop, &dave, &d_cart, "tok_approve")
    );
    let c_done = order_status(
        &shop,
        &carol,
        c.json["order_id"].as_str().unwrap(),
        &["confirmed", "cancelled"],
    )
    .await;
    let d_done = order_status(
        &shop,
        &dave,
        d.json["order_id"].as_str().unwrap(),
        &["confirmed", "cancelled"],
    )
    .await;
    let mut outcomes = [
        c_done.json["status"].as_str().unwrap(),
        d_done.json["status"].as_str().unwrap(),
    ];
    outcomes.sort_unstable();
    assert_eq!(
        outcomes,
        ["cancelled", "confirmed"],
        "exactly one buyer gets the last unit"
    );

    // Idempotent retries of an admin command; the same key with another body is refused.
    let key = admin.clone().key("promo-create-1");
    let promo = json!({"code": "WELCOME10", "discount": {"kind": "percentage", "basis_points": 1000},
                       "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2100-01-01T00:00:00Z"});
    let first = shop
        .call("POST", "/promotions", &key, Some(promo.clone()))
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let head = shop.head().await;
    let second = shop.call("POST", "/promotions", &key, Some(promo)).await;
    assert_eq!((second.status, &second.text), (201, &first.text));
    assert_eq!(second.header("etag"), first.header("etag"));
    assert_eq!(
        shop.written_since(head).await,
        Vec::<String>::new(),
        "a replay writes nothing"
    );
    let other = shop
        .call("POST", "/promotions", &key,
              Some(json!({"code": "OTHER", "discount": {"kind": "percentage", "basis_points": 500},
                          "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2100-01-01T00:00:00Z"})))
        .await;
    assert_eq!(
        (other.status, other.code()),
        (422, "idempotency_key_reused")
    );

    // Optimistic concurrency: a stale If-Match is refused.
    let product_now = shop.call("GET", "/products/wool-socks", &admin, None).await;
    let tag = product_now.header("etag").unwrap().to_owned();
    let changed = shop
        .call(
            "PATCH",
            "/products/wool-socks",
            &Call {
                if_match: Some(tag.clone()),
                ..admin.clone()
            },
            Some(json!({"title": "Merino Socks"})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let stale = shop
        .call(
            "PATCH",
            "/products/wool-socks",
            &Call {
                if_match: Some(tag),
                ..admin.clone()
            },
            Some(json!({"title": "Cashmere Socks"})),
        )
        .await;
    assert_eq!((stale.status, stale.code()), (412, "precondition_failed"));
    // Read-your-writes: the rename is visible at the position it was written.
    let read = shop
        .call(
            "GET",
            "/products/wool-socks",
            &guest.clone().at(position(&changed).as_deref()),
            None,
        )
        .await;
    assert_eq!(read.json["title"], "Merino Socks");
    assert_eq!(read.header("x-consistency"), Some("fresh"));
    // A position the log has not reached is answered as stale, not silently.
    let ahead = shop
        .call(
            "GET",
            "/products/wool-socks",
            &guest.clone().at(Some("999999999999.999999999999")),
            None,
        )
        .await;
    assert_eq!(ahead.header("x-consistency"), Some("stale"));

    // Bad input: a 4xx naming the problem, and nothing written.
    let fresh_cart = customer_cart(&shop, &bob).await;
    let head = shop.head().await;
    let malformed = shop
        .raw(
            "/products",
            &admin,
            "application/json",
            b"{\"product_id\": ".to_vec(),
        )
        .await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (400, "malformed_json")
    );
    let unknown = shop
        .call(
            "POST",
            &format!("/carts/{bobs}/items"),
            &bob,
            Some(json!({"product_id": "wool-socks", "sku": "WS-1", "quantity": 1, "gift": true})),
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.text);
    let negative = shop
        .call(
            "POST",
            &format!("/carts/{fresh_cart}/items"),
            &bob,
            Some(json!({"product_id": "wool-socks", "sku": "WS-1", "quantity": -1})),
        )
        .await;
    assert_eq!(negative.status, 422);
    assert_eq!(negative.json["errors"][0]["pointer"], "/quantity");
    let huge = shop
        .call(
            "POST",
            "/inventory/WS-1/receive",
            &admin,
            Some(json!({"warehouse": "main", "quantity": 1u64 << 40})),
        )
        .await;
    assert_eq!(huge.status, 422);
    let overflow = shop
        .call(
            "PUT",
            "/products/wool-socks/variants/WS-1/price",
            &admin,
            Some(json!({"price": {"amount": 1e30, "currency": "EUR"}})),
        )
        .await;
    assert_eq!(overflow.status, 422);
    let oversized = shop
        .raw(
            "/products",
            &admin,
            "application/json",
            // Over the 64 KiB limit, yet small enough to be written whole before the server answers
            // (a megabyte can meet a closed connection mid-write).
            vec![b' '; 80 * 1024],
        )
        .await;
    assert_eq!(oversized.status, 413);
    let missing = shop
        .call("GET", "/products/no-such-thing", &guest, None)
        .await;
    assert_eq!((missing.status, missing.code()), (404, "not_found"));
    let unknown_sku = shop
        .call(
            "POST",
            "/inventory/NO-SUCH-SKU/receive",
            &admin,
            Some(json!({"warehouse": "main", "quantity": 5})),
        )
        .await;
    assert_eq!((unknown_sku.status, unknown_sku.code()), (404, "not_found"));
    let stale_checkout = shop
        .call(
            "POST",
            &format!("/carts/{fresh_cart}/checkout"),
            &Call {
                if_match: Some("\"7\"".into()),
                ..bob.clone()
            },
            Some(
                json!({"shipping_address": {"name": "B", "line1": "2 Way", "city": "Berlin",
                        "postal_code": "10115", "country": "DE"}, "payment_token": "tok_approve"}),
            ),
        )
        .await;
    assert_eq!(stale_checkout.status, 412, "{}", stale_checkout.text);
    let not_json = shop
        .raw("/products", &admin, "text/plain", b"hello".to_vec())
        .await;
    assert_eq!(not_json.status, 415);
    assert_eq!(
        shop.written_since(head).await,
        Vec::<String>::new(),
        "bad input wrote nothing"
    );

    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_on_the_embedded_stores() {
    journey(Shop::embedded().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_on_postgres() {
    let Some(shop) = Shop::postgres().await else {
        eprintln!("TEST_DATABASE_URL is not set: skipping the Postgres journey");
        return;
    };
    journey(shop).await;
}
