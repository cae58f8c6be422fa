use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::*;
use crate::testing::{given, t0};
use crate::{Currency, CustomerId, Discount, Money, OrderId, PromoCode};

fn code() -> PromoCode {
    PromoCode::new("SUMMER10").unwrap()
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn order(s: &str) -> OrderId {
    OrderId::new(s).unwrap()
}

fn customer(s: &str) -> CustomerId {
    CustomerId::new(s).unwrap()
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn ten_percent() -> Discount {
    Discount::Percentage {
        basis_points: 1_000,
    }
}

/// SUMMER10: 10 % off orders of at least 20.00 EUR, from t0 − 1 day for 30 days, 3 uses in total,
/// 2 per customer.
fn created() -> PromotionEvent {
    created_with(|_| {})
}

fn created_with(f: impl FnOnce(&mut PromotionTerms)) -> PromotionEvent {
    let mut terms = terms();
    f(&mut terms);
    PromotionEvent::PromotionCreated {
        code: terms.code,
        discount: terms.discount,
        minimum_subtotal: terms.minimum_subtotal,
        valid_from: terms.valid_from,
        valid_until: terms.valid_until,
        usage_limit: terms.usage_limit,
        per_customer_limit: terms.per_customer_limit,
    }
}

fn terms() -> PromotionTerms {
    PromotionTerms {
        code: code(),
        discount: ten_percent(),
        minimum_subtotal: Some(eur(2_000)),
        valid_from: t0() - days(1),
        valid_until: t0() + days(29),
        usage_limit: Some(3),
        per_customer_limit: Some(2),
    }
}

fn create_with(f: impl FnOnce(&mut PromotionTerms)) -> PromotionCommand {
    let mut t = terms();
    f(&mut t);
    PromotionCommand::CreatePromotion {
        code: t.code,
        discount: t.discount,
        minimum_subtotal: t.minimum_subtotal,
        valid_from: t.valid_from,
        valid_until: t.valid_until,
        usage_limit: t.usage_limit,
        per_customer_limit: t.per_customer_limit,
    }
}

fn create_rejects(f: impl FnOnce(&mut PromotionTerms), expected: PromotionRejection) {
    given::<Promotion>([])
        .when(create_with(f))
        .then_reject(expected);
}

fn redeem(o: &str, c: Option<&str>, subtotal: Money) -> PromotionCommand {
    PromotionCommand::RedeemPromotion {
        order_id: order(o),
        customer_id: c.map(customer),
        subtotal,
    }
}

fn redeemed(o: &str, c: &str, subtotal: i64, usage: u32, customer_usage: u32) -> PromotionEvent {
    PromotionEvent::PromotionRedeemed {
        code: code(),
        order_id: order(o),
        customer_id: Some(customer(c)),
        subtotal: eur(subtotal),
        discount_amount: eur(subtotal / 10),
        usage_count: usage,
        customer_usage_count: Some(customer_usage),
    }
}

fn release(o: &str) -> PromotionCommand {
    PromotionCommand::ReleaseRedemption {
        order_id: order(o),
        reason: "payment failed".into(),
    }
}

fn released(o: &str, c: &str, subtotal: i64, usage: u32, customer_usage: u32) -> PromotionEvent {
    PromotionEvent::RedemptionReleased {
        code: code(),
        order_id: order(o),
        customer_id: Some(customer(c)),
        discount_amount: eur(subtotal / 10),
        reason: "payment failed".into(),
        usage_count: usage,
        customer_usage_count: Some(customer_usage),
    }
}

fn deactivated() -> PromotionEvent {
    PromotionEvent::PromotionDeactivated {
        code: code(),
        reason: "leaked on a forum".into(),
    }
}

// ---- create ----

#[test]
fn creates_a_promotion() {
    let state = given::<Promotion>([])
        .when(create_with(|_| {}))
        .then([created()]);
    assert!(state.is_active());
    assert_eq!(state.terms(), Some(&terms()));
    assert_eq!(state.remaining_uses(), Some(3));
    assert_eq!(state.terms().unwrap().currency(), Some(Currency::EUR));
}

#[test]
fn repeating_a_create_is_a_no_op_unless_the_terms_differ() {
    given::<Promotion>([created()])
        .when(create_with(|_| {}))
        .then_nothing();
    given::<Promotion>([created()])
        .when(create_with(|t| t.usage_limit = Some(100)))
        .then_reject(PromotionRejection::AlreadyExists { code: code() });
}

#[test]
fn discounts_must_be_in_range() {
    for basis_points in [0, 10_001] {
        create_rejects(
            |t| t.discount = Discount::Percentage { basis_points },
            PromotionRejection::InvalidPercentage { basis_points },
        );
    }
    for amount in [0, -500, MAX_AMOUNT_MINOR + 1] {
        create_rejects(
            |t| {
                t.discount = Discount::FixedAmount {
                    amount: eur(amount),
                }
            },
            PromotionRejection::InvalidFixedAmount {
                amount: eur(amount),
                max: eur(MAX_AMOUNT_MINOR),
            },
        );
    }
    assert!(
        given::<Promotion>([])
            .when(create_with(|t| t.discount = Discount::Percentage {
                basis_points: 10_000
            }))
            .outcome()
            .is_ok()
    );
}

#[test]
fn minimum_subtotal_must_be_positive_and_in_the_discount_currency() {
    create_rejects(
        |t| t.minimum_subtotal = Some(eur(0)),
        PromotionRejection::InvalidMinimumSubtotal {
            amount: eur(0),
            max: eur(MAX_AMOUNT_MINOR),
        },
    );
    create_rejects(
        |t| {
            t.discount = Discount::FixedAmount { amount: eur(500) };
            t.minimum_subtotal = Some(Money::new(2_000, Currency::USD));
        },
        PromotionRejection::TermsCurrencyMismatch {
            discount: Currency::EUR,
            minimum: Currency::USD,
        },
    );
}

#[test]
fn the_window_must_be_non_empty_and_not_over() {
    create_rejects(
        |t| t.valid_until = t.valid_from,
        PromotionRejection::EmptyWindow {
            valid_from: t0() - days(1),
            valid_until: t0() - days(1),
        },
    );
    create_rejects(
        |t| t.valid_until = t0(),
        PromotionRejection::EndsInThePast { valid_until: t0() },
    );
    // A promotion that starts later is fine.
    assert!(
        given::<Promotion>([])
            .when(create_with(|t| t.valid_from = t0() + days(7)))
            .outcome()
            .is_ok()
    );
}

#[test]
fn limits_of_zero_are_refused() {
    create_rejects(
        |t| t.usage_limit = Some(0),
        PromotionRejection::ZeroUsageLimit,
    );
    create_rejects(
        |t| t.per_customer_limit = Some(0),
        PromotionRejection::ZeroPerCustomerLimit,
    );
}

// ---- deactivate ----

#[test]
fn deactivates_once_with_a_reason() {
    let deactivate = |reason: &str| PromotionCommand::DeactivatePromotion {
        reason: reason.into(),
    };
    let state = given::<Promotion>([created()])
        .when(deactivate("leaked on a forum"))
        .then([deactivated()]);
    assert!(!state.is_active());
    assert_eq!(state.deactivation_reason(), Some("leaked on a forum"));
    given::<Promotion>([created(), deactivated()])
        .when(deactivate("again"))
        .then_nothing();
    given::<Promotion>([created()])
        .when(deactivate("  "))
        .then_reject(PromotionRejection::EmptyReason { max: 1_000 });
    given::<Promotion>([created()])
        .when(deactivate(&"x".repeat(1_001)))
        .then_reject(PromotionRejection::ReasonTooLong {
            chars: 1_001,
            max: 1_000,
        });
    given::<Promotion>([])
        .when(deactivate("x"))
        .then_reject(PromotionRejection::NotFound);
}

// ---- redeem ----

#[test]
fn redeems_with_the_computed_discount() {
    let state = given::<Promotion>([created()])
        .when(redeem("o1", Some("c1"), eur(4_999)))
        .then([PromotionEvent::PromotionRedeemed {
            code: code(),
            order_id: order("o1"),
            customer_id: Some(customer("c1")),
            subtotal: eur(4_999),
            discount_amount: eur(500),
            usage_count: 1,
            customer_usage_count: Some(1),
        }]);
    assert_eq!(state.usage_count(), 1);
    assert_eq!(state.customer_usage(&customer("c1")), 1);
    assert_eq!(state.remaining_uses(), Some(2));
    assert!(!state.redemption(&order("o1")).unwrap().released);
}

#[test]
fn redeeming_again_for_the_same_order_is_a_no_op() {
    given::<Promotion>([created(), redeemed("o1", "c1", 3_000, 1, 1)])
        .when(redeem("o1", Some("c1"), eur(3_000)))
        .then_nothing();
    // Even once the promotion is over: the redemption is already in place.
    given::<Promotion>([created(), redeemed("o1", "c1", 3_000, 1, 1), deactivated()])
        .at(t0() + days(60))
        .when(redeem("o1", Some("c1"), eur(3_000)))
        .then_nothing();
}

#[test]
fn the_same_order_with_other_details_is_refused() {
    for other in [
        redeem("o1", Some("c2"), eur(3_000)),
        redeem("o1", None, eur(3_000)),
        redeem("o1", Some("c1"), eur(3_001)),
    ] {
        given::<Promotion>([created(), redeemed("o1", "c1", 3_000, 1, 1)])
            .when(other)
            .then_reject(PromotionRejection::OrderAlreadyRedeemed {
                code: code(),
                order_id: order("o1"),
            });
    }
}

#[test]
fn a_released_order_cannot_redeem_again() {
    given::<Promotion>([
        created(),
        redeemed("o1", "c1", 3_000, 1, 1),
        released("o1", "c1", 3_000, 0, 0),
    ])
    .when(redeem("o1", Some("c1"), eur(3_000)))
    .then_reject(PromotionRejection::RedemptionWasReleased {
        code: code(),
        order_id: order("o1"),
    });
}

#[test]
fn an_unknown_or_inactive_promotion_cannot_be_redeemed() {
    given::<Promotion>([])
        .when(redeem("o1", Some("c1"), eur(3_000)))
        .then_reject(PromotionRejection::NotFound);
    given::<Promotion>([created(), deactivated()])
        .when(redeem("o1", Some("c1"), eur(3_000)))
        .then_reject(PromotionRejection::Inactive {
            code: code(),
            reason: "leaked on a forum".into(),
        });
}

#[test]
fn redemption_happens_inside_the_window_only() {
    let from = t0() - days(1);
    let until = t0() + days(29);
    let at = |now: DateTime<Utc>| {
        given::<Promotion>([created()])
            .at(now)
            .when(redeem("o1", Some("c1"), eur(3_000)))
    };
    at(from - Duration::seconds(1)).then_reject(PromotionRejection::NotYetValid {
        code: code(),
        valid_from: from,
    });
    assert!(at(from).outcome().is_ok(), "valid_from is inclusive");
    assert!(at(until - Duration::seconds(1)).outcome().is_ok());
    at(until).then_reject(PromotionRejection::Expired {
        code: code(),
        valid_until: until,
    });
}

#[test]
fn the_subtotal_must_be_positive_in_the_right_currency_and_above_the_minimum() {
    for amount in [0, -100] {
        given::<Promotion>([created()])
            .when(redeem("o1", Some("c1"), eur(amount)))
            .then_reject(PromotionRejection::NonPositiveSubtotal {
                subtotal: eur(amount),
            });
    }
    given::<Promotion>([created()])
        .when(redeem("o1", Some("c1"), Money::new(3_000, Currency::USD)))
        .then_reject(PromotionRejection::CurrencyMismatch {
            code: code(),
            expected: Currency::EUR,
            found: Currency::USD,
        });
    given::<Promotion>([created()])
        .when(redeem("o1", Some("c1"), eur(1_999)))
        .then_reject(PromotionRejection::BelowMinimum {
            code: code(),
            subtotal: eur(1_999),
            minimum: eur(2_000),
        });
    assert!(
        given::<Promotion>([created()])
            .when(redeem("o1", Some("c1"), eur(2_000)))
            .outcome()
            .is_ok(),
        "the minimum itself qualifies"
    );
}

#[test]
fn a_plain_percentage_applies_in_any_currency() {
    let open = created_with(|t| t.minimum_subtotal = None);
    given::<Promotion>([open])
        .when(redeem("o1", Some("c1"), Money::new(5_000, Currency::JPY)))
        .then([PromotionEvent::PromotionRedeemed {
            code: code(),
            order_id: order("o1"),
            customer_id: Some(customer("c1")),
            subtotal: Money::new(5_000, Currency::JPY),
            discount_amount: Money::new(500, Currency::JPY),
            usage_count: 1,
            customer_usage_count: Some(1),
        }]);
}

#[test]
fn a_fixed_amount_is_capped_at_the_subtotal_and_bound_to_its_currency() {
    let fixed = created_with(|t| {
        t.discount = Discount::FixedAmount { amount: eur(5_000) };
        t.minimum_subtotal = None;
    });
    given::<Promotion>([fixed.clone()])
        .when(redeem("o1", Some("c1"), eur(3_000)))
        .then([PromotionEvent::PromotionRedeemed {
            code: code(),
            order_id: order("o1"),
            customer_id: Some(customer("c1")),
            subtotal: eur(3_000),
            discount_amount: eur(3_000),
            usage_count: 1,
            customer_usage_count: Some(1),
        }]);
    given::<Promotion>([fixed])
        .when(redeem("o1", Some("c1"), Money::new(3_000, Currency::GBP)))
        .then_reject(PromotionRejection::CurrencyMismatch {
            code: code(),
            expected: Currency::EUR,
            found: Currency::GBP,
        });
}

#[test]
fn the_total_limit_counts_redemptions_in_use() {
    let full = [
        created(),
        redeemed("o1", "c1", 3_000, 1, 1),
        redeemed("o2", "c2", 3_000, 2, 1),
        redeemed("o3", "c3", 3_000, 3, 1),
    ];
    given::<Promotion>(full.clone())
        .when(redeem("o4", Some("c4"), eur(3_000)))
        .then_reject(PromotionRejection::UsageLimitReached {
            code: code(),
            limit: 3,
        });
    let mut freed = full.to_vec();
    freed.push(released("o2", "c2", 3_000, 2, 0));
    given::<Promotion>(freed)
        .when(redeem("o4", Some("c4"), eur(3_000)))
        .then([redeemed("o4", "c4", 3_000, 3, 1)]);
}

#[test]
fn the_per_customer_limit_counts_that_customers_redemptions_in_use() {
    let twice = [
        created(),
        redeemed("o1", "c1", 3_000, 1, 1),
        redeemed("o2", "c1", 3_000, 2, 2),
    ];
    given::<Promotion>(twice.clone())
        .when(redeem("o3", Some("c1"), eur(3_000)))
        .then_reject(PromotionRejection::CustomerLimitReached {
            code: code(),
            customer_id: customer("c1"),
            limit: 2,
        });
    given::<Promotion>(twice.clone())
        .when(redeem("o3", Some("c2"), eur(3_000)))
        .then([redeemed("o3", "c2", 3_000, 3, 1)]);
    let mut freed = twice.to_vec();
    freed.push(released("o1", "c1", 3_000, 1, 1));
    given::<Promotion>(freed)
        .when(redeem("o3", Some("c1"), eur(3_000)))
        .then([redeemed("o3", "c1", 3_000, 2, 2)]);
}

#[test]
fn guests_need_a_promotion_without_a_per_customer_limit() {
    given::<Promotion>([created()])
        .when(redeem("o1", None, eur(3_000)))
        .then_reject(PromotionRejection::CustomerRequired { code: code() });
    let open = created_with(|t| t.per_customer_limit = None);
    let state = given::<Promotion>([open])
        .when(redeem("o1", None, eur(3_000)))
        .then([PromotionEvent::PromotionRedeemed {
            code: code(),
            order_id: order("o1"),
            customer_id: None,
            subtotal: eur(3_000),
            discount_amount: eur(300),
            usage_count: 1,
            customer_usage_count: None,
        }]);
    assert_eq!(state.usage_count(), 1, "guests count against the total");
}

// ---- release ----

#[test]
fn releasing_gives_the_use_back() {
    let state = given::<Promotion>([created(), redeemed("o1", "c1", 3_000, 1, 1)])
        .when(release("o1"))
        .then([released("o1", "c1", 3_000, 0, 0)]);
    assert_eq!(state.usage_count(), 0);
    assert_eq!(state.customer_usage(&customer("c1")), 0);
    assert_eq!(state.customer_usages().count(), 0);
    assert!(state.redemption(&order("o1")).unwrap().released);
}

#[test]
fn releasing_works_after_deactivation_and_expiry() {
    given::<Promotion>([created(), redeemed("o1", "c1", 3_000, 1, 1), deactivated()])
        .at(t0() + days(60))
        .when(release("o1"))
        .then([released("o1", "c1", 3_000, 0, 0)]);
}

#[test]
fn releasing_nothing_is_a_no_op() {
    given::<Promotion>([created()])
        .when(release("o9"))
        .then_nothing();
    given::<Promotion>([]).when(release("o9")).then_nothing();
    given::<Promotion>([
        created(),
        redeemed("o1", "c1", 3_000, 1, 1),
        released("o1", "c1", 3_000, 0, 0),
    ])
    .when(release("o1"))
    .then_nothing();
}

#[test]
fn a_release_needs_a_reason() {
    given::<Promotion>([created(), redeemed("o1", "c1", 3_000, 1, 1)])
        .when(PromotionCommand::ReleaseRedemption {
            order_id: order("o1"),
            reason: String::new(),
        })
        .then_reject(PromotionRejection::EmptyReason { max: 1_000 });
}

#[test]
fn rejections_read_as_sentences() {
    assert_eq!(
        PromotionRejection::CustomerRequired { code: code() }.to_string(),
        "promotion SUMMER10 is limited per customer: sign in to use it"
    );
}

#[test]
fn state_survives_a_snapshot_round_trip() {
    let state = Promotion::fold(&[
        created(),
        redeemed("o1", "c1", 3_000, 1, 1),
        redeemed("o2", "c2", 3_000, 2, 1),
        released("o2", "c2", 3_000, 1, 0),
    ]);
    let json = serde_json::to_string(&state).unwrap();
    let back: PromotionState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
}

// ---- properties ----

#[derive(Clone, Debug)]
enum Op {
    Redeem {
        order: u8,
        customer: Option<u8>,
        subtotal: i64,
    },
    Release {
        order: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..24, proptest::option::weighted(0.9, 0u8..6), 1i64..10_000).prop_map(
            |(order, customer, subtotal)| Op::Redeem { order, customer, subtotal }
        ),
        2 => (0u8..24).prop_map(|order| Op::Release { order }),
    ]
}

proptest! {
    /// Redemptions in use never exceed the total or per-customer limit, the counters always equal
    /// redemptions minus releases, and every refusal for a limit is justified.
    #[test]
    fn limits_hold_under_any_redeem_release_sequence(
        usage_limit in 1u32..8,
        per_customer_limit in proptest::option::of(1u32..4),
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        let mut state = Promotion::fold(&[created_with(|t| {
            t.minimum_subtotal = None;
            t.usage_limit = Some(usage_limit);
            t.per_customer_limit = per_customer_limit;
        })]);
        let ctx = crate::Context::at(t0());
        // The model: redemptions in use, by order, derived from the accepted events only.
        let mut in_use: HashMap<OrderId, Option<CustomerId>> = HashMap::new();
        let (mut redemptions, mut releases) = (0u32, 0u32);
        for op in ops {
            let command = match &op {
                Op::Redeem { order: o, customer: c, subtotal } => PromotionCommand::RedeemPromotion {
                    order_id: order(&format!("o{o}")),
                    customer_id: c.map(|c| customer(&format!("c{c}"))),
                    subtotal: eur(*subtotal),
                },
                Op::Release { order: o } => release(&format!("o{o}")),
            };
            let per_customer = |in_use: &HashMap<OrderId, Option<CustomerId>>, c: &CustomerId| {
                in_use.values().filter(|v| v.as_ref() == Some(c)).count() as u32
            };
            match Promotion::decide(&state, &command, &ctx) {
                Ok(events) => {
                    for event in &events {
                        match event {
                            PromotionEvent::PromotionRedeemed { order_id, customer_id, subtotal, discount_amount, .. } => {
                                redemptions += 1;
                                prop_assert!(in_use.insert(order_id.clone(), customer_id.clone()).is_none());
                                prop_assert!(discount_amount.amount >= 0 && discount_amount.amount <= subtotal.amount);
                            }
                            PromotionEvent::RedemptionReleased { order_id, .. } => {
                                releases += 1;
                                prop_assert!(in_use.remove(order_id).is_some());
                            }
                            other => prop_assert!(false, "unexpected event {other:?}"),
                        }
                        Promotion::evolve(&mut state, event);
                    }
                }
                Err(PromotionRejection::UsageLimitReached { limit, .. }) => {
                    prop_assert_eq!(limit, usage_limit);
                    prop_assert_eq!(in_use.len() as u32, usage_limit);
                }
                Err(PromotionRejection::CustomerLimitReached { customer_id, limit, .. }) => {
                    prop_assert_eq!(Some(limit), per_customer_limit);
                    prop_assert_eq!(per_customer(&in_use, &customer_id), limit);
                }
                Err(PromotionRejection::CustomerRequired { .. }) => {
                    prop_assert!(per_customer_limit.is_some());
                    let guest = matches!(op, Op::Redeem { customer: None, .. });
                    prop_assert!(guest, "only guests are asked to sign in");
                }
                Err(PromotionRejection::OrderAlreadyRedeemed { order_id, .. }) => {
                    prop_assert!(in_use.contains_key(&order_id));
                }
                Err(PromotionRejection::RedemptionWasReleased { order_id, .. }) => {
                    prop_assert!(state.redemption(&order_id).is_some_and(|r| r.released));
                }
                Err(other) => prop_assert!(false, "unexpected rejection {other}"),
            }
            prop_assert!(state.usage_count() <= usage_limit);
            prop_assert_eq!(state.usage_count(), redemptions - releases);
            prop_assert_eq!(state.usage_count() as usize, in_use.len());
            for (c, n) in state.customer_usages() {
                prop_assert_eq!(n, per_customer(&in_use, c));
                if let Some(limit) = per_customer_limit {
                    prop_assert!(n <= limit);
                }
            }
            let customers_in_use = in_use.values().flatten().collect::<std::collections::HashSet<_>>();
            prop_assert_eq!(customers_in_use.len(), state.customer_usages().count());
        }
    }
}
