//! Given/when/then for every order transition and rejection: shared helpers and identity here,
//! one file per area.

mod fulfilment;
mod payment;
mod placing;
mod proptests;
mod refunds;

use super::*;
use crate::pricing::Totals;
use crate::testing::{given, t0};
use crate::{Address, CartId, Currency, CustomerId, Money, OrderId, PaymentId, ProductId, Sku};

use OrderCommand as C;
use OrderEvent as E;
use OrderRejection as R;
use OrderStatus as S;

fn oid() -> OrderId {
    OrderId::new("order-1").unwrap()
}
fn pid() -> PaymentId {
    PaymentId::new("pay-1").unwrap()
}
fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}
fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}
fn rid(id: &str) -> RefundId {
    RefundId::new(id).unwrap()
}
fn line(s: &str, quantity: u32, unit: i64) -> OrderLine {
    OrderLine::new(
        sku(s),
        ProductId::new(format!("prod-{s}")).unwrap(),
        quantity,
        eur(unit),
    )
    .unwrap()
}
fn address(name: &str) -> Address {
    Address {
        name: name.into(),
        line1: "Hauptstraße 1".into(),
        line2: None,
        city: "Berlin".into(),
        region: None,
        postal_code: "10115".into(),
        country: "DE".into(),
    }
}

/// TEE-M 2 × 15.00 and MUG 1 × 10.00: subtotal 40.00.
fn lines() -> Vec<OrderLine> {
    vec![line("TEE-M", 2, 1500), line("MUG", 1, 1000)]
}
/// 40.00 − 4.00 + 6.84 + 5.00 = 47.84.
fn totals() -> Totals {
    Totals::from_parts(eur(4000), eur(400), eur(684), eur(500)).unwrap()
}
const TOTAL: i64 = 4784;

// ---- commands --------------------------------------------------------------------------------

fn place_with(lines: Vec<OrderLine>, totals: Totals) -> C {
    C::PlaceOrder {
        order_id: oid(),
        customer_id: Some(CustomerId::new("cust-1").unwrap()),
        cart_id: Some(CartId::new("cart-1").unwrap()),
        lines,
        currency: Currency::EUR,
        totals,
        shipping_address: Box::new(address("Ada Lovelace")),
        billing_address: Box::new(address("Ada Billing")),
        promo_code: Some(crate::PromoCode::new("SAVE10").unwrap()),
        shipping_method: "standard".into(),
    }
}
fn place() -> C {
    place_with(lines(), totals())
}
/// An order that costs nothing: a 100 % discount, no tax, free shipping.
fn place_free() -> C {
    let totals = Totals::from_parts(eur(4000), eur(4000), eur(0), eur(0)).unwrap();
    place_with(lines(), totals)
}
fn mark_pending(payment: &str) -> C {
    C::MarkPaymentPending {
        order_id: oid(),
        payment_id: PaymentId::new(payment).unwrap(),
    }
}
fn confirm(payment: Option<&str>) -> C {
    C::ConfirmOrder {
        order_id: oid(),
        payment_id: payment.map(|p| PaymentId::new(p).unwrap()),
    }
}
fn capture(amount: Money) -> C {
    capture_by("pay-1", amount)
}
fn capture_by(payment: &str, amount: Money) -> C {
    C::RecordPaymentCaptured {
        order_id: oid(),
        payment_id: PaymentId::new(payment).unwrap(),
        amount,
    }
}
fn fail(reason: &str) -> C {
    C::MarkPaymentFailed {
        order_id: oid(),
        reason: reason.into(),
    }
}
fn ship(carrier: &str, tracking: &str) -> C {
    C::ShipOrder {
        order_id: oid(),
        carrier: carrier.into(),
        tracking_number: tracking.into(),
    }
}
fn deliver() -> C {
    C::DeliverOrder { order_id: oid() }
}
fn cancel(reason: CancelReason) -> C {
    C::CancelOrder {
        order_id: oid(),
        reason,
    }
}
fn refund(id: &str, amount: Money, reason: &str) -> C {
    C::RefundOrder {
        order_id: oid(),
        refund_id: rid(id),
        amount,
        reason: reason.into(),
    }
}

// ---- events ----------------------------------------------------------------------------------

