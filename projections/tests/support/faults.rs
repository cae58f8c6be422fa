//! A read-model store that fails on purpose: before a commit (nothing written), after a commit
//! (written, but the runner is told it failed: the lost acknowledgement), and on reads.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shop_projections::rows::{Row, TableDef, Value};
use shop_projections::store::{Batch, Checkpoint, DeadLetter, LockGuard, ReadStore, StoreError};

pub struct Faulty {
    pub inner: Arc<dyn ReadStore>,
    rng: Mutex<StdRng>,
    /// Probability of each kind of failure per call.
    pub p_before: f64,
    pub p_after: f64,
    pub p_load: f64,
    pub failures: AtomicU64,
    pub commits: AtomicU64,
}

impl Faulty {
    pub fn new(inner: Arc<dyn ReadStore>, seed: u64, p: f64) -> Arc<Self> {
        Arc::new(Self {
            inner,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            p_before: p,
            p_after: p,
            p_load: p / 10.0,
            failures: AtomicU64::new(0),
            commits: AtomicU64::new(0),
        })
    }

    fn roll(&self, p: f64) -> bool {
        let hit = self.rng.lock().unwrap().random_bool(p);
        if hit {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }
}

fn injected(what: &str) -> StoreError {
    StoreError::Backend(format!("injected failure: {what}"))
}

#[async_trait]
impl ReadStore for Faulty {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    async fn create_tables(
        &self,
        tables: &[(&'static TableDef, String)],
        indexes: bool,
    ) -> Result<(), StoreError> {
        self.inner.create_tables(tables, indexes).await
    }
    async fn drop_tables(&self, physical: &[String]) -> Result<(), StoreError> {
        self.inner.drop_tables(physical).await
    }
    async fn load(
        &self,
        def: &'static TableDef,
        physical: &str,
        key: &[Value],
    ) -> Result<Option<Row>, StoreError> {
        if self.roll(self.p_load) {
            return Err(injected("load"));
        }
        self.inner.load(def, physical, key).await
    }
    async fn scan(&self, def: &'static TableDef, physical: &str) -> Result<Vec<Row>, StoreError> {
        self.inner.scan(def, physical).await
    }
    async fn page(
        &self,
        def: &'static TableDef,
        physical: &str,
        order_by: &[&str],
        after: Option<&[Value]>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.inner.page(def, physical, order_by, after, limit).await
    }
    async fn page_back(
        &self,
        def: &'static TableDef,
        physical: &str,
        order_by: &[&str],
        before: &[Value],
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.inner
            .page_back(def, physical, order_by, before, limit)
            .await
    }
    async fn count(&self, physical: &str) -> Result<u64, StoreError> {
        self.inner.count(physical).await
    }
    async fn checkpoint(&self, projection: &str) -> Result<Option<Checkpoint>, StoreError> {
        self.inner.checkpoint(projection).await
    }
    async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if self.roll(self.p_before) {
            return Err(injected("before commit"));
        }
        self.inner.commit(batch).await?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        if self.roll(self.p_after) {
            return Err(injected("after commit (acknowledgement lost)"));
        }
        Ok(())
    }
    async fn swap(
        &self,
        tables: &[(&'static TableDef, String)],
        from: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        self.inner.swap(tables, from, to).await
    }
    async fn reset_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        self.inner.reset_checkpoint(projection).await
    }
    async fn dead_letters(&self, projection: &str) -> Result<Vec<DeadLetter>, StoreError> {
        self.inner.dead_letters(projection).await
    }
    async fn lock(&self, name: &str) -> Result<Box<dyn LockGuard>, StoreError> {
        self.inner.lock(name).await
    }
    async fn try_lock(&self, name: &str) -> Result<Option<Box<dyn LockGuard>>, StoreError> {
        self.inner.try_lock(name).await
    }
}
