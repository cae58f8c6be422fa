//! The projection runner on both read-model databases: read models follow the log, every event is
//! applied exactly once across failures (crash test), writers may append concurrently, poison
//! events stop or park, one process owns a projection, rebuilds switch to shadow tables.

mod support;

use std::sync::Arc;
use std::time::Duration;

use shop_domain::Aggregate;
use shop_domain::inventory::{Inventory, InventoryEvent};
use shop_eventstore::{ReadStream, StreamName};
use shop_projections::models::catalog::{Catalog, ProductRow, VariantRow};
use shop_projections::models::invariants::InvariantChecker;
use shop_projections::models::inventory::{InventoryModel, StockLevel};
use shop_projections::models::{ModelOptions, all};
use shop_projections::rows::{TableRow, text};
use shop_projections::runner::{Projection, RebuildOptions, RunnerOptions, rebuild};
use support::*;

fn tables_of(
    projections: &[Arc<dyn Projection>],
) -> Vec<&'static shop_projections::rows::TableDef> {
    projections
        .iter()
        .flat_map(|p| p.tables().iter().copied())
        .collect()
}

fn names(projections: &[Arc<dyn Projection>]) -> Vec<&'static str> {
    projections.iter().map(|p| p.name()).collect()
}

/// The levels the aggregate itself folds from the log, per (sku, warehouse).
async fn aggregate_levels(env: &Env, skus: usize) -> Vec<(String, String, i64, i64, i64, i64)> {
    let mut out = Vec::new();
    for s in 0..skus {
        let stream = StreamName::new(format!("inventory-SKU-{s}")).unwrap();
        let recorded = env
            .events
            .read_stream(&stream, ReadStream::forwards())
            .await
            .unwrap();
        let events: Vec<InventoryEvent> = recorded
            .iter()
            .map(|e| shop_projections::runner::decode(e).unwrap())
            .collect();
        let state = Inventory::fold(&events);
        for (w, l) in state.levels() {
            out.push((
                format!("SKU-{s}"),
                w.to_string(),
                l.on_hand as i64,
                l.available as i64,
                l.reserved as i64,
                l.committed as i64,
            ));
        }
    }
    out.sort();
    out
}

/// The inventory read model's levels, in the same shape.
async fn projected_levels(env: &Env) -> Vec<(String, String, i64, i64, i64, i64)> {
    let rows = env
        .db
        .scan(StockLevel::TABLE, "inventory_levels")
        .await
        .unwrap();
    let mut levels: Vec<_> = rows
        .into_iter()
        .map(|r| StockLevel::from_row(r).unwrap())
        .map(|l| {
            (
                l.sku,
                l.warehouse,
                l.on_hand,
                l.available,
                l.reserved,
                l.committed,
            )
        })
        .collect();
    levels.sort();
    levels
}

async fn read_models_follow_the_log(env: Env) {
    let projections = all(&ModelOptions::default());
    append_all(&env.events, catalog_history(5), 2).await;
    append_all(&env.events, inventory_history(10, 150, 7), 4).await;
    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        projections.clone(),
        RunnerOptions::default(),
    );
    running
        .catch_up(env.events.as_ref(), &names(&projections))
        .await;

    // Inventory levels agree with the aggregate's own fold.
    assert_eq!(
        projected_levels(&env).await,
        aggregate_levels(&env, 10).await
    );
    // The invariant never broke.
    assert_eq!(env.db.count("invariant_violations").await.unwrap(), 0);

    // Catalog: price range after the price change, rating, availability from stock.
    let p0 = env
        .db
        .load(ProductRow::TABLE, "catalog_products", &[text("p-0")])
        .await
        .unwrap()
        .unwrap();
    let p0 = ProductRow::from_row(p0).unwrap();
    assert_eq!(
        (
            p0.price_min,
            p0.price_max,
            p0.rating_hundredths,
            p0.review_count
        ),
        (900, 1500, Some(400), 1)
    );
    assert_eq!(p0.category_path, "Clothing > T-Shirts");
    let v = env
        .db
        .load(VariantRow::TABLE, "catalog_variants", &[text("SKU-1")])
        .await
        .unwrap()
        .unwrap();
    let v = VariantRow::from_row(v).unwrap();
    assert!(["in_stock", "low_stock", "out_of_stock"].contains(&v.availability.as_str()));
    let status = running.board.get("catalog").unwrap();
    assert!(status.applied > 0);
    running.stop().await;
}
both!(read_models_follow_the_log, read_models_follow_the_log);

