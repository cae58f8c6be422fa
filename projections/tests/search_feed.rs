//! The search projection and the feed that ships its documents to a search index (an embedded
//! Tantivy index in a temp dir), on both read-model databases: documents follow products and
//! stock, discontinued products disappear, shipping again changes nothing, a cleared index is
//! rebuilt, the feed resumes from the index's position after a restart, retries index failures,
//! loses nothing when it dies half-way through a page, and only one feed writes at a time. Then given/when/then cases of the projection's row logic alone.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use shop_commands::{Command, CommandHandler, HandlerConfig, ManualClock};
use shop_domain::inventory::{Inventory, InventoryCommand, ReleaseReason};
use shop_domain::product::{Product, ProductCommand, ProductDetails, Variant};
use shop_domain::{
    Aggregate, Currency, CustomerId, Money, OrderId, ProductId, ReviewId, Sku, WarehouseId,
};
use shop_eventstore::{Actor, EventStore};
use shop_projections::models::search::{POSITION_ORDER, SearchDocumentRow, SearchModel};
use shop_projections::rows::{TableRow, text};
use shop_projections::runner::{Projection, RunnerOptions, StatusBoard};
use shop_projections::search::{
    ProductDocument, SearchError, SearchFeed, SearchFeedHandle, SearchFeedOptions, SearchFilter,
    SearchIndex, SearchPosition, SearchQuery, SearchResults, SearchSettings, TantivyIndex,
};
use shop_projections::store::ReadStore;
use support::*;
use tokio::sync::watch;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

fn variant(s: &str, price: i64, colour: &str, size: &str) -> Variant {
    Variant {
        sku: sku(s),
        price: eur(price),
        attributes: BTreeMap::from([
            ("colour".to_owned(), colour.to_owned()),
            ("size".to_owned(), size.to_owned()),
        ]),
        weight_grams: Some(300),
    }
}

/// When every command is decided (the documents' `created_at`).
fn now() -> chrono::DateTime<chrono::Utc> {
    t0() + TimeDelta::hours(1)
}

