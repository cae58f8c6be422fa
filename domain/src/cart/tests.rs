mod closing;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::testing::{given, t0};
use crate::{Currency, CustomerId, Money, OrderId, ProductId, PromoCode, Sku};

fn id() -> CartId {
    CartId::new("c-1").unwrap()
}
fn guest_id() -> CartId {
    CartId::new("g-1").unwrap()
}
fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}
fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}
fn pid(s: &str) -> ProductId {
    ProductId::new(s).unwrap()
}
fn code(s: &str) -> PromoCode {
    PromoCode::new(s).unwrap()
}
fn order(s: &str) -> OrderId {
    OrderId::new(s).unwrap()
}
fn days(n: i64) -> DateTime<Utc> {
    t0() + TimeDelta::days(n)
}
fn guest() -> CartOwner {
    CartOwner::Guest {
        token_hash: "ab".repeat(32),
    }
}
fn customer() -> CartOwner {
    CartOwner::Customer {
        customer_id: CustomerId::new("cu-1").unwrap(),
    }
}
fn created(owner: CartOwner) -> CartEvent {
    CartEvent::CartCreated {
        cart_id: id(),
        owner,
        currency: Currency::EUR,
        at: t0(),
    }
}
fn line(s: &str, quantity: u32, price: i64) -> CartLine {
    CartLine {
        sku: sku(s),
        product_id: pid(&format!("p-{s}")),
        quantity,
        unit_price: eur(price),
    }
}
fn added(s: &str, quantity: u32, price: i64) -> CartEvent {
    CartEvent::ItemAdded {
        cart_id: id(),
        sku: sku(s),
        product_id: pid(&format!("p-{s}")),
        quantity,
        line_quantity: quantity,
        unit_price: eur(price),
        previous_unit_price: None,
        at: t0(),
    }
}
fn add(s: &str, quantity: u32, price: Money) -> CartCommand {
    CartCommand::AddItem {
        sku: sku(s),
        product_id: pid(&format!("p-{s}")),
        quantity,
        unit_price: price,
    }
}
fn checked_out() -> CartEvent {
    CartEvent::CartCheckedOut {
        cart_id: id(),
        order_id: order("o-1"),
        lines: vec![line("A", 1, 100)],
        promo_code: None,
        subtotal: eur(100),
        at: t0(),
    }
}

// --- create ---

#[test]
fn creates_guest_and_customer_carts() {
    for owner in [guest(), customer()] {
        let state = given::<Cart>([])
            .when(CartCommand::CreateCart {
                cart_id: id(),
                owner: owner.clone(),
                currency: Currency::EUR,
            })
            .then([created(owner.clone())]);
        assert_eq!(state.owner(), Some(&owner));
        assert_eq!(state.status(), &CartStatus::Open);
        assert_eq!(state.subtotal(), Some(eur(0)));
    }
}

#[test]
fn creating_the_same_cart_again_changes_nothing_but_another_one_is_rejected() {
    let create = |owner, currency| CartCommand::CreateCart {
        cart_id: id(),
        owner,
        currency,
    };
    given::<Cart>([created(guest())])
        .when(create(guest(), Currency::EUR))
        .then_nothing();
    given::<Cart>([created(guest())])
        .when(create(customer(), Currency::EUR))
        .then_reject(CartRejection::AlreadyExists { cart_id: id() });
    given::<Cart>([created(guest())])
        .when(create(guest(), Currency::USD))
        .then_reject(CartRejection::AlreadyExists { cart_id: id() });
}

#[test]
fn a_guest_token_hash_must_be_32_to_128_printable_characters() {
    for (hash, len) in [
        ("a".repeat(31), 31),
        ("a".repeat(129), 129),
        (format!("{} b", "a".repeat(40)), 42),
    ] {
        given::<Cart>([])
            .when(CartCommand::CreateCart {
                cart_id: id(),
                owner: CartOwner::Guest { token_hash: hash },
                currency: Currency::EUR,
            })
            .then_reject(CartRejection::InvalidTokenHash {
                len,
                min: 32,
                max: 128,
            });
    }
}

