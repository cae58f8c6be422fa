//! Given/when/then for every path of the checkout saga (the happy path, out of stock, a decline,
//! an unknown outcome found or not found, expiry before and after confirmation, an operator's
//! compensation), what it asks next at each point, and a property: however the notes arrive, a
//! checkout that ends confirmed has captured and sold everything, and one that ends otherwise
//! holds no stock and no money.

use chrono::Duration;
use proptest::prelude::*;

use super::*;
use crate::order::CancelReason;
use crate::testing::{given, t0};
use crate::{Currency, Money};

use CheckoutCommand as C;
use CheckoutEvent as E;

fn oid() -> OrderId {
    OrderId::new("o1").unwrap()
}
fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}
fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}
fn lines() -> Vec<CheckoutLine> {
    vec![
        CheckoutLine {
            sku: sku("A"),
            quantity: 2,
        },
        CheckoutLine {
            sku: sku("B"),
            quantity: 1,
        },
    ]
}
fn start() -> C {
    C::Start {
        order_id: oid(),
        payment_id: PaymentId::new("p1").unwrap(),
        lines: lines(),
        amount: eur(3_000),
        method_token: "tok_approve".into(),
    }
}
fn started() -> E {
    E::CheckoutStarted {
        order_id: oid(),
        payment_id: PaymentId::new("p1").unwrap(),
        lines: lines(),
        amount: eur(3_000),
        method_token: "tok_approve".into(),
        at: t0(),
        expires_at: t0() + Duration::minutes(15),
    }
}
fn reserved(s: &str) -> E {
    E::LineReserved { sku: sku(s) }
}
fn both_reserved() -> Vec<E> {
    vec![
        started(),
        E::ExpiryScheduled {},
        reserved("A"),
        reserved("B"),
    ]
}
fn authorized() -> Vec<E> {
    let mut events = both_reserved();
    events.extend([
        E::PaymentRequested { attempt: 1 },
        E::PaymentAuthorized {
            reference: "auth_1".into(),
        },
    ]);
    events
}
fn steps_after(events: &[E]) -> Vec<Step> {
    next_steps(&Checkout::fold(events))
}
fn compensating(reason: CompensationReason) -> E {
    E::CompensationStarted { reason, at: t0() }
}
fn completed(outcome: CheckoutOutcome) -> E {
    E::CheckoutCompleted { outcome, at: t0() }
}

#[test]
fn a_checkout_starts_by_scheduling_its_expiry_and_reserving_every_line() {
    given::<Checkout>([]).when(start()).then([started()]);
    given::<Checkout>([started()]).when(start()).then_nothing();
    assert_eq!(
        steps_after(&[started()]),
        [
            Step::ScheduleExpiry {
                due_at: t0() + Duration::minutes(15)
            },
            Step::Reserve {
                sku: sku("A"),
                quantity: 2,
                expires_at: t0() + Duration::minutes(15)
            },
            Step::Reserve {
                sku: sku("B"),
                quantity: 1,
                expires_at: t0() + Duration::minutes(15)
            },
        ]
    );
}

#[test]
fn a_start_is_checked() {
    let with = |lines: Vec<CheckoutLine>, amount: i64, token: &str| C::Start {
        order_id: oid(),
        payment_id: PaymentId::new("p1").unwrap(),
        lines,
        amount: eur(amount),
        method_token: token.into(),
    };
    let mut twice = lines();
    twice.push(twice[0].clone());
    let zero = vec![CheckoutLine {
        sku: sku("A"),
        quantity: 0,
    }];
    for bad in [
        with(Vec::new(), 100, "t"),
        with(twice, 100, "t"),
        with(zero, 100, "t"),
        with(lines(), 0, "t"),
        with(lines(), 100, " "),
    ] {
        assert!(matches!(
            given::<Checkout>([]).when(bad).then_rejected(),
            CheckoutRejection::Invalid(_)
        ));
    }
    given::<Checkout>([started()])
        .when(with(lines(), 100, "tok_approve"))
        .then_reject(CheckoutRejection::StartedDifferently);
    given::<Checkout>([])
        .when(C::NoteExpired)
        .then_reject(CheckoutRejection::NotStarted);
}

