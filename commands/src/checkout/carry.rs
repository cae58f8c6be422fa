//! How the runner carries out each step of the saga: the commands to the other aggregates,
//! the gateway's calls, and the notes of their answers.

use shop_domain::inventory::InventoryRejection;
use shop_domain::payment::RefundId;

use super::*;
use crate::gateway::RefundRequest;

fn amount_of(state: &CheckoutState) -> Money {
    state.amount.expect("a started checkout")
}

/// The reference of an approved capture or void. A provider declines these only for a request
/// it finds wrong, so a decline is an error, like a failed call.
fn approved(
    order_id: &OrderId,
    what: &str,
    answer: Result<GatewayOutcome, GatewayError>,
) -> Result<String, CheckoutError> {
    match answer {
        Ok(GatewayOutcome::Approved { reference, .. }) => Ok(reference),
        Ok(GatewayOutcome::Declined { code, .. }) => Err(CheckoutError::Gateway(
            order_id.clone(),
            GatewayError::Invalid(format!("{what} declined: {code}")),
        )),
        Err(e) => Err(CheckoutError::Gateway(order_id.clone(), e)),
    }
}

impl CheckoutRunner {
    fn payment_id(state: &CheckoutState) -> PaymentId {
        state.payment_id.clone().expect("a started checkout")
    }

    /// Records a gateway outcome for the authorization `key` on the payment, and notes it.
    async fn record_authorization(
        &self,
        order_id: &OrderId,
        state: &CheckoutState,
        key: &str,
        outcome: GatewayOutcome,
    ) -> Result<(), CheckoutError> {
        let payment_id = Self::payment_id(state);
        match outcome {
            GatewayOutcome::Approved { reference, amount } => {
                let record = PaymentCommand::RecordAuthorization {
                    payment_id: payment_id.clone(),
                    idempotency_key: key.to_owned(),
                    gateway_reference: reference.clone(),
                    amount,
                };
                self.ask(
                    &self.payments,
                    &payment_id,
                    order_id,
                    "record-authorization",
                    key,
                    record,
                )
                .await?;
                self.note(
                    order_id,
                    "authorized",
                    CheckoutCommand::NoteAuthorized { reference },
                )
                .await
            }
            GatewayOutcome::Declined { code, message } => {
                let record = PaymentCommand::RecordDecline {
                    payment_id: payment_id.clone(),
                    idempotency_key: key.to_owned(),
                    code: code.clone(),
                    message,
                };
                self.ask(
                    &self.payments,
                    &payment_id,
                    order_id,
                    "record-decline",
                    key,
                    record,
                )
                .await?;
                self.note(order_id, "declined", CheckoutCommand::NoteDeclined { code })
                    .await
            }
        }
    }

    /// Records an approved capture on the payment and the order, and notes it.
    async fn record_capture(
        &self,
        order_id: &OrderId,
        state: &CheckoutState,
        reference: String,
        amount: Money,
    ) -> Result<(), CheckoutError> {
        let payment_id = Self::payment_id(state);
        let capture = PaymentCommand::CapturePayment {
            payment_id: payment_id.clone(),
            gateway_reference: reference,
            amount,
        };
        self.ask(
            &self.payments,
            &payment_id,
            order_id,
            "capture",
            "",
            capture,
        )
        .await?;
        let captured = OrderCommand::RecordPaymentCaptured {
            order_id: order_id.clone(),
            payment_id,
            amount,
        };
        self.ask(&self.orders, order_id, order_id, "captured", "", captured)
            .await?;
        self.note(order_id, "captured", CheckoutCommand::NoteCaptured)
            .await
    }

    /// After a declined void: was the authorization captured (under the saga's capture key)?
    /// If so, the capture is recorded and noted.
    async fn capture_found(
        &self,
        order_id: &OrderId,
        state: &CheckoutState,
        amount: Money,
    ) -> Result<bool, CheckoutError> {
        let key = format!("capture-{order_id}");
        match self.gateway.lookup(&key).await {
            Ok(Some(operation)) if operation.kind == OperationKind::Capture => {
                match operation.outcome {
                    GatewayOutcome::Approved { reference, .. } => {
                        self.record_capture(order_id, state, reference, amount)
                            .await?;
                        Ok(true)
                    }
                    GatewayOutcome::Declined { .. } => Ok(false),
                }
            }
            Ok(_) => Ok(false),
            Err(e) => Err(CheckoutError::Gateway(order_id.clone(), e)),
        }
    }