async fn send<A: Aggregate>(store: &Arc<dyn EventStore>, id: &A::Id, body: A::Command) {
    let clock = Arc::new(ManualClock::new(now()));
    let h: CommandHandler<A> = CommandHandler::new(store.clone(), clock, HandlerConfig::default());
    h.handle(
        id,
        Command::new(Uuid::new_v4(), body, Actor::new("admin", "test")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

async fn product(store: &Arc<dyn EventStore>, id: &str, title: &str, variants: Vec<Variant>) {
    let product_id = ProductId::new(id).unwrap();
    let details = ProductDetails {
        title: title.into(),
        description: format!("{title}, made to last"),
        brand: "Acme".into(),
        category: vec!["Home".into(), "Things".into()],
        attributes: BTreeMap::new(),
        images: vec![format!("https://img.example/{id}.jpg")],
    };
    let command = ProductCommand::CreateProduct {
        product_id: product_id.clone(),
        details,
        variants,
    };
    send::<Product>(store, &product_id, command).await;
}

async fn product_command(store: &Arc<dyn EventStore>, id: &str, command: ProductCommand) {
    send::<Product>(store, &ProductId::new(id).unwrap(), command).await;
}

async fn stock(store: &Arc<dyn EventStore>, s: &str, command: InventoryCommand) {
    send::<Inventory>(store, &sku(s), command).await;
}

fn receive(s: &str, quantity: u32) -> InventoryCommand {
    InventoryCommand::ReceiveStock {
        sku: sku(s),
        warehouse: WarehouseId::new("w1").unwrap(),
        quantity,
        note: None,
    }
}

fn reserve(s: &str, order: &str, quantity: u32) -> InventoryCommand {
    InventoryCommand::ReserveStock {
        sku: sku(s),
        order_id: OrderId::new(order).unwrap(),
        quantity,
        expires_at: None,
    }
}

fn discontinue() -> ProductCommand {
    ProductCommand::DiscontinueProduct {
        reason: "no longer made".into(),
    }
}

/// A search index in a directory that outlives it (to reopen it, as after a restart).
fn open_index(dir: &Path) -> Arc<Flaky> {
    let index = TantivyIndex::open(dir, SearchSettings::default()).expect("open the index");
    Arc::new(Flaky::new(Arc::new(index)))
}

/// The feed, running in the background.
struct Feeding {
    handle: SearchFeedHandle,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Feeding {
    fn start(db: Arc<dyn ReadStore>, index: Arc<dyn SearchIndex>, board: Arc<StatusBoard>) -> Self {
        let options = SearchFeedOptions {
            lock_name: "search_feed".into(),
            // Small pages: a handful of products already takes several.
            page_rows: 3,
            poll_interval: Duration::from_millis(50),
            retry_base: Duration::from_millis(10),
            retry_max: Duration::from_millis(50),
        };
        let feed = SearchFeed::new(db, index, board, options);
        let handle = feed.handle();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(feed.run(stopped));
        Self { handle, stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.unwrap().unwrap();
    }
}

/// The runner (the search projection alone) and the feed into `index`.
fn start(env: &Env, index: Arc<dyn SearchIndex>) -> (Running, Feeding) {
    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(SearchModel)];
    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        projections,
        RunnerOptions::default(),
    );
    let feeding = Feeding::start(env.db.clone(), index, running.board.clone());
    (running, feeding)
}

/// The runner, caught up with the log, then the feed: every document is shipped once, as it
/// stands at the head (so the tests can count the index's writes).
async fn start_caught_up(env: &Env, index: Arc<dyn SearchIndex>) -> (Running, Feeding) {
    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(SearchModel)];
    let running = Running::start(
        env.events.clone(),
        env.db.clone(),
        projections,
        RunnerOptions::default(),
    );
    running.catch_up(env.events.as_ref(), &["search"]).await;
    let feeding = Feeding::start(env.db.clone(), index, running.board.clone());
    (running, feeding)
}

/// Waits until the projection has applied the whole log and the feed has shipped all of it.
async fn sync(env: &Env, running: &Running, feeding: &Feeding) {
    running.catch_up(env.events.as_ref(), &["search"]).await;
    let head = env.events.head_position().await.unwrap().unwrap();
    assert!(
        feeding.handle.wait_for(head, WAIT).await,
        "the feed did not reach {head}: {:?}",
        feeding.handle.status()
    );
}

/// Polls `check` until it holds (for conditions with nothing to wait on).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn search(index: &dyn SearchIndex, query: SearchQuery) -> SearchResults {
    index.search(&query).await.expect("search")
}

fn in_stock(text: &str) -> SearchQuery {
    SearchQuery::text(text).filtered(SearchFilter {
        in_stock: Some(true),
        ..SearchFilter::default()
    })
}

/// Every document the index holds, by product id, and its position.
async fn snapshot(index: &dyn SearchIndex) -> (Vec<ProductDocument>, Option<SearchPosition>, u64) {
    let all = search(index, SearchQuery::all().page(0, 100)).await;
    let mut docs = all.hits;
    docs.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    (
        docs,
        index.position().await.unwrap(),
        index.count().await.unwrap(),
    )
}

/// The stored row of a product.
async fn row(db: &dyn ReadStore, id: &str) -> SearchDocumentRow {
    let row = db
        .load(SearchDocumentRow::TABLE, "search_documents", &[text(id)])
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no search row for {id}"));
    SearchDocumentRow::from_row(row).unwrap()
}

async fn get(index: &dyn SearchIndex, id: &str) -> ProductDocument {
    index
        .get(id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{id} is not in the index"))
}

/// Documents carry every field the catalog has; `in_stock` follows the last unit; a price change
/// moves the range; a discontinued product disappears.
async fn documents_follow_products_and_stock(env: Env) {
    let dir = tempfile::tempdir().unwrap();
    let index = open_index(dir.path());
    let (running, feeding) = start(&env, index.clone());
    let shirt = vec![
        variant("SHIRT-R", 2500, "Red", "M"),
        variant("SHIRT-B", 3000, "Blue", "L"),
        variant("SHIRT-B2", 3000, "Blue", "M"),
    ];
    product(&env.events, "p-shirt", "Linen shirt", shirt).await;
    product(
        &env.events,
        "p-mug",
        "Stoneware mug",
        vec![variant("MUG-1", 900, "White", "One")],
    )
    .await;
    sync(&env, &running, &feeding).await;

    let shirt = get(index.as_ref(), "p-shirt").await;
    assert_eq!(shirt.title, "Linen shirt");
    assert_eq!(shirt.description, "Linen shirt, made to last");
    assert_eq!(shirt.brand, "Acme");
    assert_eq!(shirt.category, ["Home", "Things"]);
    assert_eq!(shirt.currency, "EUR");
    assert_eq!((shirt.price_min, shirt.price_max), (2500, 3000));
    assert_eq!((shirt.rating, shirt.review_count), (None, 0));
    assert_eq!(
        shirt.attributes,
        BTreeMap::from([
            (
                "colour".to_owned(),
                vec!["Blue".to_owned(), "Red".to_owned()]
            ),
            ("size".to_owned(), vec!["L".to_owned(), "M".to_owned()]),
        ])
    );
    assert_eq!(shirt.skus, ["SHIRT-R", "SHIRT-B", "SHIRT-B2"]);
    assert_eq!(
        shirt.image.as_deref(),
        Some("https://img.example/p-shirt.jpg")
    );
    assert_eq!(shirt.created_at, now().timestamp_millis());
    assert!(!shirt.in_stock, "no stock received yet");
    assert_eq!(
        shirt.position,
        row(env.db.as_ref(), "p-shirt").await.position()
    );
    assert_eq!(
        search(index.as_ref(), SearchQuery::text("linen"))
            .await
            .ids(),
        ["p-shirt"]
    );

    // Approved reviews: rating in hundredths and count.
    for (review, customer, rating) in [("r-1", "ann", 4), ("r-2", "bob", 5)] {
        let review_id = ReviewId::new(review).unwrap();
        let submit = ProductCommand::SubmitReview {
            review_id: review_id.clone(),
            customer_id: CustomerId::new(customer).unwrap(),
            rating,
            text: "Good".into(),
        };
        product_command(&env.events, "p-shirt", submit).await;
        let approve = ProductCommand::ApproveReview { review_id };
        product_command(&env.events, "p-shirt", approve).await;
    }
    sync(&env, &running, &feeding).await;
    let shirt = get(index.as_ref(), "p-shirt").await;
    assert_eq!((shirt.rating, shirt.review_count), (Some(450), 2));

    // Stock: two units of one SKU make the product in stock.
    stock(&env.events, "SHIRT-R", receive("SHIRT-R", 2)).await;
    sync(&env, &running, &feeding).await;
    let stocked = get(index.as_ref(), "p-shirt").await;
    assert!(stocked.in_stock);
    assert_eq!(
        search(index.as_ref(), in_stock("shirt")).await.ids(),
        ["p-shirt"]
    );

    // One unit reserved: still in stock, and the document (and its position) is left alone.
    stock(&env.events, "SHIRT-R", reserve("SHIRT-R", "o-1", 1)).await;
    sync(&env, &running, &feeding).await;
    assert_eq!(get(index.as_ref(), "p-shirt").await, stocked);
    assert_eq!(
        row(env.db.as_ref(), "p-shirt").await.position(),
        stocked.position
    );

    // The last unit reserved: out of stock.
    stock(&env.events, "SHIRT-R", reserve("SHIRT-R", "o-2", 1)).await;
    sync(&env, &running, &feeding).await;
    let sold_out = get(index.as_ref(), "p-shirt").await;
    assert!(!sold_out.in_stock);
    assert!(sold_out.position > stocked.position);
    assert!(
        search(index.as_ref(), in_stock("shirt"))
            .await
            .hits
            .is_empty()
    );

    // Committing the reservation changes nothing search shows.
    let commit = InventoryCommand::CommitReservation {
        sku: sku("SHIRT-R"),
        order_id: OrderId::new("o-2").unwrap(),
    };
    stock(&env.events, "SHIRT-R", commit).await;
    sync(&env, &running, &feeding).await;
    assert_eq!(get(index.as_ref(), "p-shirt").await, sold_out);

    // The order is cancelled: its unit comes back, and with it the product.
    let release = InventoryCommand::ReleaseReservation {
        sku: sku("SHIRT-R"),
        order_id: OrderId::new("o-2").unwrap(),
        reason: ReleaseReason::Cancelled,
    };
    stock(&env.events, "SHIRT-R", release).await;
    sync(&env, &running, &feeding).await;
    assert!(get(index.as_ref(), "p-shirt").await.in_stock);
    assert_eq!(
        search(index.as_ref(), in_stock("shirt")).await.ids(),
        ["p-shirt"]
    );

    // A price change moves the range.
    let price = ProductCommand::ChangeVariantPrice {
        sku: sku("SHIRT-R"),
        price: eur(3500),
    };
    product_command(&env.events, "p-shirt", price).await;
    sync(&env, &running, &feeding).await;
    let shirt = get(index.as_ref(), "p-shirt").await;
    assert_eq!((shirt.price_min, shirt.price_max), (3000, 3500));

    // A discontinued product disappears from search.
    product_command(&env.events, "p-mug", discontinue()).await;
    sync(&env, &running, &feeding).await;
    assert_eq!(index.get("p-mug").await.unwrap(), None);
    assert!(
        search(index.as_ref(), SearchQuery::text("mug"))
            .await
            .hits
            .is_empty()
    );
    assert_eq!(index.count().await.unwrap(), 1);
    assert!(row(env.db.as_ref(), "p-mug").await.deleted);

    let status = feeding.handle.status();
    assert!(status.upserted >= 7 && status.deleted == 1, "{status:?}");
    assert_eq!((status.refused, status.retrying), (0, false), "{status:?}");
    assert_eq!(status.shipped, index.position().await.unwrap());
    feeding.stop().await;
    running.stop().await;
}
both!(
    documents_follow_products_and_stock,
    documents_follow_products_and_stock
);

/// Five products (one discontinued) with stock.
async fn catalog(events: &Arc<dyn EventStore>) {
    for i in 0..5 {
        let s = format!("SKU-{i}");
        let v = vec![variant(&s, 1000 + i, "Green", "M")];
        product(events, &format!("p-{i}"), &format!("Lamp {i}"), v).await;
        stock(events, &s, receive(&s, 3)).await;
    }
    product_command(events, "p-3", discontinue()).await;
}

/// A restarted feed, and every row shipped once more through the port, change nothing.
async fn shipping_again_changes_nothing(env: Env) {
    catalog(&env.events).await;
    let dir = tempfile::tempdir().unwrap();
    let index = open_index(dir.path());
    let (running, feeding) = start_caught_up(&env, index.clone()).await;
    sync(&env, &running, &feeding).await;
    let before = snapshot(index.as_ref()).await;
    assert_eq!(before.2, 4);
    let first = feeding.handle.status();
    assert_eq!((first.upserted, first.deleted), (4, 1), "{first:?}");
    feeding.stop().await;

    let again = Feeding::start(env.db.clone(), index.clone(), running.board.clone());
    sync(&env, &running, &again).await;
    let status = again.handle.status();
    assert_eq!((status.upserted, status.deleted), (0, 0), "{status:?}");
    assert_eq!(snapshot(index.as_ref()).await, before);
    again.stop().await;

    // Every row, shipped again as it is stored.
    let rows = env
        .db
        .page(
            SearchDocumentRow::TABLE,
            "search_documents",
            POSITION_ORDER,
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    for row in rows {
        let row = SearchDocumentRow::from_row(row).unwrap();
        if row.deleted {
            assert!(!index.delete(&row.product_id, row.position()).await.unwrap());
        } else {
            assert_eq!(index.upsert(vec![row.parse().unwrap()]).await.unwrap(), 0);
        }
    }
    assert_eq!(snapshot(index.as_ref()).await, before);
    running.stop().await;
}
both!(
    shipping_again_changes_nothing,
    shipping_again_changes_nothing
);

/// A rebuild asked of the running feed clears the index and ships everything again; so does an
/// index found cleared behind the feed's back. Either way the index ends as it was.
async fn a_cleared_index_is_rebuilt(env: Env) {
    catalog(&env.events).await;
    let dir = tempfile::tempdir().unwrap();
    let index = open_index(dir.path());
    let (running, feeding) = start_caught_up(&env, index.clone()).await;
    sync(&env, &running, &feeding).await;
    let before = snapshot(index.as_ref()).await;

    feeding.handle.rebuild();
    eventually("the rebuild is done", || {
        let status = feeding.handle.status();
        async move { status.rebuilds == 1 && status.synced.is_some() }
    })
    .await;
    sync(&env, &running, &feeding).await;
    assert_eq!(snapshot(index.as_ref()).await, before);
    let status = feeding.handle.status();
    assert_eq!((status.upserted, status.deleted), (8, 2), "{status:?}");
    assert_eq!(index.get("p-3").await.unwrap(), None);

    // Cleared behind the feed's back (an operator, a restored backup): shipped again too.
    index.clear().await.unwrap();
    let held = before.1;
    eventually("the cleared index is filled again", || {
        let index = index.clone();
        async move { index.count().await.unwrap() == 4 && index.position().await.unwrap() == held }
    })
    .await;
    sync(&env, &running, &feeding).await;
    assert_eq!(snapshot(index.as_ref()).await, before);
    feeding.stop().await;
    running.stop().await;
}
both!(a_cleared_index_is_rebuilt, a_cleared_index_is_rebuilt);

/// A feed restarted on a reopened index resumes from the index's position: only what changed
/// while it was down is offered to the index. Index failures are retried and shown.
async fn the_feed_resumes_after_a_restart(env: Env) {
    catalog(&env.events).await;
    let dir = tempfile::tempdir().unwrap();
    let index = open_index(dir.path());
    let (running, feeding) = start_caught_up(&env, index.clone()).await;
    sync(&env, &running, &feeding).await;
    feeding.stop().await;
    let held = index.position().await.unwrap();
    drop(index);

    // While the feed is down: a price change, a new product, a discontinued one.
    let price = ProductCommand::ChangeVariantPrice {
        sku: sku("SKU-1"),
        price: eur(500),
    };
    product_command(&env.events, "p-1", price).await;
    product(
        &env.events,
        "p-new",
        "Lamp new",
        vec![variant("SKU-NEW", 700, "Red", "S")],
    )
    .await;
    product_command(&env.events, "p-4", discontinue()).await;
    running.catch_up(env.events.as_ref(), &["search"]).await;

    let index = open_index(dir.path());
    assert_eq!(index.position().await.unwrap(), held);
    assert_eq!(get(index.as_ref(), "p-1").await.price_min, 1001);
    // The index fails twice before it takes anything.
    index.fail_next(2);
    let feeding = Feeding::start(env.db.clone(), index.clone(), running.board.clone());
    sync(&env, &running, &feeding).await;

    assert_eq!(get(index.as_ref(), "p-1").await.price_min, 500);
    assert_eq!(get(index.as_ref(), "p-new").await.title, "Lamp new");
    assert_eq!(index.get("p-4").await.unwrap(), None);
    let offered = index.offered();
    assert!(
        !offered
            .iter()
            .any(|id| ["p-0", "p-2"].contains(&id.as_str())),
        "unchanged products were shipped again: {offered:?}"
    );
    let status = feeding.handle.status();
    assert_eq!((status.upserted, status.deleted), (2, 1), "{status:?}");
    let (_, error) = status.last_error.clone().expect("the failures are shown");
    assert!(error.contains("unavailable"), "{error}");
    assert!(!status.retrying, "{status:?}");
    feeding.stop().await;
    running.stop().await;
}
both!(
    the_feed_resumes_after_a_restart,
    the_feed_resumes_after_a_restart
);

/// A feed that dies half-way through a page (its index failing) loses nothing: rows are shipped
/// in position order, so the index's position, where the next feed resumes, never passes a row
/// not yet shipped. Here the index refuses deletions while the next row is a new product; had the
/// feed shipped the new product first, the next one would resume past the deletion.
async fn a_feed_that_dies_mid_page_loses_nothing(env: Env) {
    for id in ["p-a", "p-b", "p-c"] {
        let s = format!("SKU-{id}");
        product(&env.events, id, "Chair", vec![variant(&s, 100, "Oak", "M")]).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let index = open_index(dir.path());
    let (running, feeding) = start_caught_up(&env, index.clone()).await;
    sync(&env, &running, &feeding).await;
    feeding.stop().await;

    // One page: p-b's tombstone, then a new product.
    product_command(&env.events, "p-b", discontinue()).await;
    let v = vec![variant("SKU-p-d", 100, "Oak", "M")];
    product(&env.events, "p-d", "Chair", v).await;
    running.catch_up(env.events.as_ref(), &["search"]).await;
    index.fail_deletes(true);
    let dying = Feeding::start(env.db.clone(), index.clone(), running.board.clone());
    eventually("the feed fails on the deletion", || {
        let status = dying.handle.status();
        async move { status.retrying }
    })
    .await;
    dying.stop().await;
    assert_eq!(
        index.get("p-d").await.unwrap(),
        None,
        "shipped out of order"
    );

    index.fail_deletes(false);
    let feeding = Feeding::start(env.db.clone(), index.clone(), running.board.clone());
    sync(&env, &running, &feeding).await;
    assert_eq!(index.get("p-b").await.unwrap(), None);
    assert!(index.get("p-d").await.unwrap().is_some());
    assert_eq!(index.count().await.unwrap(), 3);
    feeding.stop().await;
    running.stop().await;
}
both!(
    a_feed_that_dies_mid_page_loses_nothing,
    a_feed_that_dies_mid_page_loses_nothing
);

/// Of two feeds on one read-model database (two processes), one writes the index; the other
/// waits for the lock and takes over when the first stops.
async fn one_feed_writes_an_index_at_a_time(env: Env) {
    catalog(&env.events).await;
    let dir = tempfile::tempdir().unwrap();
    let index = open_index(dir.path());
    let (running, first) = start_caught_up(&env, index.clone()).await;
    sync(&env, &running, &first).await;
    let other_db = env.same_db().await;
    let second = Feeding::start(other_db, index.clone(), running.board.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(second.handle.status().synced, None, "the standby shipped");

    first.stop().await;
    product(
        &env.events,
        "p-late",
        "Lamp late",
        vec![variant("SKU-LATE", 100, "Red", "S")],
    )
    .await;
    sync(&env, &running, &second).await;
    assert!(index.get("p-late").await.unwrap().is_some());
    second.stop().await;
    running.stop().await;
}
both!(
    one_feed_writes_an_index_at_a_time,
    one_feed_writes_an_index_at_a_time
);

/// A search index that records which products were offered to it and can be told to fail.
struct Flaky {
    inner: Arc<dyn SearchIndex>,
    offered: Mutex<Vec<String>>,
    failures: AtomicU32,
    failing_deletes: AtomicBool,
}

impl Flaky {
    fn new(inner: Arc<dyn SearchIndex>) -> Self {
        Self {
            inner,
            offered: Mutex::new(Vec::new()),
            failures: AtomicU32::new(0),
            failing_deletes: AtomicBool::new(false),
        }
    }

    fn fail_deletes(&self, failing: bool) {
        self.failing_deletes.store(failing, Ordering::SeqCst);
    }

    fn fail_next(&self, writes: u32) {
        self.failures.store(writes, Ordering::SeqCst);
    }

    fn offered(&self) -> Vec<String> {
        self.offered.lock().unwrap().clone()
    }

    fn write(&self, ids: impl IntoIterator<Item = String>) -> Result<(), SearchError> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(SearchError::Unavailable("injected".into()));
        }
        self.offered.lock().unwrap().extend(ids);
        Ok(())
    }
}

#[async_trait]
impl SearchIndex for Flaky {
    async fn upsert(&self, docs: Vec<ProductDocument>) -> Result<usize, SearchError> {
        self.write(docs.iter().map(|d| d.product_id.clone()))?;
        self.inner.upsert(docs).await
    }
    async fn delete(&self, id: &str, position: SearchPosition) -> Result<bool, SearchError> {
        if self.failing_deletes.load(Ordering::SeqCst) {
            return Err(SearchError::Unavailable("injected: deletions".into()));
        }
        self.write([id.to_owned()])?;
        self.inner.delete(id, position).await
    }
    async fn set_in_stock(
        &self,
        updates: Vec<(String, bool, SearchPosition)>,
    ) -> Result<usize, SearchError> {
        self.write(updates.iter().map(|u| u.0.clone()))?;
        self.inner.set_in_stock(updates).await
    }
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        self.inner.search(query).await
    }
    async fn get(&self, id: &str) -> Result<Option<ProductDocument>, SearchError> {
        self.inner.get(id).await
    }
    async fn position(&self) -> Result<Option<SearchPosition>, SearchError> {
        self.inner.position().await
    }
    async fn count(&self) -> Result<u64, SearchError> {
        self.inner.count().await
    }
    async fn clear(&self) -> Result<(), SearchError> {
        self.inner.clear().await
    }
    async fn health(&self) -> Result<(), SearchError> {
        self.inner.health().await
    }
}

/// The projection's row logic alone: events applied one at a time to an in-memory database.
mod given_when_then {
    use shop_commands::codec;
    use shop_domain::inventory::{Allocation, InventoryEvent};
    use shop_domain::product::ProductEvent;
    use shop_eventstore::{Metadata, Position, RecordedEvent, StreamName};
    use shop_projections::rows::{Changes, Decoded, Physical, RowCache, Rows};
    use shop_projections::store::Batch;
    use shop_projections::store::sqlite::SqliteReadStore;

    use super::*;

    struct Model {
        db: Arc<dyn ReadStore>,
        last: u64,
    }

    impl Model {
        async fn new() -> Self {
            let db: Arc<dyn ReadStore> = Arc::new(SqliteReadStore::in_memory().unwrap());
            let tables: Vec<_> = SearchModel
                .tables()
                .iter()
                .map(|t| (*t, t.name.to_owned()))
                .collect();
            db.create_tables(&tables, true).await.unwrap();
            Self { db, last: 0 }
        }

        /// Applies one event, as the next in the log, and commits it.
        async fn apply<E: serde::Serialize>(&mut self, stream: &str, event: &E) -> &mut Self {
            self.last += 1;
            let (event_type, data) = codec::encode(event).unwrap();
            let recorded = RecordedEvent {
                stream: StreamName::new(stream).unwrap(),
                revision: 0,
                position: Position::new(self.last, self.last),
                recorded_at: now(),
                event_id: Uuid::new_v4(),
                event_type,
                data,
                metadata: Metadata::new(
                    Uuid::new_v4(),
                    Uuid::new_v4(),
                    Actor::new("admin", "test"),
                    now(),
                ),
            };
            let physical = Physical::new();
            let mut cache = RowCache::new(100);
            let mut changes = Changes::default();
            let mut decoded = Decoded::default();
            changes.begin_event();
            let mut rows = Rows::new(
                self.db.as_ref(),
                &physical,
                &mut cache,
                &mut changes,
                &mut decoded,
            );
            SearchModel.apply(&recorded, &mut rows).await.unwrap();
            self.db
                .commit(Batch::from_changes(&mut changes, &physical))
                .await
                .unwrap();
            self
        }

        async fn product(&mut self, event: ProductEvent) -> &mut Self {
            self.apply("product-p-1", &event).await
        }

        async fn stock(&mut self, event: InventoryEvent) -> &mut Self {
            let stream = format!("inventory-{}", event.sku());
            self.apply(&stream, &event).await
        }

        async fn row(&self) -> SearchDocumentRow {
            row(self.db.as_ref(), "p-1").await
        }

        /// The position of the newest event applied.
        fn newest(&self) -> SearchPosition {
            SearchPosition(self.last, self.last)
        }
    }

    fn created(variants: Vec<Variant>) -> ProductEvent {
        ProductEvent::ProductCreated {
            product_id: ProductId::new("p-1").unwrap(),
            details: ProductDetails {
                title: "Desk".into(),
                ..ProductDetails::default()
            },
            currency: Currency::EUR,
            variants,
        }
    }

    fn allocation(quantity: u32) -> Vec<Allocation> {
        vec![Allocation {
            warehouse: WarehouseId::new("w1").unwrap(),
            quantity,
        }]
    }

    fn received(s: &str, quantity: u32) -> InventoryEvent {
        InventoryEvent::StockReceived {
            sku: sku(s),
            warehouse: WarehouseId::new("w1").unwrap(),
            quantity,
            note: None,
        }
    }

    fn reserved(s: &str, order: &str, quantity: u32) -> InventoryEvent {
        InventoryEvent::StockReserved {
            sku: sku(s),
            order_id: OrderId::new(order).unwrap(),
            quantity,
            allocations: allocation(quantity),
            backordered: 0,
            expires_at: now(),
        }
    }

    fn price_changed(s: &str, from: i64, to: i64) -> ProductEvent {
        ProductEvent::VariantPriceChanged {
            product_id: ProductId::new("p-1").unwrap(),
            sku: sku(s),
            previous_price: eur(from),
            price: eur(to),
        }
    }

    #[tokio::test]
    async fn stock_that_leaves_in_stock_as_it_was_does_not_touch_the_document() {
        let mut model = Model::new().await;
        model
            .product(created(vec![variant("D-1", 100, "Oak", "L")]))
            .await
            .stock(received("D-1", 5))
            .await;
        let stocked = model.row().await;
        assert!(stocked.parse().unwrap().in_stock);
        assert_eq!(stocked.position(), model.newest());

        model.stock(reserved("D-1", "o-1", 4)).await;
        assert_eq!(model.row().await, stocked, "4 of 5 reserved: unchanged");

        model.stock(reserved("D-1", "o-2", 1)).await;
        let sold_out = model.row().await;
        assert!(!sold_out.parse().unwrap().in_stock);
        assert_eq!(sold_out.position(), model.newest());
    }

    #[tokio::test]
    async fn stock_counted_before_the_product_exists_makes_it_in_stock() {
        let mut model = Model::new().await;
        model
            .stock(received("D-2", 1))
            .await
            .product(created(vec![
                variant("D-1", 100, "Oak", "L"),
                variant("D-2", 120, "Oak", "XL"),
            ]))
            .await;
        assert!(model.row().await.parse().unwrap().in_stock);
    }

    #[tokio::test]
    async fn a_price_change_inside_the_range_keeps_the_position() {
        let mut model = Model::new().await;
        model
            .product(created(vec![
                variant("D-1", 100, "Oak", "S"),
                variant("D-2", 150, "Oak", "M"),
                variant("D-3", 200, "Oak", "L"),
            ]))
            .await;
        let before = model.row().await;

        // Inside the range: the document (and so its position) stays.
        model.product(price_changed("D-2", 150, 120)).await;
        let after = model.row().await;
        assert_eq!(after.parse().unwrap(), before.parse().unwrap());
        assert_eq!(after.position(), before.position());

        // The change was kept: the cheapest variant going up now makes D-2 the cheapest.
        model.product(price_changed("D-1", 100, 300)).await;
        let doc = model.row().await.parse().unwrap();
        assert_eq!((doc.price_min, doc.price_max), (120, 300));
        assert_eq!(doc.position, model.newest());
    }

    #[tokio::test]
    async fn attribute_names_the_index_cannot_filter_on_are_left_out() {
        let mut model = Model::new().await;
        let mut odd = variant("D-1", 100, "Oak", "L");
        odd.attributes.insert("leg height".into(), "70 cm".into());
        odd.attributes.insert("finish.type".into(), "matte".into());
        model.product(created(vec![odd])).await;
        let doc = model.row().await.parse().unwrap();
        assert_eq!(
            doc.attributes.keys().collect::<Vec<_>>(),
            ["colour", "size"]
        );
    }

    #[tokio::test]
    async fn a_discontinued_product_is_deleted_and_stays_so() {
        let mut model = Model::new().await;
        model
            .product(created(vec![variant("D-1", 100, "Oak", "L")]))
            .await
            .product(ProductEvent::ProductDiscontinued {
                product_id: ProductId::new("p-1").unwrap(),
                reason: "gone".into(),
            })
            .await;
        let deleted = model.row().await;
        assert!(deleted.deleted);
        assert_eq!(deleted.position(), model.newest());

        // Reviews are still moderated and stock still moves; the tombstone stays as it is.
        model
            .product(ProductEvent::ReviewApproved {
                product_id: ProductId::new("p-1").unwrap(),
                review_id: ReviewId::new("r-1").unwrap(),
                customer_id: CustomerId::new("ann").unwrap(),
                rating: 5,
                approved_reviews: 1,
                rating_sum: 5,
            })
            .await
            .stock(received("D-1", 3))
            .await;
        assert_eq!(model.row().await, deleted);
    }
}