#[test]
fn the_happy_path_pays_confirms_commits_and_captures() {
    // Every line held: ask for the payment, once.
    assert_eq!(
        steps_after(&both_reserved()),
        [Step::RequestPayment {
            idempotency_key: "auth-o1-1".into(),
            attempt: 1,
            amount: eur(3_000),
            method_token: "tok_approve".into(),
        }]
    );
    given::<Checkout>(both_reserved())
        .when(C::NotePaymentRequested)
        .then([E::PaymentRequested { attempt: 1 }]);
    let mut requested = both_reserved();
    requested.push(E::PaymentRequested { attempt: 1 });
    assert_eq!(
        steps_after(&requested),
        [Step::Authorize {
            idempotency_key: "auth-o1-1".into()
        }]
    );
    given::<Checkout>(requested)
        .when(C::NoteAuthorized {
            reference: "auth_1".into(),
        })
        .then([E::PaymentAuthorized {
            reference: "auth_1".into(),
        }]);
    assert_eq!(steps_after(&authorized()), [Step::ConfirmOrder]);

    let mut confirmed = authorized();
    confirmed.push(E::OrderConfirmed {});
    assert_eq!(
        steps_after(&confirmed),
        [
            Step::Commit { sku: sku("A") },
            Step::Commit { sku: sku("B") },
            Step::Capture {
                idempotency_key: "capture-o1".into(),
                authorization: "auth_1".into(),
                amount: eur(3_000),
            },
        ]
    );
    confirmed.extend([E::LineCommitted { sku: sku("A") }, E::PaymentCaptured {}]);
    // The last of the three completes the checkout.
    let state = given::<Checkout>(confirmed.clone())
        .when(C::NoteCommitted { sku: sku("B") })
        .then([
            E::LineCommitted { sku: sku("B") },
            completed(CheckoutOutcome::Confirmed),
        ]);
    assert_eq!(next_steps(&state), [Step::CancelExpiry]);
    // Expiry after confirmation changes nothing; neither may an operator compensate it.
    confirmed.extend([
        E::LineCommitted { sku: sku("B") },
        completed(CheckoutOutcome::Confirmed),
    ]);
    given::<Checkout>(confirmed.clone())
        .when(C::NoteExpired)
        .then_nothing();
    assert!(matches!(
        given::<Checkout>(confirmed)
            .when(C::ForceCompensate { note: "x".into() })
            .then_rejected(),
        CheckoutRejection::OutOfOrder { .. }
    ));
}

#[test]
fn out_of_stock_releases_what_was_reserved_and_cancels_the_order() {
    let history = vec![started(), E::ExpiryScheduled {}, reserved("A")];
    let reason = CompensationReason::OutOfStock {
        skus: vec![sku("B")],
    };
    given::<Checkout>(history.clone())
        .when(C::NoteOutOfStock { sku: sku("B") })
        .then([
            E::LineOutOfStock { sku: sku("B") },
            compensating(reason.clone()),
        ]);
    let mut history = history;
    history.extend([E::LineOutOfStock { sku: sku("B") }, compensating(reason)]);
    assert_eq!(
        steps_after(&history),
        [
            Step::Release { sku: sku("A") },
            Step::CloseOrder(CloseAs::Cancel(CancelReason::OutOfStock {
                skus: vec![sku("B")]
            })),
        ]
    );
    history.push(E::LineReleased { sku: sku("A") });
    given::<Checkout>(history)
        .when(C::NoteOrderClosed)
        .then([E::OrderClosed {}, completed(CheckoutOutcome::Cancelled)]);
}

