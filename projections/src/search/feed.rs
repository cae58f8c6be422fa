//! The search feed: ships the `search` projection's documents from SQL to a [`SearchIndex`].
//!
//! The projection ([`crate::models::search`]) keeps one row per product (the document, the
//! position of its last change, whether it is deleted) and commits them with its checkpoint, so
//! the table is a transactional outbox holding exactly the effect of the log up to the checkpoint.
//! The feed walks that table in position order (keyset paging, [`ReadStore::page`]) from the
//! index's own [`position`](SearchIndex::position), upserts the live documents and deletes the
//! deleted ones with their positions, and repeats. It keeps no state of its own that matters: after
//! a restart it asks the index where it stands. Everything it ships carries its position and the
//! index ignores what is not newer than what it holds, so shipping twice (a crash between a write
//! and the cursor moving, a restart, two passes over the same rows) changes nothing.
//!
//! Order matters for one thing: the index's position is the newest it applied, and a restart
//! resumes from it, so rows are shipped strictly in position order (a run of live documents in
//! one upsert, then a tombstone, then the next run): the index never holds a position while an
//! older row is still unshipped.
//!
//! Rebuilding the index: [`SearchFeedHandle::rebuild`] makes the running feed clear the index and
//! ship every row again from position 0 (see docs/search.md for what readers see meanwhile).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use shop_eventstore::Position;
use tokio::sync::watch;

use super::{ProductDocument, SearchError, SearchIndex, SearchPosition};
use crate::models::search::{NAME as PROJECTION, POSITION_ORDER, SearchDocumentRow};
use crate::rows::{Row, TableRow, Value, int, text};
use crate::runner::{StatusBoard, backoff};
use crate::store::{ReadStore, keyset_of, position_parts};

/// Feed tuning.
#[derive(Clone, Debug)]
pub struct SearchFeedOptions {
    /// The lock ([`ReadStore::lock`]) a running feed holds, so that of several processes only one
    /// writes the index (the others wait as standbys). Feeds into different indexes (a second
    /// index being built while the first serves) need different names.
    pub lock_name: String,
    /// Rows read per page (and documents per upsert, at most).
    pub page_rows: usize,
    /// Longest wait for new rows when caught up. The feed wakes as soon as the `search`
    /// projection's checkpoint moves on the [`StatusBoard`]; polling covers a projection run by
    /// another process (whose board this one does not see).
    pub poll_interval: Duration,
    /// First pause after a failure; doubled each time, capped by `retry_max`.
    pub retry_base: Duration,
    /// Longest pause after a failure.
    pub retry_max: Duration,
}

impl Default for SearchFeedOptions {
    fn default() -> Self {
        Self {
            lock_name: "search_feed".to_owned(),
            page_rows: 500,
            poll_interval: Duration::from_secs(1),
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
        }
    }
}

/// What the feed has done, for `/readyz`, `/metrics` and operators.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchFeedStatus {
    /// Every row up to this position has been shipped to the index (the position of the last row
    /// shipped; it goes back when the index is rebuilt).
    pub shipped: Option<SearchPosition>,
    /// The `search` projection's checkpoint as of the start of the feed's last complete pass:
    /// every change the projection made up to this log position is in the index (for
    /// read-your-writes on search: [`SearchFeedHandle::wait_for`]). `None` again after the index
    /// was cleared, until a pass has shipped everything again.
    pub synced: Option<Position>,
    /// Documents the index applied (upserts that were not newer are not counted).
    pub upserted: u64,
    /// Deletions the index applied.
    pub deleted: u64,
    /// Documents the index refused as invalid ([`SearchError::InvalidDocument`]: a product id
    /// with `.` or `:`, which the domain allows and the index does not). They are skipped, each
    /// logged and recorded in `last_error`; see docs/search.md.
    pub refused: u64,
    /// Index rebuilds done (clear, then everything shipped again).
    pub rebuilds: u64,
    /// Failing, and retrying after a pause.
    pub retrying: bool,
    /// The newest error, with when it happened.
    pub last_error: Option<(DateTime<Utc>, String)>,
}

/// Reads the feed's status, waits for it, asks for a rebuild. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SearchFeedHandle {
    status: watch::Sender<SearchFeedStatus>,
    rebuild: watch::Sender<u64>,
}

impl SearchFeedHandle {
    /// The current status.
    pub fn status(&self) -> SearchFeedStatus {
        self.status.borrow().clone()
    }

    /// Waits until every change the `search` projection made up to `position` is in the index,
    /// for at most `timeout`. True when it is; false on timeout.
    pub async fn wait_for(&self, position: Position, timeout: Duration) -> bool {
        let mut receiver = self.status.subscribe();
        let reached = receiver.wait_for(|s| s.synced.is_some_and(|p| p >= position));
        matches!(tokio::time::timeout(timeout, reached).await, Ok(Ok(_)))
    }

