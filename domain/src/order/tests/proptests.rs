//! Property tests: random command sequences keep the money and status invariants, and every
//! accepted command, repeated, changes nothing.

use chrono::TimeDelta;
use proptest::prelude::*;

use super::*;

const PAYMENTS: [&str; 2] = ["pay-1", "pay-2"];
const REASONS: [&str; 2] = ["declined", "goodwill"];

#[derive(Clone, Debug)]
enum Step {
    Place(bool),
    Pending(usize),
    Confirm(Option<usize>),
    Capture(usize, i64),
    Fail(usize),
    Ship(usize),
    Deliver,
    Cancel(usize),
    Refund(usize, i64, usize),
}

fn step() -> impl Strategy<Value = Step> {
    let payment = 0..PAYMENTS.len();
    let reason = 0..REASONS.len();
    prop_oneof![
        1 => any::<bool>().prop_map(Step::Place),
        3 => payment.clone().prop_map(Step::Pending),
        3 => proptest::option::of(payment.clone()).prop_map(Step::Confirm),
        3 => (payment, -100i64..6000).prop_map(|(p, a)| Step::Capture(p, a)),
        1 => reason.clone().prop_map(Step::Fail),
        2 => (0usize..2).prop_map(Step::Ship),
        2 => Just(Step::Deliver),
        1 => (0usize..4).prop_map(Step::Cancel),
        4 => (0usize..4, -10i64..3000, reason).prop_map(|(i, a, r)| Step::Refund(i, a, r)),
    ]
}

fn cancel_reason(i: usize) -> CancelReason {
    match i {
        0 => CancelReason::CustomerRequest,
        1 => CancelReason::Expired,
        2 => CancelReason::OutOfStock {
            skus: vec![sku("MUG")],
        },
        _ => CancelReason::Admin {
            note: "fraud check".into(),
        },
    }
}

fn command(step: &Step) -> C {
    match *step {
        Step::Place(free) => {
            if free {
                place_free()
            } else {
                place()
            }
        }
        Step::Pending(p) => mark_pending(PAYMENTS[p]),
        Step::Confirm(p) => confirm(p.map(|p| PAYMENTS[p])),
        Step::Capture(p, amount) => capture_by(PAYMENTS[p], eur(amount)),
        Step::Fail(r) => fail(REASONS[r]),
        Step::Ship(t) => ship("DHL", &format!("JD000{t}")),
        Step::Deliver => deliver(),
        Step::Cancel(r) => cancel(cancel_reason(r)),
        Step::Refund(i, amount, r) => refund(&format!("r{i}"), eur(amount), REASONS[r]),
    }
}

/// Checks one accepted event against the state before it.
fn check_event(before: &OrderState, event: &E) -> Result<(), TestCaseError> {
    let status = before.status();
    match event {
        E::OrderRefunded { .. } => {
            prop_assert!(before.is_captured(), "refund without a capture");
        }
        E::PaymentCaptured { .. } => {
            // Or cancelled after confirming: a capture that crossed the cancellation.
            let confirmed_once = before.timeline().iter().any(|c| c.status == S::Confirmed);
            prop_assert!(
                matches!(status, S::Confirmed | S::Shipped)
                    || (status == S::Cancelled && confirmed_once),
                "capture while {status}"
            );
        }
        _ => prop_assert!(!status.is_closed(), "{event:?} after the order closed"),
    }
    Ok(())
}

fn check_state(state: &OrderState) -> Result<(), TestCaseError> {
    let (Some(total), Some(captured), Some(refunded)) =
        (state.total(), state.captured(), state.refunded())
    else {
        prop_assert_eq!(state.status(), S::NotPlaced);
        return Ok(());
    };
    prop_assert!(0 <= refunded.amount);
    prop_assert!(refunded.amount <= captured.amount);
    prop_assert!(captured.amount <= total.amount);
    prop_assert!(state.refund_count() <= MAX_REFUNDS);
    // The timeline starts at placement, follows the allowed edges and ends at the status.
    let timeline = state.timeline();
    prop_assert_eq!(timeline.first().map(|c| c.status), Some(S::Placed));
    prop_assert_eq!(timeline.last().map(|c| c.status), Some(state.status()));
    for pair in timeline.windows(2) {
        prop_assert!(
            pair[0].status.next().contains(&pair[1].status),
            "{} -> {} is not allowed",
            pair[0].status,
            pair[1].status
        );
    }
    if state.is_captured() {
        prop_assert!(state.payment_id().is_some());
    }
    Ok(())
}

/// A history to start from, so the walk spends time in every status: placed, payment pending,
/// confirmed, captured, shipped, or a free order.
fn start_from(start: usize) -> Vec<E> {
    match start {
        0 => h_placed(),
        1 => h_pending(),
        2 => h_confirmed(),
        3 => h_captured(TOTAL - 1000),
        4 => h_shipped(),
        _ => h_free_placed(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_order_histories_keep_the_invariants(
        start in 0usize..6,
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        let mut now = t0();
        let mut history = start_from(start);
        let mut state = Order::fold(&history);
        for step in &steps {
            now += TimeDelta::minutes(5);
            let command = command(step);
            let outcome = given::<Order>(history.clone()).at(now).when(command.clone()).outcome();
            let Ok(events) = outcome else { continue };
            prop_assert!(events.len() <= 1);
            for event in &events {
                prop_assert_eq!(event.order_id(), &oid());
                prop_assert_eq!(event.at(), now);
                check_event(&state, event)?;
                Order::evolve(&mut state, event);
                history.push(event.clone());
            }
            check_state(&state)?;
            // Whatever was accepted is in place: the same command again changes nothing.
            let again = Order::decide(&state, &command, &Context::at(now + TimeDelta::minutes(1)));
            prop_assert_eq!(again, Ok(vec![]), "repeating {:?}", command);
        }
        prop_assert_eq!(&Order::fold(&history), &state);
        let json = serde_json::to_string(&state).unwrap();
        prop_assert_eq!(&serde_json::from_str::<OrderState>(&json).unwrap(), &state);
    }

    #[test]
    fn the_happy_path_always_ends_delivered_and_refundable(
        capture_amount in 1i64..=TOTAL,
        refunds in proptest::collection::vec(1i64..2000, 0..6)
    ) {
        let steps = [
            mark_pending("pay-1"),
            confirm(Some("pay-1")),
            capture(eur(capture_amount)),
            ship("DHL", "JD0001"),
            deliver(),
        ];
        let mut history = h_placed();
        for command in steps {
            let events = given::<Order>(history.clone()).when(command).outcome().unwrap();
            history.extend(events);
        }
        let mut refunded = 0;
        for (i, amount) in refunds.into_iter().enumerate() {
            let outcome = given::<Order>(history.clone())
                .when(refund(&format!("r{i}"), eur(amount), "returned"))
                .outcome();
            if refunded + amount <= capture_amount {
                history.extend(outcome.unwrap());
                refunded += amount;
            } else {
                prop_assert_eq!(outcome, Err(R::RefundExceedsCaptured {
                    requested: eur(amount),
                    refundable: eur(capture_amount - refunded),
                }));
            }
        }
        let state = Order::fold(&history);
        prop_assert_eq!(state.status(), S::Delivered);
        prop_assert_eq!(state.refunded(), Some(eur(refunded)));
    }
}