#[test]
fn a_decline_releases_the_stock_and_fails_the_payment() {
    let mut history = both_reserved();
    history.push(E::PaymentRequested { attempt: 1 });
    let reason = CompensationReason::PaymentDeclined {
        code: "card_declined".into(),
    };
    given::<Checkout>(history.clone())
        .when(C::NoteDeclined {
            code: "card_declined".into(),
        })
        .then([
            E::PaymentDeclined {
                code: "card_declined".into(),
            },
            compensating(reason.clone()),
        ]);
    history.extend([
        E::PaymentDeclined {
            code: "card_declined".into(),
        },
        compensating(reason),
    ]);
    assert_eq!(
        steps_after(&history),
        [
            Step::Release { sku: sku("A") },
            Step::Release { sku: sku("B") },
            Step::CloseOrder(CloseAs::PaymentFailed {
                reason: "card_declined".into()
            }),
        ]
    );
    history.extend([
        E::LineReleased { sku: sku("A") },
        E::LineReleased { sku: sku("B") },
    ]);
    given::<Checkout>(history)
        .when(C::NoteOrderClosed)
        .then([E::OrderClosed {}, completed(CheckoutOutcome::PaymentFailed)]);
}

#[test]
fn an_unknown_outcome_is_looked_up_and_never_asked_under_a_new_key() {
    let mut history = both_reserved();
    history.extend([
        E::PaymentRequested { attempt: 1 },
        E::PaymentOutcomeUnknown {},
    ]);
    let lookup = Step::LookUpPayment {
        idempotency_key: "auth-o1-1".into(),
    };
    assert_eq!(steps_after(&history), [lookup]);
    // Found: the authorization is recorded as if it had answered.
    given::<Checkout>(history.clone())
        .when(C::NoteAuthorized {
            reference: "auth_9".into(),
        })
        .then([E::PaymentAuthorized {
            reference: "auth_9".into(),
        }]);
    // Not found: the same key is asked again (a repeat charges once at the gateway).
    history.push(E::PaymentNotFound {});
    assert_eq!(
        steps_after(&history),
        [Step::Authorize {
            idempotency_key: "auth-o1-1".into()
        }]
    );
}

#[test]
fn expiry_before_confirmation_voids_releases_and_cancels() {
    let state = given::<Checkout>(authorized())
        .at(t0() + Duration::minutes(15))
        .when(C::NoteExpired)
        .then([E::CompensationStarted {
            reason: CompensationReason::Expired,
            at: t0() + Duration::minutes(15),
        }]);
    assert_eq!(
        next_steps(&state),
        [
            Step::Release { sku: sku("A") },
            Step::Release { sku: sku("B") },
            Step::Void {
                idempotency_key: "void-o1".into(),
                authorization: "auth_1".into(),
            },
            Step::CloseOrder(CloseAs::Cancel(CancelReason::Expired)),
        ]
    );
    let mut history = authorized();
    history.extend([
        compensating(CompensationReason::Expired),
        E::LineReleased { sku: sku("A") },
        E::LineReleased { sku: sku("B") },
        E::OrderClosed {},
    ]);
    let state = given::<Checkout>(history)
        .when(C::NoteVoided)
        .then([E::PaymentVoided {}, completed(CheckoutOutcome::Cancelled)]);
    // The deadline fired: nothing to cancel.
    assert_eq!(next_steps(&state), []);
}

#[test]
fn expiry_while_the_payment_is_in_flight_looks_it_up_first() {
    let mut history = both_reserved();
    history.extend([
        E::PaymentRequested { attempt: 1 },
        compensating(CompensationReason::Expired),
    ]);
    assert_eq!(
        steps_after(&history),
        [
            Step::Release { sku: sku("A") },
            Step::Release { sku: sku("B") },
            Step::LookUpPayment {
                idempotency_key: "auth-o1-1".into()
            },
            Step::CloseOrder(CloseAs::Cancel(CancelReason::Expired)),
        ]
    );
    history.extend([
        E::LineReleased { sku: sku("A") },
        E::LineReleased { sku: sku("B") },
        E::OrderClosed {},
    ]);
    // Nothing at the gateway: nothing to void, and the checkout is over.
    given::<Checkout>(history)
        .when(C::NoteNotFoundAtGateway)
        .then([E::PaymentNotFound {}, completed(CheckoutOutcome::Cancelled)]);
}

