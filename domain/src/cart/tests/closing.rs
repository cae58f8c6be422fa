//! Merge, close-as-merged, expiry and checkout scenarios.

use super::*;

fn customer_cart() -> CartEvent {
    created(customer())
}
fn merge(guest_lines: Vec<CartLine>, prices: &[(&str, i64)]) -> CartCommand {
    CartCommand::MergeGuestCart {
        guest_cart_id: guest_id(),
        guest_lines,
        current_prices: prices.iter().map(|(s, p)| (sku(s), eur(*p))).collect(),
    }
}
fn merged(lines: Vec<CartLine>) -> CartEvent {
    CartEvent::GuestCartMerged {
        cart_id: id(),
        guest_cart_id: guest_id(),
        lines,
        price_changes: vec![],
        capped: vec![],
        at: t0(),
    }
}

// --- merge ---

#[test]
fn merging_sums_quantities_and_reprices_every_line() {
    let state = given::<Cart>([customer_cart(), added("A", 2, 100), added("B", 1, 50)])
        .when(merge(
            vec![line("A", 3, 90), line("C", 1, 10)],
            &[("A", 110), ("B", 50), ("C", 12), ("UNUSED", 1)],
        ))
        .then([CartEvent::GuestCartMerged {
            cart_id: id(),
            guest_cart_id: guest_id(),
            lines: vec![line("A", 5, 110), line("B", 1, 50), line("C", 1, 12)],
            price_changes: vec![
                PriceChange {
                    sku: sku("A"),
                    from: eur(100),
                    to: eur(110),
                },
                PriceChange {
                    sku: sku("A"),
                    from: eur(90),
                    to: eur(110),
                },
                PriceChange {
                    sku: sku("C"),
                    from: eur(10),
                    to: eur(12),
                },
            ],
            capped: vec![],
            at: t0(),
        }]);
    assert_eq!(state.subtotal(), Some(eur(612)));
    assert!(state.merged_guest_carts().contains(&guest_id()));
}

#[test]
fn merged_quantities_are_capped_at_999_and_the_cap_is_recorded() {
    given::<Cart>([customer_cart(), added("A", 600, 100)])
        .when(merge(vec![line("A", 500, 100)], &[("A", 100)]))
        .then([CartEvent::GuestCartMerged {
            cart_id: id(),
            guest_cart_id: guest_id(),
            lines: vec![line("A", 999, 100)],
            price_changes: vec![],
            capped: vec![QuantityCapped {
                sku: sku("A"),
                requested: 1100,
                kept: 999,
            }],
            at: t0(),
        }]);
}

#[test]
fn merging_the_same_guest_cart_again_changes_nothing() {
    given::<Cart>([customer_cart(), merged(vec![line("A", 1, 100)])])
        .when(merge(vec![line("A", 1, 100)], &[("A", 100)]))
        .then_nothing();
}

#[test]
fn merging_needs_an_open_customer_cart_and_another_cart() {
    given::<Cart>([created(guest())])
        .when(merge(vec![], &[]))
        .then_reject(CartRejection::NotACustomerCart { cart_id: id() });
    given::<Cart>([customer_cart()])
        .when(CartCommand::MergeGuestCart {
            guest_cart_id: id(),
            guest_lines: vec![],
            current_prices: BTreeMap::new(),
        })
        .then_reject(CartRejection::MergeIntoItself { cart_id: id() });
    given::<Cart>([customer_cart(), added("A", 1, 100), checked_out()])
        .when(merge(vec![], &[("A", 100)]))
        .then_reject(CartRejection::NotOpen {
            cart_id: id(),
            status: CartStatus::CheckedOut {
                order_id: order("o-1"),
            },
        });
}

#[test]
fn merging_needs_a_valid_current_price_for_every_sku() {
    given::<Cart>([customer_cart(), added("A", 1, 100)])
        .when(merge(vec![line("B", 1, 5)], &[("B", 5)]))
        .then_reject(CartRejection::MissingPrice { sku: sku("A") });
    given::<Cart>([customer_cart()])
        .when(CartCommand::MergeGuestCart {
            guest_cart_id: guest_id(),
            guest_lines: vec![line("B", 1, 5)],
            current_prices: [(sku("B"), Money::new(5, Currency::USD))].into(),
        })
        .then_reject(CartRejection::CurrencyMismatch {
            cart_id: id(),
            sku: sku("B"),
            expected: Currency::EUR,
            found: Currency::USD,
        });
}

