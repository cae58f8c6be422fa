//! Given/when/then for every deadline transition and rejection, and a property: whatever is
//! asked in whatever order, a deadline fires at most once, never before it is due and never after
//! it was cancelled.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::*;
use crate::testing::{given, t0};

use DeadlineCommand as C;
use DeadlineEvent as E;
use DeadlineRejection as R;

fn id() -> DeadlineId {
    DeadlineId::new("checkout-order-1.reservation").unwrap()
}

fn due() -> DateTime<Utc> {
    t0() + Duration::minutes(15)
}

fn schedule() -> C {
    C::Schedule {
        deadline_id: id(),
        due_at: due(),
        purpose: "checkout.reservation_expiry".into(),
        subject: "checkout-order-1".into(),
    }
}

fn scheduled() -> E {
    E::DeadlineScheduled {
        deadline_id: id(),
        due_at: due(),
        purpose: "checkout.reservation_expiry".into(),
        subject: "checkout-order-1".into(),
        at: t0(),
    }
}

fn fired(at: DateTime<Utc>) -> E {
    E::DeadlineFired {
        deadline_id: id(),
        due_at: due(),
        purpose: "checkout.reservation_expiry".into(),
        subject: "checkout-order-1".into(),
        at,
    }
}

fn cancel() -> C {
    C::Cancel {
        deadline_id: id(),
        reason: "order confirmed".into(),
    }
}

fn cancelled() -> E {
    E::DeadlineCancelled {
        deadline_id: id(),
        reason: "order confirmed".into(),
        at: t0(),
    }
}

#[test]
fn a_deadline_is_scheduled_once() {
    let state = given::<Deadline>([]).when(schedule()).then([scheduled()]);
    assert_eq!(state.status, DeadlineStatus::Pending);
    assert_eq!(state.due_at, Some(due()));
    // Again with the same details: nothing new; with other details: refused.
    given::<Deadline>([scheduled()])
        .when(schedule())
        .then_nothing();
    given::<Deadline>([scheduled()])
        .when(C::Schedule {
            deadline_id: id(),
            due_at: due() + Duration::minutes(1),
            purpose: "checkout.reservation_expiry".into(),
            subject: "checkout-order-1".into(),
        })
        .then_reject(R::ScheduledDifferently(id()));
}

#[test]
fn scheduling_needs_a_purpose_and_a_subject() {
    for (purpose, subject, field) in [
        ("", "checkout-order-1", "purpose"),
        ("checkout.reservation_expiry", " ", "subject"),
        (&*"x".repeat(MAX_TEXT_CHARS + 1), "s", "purpose"),
    ] {
        given::<Deadline>([])
            .when(C::Schedule {
                deadline_id: id(),
                due_at: due(),
                purpose: purpose.into(),
                subject: subject.into(),
            })
            .then_reject(R::InvalidText { field });
    }
}

#[test]
fn it_fires_once_it_is_due_and_only_once() {
    given::<Deadline>([scheduled()])
        .at(due() - Duration::seconds(1))
        .when(C::Fire { deadline_id: id() })
        .then_reject(R::NotDue {
            deadline_id: id(),
            due_at: due(),
        });
    let state = given::<Deadline>([scheduled()])
        .at(due())
        .when(C::Fire { deadline_id: id() })
        .then([fired(due())]);
    assert_eq!(state.status, DeadlineStatus::Fired);
    // Late schedulers (after a crash, or racing) find it fired: nothing new.
    given::<Deadline>([scheduled(), fired(due())])
        .at(due() + Duration::hours(1))
        .when(C::Fire { deadline_id: id() })
        .then_nothing();
}

#[test]
fn a_cancelled_deadline_never_fires() {
    given::<Deadline>([scheduled()])
        .when(cancel())
        .then([cancelled()]);
    given::<Deadline>([scheduled(), cancelled()])
        .at(due() + Duration::hours(1))
        .when(C::Fire { deadline_id: id() })
        .then_reject(R::WrongStatus {
            action: "fire",
            status: DeadlineStatus::Cancelled,
        });
    given::<Deadline>([scheduled(), cancelled()])
        .when(cancel())
        .then_nothing();
}

#[test]
fn a_fired_deadline_cannot_be_cancelled() {
    given::<Deadline>([scheduled(), fired(due())])
        .when(cancel())
        .then_reject(R::WrongStatus {
            action: "cancel",
            status: DeadlineStatus::Fired,
        });
}

#[test]
fn nothing_happens_to_a_deadline_never_scheduled() {
    given::<Deadline>([])
        .at(due())
        .when(C::Fire { deadline_id: id() })
        .then_reject(R::WrongStatus {
            action: "fire",
            status: DeadlineStatus::None,
        });
    given::<Deadline>([])
        .when(cancel())
        .then_reject(R::WrongStatus {
            action: "cancel",
            status: DeadlineStatus::None,
        });
}

#[test]
fn commands_for_another_deadline_are_refused() {
    let other = DeadlineId::new("other").unwrap();
    given::<Deadline>([scheduled()])
        .at(due())
        .when(C::Fire {
            deadline_id: other.clone(),
        })
        .then_reject(R::WrongDeadline {
            expected: id(),
            got: other,
        });
}

proptest! {
    #[test]
    fn fires_at_most_once_never_early_never_after_cancel(
        steps in proptest::collection::vec((0u8..3, -20i64..40), 1..30)
    ) {
        let mut history: Vec<E> = Vec::new();
        for (kind, minute) in steps {
            let now = t0() + Duration::minutes(minute);
            let command = match kind {
                0 => schedule(),
                1 => C::Fire { deadline_id: id() },
                _ => cancel(),
            };
            let state = Deadline::fold(&history);
            if let Ok(events) = Deadline::decide(&state, &command, &Context::at(now)) {
                for event in &events {
                    if let E::DeadlineFired { at, due_at, .. } = event {
                        prop_assert!(*at >= *due_at, "fired early");
                    }
                }
                history.extend(events);
            }
        }
        let fired = history.iter().filter(|e| matches!(e, E::DeadlineFired { .. })).count();
        let cancelled = history
            .iter()
            .filter(|e| matches!(e, E::DeadlineCancelled { .. }))
            .count();
        prop_assert!(fired <= 1);
        prop_assert!(cancelled <= 1);
        prop_assert!(fired + cancelled <= 1, "fired and cancelled: {history:?}");
    }
}