/// Injected failures before commits, after commits (lost acknowledgements) and on reads; the
/// runner keeps resuming from its checkpoints. The result equals a clean rebuild, row for row.
async fn exactly_once_across_failures(env: Env) {
    let projections = all(&ModelOptions::default());
    append_all(&env.events, catalog_history(10), 2).await;
    let (skus, per_sku) = if env.backend == Backend::Sqlite {
        (40, 2_500)
    } else {
        (20, 1_000)
    };
    append_all(&env.events, inventory_history(skus, per_sku, 11), 4).await;

    let faulty = support::faults::Faulty::new(env.db.clone(), 3, 0.05);
    let options = RunnerOptions {
        batch_events: 500,
        cache_rows: 1_000,
        retry_base: Duration::from_millis(1),
        retry_max: Duration::from_millis(5),
        ..RunnerOptions::default()
    };
    let running = Running::start(
        env.events.clone(),
        faulty.clone(),
        projections.clone(),
        options,
    );
    running
        .catch_up(env.events.as_ref(), &names(&projections))
        .await;
    running.stop().await;
    let failures = faulty.failures.load(std::sync::atomic::Ordering::Relaxed);
    assert!(failures >= 10, "only {failures} failures were injected");

    let clean = env.fresh_db("clean").await;
    let reference = Running::start(
        env.events.clone(),
        clean.clone(),
        projections.clone(),
        RunnerOptions::default(),
    );
    reference
        .catch_up(env.events.as_ref(), &names(&projections))
        .await;
    reference.stop().await;
    let tables = tables_of(&projections);
    let got = dump(env.db.as_ref(), &tables).await;
    let want = dump(clean.as_ref(), &tables).await;
    for t in &tables {
        assert_eq!(
            got[t.name].len(),
            want[t.name].len(),
            "row count of {}",
            t.name
        );
        assert_eq!(got[t.name], want[t.name], "rows of {}", t.name);
    }
    assert_eq!(env.db.count("invariant_violations").await.unwrap(), 0);
}
both!(exactly_once_across_failures, exactly_once_across_failures);

/// Eight writers append while the runner follows; at the end the read model matches the log.
async fn concurrent_writers(env: Env) {
    let projections: Vec<Arc<dyn Projection>> =
        vec![Arc::new(InventoryModel), Arc::new(InvariantChecker)];
    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        projections.clone(),
        RunnerOptions::default(),
    );
    append_all(&env.events, inventory_history(16, 300, 5), 8).await;
    running
        .catch_up(env.events.as_ref(), &names(&projections))
        .await;
    assert_eq!(
        projected_levels(&env).await,
        aggregate_levels(&env, 16).await
    );
    assert_eq!(env.db.count("invariant_violations").await.unwrap(), 0);
    running.stop().await;
}
both!(concurrent_writers, concurrent_writers);

/// A rebuild builds shadow tables while the live ones keep their rows, compares counts and
/// switches; the projection then carries on from the rebuild's checkpoint.
async fn rebuild_switches_to_shadow_tables(env: Env) {
    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(Catalog::new(5))];
    append_all(&env.events, catalog_history(8), 2).await;
    append_all(&env.events, inventory_history(16, 50, 3), 2).await;
    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        projections.clone(),
        RunnerOptions::default(),
    );
    running.catch_up(env.events.as_ref(), &["catalog"]).await;
    running.stop().await;
    let before = dump(env.db.as_ref(), &tables_of(&projections)).await;

    let _lock = env.db.lock("catalog").await.unwrap();
    let progress = std::sync::Mutex::new(Vec::new());
    let report = rebuild(
        env.events.clone(),
        env.db.clone(),
        &projections,
        &RebuildOptions {
            batch_events: 100,
            require_equal_counts: true,
            ..RebuildOptions::default()
        },
        |p| progress.lock().unwrap().push(p.clone()),
    )
    .await
    .unwrap();
    drop(_lock);
    assert!(report.events > 0);
    assert!(
        report
            .tables
            .iter()
            .all(|t| t.live == t.rebuilt && t.live > 0),
        "{:?}",
        report.tables
    );
    let progress = progress.into_inner().unwrap();
    assert!(progress.len() > 1);
    assert!((progress.last().unwrap().fraction - 1.0).abs() < 1e-9);
    assert_eq!(
        dump(env.db.as_ref(), &tables_of(&projections)).await,
        before
    );
    let checkpoint = env.db.checkpoint("catalog").await.unwrap().unwrap();
    assert_eq!(Some(checkpoint.position), report.checkpoint);
    assert!(
        env.db
            .checkpoint("catalog@rebuild")
            .await
            .unwrap()
            .is_none()
    );

    // Rebuild again (the shadow names are reused after a switch), then keep following.
    let _lock = env.db.lock("catalog").await.unwrap();
    rebuild(
        env.events.clone(),
        env.db.clone(),
        &projections,
        &RebuildOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    drop(_lock);
    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        projections.clone(),
        RunnerOptions::default(),
    );
    append_all(&env.events, inventory_history(20, 20, 9).split_off(16), 2).await;
    running.catch_up(env.events.as_ref(), &["catalog"]).await;
    running.stop().await;
    assert_eq!(env.db.count("catalog_stock").await.unwrap(), 20);
}
both!(
    rebuild_switches_to_shadow_tables,
    rebuild_switches_to_shadow_tables
);