/// The event `command` (a `PlaceOrder`) records at `t0`.
fn placed_from(command: C) -> E {
    let C::PlaceOrder {
        order_id,
        customer_id,
        cart_id,
        lines,
        currency,
        totals,
        shipping_address,
        billing_address,
        promo_code,
        shipping_method,
    } = command
    else {
        panic!("not a PlaceOrder")
    };
    E::OrderPlaced {
        order_id,
        customer_id,
        cart_id,
        lines,
        currency,
        totals,
        shipping_address,
        billing_address,
        promo_code,
        shipping_method,
        at: t0(),
    }
}
fn placed() -> E {
    placed_from(place())
}
fn pending() -> E {
    E::PaymentPending {
        order_id: oid(),
        payment_id: pid(),
        amount: eur(TOTAL),
        at: t0(),
    }
}
fn confirmed(payment: Option<PaymentId>) -> E {
    E::OrderConfirmed {
        order_id: oid(),
        payment_id: payment,
        at: t0(),
    }
}
fn captured(amount: i64) -> E {
    E::PaymentCaptured {
        order_id: oid(),
        payment_id: pid(),
        amount: eur(amount),
        total: eur(TOTAL),
        at: t0(),
    }
}
fn failed(payment: Option<PaymentId>, reason: &str) -> E {
    E::PaymentFailed {
        order_id: oid(),
        payment_id: payment,
        reason: reason.into(),
        at: t0(),
    }
}
fn shipped() -> E {
    E::OrderShipped {
        order_id: oid(),
        carrier: "DHL".into(),
        tracking_number: "JD0001".into(),
        at: t0(),
    }
}
fn delivered() -> E {
    E::OrderDelivered {
        order_id: oid(),
        at: t0(),
    }
}
fn cancelled(reason: CancelReason, from: S, payment: Option<PaymentId>, due: i64) -> E {
    E::OrderCancelled {
        order_id: oid(),
        reason,
        from,
        was_confirmed: from == S::Confirmed,
        payment_id: payment,
        refund_due: eur(due),
        at: t0(),
    }
}
fn refunded(id: &str, amount: i64, total: i64, captured: i64, reason: &str) -> E {
    E::OrderRefunded {
        order_id: oid(),
        refund_id: rid(id),
        payment_id: pid(),
        amount: eur(amount),
        reason: reason.into(),
        total_refunded: eur(total),
        captured: eur(captured),
        at: t0(),
    }
}

fn wrong(action: &'static str, status: S) -> R {
    R::WrongStatus { action, status }
}

// ---- histories reaching each status ----------------------------------------------------------

fn h_placed() -> Vec<E> {
    vec![placed()]
}
fn h_pending() -> Vec<E> {
    vec![placed(), pending()]
}
fn h_confirmed() -> Vec<E> {
    vec![placed(), pending(), confirmed(Some(pid()))]
}
fn h_captured(amount: i64) -> Vec<E> {
    let mut h = h_confirmed();
    h.push(captured(amount));
    h
}
fn h_shipped() -> Vec<E> {
    let mut h = h_captured(TOTAL);
    h.push(shipped());
    h
}
fn h_delivered() -> Vec<E> {
    let mut h = h_shipped();
    h.push(delivered());
    h
}
fn h_failed() -> Vec<E> {
    vec![placed(), pending(), failed(Some(pid()), "card declined")]
}
fn h_cancelled() -> Vec<E> {
    vec![
        placed(),
        cancelled(CancelReason::CustomerRequest, S::Placed, None, 0),
    ]
}
fn h_free_placed() -> Vec<E> {
    vec![placed_from(place_free())]
}

// ---- identity and state ----------------------------------------------------------------------

#[test]
fn commands_for_another_order_are_refused() {
    let other = OrderId::new("order-2").unwrap();
    let refused = R::WrongOrder {
        expected: oid(),
        got: other.clone(),
    };
    given::<Order>(h_confirmed())
        .when(C::ShipOrder {
            order_id: other.clone(),
            carrier: "DHL".into(),
            tracking_number: "JD0001".into(),
        })
        .then_reject(refused.clone());
    let mut place_other = place();
    if let C::PlaceOrder { order_id, .. } = &mut place_other {
        *order_id = other.clone();
    }
    given::<Order>(h_placed())
        .when(place_other)
        .then_reject(refused.clone());
    let rejection = given::<Order>(h_placed())
        .when(C::DeliverOrder { order_id: other })
        .then_rejected();
    assert_eq!(
        rejection.to_string(),
        "this is order order-1; the command is for order order-2"
    );
}

