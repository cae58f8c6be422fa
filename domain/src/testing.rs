//! Given/when/then for deciders: `given(events).when(command).then(events)` or
//! `.then_reject(rejection)`. Also checks that every produced event survives a serde round trip
//! in the `{"type", "data"}` shape the command side stores, so a test of a rule is also a test of
//! its wire format.

use chrono::{DateTime, TimeZone, Utc};

use crate::{Aggregate, Context};

/// 2026-01-01T00:00:00Z: the default "now" of a scenario.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// Starts a scenario from these past events.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    Given {
        history: events.into_iter().collect(),
        now: t0(),
    }
}

/// A scenario's history.
#[derive(Debug)]
pub struct Given<A: Aggregate> {
    history: Vec<A::Event>,
    now: DateTime<Utc>,
}

impl<A: Aggregate> Given<A> {
    /// Sets the command's clock.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = now;
        self
    }

    /// The command under test.
    pub fn when(self, command: A::Command) -> When<A> {
        let state = A::fold(&self.history);
        let outcome = A::decide(&state, &command, &Context::at(self.now));
        if let Ok(events) = &outcome {
            for event in events {
                check_wire_shape::<A>(event);
            }
        }
        When { state, outcome }
    }
}

/// A decided scenario.
#[derive(Debug)]
pub struct When<A: Aggregate> {
    state: A::State,
    outcome: Result<Vec<A::Event>, A::Rejection>,
}

impl<A: Aggregate> When<A> {
    /// Asserts the command was accepted with exactly these events.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A::State {
        let expected: Vec<_> = expected.into_iter().collect();
        match self.outcome {
            Ok(events) => {
                assert_eq!(events, expected, "unexpected events");
                let mut state = self.state;
                for e in &events {
                    A::evolve(&mut state, e);
                }
                state
            }
            Err(rejection) => panic!("expected events {expected:?}, got rejection: {rejection}"),
        }
    }

    /// Asserts the command was accepted but changed nothing (an idempotent repeat).
    #[track_caller]
    pub fn then_nothing(self) -> A::State {
        self.then([])
    }

    /// Asserts the command was rejected with exactly this rejection.
    #[track_caller]
    pub fn then_reject(self, expected: A::Rejection) {
        match self.outcome {
            Ok(events) => panic!("expected rejection {expected}, got events {events:?}"),
            Err(rejection) => assert_eq!(rejection, expected),
        }
    }

    /// Asserts the command was rejected, and returns the rejection for further checks.
    #[track_caller]
    pub fn then_rejected(self) -> A::Rejection {
        match self.outcome {
            Ok(events) => panic!("expected a rejection, got events {events:?}"),
            Err(rejection) => rejection,
        }
    }

    /// The raw outcome, for property tests.
    pub fn outcome(self) -> Result<Vec<A::Event>, A::Rejection> {
        self.outcome
    }
}

#[track_caller]
fn check_wire_shape<A: Aggregate>(event: &A::Event) {
    let value = serde_json::to_value(event).expect("event serialises");
    let object = value.as_object().expect("event serialises as an object");
    let event_type = object
        .get("type")
        .and_then(|t| t.as_str())
        .expect("event has a string \"type\"");
    let mut parts = event_type.split('.');
    assert_eq!(
        parts.next(),
        Some(A::CATEGORY),
        "event type {event_type} must start with the category"
    );
    assert!(
        parts
            .next()
            .is_some_and(|name| name.chars().next().is_some_and(char::is_uppercase)),
        "event type {event_type} needs a PascalCase name"
    );
    assert!(
        parts.next().is_some_and(|v| v
            .strip_prefix('v')
            .is_some_and(|n| n.parse::<u32>().is_ok())),
        "event type {event_type} needs a .vN suffix"
    );
    assert!(
        object.get("data").is_some_and(|d| d.is_object()),
        "event {event_type} needs object data (use struct variants)"
    );
    let back: A::Event = serde_json::from_value(value).expect("event deserialises");
    assert_eq!(&back, event, "event survives a round trip");
}
