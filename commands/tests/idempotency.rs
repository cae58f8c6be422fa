//! Idempotency: a scenario touching every aggregate is run once, then every command is sent again
//! with the same command id. The repeats write nothing and answer exactly what the first run
//! answered: through the same handlers (the recent window in memory) and through new handlers on
//! the same store (a restarted process, which finds accepted commands again in the log).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::TimeDelta;
use shop_commands::{Command, CommandError, CommandHandler, Outcome};
use shop_domain::cart::{Cart, CartCommand, CartOwner};
use shop_domain::inventory::{Inventory, InventoryCommand, ReleaseReason};
use shop_domain::order::{CancelReason, Order, OrderCommand, OrderLine};
use shop_domain::payment::{Payment, PaymentCommand, RefundId};
use shop_domain::pricing::Totals;
use shop_domain::product::{Product, ProductCommand, ProductDetails, Variant};
use shop_domain::promotion::{Promotion, PromotionCommand};
use shop_domain::{
    Address, CartId, Currency, CustomerId, Discount, Money, OrderId, PaymentId, ProductId,
    PromoCode, Sku,
};
use shop_eventstore::EventStore;
use support::*;
use uuid::Uuid;

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

/// One command of the scenario, for whichever aggregate.
#[derive(Clone, Debug)]
enum Step {
    Product(ProductId, Command<ProductCommand>),
    Inventory(Sku, Command<InventoryCommand>),
    Cart(CartId, Command<CartCommand>),
    Promotion(PromoCode, Command<PromotionCommand>),
    Payment(PaymentId, Command<PaymentCommand>),
    Order(OrderId, Command<OrderCommand>),
}

struct Handlers {
    product: CommandHandler<Product>,
    inventory: CommandHandler<Inventory>,
    cart: CommandHandler<Cart>,
    promotion: CommandHandler<Promotion>,
    payment: CommandHandler<Payment>,
    order: CommandHandler<Order>,
}

impl Handlers {
    fn new(store: &Arc<dyn EventStore>) -> Self {
        Self {
            product: handler(store.clone()),
            inventory: handler(store.clone()),
            cart: handler(store.clone()),
            promotion: handler(store.clone()),
            payment: handler(store.clone()),
            order: handler(store.clone()),
        }
    }

    async fn run(&self, step: &Step) -> Result<Outcome, String> {
        match step {
            Step::Product(id, c) => show(self.product.handle(id, c.clone()).await),
            Step::Inventory(id, c) => show(self.inventory.handle(id, c.clone()).await),
            Step::Cart(id, c) => show(self.cart.handle(id, c.clone()).await),
            Step::Promotion(id, c) => show(self.promotion.handle(id, c.clone()).await),
            Step::Payment(id, c) => show(self.payment.handle(id, c.clone()).await),
            Step::Order(id, c) => show(self.order.handle(id, c.clone()).await),
        }
    }
}

fn show<R: std::fmt::Display>(result: Result<Outcome, CommandError<R>>) -> Result<Outcome, String> {
    result.map_err(|e| match e {
        CommandError::Rejected(r) => format!("rejected: {r}"),
        other => panic!("the scenario expects no machinery failures, got {other}"),
    })
}