/// Only one runner owns a projection; a standby takes over when the owner stops.
async fn one_owner_at_a_time(env: Env) {
    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(InventoryModel)];
    append_all(&env.events, inventory_history(2, 50, 1), 1).await;
    let first = Running::start(
        env.events.clone(),
        env.db.clone(),
        projections.clone(),
        RunnerOptions::default(),
    );
    first.catch_up(env.events.as_ref(), &["inventory"]).await;
    let other_db = env.same_db().await;
    let second = Running::start(
        env.events.clone(),
        other_db,
        projections.clone(),
        RunnerOptions::default(),
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        second.board.get("inventory").unwrap().state,
        shop_projections::runner::ProjectionState::Standby
    );
    first.stop().await;
    append_all(&env.events, inventory_history(3, 20, 2).split_off(2), 1).await;
    second.catch_up(env.events.as_ref(), &["inventory"]).await;
    second.stop().await;
}
both!(one_owner_at_a_time, one_owner_at_a_time);

/// An event that does not decode stops a `Stop` projection just before it (the others go on),
/// and is parked by a `Park` projection, which goes on past it.
async fn poison_events_stop_or_park(env: Env) {
    use shop_projections::runner::{PoisonPolicy, ProjectionState};
    let stopping: Arc<dyn Projection> = Arc::new(InventoryModel);
    let parking: Arc<dyn Projection> = Arc::new(Altered {
        inner: InvariantChecker,
        name: "invariants_parking",
        policy: PoisonPolicy::Park,
        version: 1,
    });
    let projections = vec![stopping, parking];
    append_all(&env.events, inventory_history(1, 20, 1), 1).await;
    let bad_at = append_poison(&env.events, "inventory-BAD").await;
    append_all(&env.events, inventory_history(3, 20, 2).split_off(1), 1).await;

    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        projections,
        RunnerOptions::default(),
    );
    running
        .catch_up(env.events.as_ref(), &["invariants_parking"])
        .await;
    let parked = env.db.dead_letters("invariants_parking").await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(
        (parked[0].position, parked[0].stream.as_str()),
        (bad_at, "inventory-BAD")
    );
    assert_eq!(running.board.get("invariants_parking").unwrap().parked, 1);

    let mut stopped = None;
    for _ in 0..100 {
        stopped = running
            .board
            .get("inventory")
            .filter(|s| s.state == ProjectionState::Stopped);
        if stopped.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stopped = stopped.expect("the inventory projection stopped");
    assert!(
        stopped.checkpoint.is_some_and(|c| c < bad_at),
        "{stopped:?}"
    );
    assert!(stopped.last_error.unwrap().1.contains("inventory-BAD"));
    assert_eq!(
        env.db
            .checkpoint("inventory")
            .await
            .unwrap()
            .map(|c| c.position),
        stopped.checkpoint
    );
    // The status counts the events the stopped projection has not applied; the other is level.
    let mut lags = (0, u64::MAX);
    for _ in 0..100 {
        lags = (
            running.board.get("inventory").unwrap().lag_events,
            running.board.get("invariants_parking").unwrap().lag_events,
        );
        if lags.0 > 0 && lags.1 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The poison event and every inventory event after it.
    let unapplied = env
        .events
        .read_all(
            shop_eventstore::ReadAll::forwards()
                .from(stopped.checkpoint.unwrap())
                .filter(shop_eventstore::AllFilter::stream_prefixes([
                    "inventory-".to_owned()
                ])),
        )
        .await
        .unwrap()
        .len() as u64;
    assert!(unapplied > 1);
    assert_eq!(lags, (unapplied, 0));
    // The levels of the SKU after the poison event were not applied by the stopped projection.
    assert!(
        env.db
            .load(
                StockLevel::TABLE,
                "inventory_levels",
                &[text("SKU-2"), text("w1")]
            )
            .await
            .unwrap()
            .is_none()
    );
    running.stop().await;
}
both!(poison_events_stop_or_park, poison_events_stop_or_park);

/// A projection whose version changed is rebuilt by the runner before it follows the log.
async fn a_new_version_is_rebuilt(env: Env) {
    append_all(&env.events, inventory_history(4, 30, 8), 2).await;
    let v1: Vec<Arc<dyn Projection>> = vec![Arc::new(InventoryModel)];
    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        v1.clone(),
        RunnerOptions::default(),
    );
    running.catch_up(env.events.as_ref(), &["inventory"]).await;
    running.stop().await;
    let before = dump(env.db.as_ref(), &tables_of(&v1)).await;

    let v2: Vec<Arc<dyn Projection>> = vec![Arc::new(Altered {
        inner: InventoryModel,
        name: "inventory",
        policy: shop_projections::runner::PoisonPolicy::Stop,
        version: 2,
    })];
    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        v2.clone(),
        RunnerOptions::default(),
    );
    running.catch_up(env.events.as_ref(), &["inventory"]).await;
    running.stop().await;
    assert_eq!(
        env.db
            .checkpoint("inventory")
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    assert_eq!(dump(env.db.as_ref(), &tables_of(&v2)).await, before);
}
both!(a_new_version_is_rebuilt, a_new_version_is_rebuilt);