    /// Asks the running feed to rebuild the index: clear it, then ship every row again from
    /// position 0. The feed does it between two pages, so it stays the index's only writer.
    pub fn rebuild(&self) {
        self.rebuild.send_modify(|n| *n += 1);
    }
}

/// Ships the `search` projection's documents to a search index. One feed per index: it must be
/// the index's only writer (Meilisearch's position rule is read-then-write).
pub struct SearchFeed {
    db: Arc<dyn ReadStore>,
    index: Arc<dyn SearchIndex>,
    board: Arc<StatusBoard>,
    options: SearchFeedOptions,
    status: watch::Sender<SearchFeedStatus>,
    rebuild: watch::Sender<u64>,
    /// Rebuild requests seen.
    rebuild_requests: watch::Receiver<u64>,
    /// Rebuild requests done.
    rebuilt: u64,
    /// The keyset of the last row shipped (`None`: from the first row).
    cursor: Option<Vec<Value>>,
    /// The index's position after the feed's last pass, to notice an index that went back
    /// (cleared, or restored from an older copy) and ship again from where it stands.
    index_position: Option<Option<SearchPosition>>,
}

impl std::fmt::Debug for SearchFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchFeed")
            .field("options", &self.options)
            .field("cursor", &self.cursor)
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl SearchFeed {
    /// A feed from the `search` projection's table in `db` to `index`, woken by the projection's
    /// progress on `board`.
    pub fn new(
        db: Arc<dyn ReadStore>,
        index: Arc<dyn SearchIndex>,
        board: Arc<StatusBoard>,
        options: SearchFeedOptions,
    ) -> Self {
        let (rebuild, rebuild_requests) = watch::channel(0);
        Self {
            db,
            index,
            board,
            options,
            status: watch::channel(SearchFeedStatus::default()).0,
            rebuild,
            rebuild_requests,
            rebuilt: 0,
            cursor: None,
            index_position: None,
        }
    }

    /// A handle on this feed's status and rebuild requests.
    pub fn handle(&self) -> SearchFeedHandle {
        SearchFeedHandle {
            status: self.status.clone(),
            rebuild: self.rebuild.clone(),
        }
    }

    /// Takes the feed's lock (waiting while another process holds it), then ships until
    /// `shutdown` turns true: a pass over everything not yet in the index, then a wait for the
    /// projection to commit more (or the poll interval, or a rebuild request), and again.
    /// Failures (database, index) are retried forever with backoff and shown in the status; only
    /// failing to take the lock returns an error.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let _guard = tokio::select! {
            guard = self.db.lock(&self.options.lock_name) => {
                guard.context("taking the search feed's lock")?
            }
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        };
        tracing::info!(lock = %self.options.lock_name, "search feed active");
        let mut failures = 0u32;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let seen = match self.catch_up().await {
                Ok(seen) => {
                    failures = 0;
                    seen
                }
                Err(e) => {
                    failures += 1;
                    let pause = backoff(self.options.retry_base, self.options.retry_max, failures);
                    let error = format!("{e:#}");
                    tracing::warn!(%error, ?pause, "search feed failed; retrying");
                    self.status.send_modify(|s| {
                        s.retrying = true;
                        s.last_error = Some((Utc::now(), error));
                    });
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
                    }
                    continue;
                }
            };
            let board = self.board.clone();
            tokio::select! {
                _ = board.wait_past(PROJECTION, seen, self.options.poll_interval) => {}
                _ = self.rebuild_requests.changed() => {}
                _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            }
        }
    }

    /// One pass: does a pending rebuild, then ships every row not yet in the index. Returns the
    /// projection checkpoint the index is now in step with. For a process that drives the feed
    /// itself (a one-off command): it must own the index (hold the feed's lock), so no other feed
    /// writes it meanwhile.
    pub async fn catch_up(&mut self) -> anyhow::Result<Option<Position>> {
        let requested = *self.rebuild_requests.borrow_and_update();
        if requested != self.rebuilt {
            self.clear().await?;
            self.rebuilt = requested;
        }
        // The checkpoint first: the rows committed with it are visible to every page read after.
        let checkpoint = self.db.checkpoint(PROJECTION).await?.map(|c| c.position);
        if checkpoint.is_none() {
            // Nothing committed yet (and perhaps no table yet).
            return Ok(None);
        }
        let held = self.index.position().await?;
        self.resume(held);
        let mut shipped = false;
        loop {
            let rows = self
                .db
                .page(
                    SearchDocumentRow::TABLE,
                    SearchDocumentRow::TABLE.name,
                    POSITION_ORDER,
                    self.cursor.as_deref(),
                    self.options.page_rows.max(1),
                )
                .await?;
            let last_page = rows.len() < self.options.page_rows.max(1);
            if !rows.is_empty() {
                self.ship(rows).await?;
                shipped = true;
            }
            if last_page {
                break;
            }
        }
        let now_held = if shipped {
            self.index.position().await?
        } else {
            held
        };
        self.index_position = Some(now_held);
        self.status.send_modify(|s| {
            s.retrying = false;
            s.synced = s.synced.max(checkpoint);
        });
        Ok(checkpoint)
    }

    /// Rebuilds the index now: clears it and ships everything again. For a process that drives
    /// the feed itself; a running feed is asked through [`SearchFeedHandle::rebuild`] instead.
    pub async fn rebuild(&mut self) -> anyhow::Result<Option<Position>> {
        self.clear().await?;
        self.catch_up().await
    }

    async fn clear(&mut self) -> anyhow::Result<()> {
        self.index.clear().await?;
        self.cursor = None;
        self.index_position = None;
        self.status.send_modify(|s| {
            s.shipped = None;
            s.synced = None;
            s.rebuilds += 1;
        });
        tracing::info!("search index cleared: shipping every document again");
        Ok(())
    }

    /// Chooses where this pass starts, given the index's position `held`: after the last row
    /// shipped, unless the feed has just started or the index went back (cleared, restored from
    /// an older copy) since its last pass; then from the index's own position, rows at that
    /// position included (should two rows ever share a position and only one have been shipped,
    /// the other is not lost; shipping one twice is harmless).
    fn resume(&mut self, held: Option<SearchPosition>) {
        let went_back = self.index_position.is_some_and(|before| held < before);
        if self.index_position.is_none() || went_back {
            if went_back {
                tracing::info!(
                    ?held,
                    "the search index went back: shipping again from there"
                );
            }
            self.cursor = held.map(start_at);
            self.status.send_modify(|s| {
                s.shipped = held;
                if went_back {
                    // Changes the index held are gone until shipped again.
                    s.synced = None;
                }
            });
        }
    }

    /// Ships one page, in position order: each run of live documents in one upsert, each
    /// deleted one as a tombstone, then moves the cursor past the page.
    async fn ship(&mut self, rows: Vec<Row>) -> anyhow::Result<()> {
        let Some(last) = rows.last() else {
            return Ok(());
        };
        let cursor = keyset_of(SearchDocumentRow::TABLE, POSITION_ORDER, last)?;
        let mut run: Vec<ProductDocument> = Vec::new();
        let mut newest = None;
        for row in rows {
            let row = SearchDocumentRow::from_row(row)?;
            newest = Some(row.position());
            if row.deleted {
                self.upsert(std::mem::take(&mut run)).await?;
                self.delete(&row.product_id, row.position()).await?;
                continue;
            }
            match row.parse() {
                Ok(doc) => run.push(doc),
                // A row the projection wrote but that does not parse: shipping it can never
                // succeed, and waiting for it would stop every other product.
                Err(e) => self.refuse(&row.product_id, &format!("stored document: {e}")),
            }
        }
        self.upsert(run).await?;
        self.cursor = Some(cursor);
        self.status
            .send_modify(|s| s.shipped = s.shipped.max(newest));
        Ok(())
    }

    async fn upsert(&mut self, docs: Vec<ProductDocument>) -> Result<(), SearchError> {
        if docs.is_empty() {
            return Ok(());
        }
        match self.index.upsert(docs.clone()).await {
            Ok(applied) => self.count_upserts(applied),
            // One bad document fails the whole call: find it, ship the others.
            Err(SearchError::InvalidDocument(_)) if docs.len() > 1 => {
                for doc in docs {
                    let id = doc.product_id.clone();
                    match self.index.upsert(vec![doc]).await {
                        Ok(applied) => self.count_upserts(applied),
                        Err(SearchError::InvalidDocument(e)) => self.refuse(&id, &e),
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(SearchError::InvalidDocument(e)) => self.refuse(&docs[0].product_id, &e),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    async fn delete(&mut self, id: &str, position: SearchPosition) -> Result<(), SearchError> {
        match self.index.delete(id, position).await {
            Ok(applied) => {
                self.status.send_modify(|s| s.deleted += u64::from(applied));
                Ok(())
            }
            Err(SearchError::InvalidDocument(e)) => {
                self.refuse(id, &e);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn count_upserts(&self, applied: usize) {
        self.status.send_modify(|s| s.upserted += applied as u64);
    }

    fn refuse(&self, id: &str, error: &str) {
        tracing::error!(product = id, %error, "the search index refused a document; skipped");
        self.status.send_modify(|s| {
            s.refused += 1;
            s.last_error = Some((
                Utc::now(),
                format!("product {id} refused by the search index: {error}"),
            ));
        });
    }
}

/// The keyset that starts a walk at `position`, rows at that position included: the position
/// with the smallest product id.
fn start_at(position: SearchPosition) -> Vec<Value> {
    let (commit, prepare) = position_parts(Position::new(position.commit(), position.prepare()))
        // Positions the store cannot hold never reach the index through the feed.
        .unwrap_or((i64::MAX, i64::MAX));
    vec![int(commit), int(prepare), text("")]
}
