//! Two API nodes of one shop on Postgres: one runs the projections, the other is their standby
//! and serves queries from the same read models. A client that writes through the standby node
//! and reads there with `X-Min-Position` reads its write (the wait sees the projections'
//! committed checkpoint, not only this process's runner); each node's embedded search index is
//! fed by its own feed; an order placed on one node is followed on the other.

use serde_json::json;
use shop_tests::steps::{add, checkout, customer_cart, order_status, position, product, receive};
use shop_tests::{Call, Shop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_either_node_is_read_back_through_the_other() {
    let Some((first, second)) = Shop::postgres_pair().await else {
        eprintln!("TEST_DATABASE_URL is not set: skipping");
        return;
    };
    let admin = Call::as_(&Shop::token("admin", "ops"));
    // One node's runner holds the projections' locks; the other's waits as a standby (usually
    // the second, started later; whichever it is, the writes and reads below go through it).
    use shop_projections::runner::ProjectionState::{Running, Standby};
    let state = |shop: &Shop| shop.server.app.board.get("catalog").map(|s| s.state);
    let mut roles = (None, None);
    for _ in 0..500 {
        roles = (state(&first), state(&second));
        if matches!(
            roles,
            (Some(Running), Some(Standby)) | (Some(Standby), Some(Running))
        ) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (first, second) = match roles {
        (Some(Running), Some(Standby)) => (first, second),
        (Some(Standby), Some(Running)) => (second, first),
        other => panic!("one runner active and one standby, not {other:?}"),
    };
    // Written through the standby node, read there at once.
    let created = product(
        &second,
        &admin,
        "lamp",
        "Desk Lamp",
        "Lumen",
        &[("LAMP-1", 4_500)],
    )
    .await;
    let read = second
        .call(
            "GET",
            "/products/lamp",
            &Call::default().at(position(&created).as_deref()),
            None,
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.header("x-consistency"), Some("fresh"));
    assert_eq!(read.json["title"], "Desk Lamp");
    let renamed = second
        .call(
            "PATCH",
            "/products/lamp",
            &admin,
            Some(json!({"title": "Reading Lamp"})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let read = second
        .call(
            "GET",
            "/products/lamp",
            &Call::default().at(position(&renamed).as_deref()),
            None,
        )
        .await;
    assert_eq!(read.json["title"], "Reading Lamp");
    assert_eq!(read.header("x-consistency"), Some("fresh"));
    // Search on either node finds it.
    for node in [&first, &second] {
        node.until("/search?q=reading", &Call::default(), |a| {
            a.json["total"] == 1
        })
        .await;
    }

    // An order through the first node, followed on the second.
    receive(&first, &admin, "LAMP-1", 3).await;
    let alice = Call::as_(&Shop::token("customer", "alice"));
    let cart = customer_cart(&first, &alice).await;
    add(&first, &alice, &cart, "lamp", "LAMP-1", 1).await;
    let accepted = checkout(&first, &alice, &cart, "tok_approve").await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let order = accepted.json["order_id"].as_str().unwrap().to_owned();
    order_status(&second, &alice, &order, &["confirmed"]).await;
    first.stop().await;
    second.stop().await;
}
