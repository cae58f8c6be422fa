//! The bulk path of a rebuild (rows held in memory, written once at the end) gives the same
//! tables as the live runner and as the row path, row for row, on both databases; it falls back to
//! the row path when a projection meets an event it cannot apply and when its rows outgrow the
//! memory budget; a rebuild that cannot resume every projection starts them all over.

mod support;

use std::sync::Arc;

use shop_projections::bench::history;
use shop_projections::models::invariants::InvariantChecker;
use shop_projections::models::inventory::InventoryModel;
use shop_projections::models::{ModelOptions, all};
use shop_projections::rows::TableDef;
use shop_projections::runner::{PoisonPolicy, Projection, RebuildOptions, RebuildReport, rebuild};
use shop_projections::store::ReadStore;
use support::*;

fn tables_of(projections: &[Arc<dyn Projection>]) -> Vec<&'static TableDef> {
    projections
        .iter()
        .flat_map(|p| p.tables().iter().copied())
        .collect()
}

/// Rebuilds `projections` into `db`, holding their locks as the runner would.
async fn rebuild_into(
    env: &Env,
    db: &Arc<dyn ReadStore>,
    projections: &[Arc<dyn Projection>],
    options: RebuildOptions,
) -> anyhow::Result<RebuildReport> {
    let mut locks = Vec::new();
    for p in projections {
        locks.push(db.lock(p.name()).await.unwrap());
    }
    rebuild(
        env.events.clone(),
        db.clone(),
        projections,
        &options,
        |_| {},
    )
    .await
}

/// The rebuild gave up on the bulk path, for a reason that mentions `why`.
fn assert_fell_back(report: &RebuildReport, why: &str) {
    assert!(!report.bulk, "the bulk path loaded the tables");
    assert!(
        report.fallback.as_deref().is_some_and(|r| r.contains(why)),
        "{:?}",
        report.fallback
    );
}

