//! The payment gateway port: what the checkout saga asks of a payment provider, and what it can
//! be told. A real provider adapter implements [`PaymentGateway`]; [`SandboxGateway`] behaves like
//! a provider's test mode, with test card tokens for every outcome the saga must handle.
//!
//! Every call carries an idempotency key, and a provider answers a repeated key with the outcome
//! of the first call, without doing it twice (as Stripe, Adyen and Braintree do). The saga
//! derives its keys from the order id and the step, so after a crash or a timeout it can ask
//! again, or [`look up`](PaymentGateway::lookup) what happened first, and never charge twice.

mod sandbox;

pub use sandbox::{
    Fault, SandboxCharge, SandboxConfig, SandboxGateway, SandboxLedger, test_tokens,
};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use shop_domain::{Money, OrderId};

/// Asks for an authorization (a hold of `amount` on the payment method).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    /// Names the attempt; a repeat answers the first outcome.
    pub idempotency_key: String,
    /// The order being paid (the provider's description of the charge).
    pub order_id: OrderId,
    /// How much; positive.
    pub amount: Money,
    /// The provider's token for the payment method (never card data).
    pub method_token: String,
}

/// Captures (part of) an authorization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureRequest {
    /// Names the capture.
    pub idempotency_key: String,
    /// The authorization's reference.
    pub authorization: String,
    /// How much; positive, at most what was authorized.
    pub amount: Money,
}

/// Voids (releases) an authorization that was not captured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoidRequest {
    /// Names the void.
    pub idempotency_key: String,
    /// The authorization's reference.
    pub authorization: String,
}

/// Refunds (part of) a captured amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    /// Names the refund.
    pub idempotency_key: String,
    /// The authorization's reference.
    pub authorization: String,
    /// How much; positive; all refunds together at most the captured amount.
    pub amount: Money,
}

/// What the provider decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GatewayOutcome {
    /// Done. `reference` names the authorization (for an authorization) or the operation.
    Approved {
        /// The provider's reference.
        reference: String,
        /// The amount it applies to.
        amount: Money,
    },
    /// Refused by the provider or the card issuer; nothing happened.
    Declined {
        /// A stable code (`card_declined`, `insufficient_funds`, …).
        code: String,
        /// For people.
        message: String,
    },
}

/// The kind of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OperationKind {
    /// An authorization.
    Authorize,
    /// A capture.
    Capture,
    /// A void.
    Void,
    /// A refund.
    Refund,
}

/// What the provider recorded under an idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// What was asked.
    pub kind: OperationKind,
    /// What was decided.
    pub outcome: GatewayOutcome,
}

/// Why a call has no outcome.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No answer in time: the operation may or may not have happened. Look it up by its
    /// idempotency key before asking again.
    #[error("the payment gateway did not answer in time: {0}")]
    Timeout(String),
    /// The provider could not be reached or failed before doing anything; asking again (same
    /// key) is safe.
    #[error("the payment gateway is unavailable: {0}")]
    Unavailable(String),
    /// The request is wrong (unknown authorization, too much to capture, a key reused for a
    /// different request): asking again will not help.
    #[error("the payment gateway refused the request: {0}")]
    Invalid(String),
}

/// A payment provider. Every operation is idempotent by its key.
#[async_trait]
pub trait PaymentGateway: Send + Sync + std::fmt::Debug {
    /// Authorizes an amount on a payment method.
    async fn authorize(&self, request: AuthorizeRequest) -> Result<GatewayOutcome, GatewayError>;

    /// Captures (part of) an authorization.
    async fn capture(&self, request: CaptureRequest) -> Result<GatewayOutcome, GatewayError>;

    /// Voids an uncaptured authorization.
    async fn void(&self, request: VoidRequest) -> Result<GatewayOutcome, GatewayError>;

    /// Refunds (part of) a captured amount.
    async fn refund(&self, request: RefundRequest) -> Result<GatewayOutcome, GatewayError>;

    /// What was recorded under an idempotency key, if anything: how the outcome of a timed-out
    /// call is found.
    async fn lookup(&self, idempotency_key: &str) -> Result<Option<Operation>, GatewayError>;
}
