//! After the sale, over HTTP: reviews (submitted, moderated, counted in the rating),
//! "bought together" recommendations, a customer cancelling a confirmed order (the saga releases
//! the stock and refunds the payment), an admin's partial refund, and what cannot be undone.

use serde_json::json;
use shop_tests::steps::{add, checkout, customer_cart, order_status, product, receive};
use shop_tests::{Call, Shop};

async fn review(shop: &Shop, who: &Call, rating: u8) -> shop_tests::Answer {
    shop.call(
        "POST",
        "/products/kettle/reviews",
        who,
        Some(json!({"rating": rating, "text": "boils water"})),
    )
    .await
}

async fn aftersales(shop: Shop) {
    let admin = Call::as_(&Shop::token("admin", "ops"));
    let alice = Call::as_(&Shop::token("customer", "alice"));
    let bob = Call::as_(&Shop::token("customer", "bob"));
    product(
        &shop,
        &admin,
        "kettle",
        "Kettle",
        "Acme",
        &[("KT-1", 3_000)],
    )
    .await;
    product(
        &shop,
        &admin,
        "teapot",
        "Teapot",
        "Acme",
        &[("TP-1", 2_000)],
    )
    .await;
    receive(&shop, &admin, "KT-1", 10).await;
    receive(&shop, &admin, "TP-1", 10).await;

    // Alice buys both together.
    let cart = customer_cart(&shop, &alice).await;
    add(&shop, &alice, &cart, "kettle", "KT-1", 1).await;
    add(&shop, &alice, &cart, "teapot", "TP-1", 1).await;
    let accepted = checkout(&shop, &alice, &cart, "tok_approve").await;
    let together = accepted.json["order_id"].as_str().unwrap().to_owned();
    order_status(&shop, &alice, &together, &["confirmed"]).await;

    // Recommendations: the kettle was bought with the teapot.
    let recommended = shop
        .until("/products/kettle/recommendations", &Call::default(), |a| {
            a.json["items"][0]["product_id"] == "teapot"
        })
        .await;
    assert_eq!(recommended.json["items"][0]["orders"], 1);

    // Reviews: two submitted, one approved, one rejected; only the approved one counts.
    let a = review(&shop, &alice, 5).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let b = review(&shop, &bob, 1).await;
    assert_eq!(b.status, 201, "{}", b.text);
    let again = review(&shop, &alice, 4).await;
    assert_eq!(again.status, 422, "one review per customer: {}", again.text);
    let (a_id, b_id) = (
        a.json["id"].as_str().unwrap().to_owned(),
        b.json["id"].as_str().unwrap().to_owned(),
    );
    let approved = shop
        .call(
            "POST",
            &format!("/products/kettle/reviews/{a_id}/approve"),
            &admin,
            None,
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let rejected = shop
        .call(
            "POST",
            &format!("/products/kettle/reviews/{b_id}/reject"),
            &admin,
            Some(json!({"reason": "not about the product"})),
        )
        .await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    let at = rejected.header("x-consistency-position").map(str::to_owned);
    let listed = shop
        .call(
            "GET",
            "/products/kettle/reviews",
            &Call::default().at(at.as_deref()),
            None,
        )
        .await;
    let items = listed.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", listed.text);
    assert_eq!(items[0]["rating"], 5);
    let kettle = shop
        .call(
            "GET",
            "/products/kettle",
            &Call::default().at(at.as_deref()),
            None,
        )
        .await;
    assert_eq!(kettle.json["rating_hundredths"], 500);
    assert_eq!(kettle.json["review_count"], 1);

    // An admin refunds part of the order through the provider.
    let refunded = shop
        .call(
            "POST",
            &format!("/orders/{together}/refund"),
            &admin.clone().key("refund-1"),
            Some(json!({"amount": {"amount": 500, "currency": "EUR"}, "reason": "dented lid"})),
        )
        .await;
    assert_eq!(refunded.status, 200, "{}", refunded.text);
    let too_much = shop
        .call(
            "POST",
            &format!("/orders/{together}/refund"),
            &admin.clone().key("refund-2"),
            Some(json!({"amount": {"amount": 1_000_000, "currency": "EUR"}, "reason": "oops"})),
        )
        .await;
    assert_eq!(too_much.status, 422, "{}", too_much.text);
    // Refused by the order's rules before the provider is asked: nothing was paid out.
    let no_reason = shop
        .call(
            "POST",
            &format!("/orders/{together}/refund"),
            &admin.clone().key("refund-3"),
            Some(json!({"amount": {"amount": 100, "currency": "EUR"}, "reason": ""})),
        )
        .await;
    assert_eq!(no_reason.status, 422, "{}", no_reason.text);
    let keyless = shop
        .call(
            "POST",
            &format!("/orders/{together}/refund"),
            &admin,
            Some(json!({"amount": {"amount": 100, "currency": "EUR"}, "reason": "keyless"})),
        )
        .await;
    assert_eq!(
        (keyless.status, keyless.code()),
        (400, "idempotency_key_required")
    );
    let payments = shop
        .until(&format!("/orders/{together}/payments"), &alice, |a| {
            a.json["payments"][0]["refunded"] == 500
        })
        .await;
    assert_eq!(payments.json["payments"][0]["status"], "partially_refunded");

    // Alice cancels the order: the saga refunds the rest and puts the stock back.
    let cancelled = shop
        .call(
            "POST",
            &format!("/orders/{together}/cancel"),
            &alice,
            Some(json!({})),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    order_status(&shop, &alice, &together, &["cancelled"]).await;
    let paid = shop
        .until(&format!("/orders/{together}/payments"), &alice, |a| {
            a.json["payments"][0]["status"] == "refunded"
        })
        .await;
    assert_eq!(
        paid.json["payments"][0]["refunded"],
        paid.json["payments"][0]["captured"]
    );
    shop.until("/inventory/KT-1", &admin, |a| {
        a.json["levels"][0]["available"] == 10
    })
    .await;

    // A delivered order cannot be cancelled.
    let cart = customer_cart(&shop, &bob).await;
    add(&shop, &bob, &cart, "teapot", "TP-1", 1).await;
    let accepted = checkout(&shop, &bob, &cart, "tok_approve").await;
    let order = accepted.json["order_id"].as_str().unwrap().to_owned();
    order_status(&shop, &bob, &order, &["confirmed"]).await;
    // A stale If-Match is refused before any stock moves.
    let committed = shop
        .until("/inventory/TP-1", &admin, |a| {
            a.json["levels"][0]["committed"] == 1
        })
        .await;
    let head = shop.head().await;
    let stale = shop
        .call(
            "POST",
            &format!("/orders/{order}/ship"),
            &Call {
                if_match: Some("\"99\"".into()),
                ..admin.clone()
            },
            Some(json!({"carrier": "UPS", "tracking_number": "1Z"})),
        )
        .await;
    assert_eq!((stale.status, stale.code()), (412, "precondition_failed"));
    let touched: Vec<String> = shop
        .written_since(head)
        .await
        .into_iter()
        .filter(|e| e.starts_with(&format!("order-{order} ")) || e.starts_with("inventory-TP-1 "))
        .collect();
    assert_eq!(
        touched,
        Vec::<String>::new(),
        "neither the order nor its stock moved"
    );
    let after = shop.call("GET", "/inventory/TP-1", &admin, None).await;
    assert_eq!(after.json["levels"], committed.json["levels"]);
    for step in ["ship", "deliver"] {
        let body = (step == "ship").then(|| json!({"carrier": "UPS", "tracking_number": "1Z"}));
        let answer = shop
            .call("POST", &format!("/orders/{order}/{step}"), &admin, body)
            .await;
        assert_eq!(answer.status, 200, "{step}: {}", answer.text);
    }
    let late = shop
        .call(
            "POST",
            &format!("/orders/{order}/cancel"),
            &bob,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (late.status, late.code()),
        (422, "rejected"),
        "{}",
        late.text
    );

    // Bob's orders list newest first.
    let cart = customer_cart(&shop, &bob).await;
    add(&shop, &bob, &cart, "teapot", "TP-1", 2).await;
    let second = checkout(&shop, &bob, &cart, "tok_approve").await;
    let newer = second.json["order_id"].as_str().unwrap().to_owned();
    let at = second.header("x-consistency-position").map(str::to_owned);
    let mine = shop
        .call(
            "GET",
            "/orders?limit=1",
            &bob.clone().at(at.as_deref()),
            None,
        )
        .await;
    assert_eq!(
        mine.json["items"][0]["order_id"],
        newer.as_str(),
        "{}",
        mine.text
    );
    let next = mine.json["next_cursor"].as_str().unwrap().to_owned();
    let older = shop
        .call("GET", &format!("/orders?limit=1&cursor={next}"), &bob, None)
        .await;
    assert_eq!(older.json["items"][0]["order_id"], order.as_str());
    assert!(older.json["next_cursor"].is_null());

    // The auditor sees the whole trail of the first order: order, payment, stock, saga.
    let auditor = Call::as_(&Shop::token("auditor", "aud"));
    let trail = shop
        .until(
            &format!("/orders/{together}/audit?limit=100"),
            &auditor,
            |a| {
                a.json["items"].as_array().is_some_and(|i| {
                    i.iter()
                        .any(|e| e["event_type"] == "payment.PaymentRefunded.v1")
                })
            },
        )
        .await;
    let streams: std::collections::BTreeSet<&str> = trail.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stream"].as_str().unwrap().split('-').next().unwrap())
        .collect();
    for category in ["order", "payment", "inventory", "checkout"] {
        assert!(
            streams.contains(category),
            "{category} missing from {streams:?}"
        );
    }
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_sale_on_the_embedded_stores() {
    aftersales(Shop::embedded().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_sale_on_postgres() {
    let Some(shop) = Shop::postgres().await else {
        eprintln!("TEST_DATABASE_URL is not set: skipping");
        return;
    };
    aftersales(shop).await;
}