/// Read-your-writes: waiting for a position answers as soon as the projection has it, and says
/// so when it does not come in time.
async fn waiting_for_a_position(env: Env) {
    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(InventoryModel)];
    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        projections,
        RunnerOptions::default(),
    );
    append_all(&env.events, inventory_history(1, 10, 4), 1).await;
    let head = env.events.head_position().await.unwrap().unwrap();
    assert!(
        running
            .board
            .wait_for("inventory", head, Duration::from_secs(30))
            .await
    );
    let beyond = shop_eventstore::Position::new(head.commit() + 1_000_000, 0);
    assert!(
        !running
            .board
            .wait_for("inventory", beyond, Duration::from_millis(200))
            .await
    );
    running.stop().await;
}
both!(waiting_for_a_position, waiting_for_a_position);

/// An operator asks the running runner to rebuild a projection while events keep arriving: the
/// live tables keep serving and following the log, the shadow tables are built beside them, the
/// switch happens between two batches, and afterwards the read model equals the aggregates.
async fn rebuild_on_request_while_running(env: Env) {
    let projections: Vec<Arc<dyn Projection>> =
        vec![Arc::new(Catalog::new(5)), Arc::new(InventoryModel)];
    append_all(&env.events, catalog_history(4), 2).await;
    let mut history = inventory_history(12, 60, 7);
    let later: Vec<_> = history.split_off(6);
    append_all(&env.events, history, 2).await;
    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        projections,
        RunnerOptions {
            batch_events: 50,
            batch_wait: Duration::from_millis(5),
            rebuild: RebuildOptions {
                batch_events: 40,
                commit_events: 80,
                ..RebuildOptions::default()
            },
            ..RunnerOptions::default()
        },
    );
    running
        .catch_up(env.events.as_ref(), &["catalog", "inventory"])
        .await;

    let unknown = running.handle.rebuild(&["nope"]).await.unwrap_err();
    assert!(
        unknown.to_string().contains("no projection \"nope\""),
        "{unknown}"
    );

    let events = env.events.clone();
    let writer = tokio::spawn(async move { append_all(&events, later, 2).await });
    let report = running.handle.rebuild(&["inventory"]).await.unwrap();
    writer.await.unwrap();
    assert_eq!(report.projections, vec!["inventory"]);
    assert!(report.events > 0);
    assert!(report.tables.iter().any(|t| t.rebuilt > 0), "{report:?}");
    assert!(
        env.db
            .checkpoint("inventory@rebuild")
            .await
            .unwrap()
            .is_none()
    );

    running
        .catch_up(env.events.as_ref(), &["catalog", "inventory"])
        .await;
    assert_eq!(
        projected_levels(&env).await,
        aggregate_levels(&env, 12).await
    );
    let status = running.board.get("inventory").unwrap();
    assert_eq!(status.rebuild, None);
    // A second request after the first is done is served too.
    running
        .handle
        .rebuild(&["inventory", "catalog"])
        .await
        .unwrap();
    running
        .catch_up(env.events.as_ref(), &["catalog", "inventory"])
        .await;
    assert_eq!(
        projected_levels(&env).await,
        aggregate_levels(&env, 12).await
    );
    running.stop().await;
}
both!(
    rebuild_on_request_while_running,
    rebuild_on_request_while_running
);
