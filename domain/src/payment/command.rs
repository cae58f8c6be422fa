//! What can be asked of a payment: mostly, to record what the gateway answered.

use serde::{Deserialize, Serialize};

use super::RefundId;
use crate::{Money, OrderId, PaymentId};

/// A command for one payment. Every command names the payment so the events it records are
/// self-describing; a command for another payment than the stream's is refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PaymentCommand {
    /// Records that an authorization is being asked of the gateway (an attempt).
    RequestAuthorization {
        /// The payment.
        payment_id: PaymentId,
        /// The order being paid.
        order_id: OrderId,
        /// How much to authorize (positive).
        amount: Money,
        /// The gateway's token for the payment method (never card data).
        method_token: String,
        /// Names the attempt, at the gateway too; gateway results quote it.
        idempotency_key: String,
    },
    /// Records the gateway's authorization of the current attempt (also a reconciliation).
    RecordAuthorization {
        /// The payment.
        payment_id: PaymentId,
        /// The attempt the answer is for.
        idempotency_key: String,
        /// The gateway's reference for the authorization.
        gateway_reference: String,
        /// The amount authorized: at most the requested amount.
        amount: Money,
    },
    /// Records the gateway's decline of the current attempt (also a reconciliation).
    RecordDecline {
        /// The payment.
        payment_id: PaymentId,
        /// The attempt the answer is for.
        idempotency_key: String,
        /// The gateway's decline code.
        code: String,
        /// The gateway's explanation.
        message: String,
    },
    /// Records that the gateway did not answer (a timeout): the outcome must be reconciled.
    RecordOutcomeUnknown {
        /// The payment.
        payment_id: PaymentId,
        /// The attempt that timed out.
        idempotency_key: String,
        /// What happened, for the people reconciling.
        detail: String,
    },
    /// Records a capture of (part of) the authorized amount. Once per payment.
    CapturePayment {
        /// The payment.
        payment_id: PaymentId,
        /// The gateway's reference for the capture.
        gateway_reference: String,
        /// How much was captured: positive, at most the authorized amount.
        amount: Money,
    },
    /// Records that the authorization was voided (released) before any capture.
    VoidPayment {
        /// The payment.
        payment_id: PaymentId,
        /// The gateway's reference for the void.
        gateway_reference: String,
    },
    /// Records a refund of (part of) the captured amount.
    RefundPayment {
        /// The payment.
        payment_id: PaymentId,
        /// Names this refund; a repeat with the same id and amount is recorded once.
        refund_id: RefundId,
        /// The gateway's reference for the refund.
        gateway_reference: String,
        /// How much: positive; all refunds together at most the captured amount.
        amount: Money,
    },
}

impl PaymentCommand {
    /// The payment the command is for.
    pub fn payment_id(&self) -> &PaymentId {
        match self {
            Self::RequestAuthorization { payment_id, .. }
            | Self::RecordAuthorization { payment_id, .. }
            | Self::RecordDecline { payment_id, .. }
            | Self::RecordOutcomeUnknown { payment_id, .. }
            | Self::CapturePayment { payment_id, .. }
            | Self::VoidPayment { payment_id, .. }
            | Self::RefundPayment { payment_id, .. } => payment_id,
        }
    }
}
