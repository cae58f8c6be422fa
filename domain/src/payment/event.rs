//! What a payment records. Published events are never edited: add a `.v2` instead.

use serde::{Deserialize, Serialize};

use super::RefundId;
use crate::{Money, OrderId, PaymentId};

/// A fact about one payment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum PaymentEvent {
    /// An authorization attempt was sent to the gateway.
    #[serde(rename = "payment.AuthorizationRequested.v1")]
    AuthorizationRequested {
        /// The payment.
        payment_id: PaymentId,
        /// The order being paid.
        order_id: OrderId,
        /// The amount asked for.
        amount: Money,
        /// The payment-method token used.
        method_token: String,
        /// The attempt's idempotency key.
        idempotency_key: String,
        /// 1 for the first attempt, then 2, 3...
        attempt: u32,
    },
    /// The gateway authorized the attempt.
    #[serde(rename = "payment.PaymentAuthorized.v1")]
    PaymentAuthorized {
        /// The payment.
        payment_id: PaymentId,
        /// The order.
        order_id: OrderId,
        /// The attempt.
        idempotency_key: String,
        /// The gateway's reference.
        gateway_reference: String,
        /// The amount authorized.
        amount: Money,
        /// The amount that was requested (the authorization may be smaller).
        requested: Money,
        /// True when this resolved an unknown outcome.
        reconciled: bool,
    },
    /// The gateway declined the attempt.
    #[serde(rename = "payment.PaymentDeclined.v1")]
    PaymentDeclined {
        /// The payment.
        payment_id: PaymentId,
        /// The order.
        order_id: OrderId,
        /// The attempt.
        idempotency_key: String,
        /// The gateway's decline code.
        code: String,
        /// The gateway's explanation.
        message: String,
        /// True when this resolved an unknown outcome.
        reconciled: bool,
    },
    /// The gateway did not answer the attempt; its outcome must be reconciled.
    #[serde(rename = "payment.AuthorizationOutcomeUnknown.v1")]
    AuthorizationOutcomeUnknown {
        /// The payment.
        payment_id: PaymentId,
        /// The order.
        order_id: OrderId,
        /// The attempt.
        idempotency_key: String,
        /// What happened.
        detail: String,
    },
    /// Money was captured.
    #[serde(rename = "payment.PaymentCaptured.v1")]
    PaymentCaptured {
        /// The payment.
        payment_id: PaymentId,
        /// The order.
        order_id: OrderId,
        /// The gateway's reference.
        gateway_reference: String,
        /// The amount captured.
        amount: Money,
        /// The amount that was authorized (the rest is released).
        authorized: Money,
    },
    /// The authorization was released without capture.
    #[serde(rename = "payment.PaymentVoided.v1")]
    PaymentVoided {
        /// The payment.
        payment_id: PaymentId,
        /// The order.
        order_id: OrderId,
        /// The gateway's reference.
        gateway_reference: String,
        /// The authorized amount released.
        authorized: Money,
    },
    /// Part or all of the captured money was refunded.
    #[serde(rename = "payment.PaymentRefunded.v1")]
    PaymentRefunded {
        /// The payment.
        payment_id: PaymentId,
        /// The order.
        order_id: OrderId,
        /// This refund's id.
        refund_id: RefundId,
        /// The gateway's reference.
        gateway_reference: String,
        /// This refund's amount.
        amount: Money,
        /// All refunds so far, this one included.
        total_refunded: Money,
        /// The captured amount.
        captured: Money,
    },
}

impl PaymentEvent {
    /// The payment the event is about.
    pub fn payment_id(&self) -> &PaymentId {
        match self {
            Self::AuthorizationRequested { payment_id, .. }
            | Self::PaymentAuthorized { payment_id, .. }
            | Self::PaymentDeclined { payment_id, .. }
            | Self::AuthorizationOutcomeUnknown { payment_id, .. }
            | Self::PaymentCaptured { payment_id, .. }
            | Self::PaymentVoided { payment_id, .. }
            | Self::PaymentRefunded { payment_id, .. } => payment_id,
        }
    }
}