#[test]
fn a_confirmation_that_lands_after_the_expiry_is_recorded_and_the_order_cancelled() {
    let mut history = authorized();
    history.push(compensating(CompensationReason::Expired));
    let state = given::<Checkout>(history)
        .when(C::NoteOrderConfirmed)
        .then([E::OrderConfirmed {}]);
    assert_eq!(
        next_steps(&state),
        [
            Step::Release { sku: sku("A") },
            Step::Release { sku: sku("B") },
            Step::Void {
                idempotency_key: "void-o1".into(),
                authorization: "auth_1".into(),
            },
            Step::CloseOrder(CloseAs::Cancel(CancelReason::Expired)),
        ]
    );
}

#[test]
fn an_operator_can_force_compensation_before_confirmation() {
    given::<Checkout>(both_reserved())
        .when(C::ForceCompensate {
            note: "stuck at the gateway".into(),
        })
        .then([compensating(CompensationReason::Operator {
            note: "stuck at the gateway".into(),
        })]);
    assert!(matches!(
        given::<Checkout>(both_reserved())
            .when(C::ForceCompensate { note: " ".into() })
            .then_rejected(),
        CheckoutRejection::Invalid(_)
    ));
}

#[test]
fn notes_are_idempotent_and_checked() {
    given::<Checkout>(both_reserved())
        .when(C::NoteReserved { sku: sku("A") })
        .then_nothing();
    given::<Checkout>(authorized())
        .when(C::NoteAuthorized {
            reference: "auth_1".into(),
        })
        .then_nothing();
    given::<Checkout>(authorized())
        .when(C::NoteAuthorized {
            reference: "auth_2".into(),
        })
        .then_rejected();
    given::<Checkout>(both_reserved())
        .when(C::NoteReserved { sku: sku("Z") })
        .then_reject(CheckoutRejection::UnknownSku(sku("Z")));
    // No capture before the order is confirmed.
    given::<Checkout>(authorized())
        .when(C::NoteCaptured)
        .then_rejected();
}

fn confirmed_and_done() -> Vec<E> {
    let mut events = authorized();
    events.extend([
        E::OrderConfirmed {},
        E::LineCommitted { sku: sku("A") },
        E::LineCommitted { sku: sku("B") },
        E::PaymentCaptured {},
        completed(CheckoutOutcome::Confirmed),
    ]);
    events
}

fn cancelled_by_customer() -> E {
    compensating(CompensationReason::OrderCancelled {
        reason: CancelReason::CustomerRequest,
    })
}

#[test]
fn a_confirmed_order_cancelled_before_shipping_gets_its_stock_back_and_a_refund() {
    let history = confirmed_and_done();
    let cancel = C::NoteOrderCancelled {
        reason: CancelReason::CustomerRequest,
    };
    let state = given::<Checkout>(history.clone())
        .when(cancel.clone())
        .then([cancelled_by_customer(), E::OrderClosed {}]);
    // Reopened: the sold units go back, the capture is refunded; the order is closed already.
    assert_eq!(state.outcome, None);
    assert_eq!(
        next_steps(&state),
        [
            Step::Release { sku: sku("A") },
            Step::Release { sku: sku("B") },
            Step::Refund {
                idempotency_key: "refund-o1".into(),
                authorization: "auth_1".into(),
                amount: eur(3_000),
            },
        ]
    );
    let mut undoing = history;
    undoing.extend([cancelled_by_customer(), E::OrderClosed {}]);
    // A second cancellation event (redelivered) changes nothing.
    given::<Checkout>(undoing.clone())
        .when(cancel)
        .then_nothing();
    undoing.extend([
        E::LineReleased { sku: sku("A") },
        E::LineReleased { sku: sku("B") },
    ]);
    let state = given::<Checkout>(undoing.clone())
        .when(C::NoteRefunded)
        .then([E::PaymentRefunded {}, completed(CheckoutOutcome::Cancelled)]);
    assert_eq!(state.payment, PaymentProgress::Refunded);
    // Ended again: the expiry was called off at the first ending, asking again is harmless.
    assert_eq!(next_steps(&state), [Step::CancelExpiry]);
    undoing.extend([E::PaymentRefunded {}, completed(CheckoutOutcome::Cancelled)]);
    given::<Checkout>(undoing.clone())
        .when(C::NoteRefunded)
        .then_nothing();
    given::<Checkout>(undoing)
        .when(C::NoteOrderCancelled {
            reason: CancelReason::CustomerRequest,
        })
        .then_nothing();
}