async fn assert_same_tables(
    got: &dyn ReadStore,
    want: &dyn ReadStore,
    tables: &[&'static TableDef],
    what: &str,
) {
    let (got, want) = (dump(got, tables).await, dump(want, tables).await);
    for t in tables {
        assert_eq!(
            got[t.name].len(),
            want[t.name].len(),
            "{what}: row count of {}",
            t.name
        );
        assert_eq!(got[t.name], want[t.name], "{what}: rows of {}", t.name);
    }
}

/// A generated shop history (catalog, stock, carts, orders, payments) rebuilt by the bulk path,
/// on one lane and on three, equals what the live runner built and what the row path rebuilds.
async fn bulk_equals_live_and_row_path(env: Env) {
    let projections = all(&ModelOptions::default());
    history::append(&env.events, history::shop_history(12_000, 7).unwrap(), 4)
        .await
        .unwrap();
    let head = env.events.head_position().await.unwrap();
    project_to_head(&env.events, &env.db, &projections).await;
    let tables = tables_of(&projections);
    assert!(
        env.db.count("order_audit").await.unwrap() > 1_000
            && env.db.count("orders").await.unwrap() > 100,
        "the history has orders"
    );

    for (what, options) in [
        (
            "bulk, three lanes",
            RebuildOptions {
                lanes: 3,
                ..RebuildOptions::default()
            },
        ),
        (
            "bulk, one lane",
            RebuildOptions {
                lanes: 1,
                batch_events: 500,
                ..RebuildOptions::default()
            },
        ),
        (
            "row path",
            RebuildOptions {
                in_memory: false,
                ..RebuildOptions::default()
            },
        ),
    ] {
        let db = env.fresh_db(&what.replace([' ', ','], "")).await;
        let report = rebuild_into(&env, &db, &projections, options.clone())
            .await
            .unwrap();
        assert_eq!(
            report.bulk, options.in_memory,
            "{what}: {:?}",
            report.fallback
        );
        assert_eq!(report.checkpoint, head, "{what}");
        for p in &projections {
            assert_eq!(
                db.checkpoint(p.name()).await.unwrap().map(|c| c.position),
                head,
                "{what}: checkpoint of {}",
                p.name()
            );
        }
        assert_same_tables(db.as_ref(), env.db.as_ref(), &tables, what).await;
    }

    // Over the memory budget: the row path rebuilds from scratch, to the same tables.
    let db = env.fresh_db("budget").await;
    let report = rebuild_into(
        &env,
        &db,
        &projections,
        RebuildOptions {
            memory_rows: 50,
            ..RebuildOptions::default()
        },
    )
    .await
    .unwrap();
    assert_fell_back(&report, "rows in memory");
    assert_same_tables(db.as_ref(), env.db.as_ref(), &tables, "over budget").await;
}
both!(bulk_equals_live_and_row_path, bulk_equals_live_and_row_path);

/// An event that does not decode: the bulk path hands over to the row path, which parks it for
/// a `Park` projection (the rest rebuilt as usual) and stops a `Stop` projection's rebuild.
async fn bulk_hands_poison_to_the_row_path(env: Env) {
    append_all(&env.events, inventory_history(2, 30, 1), 1).await;
    let bad_at = append_poison(&env.events, "inventory-BAD").await;
    append_all(&env.events, inventory_history(4, 30, 2).split_off(2), 1).await;

    let parking: Vec<Arc<dyn Projection>> = vec![Arc::new(Altered {
        inner: InvariantChecker,
        name: "invariants_parking",
        policy: PoisonPolicy::Park,
        version: 1,
    })];
    let report = rebuild_into(&env, &env.db, &parking, RebuildOptions::default())
        .await
        .unwrap();
    assert_fell_back(&report, "inventory-BAD");
    let parked = env.db.dead_letters("invariants_parking").await.unwrap();
    assert_eq!(parked.len(), 1, "parked once, not once per path");
    assert_eq!(parked[0].position, bad_at);
    let reference = env.fresh_db("rowpath").await;
    rebuild_into(
        &env,
        &reference,
        &parking,
        RebuildOptions {
            in_memory: false,
            ..RebuildOptions::default()
        },
    )
    .await
    .unwrap();
    assert_same_tables(
        env.db.as_ref(),
        reference.as_ref(),
        &tables_of(&parking),
        "parked",
    )
    .await;
    // Two SKUs before the poison event (at most four levels), two after: both were applied.
    assert!(env.db.count("invariant_levels").await.unwrap() > 4);

    let stopping: Vec<Arc<dyn Projection>> = vec![Arc::new(InventoryModel)];
    let error = rebuild_into(&env, &env.db, &stopping, RebuildOptions::default())
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("stopped at"), "{error:#}");
}
both!(
    bulk_hands_poison_to_the_row_path,
    bulk_hands_poison_to_the_row_path
);

/// A rebuild that cannot resume (only some of its projections have a rebuild checkpoint) starts
/// every projection from scratch, on either path: none keeps the stale checkpoint of an earlier,
/// unfinished rebuild and skips the events before it.
async fn a_partly_resumable_rebuild_starts_over(env: Env) {
    append_all(&env.events, inventory_history(6, 40, 3), 2).await;
    let projections: Vec<Arc<dyn Projection>> =
        vec![Arc::new(InventoryModel), Arc::new(InvariantChecker)];
    project_to_head(&env.events, &env.db, &projections).await;
    let tables = tables_of(&projections);

    for in_memory in [false, true] {
        let db = env
            .fresh_db(if in_memory { "partbulk" } else { "partrows" })
            .await;
        // An unfinished rebuild of one of them: its shadows and checkpoint are left behind.
        let left = rebuild_into(
            &env,
            &db,
            &projections[..1],
            RebuildOptions {
                switch: false,
                in_memory,
                ..RebuildOptions::default()
            },
        )
        .await
        .unwrap();
        assert!(left.checkpoint.is_some());
        rebuild_into(
            &env,
            &db,
            &projections,
            RebuildOptions {
                in_memory,
                ..RebuildOptions::default()
            },
        )
        .await
        .unwrap();
        assert_same_tables(
            db.as_ref(),
            env.db.as_ref(),
            &tables,
            &format!("in memory: {in_memory}"),
        )
        .await;
    }
}
both!(
    a_partly_resumable_rebuild_starts_over,
    a_partly_resumable_rebuild_starts_over
);