    pub(super) async fn carry_out(
        &self,
        order_id: &OrderId,
        state: &CheckoutState,
        step: Step,
    ) -> Result<(), CheckoutError> {
        use CheckoutCommand as N;
        match step {
            Step::ScheduleExpiry { due_at } => {
                let subject = format!("{}-{order_id}", Checkout::CATEGORY);
                self.deadlines
                    .schedule(
                        saga_id(order_id, "schedule-expiry", ""),
                        &expiry_deadline(order_id),
                        due_at,
                        EXPIRY_PURPOSE,
                        &subject,
                        actor(),
                    )
                    .await
                    .map_err(|e| CheckoutError::Step {
                        order_id: order_id.clone(),
                        step: "schedule-expiry".into(),
                        error: e.to_string(),
                    })?;
                self.note(order_id, "expiry-scheduled", N::NoteExpiryScheduled)
                    .await
            }
            Step::Reserve {
                sku,
                quantity,
                expires_at,
            } => {
                let reserve = InventoryCommand::ReserveStock {
                    sku: sku.clone(),
                    order_id: order_id.clone(),
                    quantity,
                    expires_at: Some(expires_at),
                };
                let answer = self
                    .ask_or_refused(
                        &self.inventory,
                        &sku,
                        order_id,
                        "reserve",
                        sku.as_str(),
                        reserve,
                    )
                    .await?;
                // Any refusal (not enough stock, a SKU never stocked) leaves the line unreserved.
                let note = match answer {
                    Ok(()) => N::NoteReserved { sku: sku.clone() },
                    Err(_) => N::NoteOutOfStock { sku: sku.clone() },
                };
                self.note(order_id, "reserve", note).await
            }
            Step::Release { sku } => {
                let release = InventoryCommand::ReleaseReservation {
                    sku: sku.clone(),
                    order_id: order_id.clone(),
                    reason: match &state.compensating {
                        Some(shop_domain::checkout::CompensationReason::PaymentDeclined {
                            ..
                        }) => ReleaseReason::PaymentFailed,
                        _ => ReleaseReason::Cancelled,
                    },
                };
                // Refused as unknown: nothing was ever held for the order, released all the
                // same. Any other refusal (shipped, say) is an error: the units are not back.
                let answer = self
                    .ask_or_refused(
                        &self.inventory,
                        &sku,
                        order_id,
                        "release",
                        sku.as_str(),
                        release,
                    )
                    .await?;
                if let Err(rejection) = answer
                    && !matches!(rejection, InventoryRejection::UnknownReservation { .. })
                {
                    return Err(CheckoutError::Step {
                        order_id: order_id.clone(),
                        step: "release".into(),
                        error: format!("refused: {rejection}"),
                    });
                }
                self.note(order_id, "release", N::NoteReleased { sku: sku.clone() })
                    .await
            }
            Step::RequestPayment {
                idempotency_key,
                amount,
                method_token,
                ..
            } => {
                let payment_id = Self::payment_id(state);
                let pending = OrderCommand::MarkPaymentPending {
                    order_id: order_id.clone(),
                    payment_id: payment_id.clone(),
                };
                self.ask(
                    &self.orders,
                    order_id,
                    order_id,
                    "payment-pending",
                    "",
                    pending,
                )
                .await?;
                let request = PaymentCommand::RequestAuthorization {
                    payment_id: payment_id.clone(),
                    order_id: order_id.clone(),
                    amount,
                    method_token,
                    idempotency_key: idempotency_key.clone(),
                };
                self.ask(
                    &self.payments,
                    &payment_id,
                    order_id,
                    "request-authorization",
                    &idempotency_key,
                    request,
                )
                .await?;
                self.note(order_id, "payment-requested", N::NotePaymentRequested)
                    .await
            }
            Step::Authorize { idempotency_key } => {
                let request = AuthorizeRequest {
                    idempotency_key: idempotency_key.clone(),
                    order_id: order_id.clone(),
                    amount: state.amount.expect("a started checkout"),
                    method_token: state.method_token.clone(),
                };
                match self.gateway.authorize(request).await {
                    Ok(outcome) => {
                        self.record_authorization(order_id, state, &idempotency_key, outcome)
                            .await
                    }
                    Err(GatewayError::Timeout(detail)) => {
                        let payment_id = Self::payment_id(state);
                        let unknown = PaymentCommand::RecordOutcomeUnknown {
                            payment_id: payment_id.clone(),
                            idempotency_key: idempotency_key.clone(),
                            detail,
                        };
                        self.ask(
                            &self.payments,
                            &payment_id,
                            order_id,
                            "outcome-unknown",
                            &idempotency_key,
                            unknown,
                        )
                        .await?;
                        self.note(order_id, "outcome-unknown", N::NoteOutcomeUnknown)
                            .await
                    }
                    Err(e) => Err(CheckoutError::Gateway(order_id.clone(), e)),
                }
            }
            Step::LookUpPayment { idempotency_key } => {
                match self.gateway.lookup(&idempotency_key).await {
                    Ok(Some(operation)) if operation.kind == OperationKind::Authorize => {
                        self.record_authorization(
                            order_id,
                            state,
                            &idempotency_key,
                            operation.outcome,
                        )
                        .await
                    }
                    Ok(_) => {
                        self.note(order_id, "not-found", N::NoteNotFoundAtGateway)
                            .await
                    }
                    Err(e) => Err(CheckoutError::Gateway(order_id.clone(), e)),
                }
            }
            Step::ConfirmOrder => {
                let confirm = OrderCommand::ConfirmOrder {
                    order_id: order_id.clone(),
                    payment_id: Some(Self::payment_id(state)),
                };
                self.ask(&self.orders, order_id, order_id, "confirm", "", confirm)
                    .await?;
                self.note(order_id, "confirmed", N::NoteOrderConfirmed)
                    .await
            }
            Step::Commit { sku } => {
                let commit = InventoryCommand::CommitReservation {
                    sku: sku.clone(),
                    order_id: order_id.clone(),
                };
                self.ask(
                    &self.inventory,
                    &sku,
                    order_id,
                    "commit",
                    sku.as_str(),
                    commit,
                )
                .await?;
                self.note(order_id, "commit", N::NoteCommitted { sku: sku.clone() })
                    .await
            }
            Step::Capture {
                idempotency_key,
                authorization,
                amount,
            } => {
                let request = CaptureRequest {
                    idempotency_key: idempotency_key.clone(),
                    authorization,
                    amount,
                };
                let reference = approved(order_id, "capture", self.gateway.capture(request).await)?;
                self.record_capture(order_id, state, reference, amount)
                    .await
            }
            Step::Refund {
                idempotency_key,
                authorization,
                amount,
            } => {
                let payment_id = Self::payment_id(state);
                let failed = |error: String| CheckoutError::Step {
                    order_id: order_id.clone(),
                    step: "refund".into(),
                    error,
                };
                let refund_id =
                    RefundId::new(idempotency_key.clone()).map_err(|e| failed(e.to_string()))?;
                // The saga refunds what is left of the capture: an admin may have refunded part
                // of it already. A refund of its own that was recorded before a crash is finished
                // with the amount it had.
                let (payment, _) = self
                    .payments
                    .load(&payment_id)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                let amount = match (payment.refund(&refund_id), payment.refundable()) {
                    (Some(done), _) => done,
                    (None, Some(left)) if left.amount < amount.amount => left,
                    _ => amount,
                };
                if amount.amount <= 0 {
                    return self.note(order_id, "refunded", N::NoteRefunded).await;
                }
                let request = RefundRequest {
                    idempotency_key: idempotency_key.clone(),
                    authorization,
                    amount,
                };
                let reference = approved(order_id, "refund", self.gateway.refund(request).await)?;
                let refund = PaymentCommand::RefundPayment {
                    payment_id: payment_id.clone(),
                    refund_id: refund_id.clone(),
                    gateway_reference: reference,
                    amount,
                };
                self.ask(&self.payments, &payment_id, order_id, "refund", "", refund)
                    .await?;
                let refunded = OrderCommand::RefundOrder {
                    order_id: order_id.clone(),
                    refund_id,
                    amount,
                    reason: "order cancelled: what is left of the capture is refunded".into(),
                };
                self.ask(&self.orders, order_id, order_id, "refunded", "", refunded)
                    .await?;
                self.note(order_id, "refunded", N::NoteRefunded).await
            }
            Step::Void {
                idempotency_key,
                authorization,
            } => {
                let request = VoidRequest {
                    idempotency_key: idempotency_key.clone(),
                    authorization,
                };
                let answer = self.gateway.void(request).await;
                if matches!(answer, Ok(GatewayOutcome::Declined { .. }))
                    && self
                        .capture_found(order_id, state, amount_of(state))
                        .await?
                {
                    // Captured before the compensation began (its note was lost in a crash):
                    // noted now, and the compensation refunds it.
                    return Ok(());
                }
                let reference = approved(order_id, "void", answer)?;
                let payment_id = Self::payment_id(state);
                let void = PaymentCommand::VoidPayment {
                    payment_id: payment_id.clone(),
                    gateway_reference: reference,
                };
                self.ask(&self.payments, &payment_id, order_id, "void", "", void)
                    .await?;
                self.note(order_id, "voided", N::NoteVoided).await
            }
            Step::CloseOrder(close) => {
                let command = match close {
                    CloseAs::Cancel(reason) => OrderCommand::CancelOrder {
                        order_id: order_id.clone(),
                        reason,
                    },
                    CloseAs::PaymentFailed { reason } => OrderCommand::MarkPaymentFailed {
                        order_id: order_id.clone(),
                        reason,
                    },
                };
                // Refused when already closed: closed all the same.
                let _ = self
                    .ask_or_refused(&self.orders, order_id, order_id, "close", "", command)
                    .await?;
                self.note(order_id, "closed", N::NoteOrderClosed).await
            }
            Step::CancelExpiry => {
                self.cancel_expiry(order_id).await;
                Ok(())
            }
        }
    }
}
