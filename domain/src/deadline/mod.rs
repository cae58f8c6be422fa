//! Deadline: a durable timer (`deadline-<id>`), the building block of the checkout saga's
//! timeouts and of reservation expiry (ADR 0009). Deadlines are events, not memory: a scheduler
//! rebuilds its timers from the log after a restart, and fires a deadline by recording
//! `DeadlineFired` with the stream's expected revision, so a deadline fires once however many
//! schedulers race for it.
//!
//! State machine:
//!
//! ```text
//! none -> pending -> fired
//!            |
//!            +-> cancelled
//! ```
//!
//! Rules: a deadline names its purpose and the stream it is about (`subject`), which the scheduler
//! does not interpret. It fires only once due (`now >= due_at`) and only while pending; a cancelled
//! deadline never fires, and a fired one can no longer be cancelled (whoever wanted to cancel it
//! must now handle the firing). Scheduling, firing and cancelling again what is already in effect
//! changes nothing; scheduling the same id with other details is refused.

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Aggregate, Context, DeadlineId};

/// The longest purpose or subject, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// What can be asked of a deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeadlineCommand {
    /// Sets the deadline.
    Schedule {
        /// The deadline.
        deadline_id: DeadlineId,
        /// When it is due.
        due_at: DateTime<Utc>,
        /// What it is for, e.g. `checkout.reservation_expiry`.
        purpose: String,
        /// The stream it is about, e.g. `checkout-<order id>`.
        subject: String,
    },
    /// Records that it went off (the scheduler, once it is due).
    Fire {
        /// The deadline.
        deadline_id: DeadlineId,
    },
    /// Calls it off before it goes off.
    Cancel {
        /// The deadline.
        deadline_id: DeadlineId,
        /// Why, for the trail.
        reason: String,
    },
}

impl DeadlineCommand {
    fn deadline_id(&self) -> &DeadlineId {
        match self {
            Self::Schedule { deadline_id, .. }
            | Self::Fire { deadline_id }
            | Self::Cancel { deadline_id, .. } => deadline_id,
        }
    }
}

/// A fact about one deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DeadlineEvent {
    /// The deadline was set.
    #[serde(rename = "deadline.DeadlineScheduled.v1")]
    DeadlineScheduled {
        /// The deadline.
        deadline_id: DeadlineId,
        /// When it is due.
        due_at: DateTime<Utc>,
        /// What it is for.
        purpose: String,
        /// The stream it is about.
        subject: String,
        /// When it was set.
        at: DateTime<Utc>,
    },
    /// The deadline went off.
    #[serde(rename = "deadline.DeadlineFired.v1")]
    DeadlineFired {
        /// The deadline.
        deadline_id: DeadlineId,
        /// When it was due.
        due_at: DateTime<Utc>,
        /// What it is for.
        purpose: String,
        /// The stream it is about.
        subject: String,
        /// When it went off (at or after `due_at`).
        at: DateTime<Utc>,
    },
    /// The deadline was called off.
    #[serde(rename = "deadline.DeadlineCancelled.v1")]
    DeadlineCancelled {
        /// The deadline.
        deadline_id: DeadlineId,
        /// Why.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Where a deadline stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineStatus {
    /// Never scheduled.
    #[default]
    None,
    /// Waiting to go off.
    Pending,
    /// Went off.
    Fired,
    /// Called off.
    Cancelled,
}

impl std::fmt::Display for DeadlineStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "not scheduled",
            Self::Pending => "pending",
            Self::Fired => "fired",
            Self::Cancelled => "cancelled",
        })
    }
}

/// A deadline's folded state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineState {
    /// Where it stands.
    pub status: DeadlineStatus,
    /// The deadline (once scheduled).
    pub deadline_id: Option<DeadlineId>,
    /// When it is due.
    pub due_at: Option<DateTime<Utc>>,
    /// What it is for.
    pub purpose: String,
    /// The stream it is about.
    pub subject: String,
}

/// Why a deadline refuses a command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineRejection {
    /// The command names another deadline than this stream's.
    #[error("this is deadline {expected}; the command is for deadline {got}")]
    WrongDeadline {
        /// The stream's deadline.
        expected: DeadlineId,
        /// The command's deadline.
        got: DeadlineId,
    },
    /// The id is taken by a deadline with other details.
    #[error("deadline {0} is already scheduled with other details: use a new id")]
    ScheduledDifferently(DeadlineId),
    /// Not due yet.
    #[error("deadline {deadline_id} is due at {due_at}, not yet")]
    NotDue {
        /// The deadline.
        deadline_id: DeadlineId,
        /// When it is due.
        due_at: DateTime<Utc>,
    },
    /// The command does not fit where the deadline stands.
    #[error("cannot {action} a deadline that is {status}")]
    WrongStatus {
        /// What was attempted.
        action: &'static str,
        /// Where it stands.
        status: DeadlineStatus,
    },
    /// A purpose, subject or reason that is empty or too long.
    #[error("{field} must be 1 to {max} characters", max = MAX_TEXT_CHARS)]
    InvalidText {
        /// Which.
        field: &'static str,
    },
}

