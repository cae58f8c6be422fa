//! Placing an order: every check on its lines, totals, addresses and shipping method.

use super::*;
use crate::pricing::{MAX_LINE_QUANTITY, MAX_LINES, MAX_UNIT_PRICE_MINOR, PricingError};
use crate::{AddressError, PromoCode};

/// The placement with its lines and totals adding them up (no discount, tax or shipping; not
/// checked here, so a bad line reaches the order's own checks).
fn place_lines(lines: Vec<OrderLine>) -> C {
    let subtotal = Money::sum(Currency::EUR, lines.iter().map(|l| l.subtotal)).unwrap();
    let zero = eur(0);
    let totals = Totals {
        subtotal,
        discount: zero,
        tax: zero,
        shipping: zero,
        total: subtotal,
    };
    place_with(lines, totals)
}

fn with(mut command: C, change: impl FnOnce(&mut C)) -> C {
    change(&mut command);
    command
}

#[test]
fn an_order_is_placed_with_its_lines_totals_and_addresses() {
    let state = given::<Order>([]).when(place()).then([placed()]);
    assert_eq!(state.status(), S::Placed);
    assert_eq!(state.lines(), lines().as_slice());
    assert_eq!(state.total(), Some(eur(TOTAL)));
    assert_eq!(state.totals(), Some(&totals()));
    assert_eq!(state.currency(), Some(Currency::EUR));
    assert_eq!(state.customer_id().map(|c| c.as_str()), Some("cust-1"));
    assert_eq!(state.cart_id().map(|c| c.as_str()), Some("cart-1"));
    assert_eq!(state.promo_code().map(|c| c.as_str()), Some("SAVE10"));
    assert_eq!(state.shipping_method(), Some("standard"));
    assert_eq!(state.shipping_address(), Some(&address("Ada Lovelace")));
    assert_eq!(state.billing_address(), Some(&address("Ada Billing")));
    assert_eq!(
        (state.captured(), state.refunded()),
        (Some(eur(0)), Some(eur(0)))
    );
    assert_eq!(state.payment_id(), None);
}

#[test]
fn a_guest_places_an_order_without_customer_cart_or_code() {
    let command = with(place(), |c| {
        if let C::PlaceOrder {
            customer_id,
            cart_id,
            promo_code,
            ..
        } = c
        {
            *customer_id = None;
            *cart_id = None;
            *promo_code = None;
        }
    });
    let state = given::<Order>([])
        .when(command.clone())
        .then([placed_from(command)]);
    assert_eq!(state.customer_id(), None);
    assert_eq!(state.promo_code(), None);
}

#[test]
fn placing_again_changes_nothing_but_other_details_are_refused() {
    given::<Order>(h_placed()).when(place()).then_nothing();
    given::<Order>(h_confirmed()).when(place()).then_nothing();
    let other = with(place(), |c| {
        if let C::PlaceOrder { promo_code, .. } = c {
            *promo_code = Some(PromoCode::new("OTHER").unwrap());
        }
    });
    let rejection = given::<Order>(h_placed()).when(other).then_rejected();
    assert_eq!(rejection, R::AlreadyPlaced { order_id: oid() });
    assert_eq!(
        rejection.to_string(),
        "order order-1 was already placed with different details; use a new order id"
    );
}

#[test]
fn an_order_has_one_to_a_hundred_lines() {
    given::<Order>([])
        .when(place_lines(vec![]))
        .then_reject(R::InvalidLineCount {
            count: 0,
            max: MAX_LINES,
        });
    let many = (0..=MAX_LINES)
        .map(|i| line(&format!("S{i}"), 1, 100))
        .collect();
    let rejection = given::<Order>([]).when(place_lines(many)).then_rejected();
    assert_eq!(
        rejection.to_string(),
        "an order needs 1 to 100 lines, got 101"
    );
    let most = (0..MAX_LINES)
        .map(|i| line(&format!("S{i}"), 1, 100))
        .collect();
    given::<Order>([])
        .when(place_lines(most))
        .outcome()
        .unwrap();
}

#[test]
fn each_sku_is_on_one_line() {
    given::<Order>([])
        .when(place_lines(vec![line("MUG", 1, 100), line("MUG", 2, 100)]))
        .then_reject(R::DuplicateSku { sku: sku("MUG") });
}

#[test]
fn a_line_holds_one_to_999_units() {
    for quantity in [0, MAX_LINE_QUANTITY + 1] {
        given::<Order>([])
            .when(place_lines(vec![line("MUG", quantity, 100)]))
            .then_reject(R::InvalidQuantity {
                sku: sku("MUG"),
                quantity,
                max: MAX_LINE_QUANTITY,
            });
    }
    given::<Order>([])
        .when(place_lines(vec![line("MUG", MAX_LINE_QUANTITY, 100)]))
        .outcome()
        .unwrap();
}

#[test]
fn unit_prices_are_between_zero_and_the_maximum() {
    let negative = OrderLine {
        unit_price: eur(-1),
        subtotal: eur(-1),
        ..line("MUG", 1, 0)
    };
    given::<Order>([])
        .when(place_lines(vec![negative]))
        .then_reject(R::InvalidUnitPrice {
            sku: sku("MUG"),
            unit_price: eur(-1),
            max: MAX_UNIT_PRICE_MINOR,
        });
    let rejection = given::<Order>([])
        .when(place_lines(vec![line("MUG", 1, MAX_UNIT_PRICE_MINOR + 1)]))
        .then_rejected();
    assert_eq!(
        rejection.to_string(),
        "unit price 100000000.01 EUR for MUG is invalid: use 0 to 10000000000 minor units"
    );
    // A free gift line is fine.
    given::<Order>([])
        .when(place_lines(vec![line("MUG", 1, 1000), line("GIFT", 1, 0)]))
        .outcome()
        .unwrap();
}