#[test]
fn merging_rejects_bad_guest_lines_and_too_many_lines() {
    given::<Cart>([customer_cart()])
        .when(merge(vec![line("B", 0, 5)], &[("B", 5)]))
        .then_reject(CartRejection::InvalidQuantity {
            sku: sku("B"),
            quantity: 0,
        });
    let mut other_product = line("A", 1, 100);
    other_product.product_id = pid("other");
    given::<Cart>([customer_cart(), added("A", 1, 100)])
        .when(merge(vec![other_product], &[("A", 100)]))
        .then_reject(CartRejection::ProductMismatch {
            sku: sku("A"),
            in_cart: pid("p-A"),
            given: pid("other"),
        });
    let history: Vec<_> = std::iter::once(customer_cart())
        .chain((0..60).map(|i| added(&format!("C{i}"), 1, 100)))
        .collect();
    let guest_lines: Vec<_> = (0..41).map(|i| line(&format!("G{i}"), 1, 100)).collect();
    let prices: Vec<(String, i64)> = (0..60)
        .map(|i| (format!("C{i}"), 100))
        .chain((0..41).map(|i| (format!("G{i}"), 100)))
        .collect();
    let prices: Vec<(&str, i64)> = prices.iter().map(|(s, p)| (s.as_str(), *p)).collect();
    given::<Cart>(history)
        .when(merge(guest_lines, &prices))
        .then_reject(CartRejection::TooManyLines {
            cart_id: id(),
            lines: 101,
            max: 100,
        });
}

// --- close as merged ---

#[test]
fn closes_a_guest_cart_as_merged_once() {
    let close = CartCommand::CloseAsMerged {
        into_cart_id: CartId::new("c-2").unwrap(),
    };
    let closed = CartEvent::MergedIntoCart {
        cart_id: id(),
        into_cart_id: CartId::new("c-2").unwrap(),
        at: t0(),
    };
    given::<Cart>([created(guest())])
        .when(close.clone())
        .then([closed.clone()]);
    given::<Cart>([created(guest()), closed.clone()])
        .when(close)
        .then_nothing();
    given::<Cart>([created(guest()), closed.clone()])
        .when(CartCommand::CloseAsMerged {
            into_cart_id: CartId::new("c-3").unwrap(),
        })
        .then_reject(CartRejection::AlreadyMerged {
            cart_id: id(),
            into_cart_id: CartId::new("c-2").unwrap(),
        });
    let rejection = given::<Cart>([created(guest()), closed])
        .when(add("A", 1, eur(1)))
        .then_rejected();
    assert_eq!(
        rejection.to_string(),
        "cart c-1 is merged into cart c-2 and accepts no more changes: start a new cart"
    );
}

#[test]
fn only_a_guest_cart_is_closed_as_merged_and_never_into_itself() {
    given::<Cart>([customer_cart()])
        .when(CartCommand::CloseAsMerged {
            into_cart_id: CartId::new("c-2").unwrap(),
        })
        .then_reject(CartRejection::NotAGuestCart { cart_id: id() });
    given::<Cart>([created(guest())])
        .when(CartCommand::CloseAsMerged { into_cart_id: id() })
        .then_reject(CartRejection::MergeIntoItself { cart_id: id() });
}

// --- expiry ---

#[test]
fn a_guest_cart_expires_after_7_days_without_a_change() {
    let state = given::<Cart>([created(guest())])
        .at(days(7))
        .when(CartCommand::ExpireCart {})
        .then([CartEvent::CartExpired {
            cart_id: id(),
            last_activity: t0(),
            at: days(7),
        }]);
    assert_eq!(state.status(), &CartStatus::Expired);
    let rejection = given::<Cart>([created(guest())])
        .at(days(7) - TimeDelta::seconds(1))
        .when(CartCommand::ExpireCart {})
        .then_rejected();
    assert_eq!(
        rejection,
        CartRejection::StillActive {
            cart_id: id(),
            last_activity: t0(),
            expires_at: days(7),
        }
    );
    assert_eq!(
        rejection.to_string(),
        "cart c-1 is still active: last changed at 2026-01-01 00:00:00 UTC, it can expire from 2026-01-08 00:00:00 UTC"
    );
}

