//! A command as it travels to a handler: the domain command plus who sent it, its id and the ids
//! that tie it to a request or saga.

use chrono::{DateTime, Utc};
use shop_eventstore::Actor;
use uuid::Uuid;

/// A domain command with its envelope.
#[derive(Clone, Debug)]
pub struct Command<C> {
    /// Unique per intent: a retry of the same intent carries the same id, and the handler then
    /// answers with the original outcome instead of deciding again. The ids of the events the
    /// command writes are derived from it.
    pub id: Uuid,
    /// What is asked.
    pub body: C,
    /// Who asks.
    pub actor: Actor,
    /// Shared by everything one request or saga set in motion (defaults to the command id).
    pub correlation_id: Uuid,
    /// When it was issued; `None`: the handler's clock at the time it is decided.
    pub issued_at: Option<DateTime<Utc>>,
    /// Optimistic concurrency for clients (`If-Match`): decide only if the stream is at exactly
    /// this revision, else [`crate::CommandError::RevisionMismatch`].
    pub if_match: Option<u64>,
}

impl<C> Command<C> {
    /// A command with id `id` from `actor`, correlated with itself.
    pub fn new(id: Uuid, body: C, actor: Actor) -> Self {
        Self {
            id,
            body,
            actor,
            correlation_id: id,
            issued_at: None,
            if_match: None,
        }
    }

    /// Ties the command to a request or saga.
    pub fn correlated(mut self, correlation_id: Uuid) -> Self {
        self.correlation_id = correlation_id;
        self
    }

    /// Decides only if the stream is at `revision`.
    pub fn if_match(mut self, revision: u64) -> Self {
        self.if_match = Some(revision);
        self
    }

    /// The same envelope around another body (a service turning its request into an aggregate's
    /// command keeps the id, actor, correlation and time).
    pub fn map<D>(self, f: impl FnOnce(C) -> D) -> Command<D> {
        Command {
            id: self.id,
            body: f(self.body),
            actor: self.actor,
            correlation_id: self.correlation_id,
            issued_at: self.issued_at,
            if_match: self.if_match,
        }
    }

    /// The same command under another id (a later step of one operation).
    pub fn with_id(mut self, id: Uuid) -> Self {
        self.id = id;
        self
    }

    /// Fixes the time the command was issued.
    pub fn at(mut self, issued_at: DateTime<Utc>) -> Self {
        self.issued_at = Some(issued_at);
        self
    }
}

/// Namespace of the v5 ids of events written by commands.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d1c_5a2e_8f0b_4e57_9a43_3b1f_0c2d_7e91);

/// The id of the `index`th event written by command `command_id`: the same command always writes
/// the same ids, so the store recognises a retried append.
pub fn event_id(command_id: Uuid, index: usize) -> Uuid {
    let mut name = [0u8; 24];
    name[..16].copy_from_slice(command_id.as_bytes());
    name[16..].copy_from_slice(&(index as u64).to_be_bytes());
    Uuid::new_v5(&EVENT_ID_NAMESPACE, &name)
}