#[test]
fn a_line_subtotal_is_unit_price_times_quantity() {
    let wrong_line = OrderLine {
        subtotal: eur(2999),
        ..line("TEE-M", 2, 1500)
    };
    let rejection = given::<Order>([])
        .when(place_with(vec![wrong_line, line("MUG", 1, 1000)], totals()))
        .then_rejected();
    assert_eq!(
        rejection,
        R::LineSubtotalMismatch {
            sku: sku("TEE-M"),
            expected: eur(3000),
            got: eur(2999)
        }
    );
    assert_eq!(
        rejection.to_string(),
        "the subtotal of TEE-M should be 30.00 EUR (unit price × quantity), not 29.99 EUR"
    );
}

#[test]
fn every_amount_is_in_the_order_currency() {
    let usd = |a| Money::new(a, Currency::USD);
    let mismatch = R::CurrencyMismatch {
        expected: Currency::EUR,
        got: Currency::USD,
    };
    let usd_line = OrderLine {
        unit_price: usd(1500),
        subtotal: usd(3000),
        ..line("TEE-M", 2, 1500)
    };
    given::<Order>([])
        .when(place_with(vec![usd_line, line("MUG", 1, 1000)], totals()))
        .then_reject(mismatch.clone());
    let usd_shipping = Totals {
        shipping: usd(500),
        ..totals()
    };
    given::<Order>([])
        .when(place_with(lines(), usd_shipping))
        .then_reject(mismatch.clone());
    let usd_order = with(place(), |c| {
        if let C::PlaceOrder { currency, .. } = c {
            *currency = Currency::USD;
        }
    });
    given::<Order>([])
        .when(usd_order)
        .then_reject(R::CurrencyMismatch {
            expected: Currency::USD,
            got: Currency::EUR,
        });
}

#[test]
fn the_subtotal_is_the_sum_of_the_lines() {
    let totals = Totals::from_parts(eur(3900), eur(0), eur(0), eur(0)).unwrap();
    given::<Order>([])
        .when(place_with(lines(), totals))
        .then_reject(R::SubtotalMismatch {
            expected: eur(4000),
            got: eur(3900),
        });
}

#[test]
fn the_totals_are_consistent() {
    let too_much_discount = Totals {
        discount: eur(4001),
        total: eur(-1),
        ..Totals::from_parts(eur(4000), eur(0), eur(0), eur(0)).unwrap()
    };
    given::<Order>([])
        .when(place_with(lines(), too_much_discount))
        .then_reject(R::InvalidTotals(PricingError::DiscountExceedsSubtotal {
            discount: eur(4001),
            subtotal: eur(4000),
        }));
    let negative_tax = Totals {
        tax: eur(-10),
        total: eur(3990),
        ..Totals::from_parts(eur(4000), eur(0), eur(0), eur(0)).unwrap()
    };
    let rejection = given::<Order>([])
        .when(place_with(lines(), negative_tax))
        .then_rejected();
    assert_eq!(
        rejection.to_string(),
        "the order totals are inconsistent: tax must not be negative (got -0.10 EUR)"
    );
    let wrong_total = Totals {
        total: eur(TOTAL + 1),
        ..totals()
    };
    let rejection = given::<Order>([])
        .when(place_with(lines(), wrong_total))
        .then_rejected();
    assert_eq!(
        rejection,
        R::TotalMismatch {
            expected: eur(TOTAL),
            got: eur(TOTAL + 1)
        }
    );
    assert_eq!(
        rejection.to_string(),
        "the order total should be 47.84 EUR (subtotal − discount + tax + shipping), not 47.85 EUR"
    );
}

#[test]
fn both_addresses_must_be_valid() {
    let no_city = with(place(), |c| {
        if let C::PlaceOrder {
            shipping_address, ..
        } = c
        {
            shipping_address.city = " ".into();
        }
    });
    let rejection = given::<Order>([]).when(no_city).then_rejected();
    assert_eq!(
        rejection,
        R::InvalidAddress {
            which: "shipping",
            error: AddressError::Missing("city")
        }
    );
    assert_eq!(
        rejection.to_string(),
        "the shipping address is invalid: address field city is required"
    );
    let bad_country = with(place(), |c| {
        if let C::PlaceOrder {
            billing_address, ..
        } = c
        {
            billing_address.country = "Germany".into();
        }
    });
    given::<Order>([])
        .when(bad_country)
        .then_reject(R::InvalidAddress {
            which: "billing",
            error: AddressError::InvalidCountry("Germany".into()),
        });
}

#[test]
fn a_shipping_method_is_named() {
    for method in [
        String::new(),
        "  ".into(),
        "x".repeat(MAX_SHIPPING_METHOD_CHARS + 1),
    ] {
        let command = with(place(), |c| {
            if let C::PlaceOrder {
                shipping_method, ..
            } = c
            {
                *shipping_method = method;
            }
        });
        given::<Order>([])
            .when(command)
            .then_reject(R::InvalidText {
                field: "shipping method",
                max: MAX_SHIPPING_METHOD_CHARS,
            });
    }
}