#[test]
fn a_customer_cart_expires_after_30_days_without_a_change() {
    given::<Cart>([customer_cart()])
        .at(days(29))
        .when(CartCommand::ExpireCart {})
        .then_reject(CartRejection::StillActive {
            cart_id: id(),
            last_activity: t0(),
            expires_at: days(30),
        });
    given::<Cart>([customer_cart()])
        .at(days(30))
        .when(CartCommand::ExpireCart {})
        .outcome()
        .unwrap();
}

#[test]
fn inactivity_counts_from_the_last_change() {
    let later_add = CartEvent::ItemAdded {
        cart_id: id(),
        sku: sku("A"),
        product_id: pid("p-A"),
        quantity: 1,
        line_quantity: 1,
        unit_price: eur(1),
        previous_unit_price: None,
        at: days(5),
    };
    given::<Cart>([created(guest()), later_add])
        .at(days(8))
        .when(CartCommand::ExpireCart {})
        .then_reject(CartRejection::StillActive {
            cart_id: id(),
            last_activity: days(5),
            expires_at: days(12),
        });
}

#[test]
fn an_expired_cart_accepts_no_changes_and_expiring_again_changes_nothing() {
    let expired = CartEvent::CartExpired {
        cart_id: id(),
        last_activity: t0(),
        at: days(7),
    };
    given::<Cart>([created(guest()), expired.clone()])
        .at(days(9))
        .when(CartCommand::ExpireCart {})
        .then_nothing();
    given::<Cart>([created(guest()), expired])
        .when(CartCommand::ApplyPromoCode { code: code("X") })
        .then_reject(CartRejection::NotOpen {
            cart_id: id(),
            status: CartStatus::Expired,
        });
    given::<Cart>([created(guest()), added("A", 1, 100), checked_out()])
        .at(days(100))
        .when(CartCommand::ExpireCart {})
        .then_reject(CartRejection::NotOpen {
            cart_id: id(),
            status: CartStatus::CheckedOut {
                order_id: order("o-1"),
            },
        });
}

// --- checkout ---

#[test]
fn checks_out_with_lines_promo_and_subtotal() {
    let applied = CartEvent::PromoCodeApplied {
        cart_id: id(),
        code: code("SUMMER"),
        replaced: None,
        at: t0(),
    };
    let state = given::<Cart>([created(guest()), added("A", 2, 100), applied])
        .at(days(1))
        .when(CartCommand::CheckOut {
            order_id: order("o-1"),
        })
        .then([CartEvent::CartCheckedOut {
            cart_id: id(),
            order_id: order("o-1"),
            lines: vec![line("A", 2, 100)],
            promo_code: Some(code("SUMMER")),
            subtotal: eur(200),
            at: days(1),
        }]);
    assert!(!state.is_open());
}

#[test]
fn an_empty_cart_cannot_be_checked_out() {
    given::<Cart>([created(guest())])
        .when(CartCommand::CheckOut {
            order_id: order("o-1"),
        })
        .then_reject(CartRejection::EmptyCart { cart_id: id() });
}

#[test]
fn checking_out_again_is_a_no_op_for_the_same_order_and_rejected_for_another() {
    let history = [created(guest()), added("A", 1, 100), checked_out()];
    given::<Cart>(history.clone())
        .when(CartCommand::CheckOut {
            order_id: order("o-1"),
        })
        .then_nothing();
    given::<Cart>(history.clone())
        .when(CartCommand::CheckOut {
            order_id: order("o-2"),
        })
        .then_reject(CartRejection::AlreadyCheckedOut {
            cart_id: id(),
            order_id: order("o-1"),
        });
    for command in [
        add("B", 1, eur(1)),
        CartCommand::ChangeQuantity {
            sku: sku("A"),
            quantity: 2,
        },
        CartCommand::RemoveItem { sku: sku("A") },
        CartCommand::RemovePromoCode {},
        CartCommand::CloseAsMerged {
            into_cart_id: CartId::new("c-2").unwrap(),
        },
    ] {
        given::<Cart>(history.clone())
            .when(command)
            .then_reject(CartRejection::NotOpen {
                cart_id: id(),
                status: CartStatus::CheckedOut {
                    order_id: order("o-1"),
                },
            });
    }
}