fn scenario() -> Vec<Step> {
    let product = ProductId::new("tee").unwrap();
    let sku_id = sku("TEE-RED-M");
    let cart = CartId::new("cart-1").unwrap();
    let code = PromoCode::new("WELCOME10").unwrap();
    let payment = PaymentId::new("pay-1").unwrap();
    let customer = CustomerId::new("alice").unwrap();
    let order_id = order(1);
    let details = ProductDetails {
        title: "Red tee".into(),
        description: "Soft cotton".into(),
        brand: "Acme".into(),
        category: vec!["Clothing".into(), "T-Shirts".into()],
        attributes: BTreeMap::new(),
        images: vec![],
    };
    let variant = Variant {
        sku: sku_id.clone(),
        price: eur(1999),
        attributes: BTreeMap::from([("size".into(), "M".into())]),
        weight_grams: Some(200),
    };
    let inv = |body| Step::Inventory(sku_id.clone(), command(body));
    let ord = |body| Step::Order(order_id.clone(), command(body));
    let address = Box::new(Address {
        name: "Alice Example".into(),
        line1: "Hauptstr. 1".into(),
        line2: None,
        city: "Berlin".into(),
        region: None,
        postal_code: "10115".into(),
        country: "DE".into(),
    });
    vec![
        Step::Product(
            product.clone(),
            command(ProductCommand::CreateProduct {
                product_id: product.clone(),
                details,
                variants: vec![variant],
            }),
        ),
        Step::Product(
            product.clone(),
            command(ProductCommand::ChangeVariantPrice {
                sku: sku_id.clone(),
                price: eur(1799),
            }),
        ),
        // A no-op (same price) and a rejection (a price in another currency).
        Step::Product(
            product.clone(),
            command(ProductCommand::ChangeVariantPrice {
                sku: sku_id.clone(),
                price: eur(1799),
            }),
        ),
        Step::Product(
            product.clone(),
            command(ProductCommand::ChangeVariantPrice {
                sku: sku_id.clone(),
                price: Money::new(1799, Currency::USD),
            }),
        ),
        inv(InventoryCommand::ReceiveStock {
            sku: sku_id.clone(),
            warehouse: warehouse("w1"),
            quantity: 10,
            note: Some("delivery 42".into()),
        }),
        Step::Promotion(
            code.clone(),
            command(PromotionCommand::CreatePromotion {
                code: code.clone(),
                discount: Discount::Percentage { basis_points: 1000 },
                minimum_subtotal: None,
                valid_from: t0() - TimeDelta::days(1),
                valid_until: t0() + TimeDelta::days(30),
                usage_limit: Some(1000),
                per_customer_limit: Some(1),
            }),
        ),
        Step::Cart(
            cart.clone(),
            command(CartCommand::CreateCart {
                cart_id: cart.clone(),
                owner: CartOwner::Customer {
                    customer_id: customer.clone(),
                },
                currency: Currency::EUR,
            }),
        ),
        Step::Cart(
            cart.clone(),
            command(CartCommand::AddItem {
                sku: sku_id.clone(),
                product_id: product.clone(),
                quantity: 2,
                unit_price: eur(1799),
            }),
        ),
        // Out of range: rejected.
        Step::Cart(
            cart.clone(),
            command(CartCommand::ChangeQuantity {
                sku: sku_id.clone(),
                quantity: 1000,
            }),
        ),
        Step::Cart(
            cart.clone(),
            command(CartCommand::ApplyPromoCode { code: code.clone() }),
        ),
        Step::Cart(
            cart.clone(),
            command(CartCommand::CheckOut {
                order_id: order_id.clone(),
            }),
        ),
        ord(OrderCommand::PlaceOrder {
            order_id: order_id.clone(),
            customer_id: Some(customer.clone()),
            cart_id: Some(cart.clone()),
            lines: vec![OrderLine::new(sku_id.clone(), product.clone(), 2, eur(1799)).unwrap()],
            currency: Currency::EUR,
            totals: Totals::from_parts(eur(3598), eur(360), eur(0), eur(0)).unwrap(),
            shipping_address: address.clone(),
            billing_address: address,
            promo_code: Some(code.clone()),
            shipping_method: "standard".into(),
        }),
        // After checkout the cart takes no changes: rejected.
        Step::Cart(
            cart.clone(),
            command(CartCommand::RemoveItem {
                sku: sku_id.clone(),
            }),
        ),
        // More than there is: rejected; then the real reservation.
        inv(InventoryCommand::ReserveStock {
            sku: sku_id.clone(),
            order_id: order(99),
            quantity: 11,
            expires_at: None,
        }),
        inv(InventoryCommand::ReserveStock {
            sku: sku_id.clone(),
            order_id: order_id.clone(),
            quantity: 2,
            expires_at: None,
        }),
        Step::Promotion(
            code.clone(),
            command(PromotionCommand::RedeemPromotion {
                order_id: order_id.clone(),
                customer_id: Some(customer.clone()),
                subtotal: eur(3598),
            }),
        ),
        Step::Payment(
            payment.clone(),
            command(PaymentCommand::RequestAuthorization {
                payment_id: payment.clone(),
                order_id: order_id.clone(),
                amount: eur(3238),
                method_token: "tok_visa".into(),
                idempotency_key: "order-1:authorize".into(),
            }),
        ),
        Step::Payment(
            payment.clone(),
            command(PaymentCommand::RecordAuthorization {
                payment_id: payment.clone(),
                idempotency_key: "order-1:authorize".into(),
                gateway_reference: "auth_1".into(),
                amount: eur(3238),
            }),
        ),
        ord(OrderCommand::MarkPaymentPending {
            order_id: order_id.clone(),
            payment_id: payment.clone(),
        }),
        ord(OrderCommand::ConfirmOrder {
            order_id: order_id.clone(),
            payment_id: Some(payment.clone()),
        }),
        inv(InventoryCommand::CommitReservation {
            sku: sku_id.clone(),
            order_id: order_id.clone(),
        }),
        Step::Payment(
            payment.clone(),
            command(PaymentCommand::CapturePayment {
                payment_id: payment.clone(),
                gateway_reference: "cap_1".into(),
                amount: eur(3238),
            }),
        ),
        Step::Payment(
            payment.clone(),
            command(PaymentCommand::RefundPayment {
                payment_id: payment.clone(),
                refund_id: RefundId::new("rf-1").unwrap(),
                gateway_reference: "ref_1".into(),
                amount: eur(4000),
            }),
        ),
        Step::Payment(
            payment.clone(),
            command(PaymentCommand::RefundPayment {
                payment_id: payment.clone(),
                refund_id: RefundId::new("rf-2").unwrap(),
                gateway_reference: "ref_2".into(),
                amount: eur(1000),
            }),
        ),
        ord(OrderCommand::RecordPaymentCaptured {
            order_id: order_id.clone(),
            payment_id: payment.clone(),
            amount: eur(3238),
        }),
        inv(InventoryCommand::ShipStock {
            sku: sku_id.clone(),
            order_id: order_id.clone(),
        }),
        ord(OrderCommand::ShipOrder {
            order_id: order_id.clone(),
            carrier: "DHL".into(),
            tracking_number: "00340434161094042557".into(),
        }),
        ord(OrderCommand::DeliverOrder {
            order_id: order_id.clone(),
        }),
        // Cancelling a delivered order: rejected.
        ord(OrderCommand::CancelOrder {
            order_id: order_id.clone(),
            reason: CancelReason::CustomerRequest,
        }),
        // Releasing a shipped reservation: rejected.
        inv(InventoryCommand::ReleaseReservation {
            sku: sku_id.clone(),
            order_id,
            reason: ReleaseReason::Cancelled,
        }),
    ]
}

