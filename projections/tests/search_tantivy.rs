//! The search conformance suite against the embedded Tantivy adapter: in memory, and on disk
//! (the same cases on an index in a temp dir), plus what only a directory can show: positions
//! and tombstones survive closing and reopening the index.

use shop_projections::search::{
    SearchIndex, SearchQuery, SearchSettings, TantivyIndex,
    conformance::{catalog, pos, product},
};

async fn in_memory() -> Box<TantivyIndex> {
    Box::new(TantivyIndex::in_memory(SearchSettings::default()).expect("in-memory index"))
}

mod in_memory {
    shop_projections::search_conformance_tests!(super::in_memory);
}

mod on_disk {
    use std::ops::Deref;

    use super::*;

    /// An index in its own temp dir, removed when the case ends.
    pub struct OnDisk {
        index: TantivyIndex,
        _dir: tempfile::TempDir,
    }

    impl Deref for OnDisk {
        type Target = TantivyIndex;

        fn deref(&self) -> &TantivyIndex {
            &self.index
        }
    }

    pub async fn on_disk() -> OnDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let index = TantivyIndex::open(dir.path(), SearchSettings::default()).expect("open");
        OnDisk { index, _dir: dir }
    }

    shop_projections::search_conformance_tests!(on_disk);
}

#[tokio::test]
async fn positions_and_tombstones_survive_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let open = || TantivyIndex::open(dir.path(), SearchSettings::default()).expect("open");
    {
        let index = open();
        let mut docs = catalog();
        for doc in &mut docs {
            doc.position = pos(10);
        }
        index.upsert(docs).await.expect("upsert");
        assert!(index.delete("mug-travel", pos(20)).await.expect("delete"));
        let stock = vec![("hoodie-warm".to_string(), true, pos(15))];
        assert_eq!(index.set_in_stock(stock).await.expect("stock"), 1);
    }
    let index = open();
    assert_eq!(index.position().await.expect("position"), Some(pos(20)));
    assert_eq!(index.count().await.expect("count"), 7);
    assert_eq!(index.get("mug-travel").await.expect("get"), None);
    let hoodie = index
        .get("hoodie-warm")
        .await
        .expect("get")
        .expect("hoodie");
    assert_eq!((hoodie.in_stock, hoodie.position), (true, pos(15)));

    // The reopened index still applies the position rule, tombstones included.
    let stale = vec![
        product("mug-travel", "Mug").with_position(19),
        product("hoodie-warm", "Old").with_position(14),
    ];
    assert_eq!(index.upsert(stale).await.expect("upsert"), 0);
    assert_eq!(
        index
            .upsert(vec![product("mug-travel", "Mug").with_position(21)])
            .await
            .expect("upsert"),
        1
    );
    let results = index
        .search(&SearchQuery::text("hoodie"))
        .await
        .expect("search");
    assert_eq!(results.ids(), vec!["hoodie-warm"]);
    index.health().await.expect("healthy");
}

trait WithPosition {
    fn with_position(self, n: u64) -> Self;
}

impl WithPosition for shop_projections::search::ProductDocument {
    fn with_position(mut self, n: u64) -> Self {
        self.position = pos(n);
        self
    }
}