/// The deadline aggregate.
#[derive(Debug)]
pub struct Deadline;

fn check_text(field: &'static str, value: &str) -> Result<(), DeadlineRejection> {
    let chars = value.chars().count();
    if value.trim().is_empty() || chars > MAX_TEXT_CHARS {
        return Err(DeadlineRejection::InvalidText { field });
    }
    Ok(())
}

impl Aggregate for Deadline {
    type Id = DeadlineId;
    const CATEGORY: &'static str = "deadline";
    const SNAPSHOT_VERSION: u32 = 1;

    type State = DeadlineState;
    type Command = DeadlineCommand;
    type Event = DeadlineEvent;
    type Rejection = DeadlineRejection;

    fn evolve(state: &mut DeadlineState, event: &DeadlineEvent) {
        match event {
            DeadlineEvent::DeadlineScheduled {
                deadline_id,
                due_at,
                purpose,
                subject,
                ..
            } => {
                state.status = DeadlineStatus::Pending;
                state.deadline_id = Some(deadline_id.clone());
                state.due_at = Some(*due_at);
                state.purpose.clone_from(purpose);
                state.subject.clone_from(subject);
            }
            DeadlineEvent::DeadlineFired { .. } => state.status = DeadlineStatus::Fired,
            DeadlineEvent::DeadlineCancelled { .. } => state.status = DeadlineStatus::Cancelled,
        }
    }

    fn decide(
        state: &DeadlineState,
        command: &DeadlineCommand,
        ctx: &Context,
    ) -> Result<Vec<DeadlineEvent>, DeadlineRejection> {
        if let Some(expected) = &state.deadline_id
            && expected != command.deadline_id()
        {
            return Err(DeadlineRejection::WrongDeadline {
                expected: expected.clone(),
                got: command.deadline_id().clone(),
            });
        }
        let wrong = |action| DeadlineRejection::WrongStatus {
            action,
            status: state.status,
        };
        match command {
            DeadlineCommand::Schedule {
                deadline_id,
                due_at,
                purpose,
                subject,
            } => {
                check_text("purpose", purpose)?;
                check_text("subject", subject)?;
                if state.status != DeadlineStatus::None {
                    let same = state.due_at == Some(*due_at)
                        && state.purpose == *purpose
                        && state.subject == *subject;
                    return if same {
                        Ok(Vec::new())
                    } else {
                        Err(DeadlineRejection::ScheduledDifferently(deadline_id.clone()))
                    };
                }
                Ok(vec![DeadlineEvent::DeadlineScheduled {
                    deadline_id: deadline_id.clone(),
                    due_at: *due_at,
                    purpose: purpose.clone(),
                    subject: subject.clone(),
                    at: ctx.now,
                }])
            }
            DeadlineCommand::Fire { deadline_id } => match state.status {
                DeadlineStatus::Fired => Ok(Vec::new()),
                DeadlineStatus::None | DeadlineStatus::Cancelled => Err(wrong("fire")),
                DeadlineStatus::Pending => {
                    let due_at = state.due_at.unwrap_or(ctx.now);
                    if ctx.now < due_at {
                        return Err(DeadlineRejection::NotDue {
                            deadline_id: deadline_id.clone(),
                            due_at,
                        });
                    }
                    Ok(vec![DeadlineEvent::DeadlineFired {
                        deadline_id: deadline_id.clone(),
                        due_at,
                        purpose: state.purpose.clone(),
                        subject: state.subject.clone(),
                        at: ctx.now,
                    }])
                }
            },
            DeadlineCommand::Cancel {
                deadline_id,
                reason,
            } => match state.status {
                DeadlineStatus::Cancelled => Ok(Vec::new()),
                DeadlineStatus::None | DeadlineStatus::Fired => Err(wrong("cancel")),
                DeadlineStatus::Pending => {
                    check_text("reason", reason)?;
                    Ok(vec![DeadlineEvent::DeadlineCancelled {
                        deadline_id: deadline_id.clone(),
                        reason: reason.clone(),
                        at: ctx.now,
                    }])
                }
            },
        }
    }
}