async fn replaying_changes_nothing(store: Arc<dyn EventStore>) {
    let steps = scenario();
    let handlers = Handlers::new(&store);
    let mut first = Vec::new();
    for step in &steps {
        first.push(handlers.run(step).await);
    }
    let accepted = first.iter().filter(|r| r.is_ok()).count();
    let rejected = first.len() - accepted;
    assert_eq!(
        (accepted, rejected),
        (23, 7),
        "the scenario as designed: {first:#?}"
    );
    let head = store.head_position().await.unwrap();

    // Same handlers: every answer from the recent window, nothing written.
    for (step, original) in steps.iter().zip(&first) {
        assert_eq!(&handlers.run(step).await, original, "replay of {step:?}");
    }
    assert_eq!(store.head_position().await.unwrap(), head);

    // A restarted process: accepted commands are found again in the log, with the same revision
    // and position; rejections (which wrote nothing) are decided again and still refused.
    let restarted = Handlers::new(&store);
    for (step, original) in steps.iter().zip(&first) {
        let again = restarted.run(step).await;
        match original {
            Ok(_) => assert_eq!(&again, original, "replay of {step:?} after a restart"),
            Err(_) => assert!(again.is_err(), "{step:?} was rejected, now {again:?}"),
        }
    }
    assert_eq!(store.head_position().await.unwrap(), head);

    // A fresh id for the same intent: the aggregate's own idempotency makes it a no-op where the
    // effect is in place (creating the same promotion again).
    let Step::Promotion(code, create) = &steps[5] else {
        unreachable!("step 5 creates the promotion")
    };
    let again = Command::new(Uuid::new_v4(), create.body.clone(), admin());
    let outcome = restarted.promotion.handle(code, again).await.unwrap();
    assert_eq!(outcome.events_written, 0);
    assert_eq!(store.head_position().await.unwrap(), head);
}

#[tokio::test]
async fn replaying_a_scenario_changes_nothing_on_the_embedded_store() {
    let (store, _dir) = sqlite_store().await;
    replaying_changes_nothing(store).await;
}

#[tokio::test]
async fn replaying_a_scenario_changes_nothing_on_postgres() {
    let Some((store, _)) = postgres_pair("commands_replay").await else {
        eprintln!("TEST_DATABASE_URL not set: skipping the Postgres replay");
        return;
    };
    replaying_changes_nothing(store).await;
}
