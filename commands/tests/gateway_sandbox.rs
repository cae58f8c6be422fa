//! The sandbox payment gateway behaves like a provider's test mode: every test token's outcome,
//! idempotency by key (also under concurrent repeats), lookups after timeouts, and the rules of
//! captures, voids and refunds.

use std::sync::Arc;
use std::time::Duration;

use shop_commands::gateway::{
    AuthorizeRequest, CaptureRequest, Fault, GatewayError, GatewayOutcome, Operation,
    OperationKind, PaymentGateway, RefundRequest, SandboxConfig, SandboxGateway, VoidRequest,
    test_tokens,
};
use shop_domain::{Currency, Money, OrderId};

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

fn order(n: u32) -> OrderId {
    OrderId::new(format!("order-{n}")).unwrap()
}

fn sandbox() -> SandboxGateway {
    SandboxGateway::new(SandboxConfig {
        latency: Duration::ZERO,
        slow_latency: Duration::from_millis(5),
        timeout: Duration::from_millis(5),
    })
}

fn authorize(key: &str, n: u32, amount: i64, token: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        idempotency_key: key.into(),
        order_id: order(n),
        amount: eur(amount),
        method_token: token.into(),
    }
}

fn approved(outcome: &GatewayOutcome) -> (String, Money) {
    match outcome {
        GatewayOutcome::Approved { reference, amount } => (reference.clone(), *amount),
        other => panic!("expected an approval, got {other:?}"),
    }
}

fn declined_code(outcome: &GatewayOutcome) -> &str {
    match outcome {
        GatewayOutcome::Declined { code, .. } => code,
        other => panic!("expected a decline, got {other:?}"),
    }
}

#[tokio::test]
async fn an_approval_is_answered_again_for_the_same_key_without_a_second_charge() {
    let gateway = sandbox();
    let first = gateway
        .authorize(authorize("k1", 1, 1_000, test_tokens::APPROVE))
        .await
        .unwrap();
    let (reference, amount) = approved(&first);
    assert_eq!(amount, eur(1_000));
    let again = gateway
        .authorize(authorize("k1", 1, 1_000, test_tokens::APPROVE))
        .await
        .unwrap();
    assert_eq!(again, first);
    let ledger = gateway.ledger();
    assert_eq!(ledger.authorizations_of(&order(1)), 1);
    assert_eq!(ledger.charges[0].reference, reference);
    assert_eq!(
        gateway.lookup("k1").await.unwrap(),
        Some(Operation {
            kind: OperationKind::Authorize,
            outcome: first
        })
    );
    assert_eq!(gateway.lookup("never-used").await.unwrap(), None);
}

#[tokio::test]
async fn declines_charge_nothing_and_say_why() {
    let gateway = sandbox();
    for (key, token, code) in [
        ("d1", test_tokens::DECLINE, "card_declined"),
        ("d2", test_tokens::INSUFFICIENT_FUNDS, "insufficient_funds"),
        ("d3", "tok_made_up", "invalid_payment_method"),
    ] {
        let outcome = gateway
            .authorize(authorize(key, 2, 500, token))
            .await
            .unwrap();
        assert_eq!(declined_code(&outcome), code, "{token}");
        // A repeat is the same decline, and the lookup records it.
        assert_eq!(
            gateway
                .authorize(authorize(key, 2, 500, token))
                .await
                .unwrap(),
            outcome
        );
        assert_eq!(
            gateway.lookup(key).await.unwrap().map(|o| o.outcome),
            Some(outcome)
        );
    }
    assert_eq!(gateway.ledger().authorizations_of(&order(2)), 0);
}

#[tokio::test]
async fn a_timeout_after_the_charge_is_found_by_lookup_and_never_charged_twice() {
    let gateway = sandbox();
    let request = authorize("t1", 3, 700, test_tokens::TIMEOUT_AFTER_CHARGE);
    let first = gateway.authorize(request.clone()).await;
    assert!(matches!(first, Err(GatewayError::Timeout(_))), "{first:?}");
    // The charge happened: the lookup tells, and a repeat answers it without charging again.
    let found = gateway.lookup("t1").await.unwrap().expect("recorded");
    let (reference, _) = approved(&found.outcome);
    let again = gateway.authorize(request).await.unwrap();
    assert_eq!(approved(&again).0, reference);
    assert_eq!(gateway.ledger().authorizations_of(&order(3)), 1);
}