#[test]
fn an_order_cancelled_while_its_payment_is_authorized_is_voided_and_released() {
    let state = given::<Checkout>(authorized())
        .when(C::NoteOrderCancelled {
            reason: CancelReason::CustomerRequest,
        })
        .then([cancelled_by_customer(), E::OrderClosed {}]);
    assert_eq!(
        next_steps(&state),
        [
            Step::Release { sku: sku("A") },
            Step::Release { sku: sku("B") },
            Step::Void {
                idempotency_key: "void-o1".into(),
                authorization: "auth_1".into(),
            },
        ]
    );
    // The saga's own cancellation (an expiry) is noted as the order closed, nothing more.
    let mut expiring = authorized();
    expiring.push(compensating(CompensationReason::Expired));
    given::<Checkout>(expiring.clone())
        .when(C::NoteOrderCancelled {
            reason: CancelReason::Expired,
        })
        .then([E::OrderClosed {}]);
    expiring.push(E::OrderClosed {});
    given::<Checkout>(expiring)
        .when(C::NoteOrderCancelled {
            reason: CancelReason::Expired,
        })
        .then_nothing();
}

#[test]
fn a_commit_or_capture_noted_after_a_cancellation_is_undone_too() {
    // Confirmed, commit and capture asked; the customer cancels before their answers are noted.
    let mut history = authorized();
    history.extend([
        E::OrderConfirmed {},
        cancelled_by_customer(),
        E::OrderClosed {},
    ]);
    given::<Checkout>(history.clone())
        .when(C::NoteCommitted { sku: sku("A") })
        .then([E::LineCommitted { sku: sku("A") }]);
    given::<Checkout>(history.clone())
        .when(C::NoteCaptured)
        .then([E::PaymentCaptured {}]);
    history.extend([E::LineCommitted { sku: sku("A") }, E::PaymentCaptured {}]);
    assert_eq!(
        steps_after(&history),
        [
            Step::Release { sku: sku("A") },
            Step::Release { sku: sku("B") },
            Step::Refund {
                idempotency_key: "refund-o1".into(),
                authorization: "auth_1".into(),
                amount: eur(3_000),
            },
        ]
    );
    // A sold line goes back only while undoing: never during a normal run.
    given::<Checkout>(confirmed_and_done())
        .when(C::NoteReleased { sku: sku("A") })
        .then_rejected();
    // A refund is only noted while undoing a capture.
    given::<Checkout>(confirmed_and_done())
        .when(C::NoteRefunded)
        .then_rejected();
}

#[test]
fn a_stuck_checkout_is_visible_until_it_moves_and_retries_are_recorded() {
    let stuck = E::CheckoutStuck {
        error: "the gateway failed".into(),
        attempts: 10,
        at: t0(),
    };
    let state = given::<Checkout>(authorized())
        .when(C::NoteStuck {
            error: "the gateway failed".into(),
            attempts: 10,
        })
        .then([stuck.clone()]);
    assert!(state.stuck);
    // Its steps are unchanged by the note.
    assert_eq!(next_steps(&state), [Step::ConfirmOrder]);
    let mut history = authorized();
    history.push(stuck);
    let state = given::<Checkout>(history.clone())
        .when(C::Retry)
        .then([E::RetryRequested { at: t0() }]);
    assert!(state.stuck, "a retry is not progress");
    let state = given::<Checkout>(history)
        .when(C::NoteOrderConfirmed)
        .then([E::OrderConfirmed {}]);
    assert!(!state.stuck, "progress clears it");
    // Long errors are cut; an ended checkout is neither stuck nor retried.
    let events = given::<Checkout>(authorized())
        .when(C::NoteStuck {
            error: "x".repeat(2_000),
            attempts: 1,
        })
        .outcome()
        .unwrap();
    assert!(matches!(&events[0], E::CheckoutStuck { error, .. } if error.len() == 500));
    given::<Checkout>(confirmed_and_done())
        .when(C::NoteStuck {
            error: "late".into(),
            attempts: 3,
        })
        .then_nothing();
    given::<Checkout>(confirmed_and_done())
        .when(C::Retry)
        .then_rejected();
}

