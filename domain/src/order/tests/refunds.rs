//! Refunds of captured money.

use super::*;

#[test]
fn captured_money_is_refunded_in_part_or_in_full() {
    let state = given::<Order>(h_captured(TOTAL))
        .when(refund("r1", eur(1000), "mug arrived broken"))
        .then([refunded("r1", 1000, 1000, TOTAL, "mug arrived broken")]);
    assert_eq!(state.refunded(), Some(eur(1000)));
    assert_eq!(state.refundable(), Some(eur(TOTAL - 1000)));
    let mut h = h_captured(TOTAL);
    h.push(refunded("r1", 1000, 1000, TOTAL, "mug arrived broken"));
    let state = given::<Order>(h)
        .when(refund("r2", eur(TOTAL - 1000), "returned"))
        .then([refunded("r2", TOTAL - 1000, TOTAL, TOTAL, "returned")]);
    assert_eq!(state.refundable(), Some(eur(0)));
    assert_eq!(state.refund_count(), 2);
}

#[test]
fn shipped_and_delivered_orders_are_refunded() {
    given::<Order>(h_shipped())
        .when(refund("r1", eur(500), "late delivery"))
        .then([refunded("r1", 500, 500, TOTAL, "late delivery")]);
    let state = given::<Order>(h_delivered())
        .when(refund("r1", eur(TOTAL), "returned"))
        .then([refunded("r1", TOTAL, TOTAL, TOTAL, "returned")]);
    assert_eq!(state.status(), S::Delivered);
}

#[test]
fn refunds_never_exceed_the_captured_amount() {
    let rejection = given::<Order>(h_captured(4000))
        .when(refund("r1", eur(4001), "returned"))
        .then_rejected();
    assert_eq!(
        rejection,
        R::RefundExceedsCaptured {
            requested: eur(4001),
            refundable: eur(4000)
        }
    );
    assert_eq!(
        rejection.to_string(),
        "cannot refund 40.01 EUR: only 40.00 EUR of the captured amount is left"
    );
    let mut h = h_captured(4000);
    h.push(refunded("r1", 3000, 3000, 4000, "returned"));
    given::<Order>(h.clone())
        .when(refund("r2", eur(1001), "returned"))
        .then_reject(R::RefundExceedsCaptured {
            requested: eur(1001),
            refundable: eur(1000),
        });
    h.push(refunded("r2", 1000, 4000, 4000, "returned"));
    given::<Order>(h)
        .when(refund("r3", eur(1), "goodwill"))
        .then_reject(R::RefundExceedsCaptured {
            requested: eur(1),
            refundable: eur(0),
        });
}

#[test]
fn a_refund_is_recorded_once_per_refund_id() {
    let mut h = h_captured(TOTAL);
    h.push(refunded("r1", 1000, 1000, TOTAL, "returned"));
    given::<Order>(h.clone())
        .when(refund("r1", eur(1000), "returned"))
        .then_nothing();
    for (amount, reason) in [(999, "returned"), (1000, "goodwill")] {
        given::<Order>(h.clone())
            .when(refund("r1", eur(amount), reason))
            .then_reject(R::RefundConflict {
                refund_id: rid("r1"),
            });
    }
    let rejection = given::<Order>(h)
        .when(refund("r1", eur(5), "returned"))
        .then_rejected();
    assert_eq!(
        rejection.to_string(),
        "refund r1 is already recorded with different details; use a new refund id"
    );
}

#[test]
fn nothing_is_refunded_before_a_capture() {
    for history in [h_placed(), h_pending(), h_confirmed(), h_cancelled()] {
        given::<Order>(history)
            .when(refund("r1", eur(100), "goodwill"))
            .then_reject(R::NothingCaptured);
    }
    let rejection = given::<Order>(h_confirmed())
        .when(refund("r1", eur(100), "goodwill"))
        .then_rejected();
    assert_eq!(
        rejection.to_string(),
        "nothing was captured for this order, so nothing can be refunded; void the payment"
    );
}

#[test]
fn a_refund_is_positive_in_the_order_currency_with_a_reason() {
    for amount in [0, -100] {
        given::<Order>(h_captured(TOTAL))
            .when(refund("r1", eur(amount), "goodwill"))
            .then_reject(R::InvalidAmount {
                amount: eur(amount),
            });
    }
    given::<Order>(h_captured(TOTAL))
        .when(refund("r1", Money::new(100, Currency::GBP), "goodwill"))
        .then_reject(R::CurrencyMismatch {
            expected: Currency::EUR,
            got: Currency::GBP,
        });
    for reason in [String::new(), "x".repeat(MAX_REASON_CHARS + 1)] {
        given::<Order>(h_captured(TOTAL))
            .when(refund("r1", eur(100), &reason))
            .then_reject(R::InvalidText {
                field: "refund reason",
                max: MAX_REASON_CHARS,
            });
    }
}

#[test]
fn an_order_records_at_most_the_refund_limit() {
    let mut h = h_captured(TOTAL);
    for i in 1..=MAX_REFUNDS as i64 {
        h.push(refunded(&format!("r{i}"), 1, i, TOTAL, "goodwill"));
    }
    let rejection = given::<Order>(h.clone())
        .when(refund("one-more", eur(1), "goodwill"))
        .then_rejected();
    assert_eq!(rejection, R::TooManyRefunds { max: MAX_REFUNDS });
    assert_eq!(
        rejection.to_string(),
        "the order has 50 refunds already; no more can be recorded"
    );
    // A repeat of a recorded refund is still a no-op.
    given::<Order>(h)
        .when(refund("r1", eur(1), "goodwill"))
        .then_nothing();
}