#[tokio::test]
async fn a_timeout_before_the_charge_leaves_nothing_and_a_repeat_goes_through_once() {
    let gateway = sandbox();
    let request = authorize("t2", 4, 700, test_tokens::TIMEOUT_BEFORE_CHARGE);
    let first = gateway.authorize(request.clone()).await;
    assert!(matches!(first, Err(GatewayError::Timeout(_))), "{first:?}");
    assert_eq!(gateway.lookup("t2").await.unwrap(), None);
    assert_eq!(gateway.ledger().authorizations_of(&order(4)), 0);
    let again = gateway.authorize(request.clone()).await.unwrap();
    approved(&again);
    assert_eq!(gateway.authorize(request).await.unwrap(), again);
    assert_eq!(gateway.ledger().authorizations_of(&order(4)), 1);
}

#[tokio::test]
async fn a_slow_answer_still_approves() {
    let gateway = sandbox();
    let outcome = gateway
        .authorize(authorize("s1", 5, 100, test_tokens::SLOW))
        .await
        .unwrap();
    approved(&outcome);
}

#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    let gateway = sandbox();
    approved(
        &gateway
            .authorize(authorize("k", 6, 100, test_tokens::APPROVE))
            .await
            .unwrap(),
    );
    // The same key for another amount, order or token.
    for other in [
        authorize("k", 6, 101, test_tokens::APPROVE),
        authorize("k", 7, 100, test_tokens::APPROVE),
        authorize("k", 6, 100, test_tokens::SLOW),
    ] {
        let refused = gateway.authorize(other).await;
        assert!(
            matches!(refused, Err(GatewayError::Invalid(_))),
            "{refused:?}"
        );
    }
    for bad in [
        authorize("zero", 8, 0, test_tokens::APPROVE),
        authorize("negative", 8, -5, test_tokens::APPROVE),
        authorize(" ", 8, 100, test_tokens::APPROVE),
    ] {
        let refused = gateway.authorize(bad).await;
        assert!(
            matches!(refused, Err(GatewayError::Invalid(_))),
            "{refused:?}"
        );
    }
    let capture = gateway
        .capture(CaptureRequest {
            idempotency_key: "c".into(),
            authorization: "auth_unknown".into(),
            amount: eur(1),
        })
        .await;
    assert!(
        matches!(capture, Err(GatewayError::Invalid(_))),
        "{capture:?}"
    );
    let ledger = gateway.ledger();
    assert_eq!(ledger.charges.len(), 1);
    assert_eq!(ledger.charges[0].captured, 0);
}

#[tokio::test]
async fn captures_refunds_and_voids_follow_the_authorization() {
    let gateway = sandbox();
    let (auth, _) = approved(
        &gateway
            .authorize(authorize("a", 9, 1_000, test_tokens::APPROVE))
            .await
            .unwrap(),
    );
    let capture = |key: &str, amount: i64| CaptureRequest {
        idempotency_key: key.into(),
        authorization: auth.clone(),
        amount: eur(amount),
    };
    let refund = |key: &str, amount: i64| RefundRequest {
        idempotency_key: key.into(),
        authorization: auth.clone(),
        amount: eur(amount),
    };
    let too_much = gateway.capture(capture("c0", 1_001)).await;
    assert!(
        matches!(too_much, Err(GatewayError::Invalid(_))),
        "{too_much:?}"
    );
    let refund_first = gateway.refund(refund("r0", 1)).await;
    assert!(
        matches!(refund_first, Err(GatewayError::Invalid(_))),
        "{refund_first:?}"
    );

    let captured = gateway.capture(capture("c1", 1_000)).await.unwrap();
    assert_eq!(approved(&captured).1, eur(1_000));
    assert_eq!(
        gateway.capture(capture("c1", 1_000)).await.unwrap(),
        captured
    );
    let twice = gateway.capture(capture("c2", 1_000)).await;
    assert!(matches!(twice, Err(GatewayError::Invalid(_))), "{twice:?}");
    let void = gateway
        .void(VoidRequest {
            idempotency_key: "v1".into(),
            authorization: auth.clone(),
        })
        .await;
    assert!(matches!(void, Err(GatewayError::Invalid(_))), "{void:?}");

    approved(&gateway.refund(refund("r1", 600)).await.unwrap());
    let over = gateway.refund(refund("r2", 401)).await;
    assert!(matches!(over, Err(GatewayError::Invalid(_))), "{over:?}");
    approved(&gateway.refund(refund("r3", 400)).await.unwrap());
    // Repeating a refund's key refunds nothing more.
    approved(&gateway.refund(refund("r1", 600)).await.unwrap());
    let charge = &gateway.ledger().charges[0];
    assert_eq!(
        (charge.captured, charge.refunded, charge.voided),
        (1_000, 1_000, false)
    );
}

