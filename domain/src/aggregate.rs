//! The decider shape every aggregate follows.

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};

/// What a decision may know besides the state and the command: the time the command was issued.
/// The command side fills it from an injected clock, tests set it by hand; the domain never reads a
/// clock itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    /// When the command was issued (UTC).
    pub now: DateTime<Utc>,
}

impl Context {
    /// A context at `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self { now }
    }
}

/// An aggregate as a decider: `initial` (the state's `Default`), `evolve` and `decide`.
///
/// Events are enums serialised by serde as `{"type": "<category>.<Name>.v<N>", "data": {...}}`
/// (`#[serde(tag = "type", content = "data")]` with an explicit, versioned `rename` on every
/// variant, and struct variants only so `data` is always an object). The command side splits that
/// pair into the envelope's event type and data, so wire names live in one place: the enum.
pub trait Aggregate: 'static {
    /// The id that names one stream of this aggregate (`<CATEGORY>-<id>`).
    type Id: Clone + std::fmt::Display + Debug + Send + Sync + 'static;
    /// The stream category: streams are named `<CATEGORY>-<id>`.
    const CATEGORY: &'static str;
    /// The shape version of [`Aggregate::State`]; a snapshot taken under another version is
    /// ignored and rebuilt from events. Bump it whenever the state's fields change.
    const SNAPSHOT_VERSION: u32;

    /// Folded state. `Default` is the state of a stream with no events.
    type State: Default + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// What can be asked of the aggregate.
    type Command: Clone + Debug + Send + Sync + 'static;
    /// What it records.
    type Event: Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// Why it refuses: a typed error whose `Display` is a sentence a person can act on.
    type Rejection: std::error::Error + Clone + PartialEq + Send + Sync + 'static;

    /// Applies one event. No rules here: an event is a fact, and folding must never fail.
    fn evolve(state: &mut Self::State, event: &Self::Event);

    /// Decides what `command` means given `state`: the events to record (possibly none, for a
    /// command whose effect is already in place) or a rejection.
    fn decide(
        state: &Self::State,
        command: &Self::Command,
        ctx: &Context,
    ) -> Result<Vec<Self::Event>, Self::Rejection>;

    /// Folds `events` onto the initial state.
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State {
        let mut state = Self::State::default();
        for event in events {
            Self::evolve(&mut state, event);
        }
        state
    }
}

/// The stream name of aggregate `A` with id `id`: `<category>-<id>`.
pub fn stream_name<A: Aggregate>(id: &A::Id) -> String {
    format!("{}-{}", A::CATEGORY, id)
}