#[test]
fn an_order_that_was_never_placed_accepts_only_placing() {
    let cases = [
        (mark_pending("pay-1"), "mark the payment pending for"),
        (confirm(Some("pay-1")), "confirm"),
        (capture(eur(1)), "record a capture for"),
        (fail("declined"), "record a payment failure for"),
        (ship("DHL", "1"), "ship"),
        (deliver(), "deliver"),
        (cancel(CancelReason::Expired), "cancel"),
        (refund("r1", eur(1), "goodwill"), "refund"),
    ];
    for (command, action) in cases {
        given::<Order>([])
            .when(command)
            .then_reject(wrong(action, S::NotPlaced));
    }
    let rejection = given::<Order>([]).when(deliver()).then_rejected();
    assert_eq!(
        rejection.to_string(),
        "cannot deliver an order that is not placed"
    );
}

#[test]
fn the_state_survives_a_snapshot_round_trip() {
    let mut h = h_shipped();
    h.push(refunded("r1", 500, 500, TOTAL, "damaged mug"));
    let state = Order::fold(&h);
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<OrderState>(&json).unwrap(), state);
    assert_eq!(state.status(), S::Shipped);
    assert_eq!(state.order_id(), Some(&oid()));
    assert_eq!(state.payment_id(), Some(&pid()));
    assert_eq!(
        (
            state.total(),
            state.captured(),
            state.refunded(),
            state.refundable()
        ),
        (
            Some(eur(TOTAL)),
            Some(eur(TOTAL)),
            Some(eur(500)),
            Some(eur(TOTAL - 500))
        )
    );
    assert_eq!(state.refund(&rid("r1")), Some(eur(500)));
    assert_eq!(state.refund_count(), 1);
    assert_eq!(
        state.shipment(),
        Some(&Shipment {
            carrier: "DHL".into(),
            tracking_number: "JD0001".into()
        })
    );
}

#[test]
fn the_timeline_lists_every_status_reached() {
    let state = Order::fold(&h_delivered());
    let statuses: Vec<_> = state.timeline().iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [
            S::Placed,
            S::PaymentPending,
            S::Confirmed,
            S::Shipped,
            S::Delivered
        ]
    );
    assert!(state.timeline().iter().all(|c| c.at == t0()));
    assert!(state.status().is_closed());
    for status in state.timeline().windows(2) {
        assert!(status[0].status.next().contains(&status[1].status));
    }
}

#[test]
fn statuses_and_reasons_read_as_words() {
    assert_eq!(S::PaymentPending.to_string(), "awaiting payment");
    assert_eq!(
        serde_json::to_string(&S::PaymentPending).unwrap(),
        "\"payment_pending\""
    );
    let reason = CancelReason::OutOfStock {
        skus: vec![sku("A"), sku("B")],
    };
    assert_eq!(reason.to_string(), "out of stock: A, B");
    assert_eq!(
        serde_json::to_value(&reason).unwrap(),
        serde_json::json!({"kind": "out_of_stock", "skus": ["A", "B"]})
    );
    assert_eq!(
        serde_json::to_value(CancelReason::CustomerRequest).unwrap(),
        serde_json::json!({"kind": "customer_request"})
    );
    let admin = CancelReason::Admin {
        note: "fraud check".into(),
    };
    assert_eq!(admin.to_string(), "admin: fraud check");
    let back: CancelReason = serde_json::from_value(serde_json::to_value(&admin).unwrap()).unwrap();
    assert_eq!(back, admin);
}

#[test]
fn an_order_line_comes_from_a_cart_line() {
    let cart_line = crate::cart::CartLine {
        sku: sku("TEE-M"),
        product_id: ProductId::new("prod-TEE-M").unwrap(),
        quantity: 3,
        unit_price: eur(1500),
    };
    let line = OrderLine::from_cart_line(&cart_line).unwrap();
    assert_eq!(line.subtotal, eur(4500));
    assert_eq!(line.price_line().quantity, 3);
    assert!(OrderLine::new(sku("X"), ProductId::new("p").unwrap(), 1, eur(-1)).is_err());
}

#[test]
fn status_codes_are_the_serialized_names() {
    for status in S::ALL {
        assert_eq!(
            serde_json::to_value(status).unwrap(),
            serde_json::Value::String(status.code().to_owned()),
            "{status:?}"
        );
    }
}
