//! Why a payment refuses a command.

use super::{PaymentStatus, RefundId};
use crate::{Currency, Money, MoneyError, OrderId, PaymentId};

/// A refused payment command; the message says what to do instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PaymentRejection {
    /// The command names another payment than this stream's.
    #[error("this is payment {expected}; the command is for payment {got}")]
    WrongPayment {
        /// The stream's payment.
        expected: PaymentId,
        /// The command's payment.
        got: PaymentId,
    },
    /// The command does not fit where the payment stands.
    #[error("cannot {action} a payment that is {status}")]
    WrongStatus {
        /// What was attempted.
        action: &'static str,
        /// Where the payment stands.
        status: PaymentStatus,
    },
    /// An amount that is zero, negative or absurdly large.
    #[error("amount {amount} is invalid: use a positive amount of at most {max} minor units")]
    InvalidAmount {
        /// The amount given.
        amount: Money,
        /// The largest amount accepted, in minor units.
        max: i64,
    },
    /// An amount in another currency than the payment's.
    #[error("the payment is in {expected}; an amount in {got} cannot be used")]
    CurrencyMismatch {
        /// The payment's currency.
        expected: Currency,
        /// The amount's currency.
        got: Currency,
    },
    /// A text is blank or too long.
    #[error("the {field} must be 1 to {max} characters and not blank")]
    InvalidText {
        /// Which text.
        field: &'static str,
        /// Its length limit in characters.
        max: usize,
    },
    /// A new attempt for another order than the payment's.
    #[error("payment is for order {expected}, not {got}; use a new payment for another order")]
    OrderMismatch {
        /// The payment's order.
        expected: OrderId,
        /// The command's order.
        got: OrderId,
    },
    /// An attempt's outcome is not recorded yet.
    #[error("attempt {idempotency_key} is waiting for the gateway's answer; record it first")]
    AuthorizationPending {
        /// The attempt in flight.
        idempotency_key: String,
    },
    /// The last attempt timed out and nobody reconciled it yet.
    #[error(
        "the outcome of attempt {idempotency_key} is unknown; reconcile it with the gateway \
         and record the authorization or decline first"
    )]
    ReconciliationRequired {
        /// The attempt to reconcile.
        idempotency_key: String,
    },
    /// A gateway result for an attempt that is not the current one.
    #[error(
        "attempt {idempotency_key} is not the current attempt ({current}); its result can no \
         longer be recorded"
    )]
    NotCurrentAttempt {
        /// The attempt named by the command.
        idempotency_key: String,
        /// The current attempt.
        current: String,
    },
    /// The idempotency key was already used for a different request.
    #[error("idempotency key {idempotency_key} was already used for a different request")]
    IdempotencyKeyReused {
        /// The key.
        idempotency_key: String,
    },
    /// The attempt limit is reached.
    #[error("payment made {max} authorization attempts already; use a new payment")]
    TooManyAttempts {
        /// The limit.
        max: u32,
    },
    /// The gateway result conflicts with one already recorded under the same identity (or the
    /// payment already has such a result under another reference).
    #[error("a different {what} is already recorded (gateway reference {recorded})")]
    ConflictingResult {
        /// What kind of result.
        what: &'static str,
        /// The reference already recorded.
        recorded: String,
    },
    /// The gateway authorized more than was requested.
    #[error("the gateway cannot authorize {authorized} when {requested} was requested")]
    AuthorizedMoreThanRequested {
        /// The amount in the command.
        authorized: Money,
        /// The amount requested.
        requested: Money,
    },
    /// A capture above the authorized amount.
    #[error("cannot capture {requested}: only {authorized} is authorized")]
    CaptureExceedsAuthorization {
        /// The capture asked for.
        requested: Money,
        /// The authorized amount.
        authorized: Money,
    },
    /// A void after a capture.
    #[error("the payment was captured and cannot be voided; refund it instead")]
    VoidAfterCapture,
    /// Refunds beyond the captured amount.
    #[error("cannot refund {requested}: only {refundable} of the captured amount is left")]
    RefundExceedsCaptured {
        /// The refund asked for.
        requested: Money,
        /// What may still be refunded.
        refundable: Money,
    },
    /// The refund id was already used with another amount or reference.
    #[error("refund {refund_id} is already recorded with different details; use a new refund id")]
    RefundConflict {
        /// The refund id.
        refund_id: RefundId,
    },
    /// Arithmetic on amounts failed (out of range).
    #[error(transparent)]
    Money(#[from] MoneyError),
}
