//! The operators' checkout saga read model: sagas by state and the stuck ones, paged, on both
//! databases; a stuck mark clears when the saga moves again.

mod support;

use std::sync::Arc;

use shop_commands::{Command, CommandHandler, HandlerConfig, ManualClock};
use shop_domain::checkout::{Checkout, CheckoutCommand, CheckoutLine};
use shop_domain::{Currency, Money, OrderId, PaymentId, Sku};
use shop_eventstore::{Actor, EventStore};
use shop_projections::models::sagas::{SagaRow, SagasModel, sagas_by_state, stuck_sagas};
use shop_projections::runner::Projection;
use support::*;
use uuid::Uuid;

async fn note(checkouts: &CommandHandler<Checkout>, id: &str, body: CheckoutCommand) {
    checkouts
        .handle(
            &OrderId::new(id).unwrap(),
            Command::new(Uuid::new_v4(), body, Actor::system("checkout-saga")),
        )
        .await
        .unwrap();
}

async fn start(checkouts: &CommandHandler<Checkout>, id: &str) {
    let start = CheckoutCommand::Start {
        order_id: OrderId::new(id).unwrap(),
        payment_id: PaymentId::new(format!("pay-{id}")).unwrap(),
        lines: vec![CheckoutLine {
            sku: Sku::new("A").unwrap(),
            quantity: 1,
        }],
        amount: Money::new(1_000, Currency::EUR),
        method_token: "tok_approve".into(),
    };
    note(checkouts, id, start).await;
}

fn ids(rows: &[SagaRow]) -> Vec<&str> {
    rows.iter().map(|r| r.order_id.as_str()).collect()
}

async fn sagas_for_operators(env: Env) {
    let events: Arc<dyn EventStore> = env.events.clone();
    let checkouts: CommandHandler<Checkout> = CommandHandler::new(
        events.clone(),
        Arc::new(ManualClock::new(t0())),
        HandlerConfig::default(),
    );
    for id in ["o1", "o2", "o3", "o4", "o5"] {
        start(&checkouts, id).await;
    }
    // o2 and o3 are stuck; o3 then moves on (a reservation), which clears it.
    for id in ["o2", "o3"] {
        let stuck = CheckoutCommand::NoteStuck {
            error: "the payment gateway is unavailable".into(),
            attempts: 10,
        };
        note(&checkouts, id, stuck).await;
    }
    note(&checkouts, "o2", CheckoutCommand::Retry).await;
    let reserved = CheckoutCommand::NoteReserved {
        sku: Sku::new("A").unwrap(),
    };
    note(&checkouts, "o3", reserved).await;
    // o4 is out of stock: compensating; o5 is force-compensated and ends cancelled.
    let out = CheckoutCommand::NoteOutOfStock {
        sku: Sku::new("A").unwrap(),
    };
    note(&checkouts, "o4", out).await;
    let force = CheckoutCommand::ForceCompensate {
        note: "customer called".into(),
    };
    note(&checkouts, "o5", force).await;
    let released = CheckoutCommand::NoteReleased {
        sku: Sku::new("A").unwrap(),
    };
    note(&checkouts, "o5", released).await;
    note(&checkouts, "o5", CheckoutCommand::NoteOrderClosed).await;

    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(SagasModel)];
    project_to_head(&events, &env.db, &projections).await;
    let db = env.db.as_ref();

    let running = sagas_by_state(db, "running", None, 10).await.unwrap();
    assert_eq!(ids(&running), ["o1", "o2", "o3"]);
    // Paged: two, then the rest after the last one's id.
    let first = sagas_by_state(db, "running", None, 2).await.unwrap();
    assert_eq!(ids(&first), ["o1", "o2"]);
    let rest = sagas_by_state(db, "running", Some("o2"), 2).await.unwrap();
    assert_eq!(ids(&rest), ["o3"]);

    let stuck = stuck_sagas(db, None, 10).await.unwrap();
    assert_eq!(ids(&stuck), ["o2"]);
    assert_eq!(stuck[0].stuck_attempts, 10);
    assert_eq!(stuck[0].retries, 1);
    assert_eq!(
        stuck[0].last_error.as_deref(),
        Some("the payment gateway is unavailable")
    );

    let compensating = sagas_by_state(db, "compensating", None, 10).await.unwrap();
    assert_eq!(ids(&compensating), ["o4"]);
    assert_eq!(compensating[0].reason.as_deref(), Some("out_of_stock"));
    let cancelled = sagas_by_state(db, "cancelled", None, 10).await.unwrap();
    assert_eq!(ids(&cancelled), ["o5"]);
    assert_eq!(cancelled[0].reason.as_deref(), Some("operator"));
    assert!(
        sagas_by_state(db, "confirmed", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
both!(sagas_for_operators, sagas_for_operators);
