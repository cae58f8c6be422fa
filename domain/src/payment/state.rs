//! The folded state of one payment.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{PaymentEvent, RefundId};
use crate::{Currency, Money, OrderId, PaymentId};

/// Where a payment stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Nothing recorded yet.
    #[default]
    New,
    /// An attempt is waiting for the gateway's answer.
    AuthorizationRequested,
    /// The gateway authorized the amount; it may be captured or voided.
    Authorized,
    /// The gateway declined the last attempt; a new attempt may start.
    Declined,
    /// The gateway did not answer; the outcome must be reconciled.
    OutcomeUnknown,
    /// Money was captured, nothing refunded.
    Captured,
    /// Part of the captured money was refunded.
    PartiallyRefunded,
    /// All captured money was refunded.
    Refunded,
    /// The authorization was released without capture.
    Voided,
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::New => "new",
            Self::AuthorizationRequested => "waiting for the gateway's answer",
            Self::Authorized => "authorized",
            Self::Declined => "declined",
            Self::OutcomeUnknown => "of unknown outcome",
            Self::Captured => "captured",
            Self::PartiallyRefunded => "partially refunded",
            Self::Refunded => "refunded",
            Self::Voided => "voided",
        })
    }
}

/// A gateway result kept for idempotency: its reference and amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Recorded {
    pub(super) reference: String,
    pub(super) amount: i64,
}

/// A decline kept for idempotency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Decline {
    pub(super) code: String,
    pub(super) message: String,
}

/// One payment's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentState {
    pub(super) payment_id: Option<PaymentId>,
    pub(super) order_id: Option<OrderId>,
    pub(super) status: PaymentStatus,
    pub(super) currency: Option<Currency>,
    /// Every attempt's idempotency key, the current one last (at most
    /// [`MAX_AUTHORIZATION_ATTEMPTS`](super::MAX_AUTHORIZATION_ATTEMPTS)).
    pub(super) attempt_keys: Vec<String>,
    /// The current attempt's token and requested amount.
    pub(super) method_token: Option<String>,
    pub(super) requested: i64,
    pub(super) authorization: Option<Recorded>,
    pub(super) decline: Option<Decline>,
    pub(super) capture: Option<Recorded>,
    pub(super) void_reference: Option<String>,
    pub(super) refunds: BTreeMap<RefundId, Recorded>,
    pub(super) refunded: i64,
}

impl PaymentState {
    /// Where the payment stands.
    pub fn status(&self) -> PaymentStatus {
        self.status
    }

    /// The payment's id, once anything was recorded.
    pub fn payment_id(&self) -> Option<&PaymentId> {
        self.payment_id.as_ref()
    }

    /// The order being paid.
    pub fn order_id(&self) -> Option<&OrderId> {
        self.order_id.as_ref()
    }

    /// The payment's currency, fixed by the first authorization request.
    pub fn currency(&self) -> Option<Currency> {
        self.currency
    }

    fn money(&self, amount: i64) -> Option<Money> {
        self.currency.map(|c| Money::new(amount, c))
    }

    /// The amount the current attempt asked for (`None` while new).
    pub fn requested(&self) -> Option<Money> {
        self.money(self.requested)
    }

    /// The amount the gateway authorized, zero until it did; kept after a capture or a void
    /// (`None` while new).
    pub fn authorized(&self) -> Option<Money> {
        self.money(self.authorization.as_ref().map_or(0, |a| a.amount))
    }

    /// The amount captured, zero until then (`None` while new).
    pub fn captured(&self) -> Option<Money> {
        self.money(self.capture.as_ref().map_or(0, |c| c.amount))
    }

    /// All refunds together, zero until the first (`None` while new).
    pub fn refunded(&self) -> Option<Money> {
        self.money(self.refunded)
    }

    /// What may still be refunded: captured minus refunded (`None` while new).
    pub fn refundable(&self) -> Option<Money> {
        let captured = self.capture.as_ref().map_or(0, |c| c.amount);
        self.money(captured.saturating_sub(self.refunded))
    }

    /// How many authorization attempts were made.
    pub fn attempts(&self) -> usize {
        self.attempt_keys.len()
    }

    /// The idempotency key of the current (last) attempt.
    pub fn current_attempt(&self) -> Option<&str> {
        self.attempt_keys.last().map(String::as_str)
    }

    /// The gateway's reference for the authorization, once authorized.
    pub fn authorization_reference(&self) -> Option<&str> {
        self.authorization.as_ref().map(|a| a.reference.as_str())
    }

    /// The last decline's code and message, while declined.
    pub fn decline(&self) -> Option<(&str, &str)> {
        self.decline
            .as_ref()
            .map(|d| (d.code.as_str(), d.message.as_str()))
    }

    /// The amount of one refund.
    pub fn refund(&self, refund_id: &RefundId) -> Option<Money> {
        self.refunds
            .get(refund_id)
            .and_then(|r| self.money(r.amount))
    }

    /// Folds one event. No rules.
    pub(super) fn apply(&mut self, event: &PaymentEvent) {
        if self.payment_id.is_none() {
            self.payment_id = Some(event.payment_id().clone());
        }
        match event {
            PaymentEvent::AuthorizationRequested {
                order_id,
                amount,
                method_token,
                idempotency_key,
                ..
            } => {
                self.status = PaymentStatus::AuthorizationRequested;
                self.order_id = Some(order_id.clone());
                self.currency = Some(amount.currency);
                self.requested = amount.amount;
                self.attempt_keys.push(idempotency_key.clone());
                self.method_token = Some(method_token.clone());
                self.decline = None;
            }
            PaymentEvent::PaymentAuthorized {
                gateway_reference,
                amount,
                ..
            } => {
                self.status = PaymentStatus::Authorized;
                self.authorization = Some(Recorded {
                    reference: gateway_reference.clone(),
                    amount: amount.amount,
                });
            }
            PaymentEvent::PaymentDeclined { code, message, .. } => {
                self.status = PaymentStatus::Declined;
                self.decline = Some(Decline {
                    code: code.clone(),
                    message: message.clone(),
                });
            }
            PaymentEvent::AuthorizationOutcomeUnknown { .. } => {
                self.status = PaymentStatus::OutcomeUnknown;
            }
            PaymentEvent::PaymentCaptured {
                gateway_reference,
                amount,
                ..
            } => {
                self.status = PaymentStatus::Captured;
                self.capture = Some(Recorded {
                    reference: gateway_reference.clone(),
                    amount: amount.amount,
                });
            }
            PaymentEvent::PaymentVoided {
                gateway_reference, ..
            } => {
                self.status = PaymentStatus::Voided;
                self.void_reference = Some(gateway_reference.clone());
            }
            PaymentEvent::PaymentRefunded {
                refund_id,
                gateway_reference,
                amount,
                ..
            } => {
                self.refunds.insert(
                    refund_id.clone(),
                    Recorded {
                        reference: gateway_reference.clone(),
                        amount: amount.amount,
                    },
                );
                self.refunded = self.refunded.saturating_add(amount.amount);
                let captured = self.capture.as_ref().map_or(0, |c| c.amount);
                self.status = if self.refunded >= captured {
                    PaymentStatus::Refunded
                } else {
                    PaymentStatus::PartiallyRefunded
                };
            }
        }
    }
}