fn note() -> impl Strategy<Value = C> {
    let line = prop_oneof![Just(sku("A")), Just(sku("B"))];
    prop_oneof![
        Just(C::NoteExpiryScheduled),
        line.clone().prop_map(|sku| C::NoteReserved { sku }),
        line.clone().prop_map(|sku| C::NoteOutOfStock { sku }),
        line.clone().prop_map(|sku| C::NoteReleased { sku }),
        line.prop_map(|sku| C::NoteCommitted { sku }),
        Just(C::NotePaymentRequested),
        Just(C::NoteAuthorized {
            reference: "auth_1".into()
        }),
        Just(C::NoteDeclined {
            code: "card_declined".into()
        }),
        Just(C::NoteOutcomeUnknown),
        Just(C::NoteNotFoundAtGateway),
        Just(C::NoteOrderConfirmed),
        Just(C::NoteCaptured),
        Just(C::NoteVoided),
        Just(C::NoteOrderClosed),
        Just(C::NoteExpired),
        Just(C::ForceCompensate { note: "op".into() }),
        Just(C::NoteOrderCancelled {
            reason: CancelReason::CustomerRequest
        }),
        Just(C::NoteRefunded),
        Just(C::NoteStuck {
            error: "e".into(),
            attempts: 1
        }),
        Just(C::Retry),
    ]
}

