//! Receiving and adjusting stock.

use super::*;

// ---- receiving -------------------------------------------------------------------------------

#[test]
fn receiving_adds_available_stock() {
    let state = given::<Inventory>([received("A", 5)])
        .when(C::ReceiveStock {
            sku: sku(),
            warehouse: wh("A"),
            quantity: 3,
            note: Some("delivery 42".into()),
        })
        .then([E::StockReceived {
            sku: sku(),
            warehouse: wh("A"),
            quantity: 3,
            note: Some("delivery 42".into()),
        }]);
    assert_eq!(state.level(&wh("A")), level(8, 8, 0, 0));
    assert_eq!((state.on_hand(), state.available()), (8, 8));
    assert_eq!(state.sku(), Some(&sku()));
}

#[test]
fn receiving_needs_a_sensible_quantity() {
    for quantity in [0, MAX_QUANTITY + 1] {
        given::<Inventory>([])
            .when(receive("A", quantity))
            .then_reject(R::InvalidQuantity {
                quantity: i64::from(quantity),
                max: MAX_QUANTITY,
            });
    }
    given::<Inventory>([])
        .when(receive("A", MAX_QUANTITY))
        .then([received("A", MAX_QUANTITY)]);
}

#[test]
fn receipt_notes_are_not_blank_nor_too_long() {
    for note in ["  ".to_string(), "x".repeat(MAX_NOTE_CHARS + 1)] {
        given::<Inventory>([])
            .when(C::ReceiveStock {
                sku: sku(),
                warehouse: wh("A"),
                quantity: 1,
                note: Some(note),
            })
            .then_reject(R::InvalidText {
                field: "receipt note",
                max: MAX_NOTE_CHARS,
            });
    }
}

#[test]
fn commands_for_another_sku_are_refused() {
    let other = Sku::new("MUG-BLUE").unwrap();
    let rejection = given::<Inventory>([received("A", 5)])
        .when(C::ReceiveStock {
            sku: other.clone(),
            warehouse: wh("A"),
            quantity: 1,
            note: None,
        })
        .then_rejected();
    assert_eq!(
        rejection,
        R::WrongSku {
            expected: sku(),
            got: other
        }
    );
}

#[test]
fn warehouses_per_sku_are_bounded() {
    let history: Vec<_> = (0..MAX_WAREHOUSES)
        .map(|i| received(&format!("W{i}"), 1))
        .collect();
    given::<Inventory>(history.clone())
        .when(receive("ONE-TOO-MANY", 1))
        .then_reject(R::TooManyWarehouses {
            sku: sku(),
            max: MAX_WAREHOUSES,
        });
    given::<Inventory>(history)
        .when(receive("W7", 1))
        .then([received("W7", 1)]);
}

// ---- adjusting -------------------------------------------------------------------------------

fn adjusted(w: &str, delta: i32, reason: AdjustmentReason) -> E {
    E::StockAdjusted {
        sku: sku(),
        warehouse: wh(w),
        delta,
        reason,
    }
}

#[test]
fn adjustments_change_available_and_on_hand() {
    let state = given::<Inventory>([received("A", 5)])
        .when(adjust("A", -2, AdjustmentReason::Damaged))
        .then([adjusted("A", -2, AdjustmentReason::Damaged)]);
    assert_eq!(state.level(&wh("A")), level(3, 3, 0, 0));

    let cases = [
        (-1, AdjustmentReason::Lost),
        (4, AdjustmentReason::Found),
        (-5, AdjustmentReason::CountCorrection),
        (7, AdjustmentReason::CountCorrection),
        (
            1,
            AdjustmentReason::Other {
                text: "returned by courier".into(),
            },
        ),
    ];
    for (delta, reason) in cases {
        given::<Inventory>([received("A", 5)])
            .when(adjust("A", delta, reason.clone()))
            .then([adjusted("A", delta, reason)]);
    }
}

#[test]
fn found_stock_may_open_a_warehouse() {
    let state = given::<Inventory>([])
        .when(adjust("B", 2, AdjustmentReason::Found))
        .then([adjusted("B", 2, AdjustmentReason::Found)]);
    assert_eq!(state.level(&wh("B")), level(2, 2, 0, 0));
}

#[test]
fn adjustments_never_take_available_below_zero() {
    // 5 on hand, 4 reserved: only 1 may be written off.
    let history = [received("A", 5), reserved("o1", 4, &[("A", 4)], 0)];
    let rejection = given::<Inventory>(history.clone())
        .when(adjust("A", -2, AdjustmentReason::Lost))
        .then_rejected();
    assert_eq!(
        rejection,
        R::AdjustmentBelowZero {
            warehouse: wh("A"),
            available: 1,
            delta: -2
        }
    );
    assert!(rejection.to_string().contains("only 1 units are available"));
    given::<Inventory>(history)
        .when(adjust("A", -1, AdjustmentReason::Lost))
        .then([adjusted("A", -1, AdjustmentReason::Lost)]);
    given::<Inventory>([])
        .when(adjust("Z", -1, AdjustmentReason::CountCorrection))
        .then_reject(R::AdjustmentBelowZero {
            warehouse: wh("Z"),
            available: 0,
            delta: -1,
        });
}

#[test]
fn adjustment_sign_must_fit_the_reason() {
    for (delta, reason) in [
        (1, AdjustmentReason::Damaged),
        (1, AdjustmentReason::Lost),
        (-1, AdjustmentReason::Found),
    ] {
        given::<Inventory>([received("A", 5)])
            .when(adjust("A", delta, reason.clone()))
            .then_reject(R::AdjustmentDirection { reason, delta });
    }
}

#[test]
fn adjustments_need_a_sensible_delta_and_reason_text() {
    for delta in [
        0,
        i32::MIN,
        -(MAX_QUANTITY as i32) - 1,
        MAX_QUANTITY as i32 + 1,
    ] {
        given::<Inventory>([received("A", 5)])
            .when(adjust("A", delta, AdjustmentReason::CountCorrection))
            .then_reject(R::InvalidQuantity {
                quantity: i64::from(delta),
                max: MAX_QUANTITY,
            });
    }
    for text in ["".to_string(), "x".repeat(MAX_REASON_CHARS + 1)] {
        given::<Inventory>([received("A", 5)])
            .when(adjust("A", 1, AdjustmentReason::Other { text }))
            .then_reject(R::InvalidText {
                field: "adjustment reason",
                max: MAX_REASON_CHARS,
            });
    }
}