#[test]
fn commands_on_a_cart_that_does_not_exist_are_rejected() {
    given::<Cart>([])
        .when(add("A", 1, eur(100)))
        .then_reject(CartRejection::NotFound);
    given::<Cart>([])
        .when(CartCommand::CheckOut {
            order_id: order("o-1"),
        })
        .then_reject(CartRejection::NotFound);
}

// --- add item ---

#[test]
fn adds_items_in_insertion_order() {
    let state = given::<Cart>([created(guest()), added("B", 1, 500)])
        .when(add("A", 2, eur(100)))
        .then([added("A", 2, 100)]);
    let skus: Vec<_> = state.lines().iter().map(|l| l.sku.as_str()).collect();
    assert_eq!(skus, ["B", "A"]);
    assert_eq!(state.subtotal(), Some(eur(700)));
}

#[test]
fn adding_a_sku_already_in_the_cart_adds_the_quantity_at_the_new_price() {
    let state = given::<Cart>([created(guest()), added("A", 2, 100)])
        .at(days(1))
        .when(add("A", 3, eur(120)))
        .then([CartEvent::ItemAdded {
            cart_id: id(),
            sku: sku("A"),
            product_id: pid("p-A"),
            quantity: 3,
            line_quantity: 5,
            unit_price: eur(120),
            previous_unit_price: Some(eur(100)),
            at: days(1),
        }]);
    assert_eq!(state.lines(), [line("A", 5, 120)]);
    assert_eq!(state.last_activity(), Some(days(1)));
}

#[test]
fn quantities_must_be_1_to_999() {
    for quantity in [0, 1000] {
        given::<Cart>([created(guest())])
            .when(add("A", quantity, eur(100)))
            .then_reject(CartRejection::InvalidQuantity {
                sku: sku("A"),
                quantity,
            });
    }
    given::<Cart>([created(guest()), added("A", 500, 100)])
        .when(add("A", 500, eur(100)))
        .then_reject(CartRejection::QuantityTooLarge {
            sku: sku("A"),
            requested: 1000,
            max: 999,
        });
    given::<Cart>([created(guest()), added("A", 500, 100)])
        .when(add("A", 499, eur(100)))
        .then([CartEvent::ItemAdded {
            cart_id: id(),
            sku: sku("A"),
            product_id: pid("p-A"),
            quantity: 499,
            line_quantity: 999,
            unit_price: eur(100),
            previous_unit_price: Some(eur(100)),
            at: t0(),
        }]);
}

#[test]
fn prices_must_be_in_the_cart_currency_and_in_range() {
    given::<Cart>([created(guest())])
        .when(add("A", 1, Money::new(100, Currency::USD)))
        .then_reject(CartRejection::CurrencyMismatch {
            cart_id: id(),
            sku: sku("A"),
            expected: Currency::EUR,
            found: Currency::USD,
        });
    for amount in [-1, 10_000_000_001] {
        given::<Cart>([created(guest())])
            .when(add("A", 1, eur(amount)))
            .then_reject(CartRejection::InvalidPrice {
                sku: sku("A"),
                price: eur(amount),
                max: 10_000_000_000,
            });
    }
    given::<Cart>([created(guest())])
        .when(add("A", 1, eur(0)))
        .then([added("A", 1, 0)]);
}

#[test]
fn a_sku_cannot_change_product() {
    given::<Cart>([created(guest()), added("A", 1, 100)])
        .when(CartCommand::AddItem {
            sku: sku("A"),
            product_id: pid("other"),
            quantity: 1,
            unit_price: eur(100),
        })
        .then_reject(CartRejection::ProductMismatch {
            sku: sku("A"),
            in_cart: pid("p-A"),
            given: pid("other"),
        });
}

