//! A payment provider's test mode, in memory: test tokens that approve, decline, decline for
//! insufficient funds, time out (with or without the charge having happened; a lookup by the
//! idempotency key tells which) and answer slowly; configurable latency; and faults injected into
//! the next call of a kind, for crash and retry tests. Like a real provider it keeps every
//! operation under its idempotency key, answers a repeat with the first outcome, and refuses a
//! key reused for a different request.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use shop_domain::{Money, OrderId};

use super::{
    AuthorizeRequest, CaptureRequest, GatewayError, GatewayOutcome, Operation, OperationKind,
    PaymentGateway, RefundRequest, VoidRequest,
};

/// The sandbox's test payment-method tokens.
pub mod test_tokens {
    /// Approves.
    pub const APPROVE: &str = "tok_approve";
    /// Declines: `card_declined`.
    pub const DECLINE: &str = "tok_decline";
    /// Declines: `insufficient_funds`.
    pub const INSUFFICIENT_FUNDS: &str = "tok_insufficient_funds";
    /// The first call times out after the charge was made (a lookup finds it approved; a repeat
    /// answers approved without charging again).
    pub const TIMEOUT_AFTER_CHARGE: &str = "tok_timeout_charged";
    /// The first call times out before anything happened (a lookup finds nothing; a repeat
    /// with the same key is processed, and approves).
    pub const TIMEOUT_BEFORE_CHARGE: &str = "tok_timeout_lost";
    /// Approves after [`SandboxConfig::slow_latency`](super::SandboxConfig::slow_latency).
    pub const SLOW: &str = "tok_slow";
}

/// Timings.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// How long every call takes.
    pub latency: Duration,
    /// How long a call with [`test_tokens::SLOW`] takes.
    pub slow_latency: Duration,
    /// How long a call that times out waits before saying so.
    pub timeout: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            latency: Duration::from_millis(2),
            slow_latency: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
        }
    }
}

/// A fault for the next call of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Do the operation, then time out.
    TimeoutAfter,
    /// Time out without doing anything.
    TimeoutBefore,
    /// Fail as unreachable, without doing anything.
    Unavailable,
}

/// One authorization as the sandbox holds it (for tests' accounting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxCharge {
    /// The authorization's reference.
    pub reference: String,
    /// The order.
    pub order_id: OrderId,
    /// Authorized.
    pub amount: Money,
    /// Captured (minor units).
    pub captured: i64,
    /// Refunded (minor units).
    pub refunded: i64,
    /// Voided.
    pub voided: bool,
}

/// Everything the sandbox did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SandboxLedger {
    /// Approved authorizations, in order.
    pub charges: Vec<SandboxCharge>,
    /// Calls received (of every kind, repeats included).
    pub calls: u64,
}

impl SandboxLedger {
    /// Approved authorizations of an order: more than one means the order was charged twice.
    pub fn authorizations_of(&self, order_id: &OrderId) -> usize {
        self.charges
            .iter()
            .filter(|c| &c.order_id == order_id)
            .count()
    }
}

#[derive(Debug)]
struct Recorded {
    /// What was asked, to refuse the key for anything else.
    fingerprint: String,
    operation: Operation,
}

#[derive(Debug, Default)]
struct State {
    operations: HashMap<String, Recorded>,
    /// Authorizations by reference (index into `charges`).
    by_reference: HashMap<String, usize>,
    charges: Vec<SandboxCharge>,
    /// Keys whose first call already timed out.
    timed_out: HashSet<String>,
    faults: HashMap<OperationKind, Vec<Fault>>,
    next: u64,
    calls: u64,
}

impl State {
    fn reference(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_{:08}", self.next)
    }
}

/// The in-memory test-mode provider (see the module doc). Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct SandboxGateway {
    config: SandboxConfig,
    state: Mutex<State>,
}

/// What a call does after releasing the state.
enum Next {
    Answer(Result<GatewayOutcome, GatewayError>),
    /// Answer this outcome (or time out) after the call's latency.
    Finish(GatewayOutcome, bool),
}

/// What a call does once it holds the state.
enum Step {
    /// Answer this.
    Answer(Result<GatewayOutcome, GatewayError>),
    /// Do it now, then answer (or time out, if `then_timeout`).
    Do { then_timeout: bool },
}