proptest! {
    #[test]
    fn an_ended_checkout_holds_nothing_it_should_not(notes in proptest::collection::vec(note(), 0..60)) {
        let ctx = Context::at(t0());
        let mut history = vec![started()];
        for command in notes {
            let state = Checkout::fold(&history);
            if let Ok(events) = Checkout::decide(&state, &command, &ctx) {
                history.extend(events);
            }
        }
        let state = Checkout::fold(&history);
        let completions = history
            .iter()
            .filter(|e| matches!(e, E::CheckoutCompleted { .. }))
            .count();
        // Once, or twice when a confirmed order was cancelled and undone.
        prop_assert!(completions <= 2, "completed {} times", completions);
        if completions == 2 {
            let outcomes: Vec<_> = history
                .iter()
                .filter_map(|e| match e {
                    E::CheckoutCompleted { outcome, .. } => Some(outcome.clone()),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(&outcomes[0], &CheckoutOutcome::Confirmed);
            prop_assert_eq!(&outcomes[1], &CheckoutOutcome::Cancelled);
        }
        match &state.outcome {
            Some(CheckoutOutcome::Confirmed) => {
                prop_assert!(state.compensating.is_none());
                prop_assert!(state.all_lines(LineStatus::Committed));
                let captured = matches!(state.payment, PaymentProgress::Captured { .. });
                prop_assert!(captured);
            }
            Some(_) => {
                prop_assert!(state.compensating.is_some());
                prop_assert!(state.order_closed);
                let nothing_held = state.lines.iter().all(|l| {
                    !matches!(
                        l.status,
                        LineStatus::Reserved | LineStatus::Pending | LineStatus::Committed
                    )
                });
                prop_assert!(nothing_held);
                prop_assert!(state.authorization().is_none());
            }
            None => {}
        }
        // A confirmed order that is compensated is closed by the compensation.
        if state.order_confirmed && state.compensating.is_some() && state.outcome.is_some() {
            prop_assert!(state.order_closed);
        }
    }
}

/// Plays the saga the way its runner will: asks [`next_steps`], answers every step with one of
/// the outcomes a real system could give (`choices` picks them; once they run out, everything
/// succeeds), notes the answers, lets the expiry fire at round `expire_at`, and has the
/// customer cancel the order at round `cancel_at` (or once it ended, if it ended before),
/// between any two answers of that round.
fn play(choices: &[u8], expire_at: usize, cancel_at: Option<usize>) -> (CheckoutState, Vec<E>) {
    let ctx = Context::at(t0());
    let mut history = vec![started()];
    let mut choices = choices.iter().copied();
    let mut cancel_pending = cancel_at.is_some();
    let cancel = C::NoteOrderCancelled {
        reason: CancelReason::CustomerRequest,
    };
    for round in 0..100 {
        let state = Checkout::fold(&history);
        if state.outcome.is_some() {
            if !cancel_pending {
                break;
            }
            cancel_pending = false;
            let events = Checkout::decide(&state, &cancel, &ctx).expect("a cancellation is noted");
            history.extend(events);
            continue;
        }
        let mut notes = Vec::new();
        for step in next_steps(&state) {
            let pick = choices.next().unwrap_or(0);
            notes.push(match step {
                Step::ScheduleExpiry { .. } => C::NoteExpiryScheduled,
                Step::Reserve { sku, .. } if pick % 4 == 3 => C::NoteOutOfStock { sku },
                Step::Reserve { sku, .. } => C::NoteReserved { sku },
                Step::Release { sku } => C::NoteReleased { sku },
                Step::RequestPayment { .. } => C::NotePaymentRequested,
                Step::Authorize { .. } => match pick % 4 {
                    1 => C::NoteDeclined {
                        code: "card_declined".into(),
                    },
                    2 => C::NoteOutcomeUnknown,
                    _ => C::NoteAuthorized {
                        reference: "auth_1".into(),
                    },
                },
                Step::LookUpPayment { .. } if pick % 2 == 1 => C::NoteNotFoundAtGateway,
                Step::LookUpPayment { .. } => C::NoteAuthorized {
                    reference: "auth_1".into(),
                },
                Step::ConfirmOrder => C::NoteOrderConfirmed,
                Step::Commit { sku } => C::NoteCommitted { sku },
                Step::Capture { .. } => C::NoteCaptured,
                Step::Void { .. } => C::NoteVoided,
                Step::Refund { .. } => C::NoteRefunded,
                Step::CloseOrder(_) => C::NoteOrderClosed,
                Step::CancelExpiry => continue,
            });
        }
        // The runner notes its own steps' answers before the next event from the log.
        if round == expire_at {
            notes.push(C::NoteExpired);
        }
        if cancel_pending && Some(round) == cancel_at {
            cancel_pending = false;
            let at = usize::from(choices.next().unwrap_or(0)) % (notes.len() + 1);
            notes.insert(at, cancel.clone());
        }
        for note in notes {
            let state = Checkout::fold(&history);
            match Checkout::decide(&state, &note, &ctx) {
                Ok(events) => history.extend(events),
                Err(e) => {
                    panic!("the answer to its own step was refused: {note:?}: {e}\n{history:#?}")
                }
            }
        }
    }
    (Checkout::fold(&history), history)
}

proptest! {
    #[test]
    fn every_checkout_ends_and_ends_clean(
        choices in proptest::collection::vec(0u8..8, 0..40),
        expire_at in 0usize..30,
        cancel_at in proptest::option::of(0usize..30),
    ) {
        let (state, history) = play(&choices, expire_at, cancel_at);
        prop_assert!(state.outcome.is_some(), "did not end: {:#?}", history);
        if cancel_at.is_some() {
            prop_assert_ne!(&state.outcome, &Some(CheckoutOutcome::Confirmed), "{:#?}", history);
        }
        match state.outcome {
            Some(CheckoutOutcome::Confirmed) => {
                prop_assert!(state.all_lines(LineStatus::Committed));
                let captured = matches!(state.payment, PaymentProgress::Captured { .. });
                prop_assert!(captured);
            }
            _ => {
                let nothing_held = state
                    .lines
                    .iter()
                    .all(|l| matches!(l.status, LineStatus::Released | LineStatus::OutOfStock));
                prop_assert!(nothing_held, "{:#?}", history);
                prop_assert!(state.authorization().is_none(), "{:#?}", history);
            }
        }
        // One authorization key, whatever happened: never a second charge.
        let requests = history
            .iter()
            .filter(|e| matches!(e, E::PaymentRequested { .. }))
            .count();
        prop_assert!(requests <= 1);
    }
}