#[test]
fn a_cart_holds_at_most_100_lines() {
    let history: Vec<_> = std::iter::once(created(guest()))
        .chain((0..100).map(|i| added(&format!("S{i}"), 1, 100)))
        .collect();
    given::<Cart>(history.clone())
        .when(add("NEW", 1, eur(100)))
        .then_reject(CartRejection::TooManyLines {
            cart_id: id(),
            lines: 101,
            max: 100,
        });
    // An existing line can still grow.
    given::<Cart>(history)
        .when(add("S0", 1, eur(100)))
        .outcome()
        .unwrap();
}

// --- change quantity, remove ---

#[test]
fn changes_a_quantity_and_a_repeat_changes_nothing() {
    let state = given::<Cart>([created(guest()), added("A", 2, 100)])
        .when(CartCommand::ChangeQuantity {
            sku: sku("A"),
            quantity: 5,
        })
        .then([CartEvent::ItemQuantityChanged {
            cart_id: id(),
            sku: sku("A"),
            product_id: pid("p-A"),
            from: 2,
            to: 5,
            unit_price: eur(100),
            at: t0(),
        }]);
    assert_eq!(state.lines(), [line("A", 5, 100)]);
    given::<Cart>([created(guest()), added("A", 2, 100)])
        .when(CartCommand::ChangeQuantity {
            sku: sku("A"),
            quantity: 2,
        })
        .then_nothing();
}

#[test]
fn changing_to_zero_or_a_missing_sku_is_rejected() {
    given::<Cart>([created(guest()), added("A", 2, 100)])
        .when(CartCommand::ChangeQuantity {
            sku: sku("A"),
            quantity: 0,
        })
        .then_reject(CartRejection::InvalidQuantity {
            sku: sku("A"),
            quantity: 0,
        });
    given::<Cart>([created(guest())])
        .when(CartCommand::ChangeQuantity {
            sku: sku("A"),
            quantity: 1,
        })
        .then_reject(CartRejection::ItemNotInCart {
            cart_id: id(),
            sku: sku("A"),
        });
}

#[test]
fn removes_an_item_and_removing_an_absent_one_changes_nothing() {
    let state = given::<Cart>([created(guest()), added("A", 2, 100), added("B", 1, 5)])
        .when(CartCommand::RemoveItem { sku: sku("A") })
        .then([CartEvent::ItemRemoved {
            cart_id: id(),
            sku: sku("A"),
            product_id: pid("p-A"),
            quantity: 2,
            unit_price: eur(100),
            at: t0(),
        }]);
    assert_eq!(state.lines(), [line("B", 1, 5)]);
    given::<Cart>([created(guest())])
        .when(CartCommand::RemoveItem { sku: sku("A") })
        .then_nothing();
}

// --- promo codes ---

#[test]
fn applies_replaces_and_removes_a_promo_code() {
    let applied = CartEvent::PromoCodeApplied {
        cart_id: id(),
        code: code("SUMMER"),
        replaced: None,
        at: t0(),
    };
    given::<Cart>([created(guest())])
        .when(CartCommand::ApplyPromoCode {
            code: code("SUMMER"),
        })
        .then([applied.clone()]);
    given::<Cart>([created(guest()), applied.clone()])
        .when(CartCommand::ApplyPromoCode {
            code: code("SUMMER"),
        })
        .then_nothing();
    let state = given::<Cart>([created(guest()), applied.clone()])
        .when(CartCommand::ApplyPromoCode {
            code: code("WINTER"),
        })
        .then([CartEvent::PromoCodeApplied {
            cart_id: id(),
            code: code("WINTER"),
            replaced: Some(code("SUMMER")),
            at: t0(),
        }]);
    assert_eq!(state.promo_code(), Some(&code("WINTER")));
    let state = given::<Cart>([created(guest()), applied])
        .when(CartCommand::RemovePromoCode {})
        .then([CartEvent::PromoCodeRemoved {
            cart_id: id(),
            code: code("SUMMER"),
            at: t0(),
        }]);
    assert_eq!(state.promo_code(), None);
    given::<Cart>([created(guest())])
        .when(CartCommand::RemovePromoCode {})
        .then_nothing();
}