impl SandboxGateway {
    /// A sandbox with these timings.
    pub fn new(config: SandboxConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
        }
    }

    /// Makes the next call of `kind` fail with `fault` (faults queue up in order).
    pub fn inject(&self, kind: OperationKind, fault: Fault) {
        self.lock().faults.entry(kind).or_default().push(fault);
    }

    /// What the sandbox did so far.
    pub fn ledger(&self) -> SandboxLedger {
        let state = self.lock();
        SandboxLedger {
            charges: state.charges.clone(),
            calls: state.calls,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The common part of every call: counts it, answers a repeated key, applies an injected
    /// fault or a timeout token. `token_timeout` is the timeout a test token asks for.
    fn begin(
        &self,
        state: &mut State,
        kind: OperationKind,
        key: &str,
        fingerprint: &str,
        token_timeout: Option<Fault>,
    ) -> Step {
        state.calls += 1;
        if key.trim().is_empty() {
            return Step::Answer(Err(GatewayError::Invalid(
                "an idempotency key is required".into(),
            )));
        }
        if let Some(recorded) = state.operations.get(key) {
            if recorded.fingerprint != fingerprint {
                return Step::Answer(Err(GatewayError::Invalid(format!(
                    "idempotency key {key} was used for a different request"
                ))));
            }
            return Step::Answer(Ok(recorded.operation.outcome.clone()));
        }
        let injected = state
            .faults
            .get_mut(&kind)
            .and_then(|queue| (!queue.is_empty()).then(|| queue.remove(0)));
        let first_call = !state.timed_out.contains(key);
        let fault = injected.or(token_timeout.filter(|_| first_call));
        match fault {
            None => Step::Do {
                then_timeout: false,
            },
            Some(Fault::TimeoutAfter) => {
                state.timed_out.insert(key.to_owned());
                Step::Do { then_timeout: true }
            }
            Some(Fault::TimeoutBefore) => {
                state.timed_out.insert(key.to_owned());
                Step::Answer(Err(GatewayError::Timeout(format!("no answer for {key}"))))
            }
            Some(Fault::Unavailable) => {
                Step::Answer(Err(GatewayError::Unavailable("connection refused".into())))
            }
        }
    }

    fn record(state: &mut State, key: &str, fingerprint: String, operation: Operation) {
        state.operations.insert(
            key.to_owned(),
            Recorded {
                fingerprint,
                operation,
            },
        );
    }

    /// Waits as long as the call takes, then answers (a timeout waits for the timeout).
    async fn finish(
        &self,
        key: &str,
        outcome: GatewayOutcome,
        then_timeout: bool,
        slow: bool,
    ) -> Result<GatewayOutcome, GatewayError> {
        if then_timeout {
            tokio::time::sleep(self.config.timeout).await;
            return Err(GatewayError::Timeout(format!("no answer for {key}")));
        }
        tokio::time::sleep(if slow {
            self.config.slow_latency
        } else {
            self.config.latency
        })
        .await;
        Ok(outcome)
    }

    /// Answers after the call's latency (a timeout after the timeout).
    async fn answer(
        &self,
        step: Result<GatewayOutcome, GatewayError>,
    ) -> Result<GatewayOutcome, GatewayError> {
        match &step {
            Err(GatewayError::Timeout(_)) => tokio::time::sleep(self.config.timeout).await,
            _ => tokio::time::sleep(self.config.latency).await,
        }
        step
    }

    /// Decides a capture, void or refund against the authorization it names.
    fn settle(
        state: &mut State,
        kind: OperationKind,
        authorization: &str,
        amount: Option<Money>,
    ) -> Result<GatewayOutcome, GatewayError> {
        let Some(&index) = state.by_reference.get(authorization) else {
            return Err(GatewayError::Invalid(format!(
                "no authorization {authorization}"
            )));
        };
        let charge = state.charges[index].clone();
        if let Some(amount) = amount
            && (amount.amount <= 0 || amount.currency != charge.amount.currency)
        {
            return Err(GatewayError::Invalid(format!(
                "amount {amount} for an authorization in {}",
                charge.amount.currency
            )));
        }
        let (prefix, applied) = match kind {
            OperationKind::Capture => {
                let amount = amount.unwrap_or(charge.amount);
                if charge.voided {
                    return Err(GatewayError::Invalid(format!("{authorization} was voided")));
                }
                if charge.captured > 0 {
                    return Err(GatewayError::Invalid(format!(
                        "{authorization} was already captured"
                    )));
                }
                if amount.amount > charge.amount.amount {
                    return Err(GatewayError::Invalid(format!(
                        "cannot capture {amount} of {}",
                        charge.amount
                    )));
                }
                state.charges[index].captured = amount.amount;
                ("cap", amount)
            }
            OperationKind::Void => {
                if charge.captured > 0 {
                    return Err(GatewayError::Invalid(format!(
                        "{authorization} was captured: refund it instead"
                    )));
                }
                if charge.voided {
                    return Err(GatewayError::Invalid(format!(
                        "{authorization} was already voided"
                    )));
                }
                state.charges[index].voided = true;
                ("void", charge.amount)
            }
            OperationKind::Refund => {
                let amount = amount.unwrap_or(charge.amount);
                let left = charge.captured - charge.refunded;
                if amount.amount > left {
                    return Err(GatewayError::Invalid(format!(
                        "cannot refund {amount}: {} minor units left to refund",
                        left
                    )));
                }
                state.charges[index].refunded += amount.amount;
                ("ref", amount)
            }
            OperationKind::Authorize => unreachable!("authorizations are not settlements"),
        };
        Ok(GatewayOutcome::Approved {
            reference: state.reference(prefix),
            amount: applied,
        })
    }

    async fn settlement(
        &self,
        kind: OperationKind,
        key: &str,
        authorization: &str,
        amount: Option<Money>,
    ) -> Result<GatewayOutcome, GatewayError> {
        let fingerprint = format!("{kind:?}|{authorization}|{amount:?}");
        // The state's lock is released before any waiting.
        let next = {
            let mut state = self.lock();
            match self.begin(&mut state, kind, key, &fingerprint, None) {
                Step::Answer(answer) => Next::Answer(answer),
                Step::Do { then_timeout } => {
                    match Self::settle(&mut state, kind, authorization, amount) {
                        Ok(outcome) => {
                            Self::record(
                                &mut state,
                                key,
                                fingerprint,
                                Operation {
                                    kind,
                                    outcome: outcome.clone(),
                                },
                            );
                            Next::Finish(outcome, then_timeout)
                        }
                        Err(e) => Next::Answer(Err(e)),
                    }
                }
            }
        };
        match next {
            Next::Answer(answer) => self.answer(answer).await,
            Next::Finish(outcome, then_timeout) => {
                self.finish(key, outcome, then_timeout, false).await
            }
        }
    }
}

#[async_trait]
impl PaymentGateway for SandboxGateway {
    async fn authorize(&self, request: AuthorizeRequest) -> Result<GatewayOutcome, GatewayError> {
        let key = request.idempotency_key.as_str();
        let fingerprint = format!(
            "authorize|{}|{}|{}",
            request.order_id, request.amount, request.method_token
        );
        let token = request.method_token.as_str();
        let token_timeout = match token {
            test_tokens::TIMEOUT_AFTER_CHARGE => Some(Fault::TimeoutAfter),
            test_tokens::TIMEOUT_BEFORE_CHARGE => Some(Fault::TimeoutBefore),
            _ => None,
        };
        // The state's lock is released before any waiting.
        let next = {
            let mut state = self.lock();
            let step = if request.amount.amount <= 0 {
                state.calls += 1;
                Step::Answer(Err(GatewayError::Invalid(format!(
                    "cannot authorize {}",
                    request.amount
                ))))
            } else {
                self.begin(
                    &mut state,
                    OperationKind::Authorize,
                    key,
                    &fingerprint,
                    token_timeout,
                )
            };
            match step {
                Step::Answer(answer) => Next::Answer(answer),
                Step::Do { then_timeout } => {
                    let declined = |code: &str, message: &str| GatewayOutcome::Declined {
                        code: code.to_owned(),
                        message: message.to_owned(),
                    };
                    let outcome = match token {
                        test_tokens::DECLINE => declined("card_declined", "The card was declined."),
                        test_tokens::INSUFFICIENT_FUNDS => {
                            declined("insufficient_funds", "The card has insufficient funds.")
                        }
                        test_tokens::APPROVE
                        | test_tokens::SLOW
                        | test_tokens::TIMEOUT_AFTER_CHARGE
                        | test_tokens::TIMEOUT_BEFORE_CHARGE => {
                            let reference = state.reference("auth");
                            let index = state.charges.len();
                            state.by_reference.insert(reference.clone(), index);
                            state.charges.push(SandboxCharge {
                                reference: reference.clone(),
                                order_id: request.order_id.clone(),
                                amount: request.amount,
                                captured: 0,
                                refunded: 0,
                                voided: false,
                            });
                            GatewayOutcome::Approved {
                                reference,
                                amount: request.amount,
                            }
                        }
                        _ => declined(
                            "invalid_payment_method",
                            "The payment method token is not known.",
                        ),
                    };
                    Self::record(
                        &mut state,
                        key,
                        fingerprint,
                        Operation {
                            kind: OperationKind::Authorize,
                            outcome: outcome.clone(),
                        },
                    );
                    Next::Finish(outcome, then_timeout)
                }
            }
        };
        match next {
            Next::Answer(answer) => self.answer(answer).await,
            Next::Finish(outcome, then_timeout) => {
                self.finish(key, outcome, then_timeout, token == test_tokens::SLOW)
                    .await
            }
        }
    }

    async fn capture(&self, request: CaptureRequest) -> Result<GatewayOutcome, GatewayError> {
        self.settlement(
            OperationKind::Capture,
            &request.idempotency_key,
            &request.authorization,
            Some(request.amount),
        )
        .await
    }

    async fn void(&self, request: VoidRequest) -> Result<GatewayOutcome, GatewayError> {
        self.settlement(
            OperationKind::Void,
            &request.idempotency_key,
            &request.authorization,
            None,
        )
        .await
    }

    async fn refund(&self, request: RefundRequest) -> Result<GatewayOutcome, GatewayError> {
        self.settlement(
            OperationKind::Refund,
            &request.idempotency_key,
            &request.authorization,
            Some(request.amount),
        )
        .await
    }

    async fn lookup(&self, idempotency_key: &str) -> Result<Option<Operation>, GatewayError> {
        tokio::time::sleep(self.config.latency).await;
        let mut state = self.lock();
        state.calls += 1;
        Ok(state
            .operations
            .get(idempotency_key)
            .map(|r| r.operation.clone()))
    }
}