#[tokio::test]
async fn a_void_releases_the_authorization_and_blocks_its_capture() {
    let gateway = sandbox();
    let (auth, _) = approved(
        &gateway
            .authorize(authorize("a", 10, 300, test_tokens::APPROVE))
            .await
            .unwrap(),
    );
    let void = VoidRequest {
        idempotency_key: "v".into(),
        authorization: auth.clone(),
    };
    let voided = gateway.void(void.clone()).await.unwrap();
    assert_eq!(gateway.void(void).await.unwrap(), voided);
    let capture = gateway
        .capture(CaptureRequest {
            idempotency_key: "c".into(),
            authorization: auth,
            amount: eur(300),
        })
        .await;
    assert!(
        matches!(capture, Err(GatewayError::Invalid(_))),
        "{capture:?}"
    );
    assert!(gateway.ledger().charges[0].voided);
}

#[tokio::test]
async fn injected_faults_hit_the_next_call_of_their_kind() {
    let gateway = sandbox();
    let (auth, _) = approved(
        &gateway
            .authorize(authorize("a", 11, 300, test_tokens::APPROVE))
            .await
            .unwrap(),
    );
    let capture = CaptureRequest {
        idempotency_key: "c".into(),
        authorization: auth.clone(),
        amount: eur(300),
    };
    gateway.inject(OperationKind::Capture, Fault::Unavailable);
    gateway.inject(OperationKind::Capture, Fault::TimeoutBefore);
    gateway.inject(OperationKind::Capture, Fault::TimeoutAfter);
    let unavailable = gateway.capture(capture.clone()).await;
    assert!(
        matches!(unavailable, Err(GatewayError::Unavailable(_))),
        "{unavailable:?}"
    );
    let lost = gateway.capture(capture.clone()).await;
    assert!(matches!(lost, Err(GatewayError::Timeout(_))), "{lost:?}");
    assert_eq!(gateway.lookup("c").await.unwrap(), None);
    assert_eq!(gateway.ledger().charges[0].captured, 0);
    let after = gateway.capture(capture.clone()).await;
    assert!(matches!(after, Err(GatewayError::Timeout(_))), "{after:?}");
    let found = gateway
        .lookup("c")
        .await
        .unwrap()
        .expect("the capture happened");
    assert_eq!(found.kind, OperationKind::Capture);
    assert_eq!(gateway.capture(capture).await.unwrap(), found.outcome);
    assert_eq!(gateway.ledger().charges[0].captured, 300);
}

#[tokio::test]
async fn concurrent_repeats_of_one_key_charge_once() {
    let gateway = Arc::new(sandbox());
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let gateway = gateway.clone();
            tokio::spawn(async move {
                gateway
                    .authorize(authorize("same", 12, 900, test_tokens::APPROVE))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap());
    }
    assert!(outcomes.windows(2).all(|w| w[0] == w[1]));
    let ledger = gateway.ledger();
    assert_eq!(ledger.authorizations_of(&order(12)), 1);
    assert_eq!(ledger.calls, 64);
}
