//! Cases: the position rule. Every write names the log position it was built from; the index
//! ignores anything not newer than what it holds for that product, deletions included.

use super::{id_set, ids, pos, product, search};
use crate::search::{SearchFilter, SearchIndex, SearchQuery};

/// An upsert older than the held document is ignored.
pub async fn older_upsert_is_ignored<I: SearchIndex + ?Sized>(index: &I) {
    let newer = product("p-1", "Newer").at(10);
    assert_eq!(index.upsert(vec![newer.clone()]).await.expect("upsert"), 1);
    let older = product("p-1", "Older").at(5);
    assert_eq!(index.upsert(vec![older]).await.expect("upsert"), 0);
    assert_eq!(index.get("p-1").await.expect("get"), Some(newer));
    assert!(
        search(index, SearchQuery::text("older"))
            .await
            .hits
            .is_empty()
    );
    // Within one batch, documents apply in order.
    let batch = vec![
        product("p-2", "Two").at(3),
        product("p-2", "Deux").at(2),
        product("p-2", "Zwei").at(4),
    ];
    assert_eq!(index.upsert(batch).await.expect("upsert"), 2);
    assert_eq!(
        index.get("p-2").await.expect("get").map(|d| d.title),
        Some("Zwei".into())
    );
}

/// Replaying a write at the position already held changes nothing.
pub async fn replay_at_the_same_position_is_a_no_op<I: SearchIndex + ?Sized>(index: &I) {
    let original = product("p-1", "Original").at(7);
    assert_eq!(
        index.upsert(vec![original.clone()]).await.expect("upsert"),
        1
    );
    let replay = product("p-1", "Replayed").at(7);
    assert_eq!(index.upsert(vec![replay]).await.expect("upsert"), 0);
    assert_eq!(index.get("p-1").await.expect("get"), Some(original));
    assert!(
        !index.delete("p-1", pos(7)).await.expect("delete"),
        "not newer than 7"
    );
    assert!(index.get("p-1").await.expect("get").is_some());
}

/// A deletion leaves a tombstone: older upserts arriving later stay ignored, newer ones apply.
pub async fn delete_leaves_a_tombstone<I: SearchIndex + ?Sized>(index: &I) {
    index
        .upsert(vec![product("p-1", "Lamp").at(10)])
        .await
        .expect("upsert");
    assert!(index.delete("p-1", pos(20)).await.expect("delete"));
    assert!(
        !index.delete("p-1", pos(15)).await.expect("delete"),
        "older delete ignored"
    );
    assert_eq!(
        index
            .upsert(vec![product("p-1", "Lamp").at(15)])
            .await
            .expect("upsert"),
        0
    );
    assert_eq!(index.get("p-1").await.expect("get"), None);
    assert!(
        search(index, SearchQuery::text("lamp"))
            .await
            .hits
            .is_empty()
    );
    assert_eq!(
        index
            .upsert(vec![product("p-1", "Lamp").at(25)])
            .await
            .expect("upsert"),
        1
    );
    assert_eq!(
        id_set(&search(index, SearchQuery::text("lamp")).await),
        ids(&["p-1"])
    );
}

/// Deleting a product the index never held still guards it against older upserts.
pub async fn delete_of_an_unknown_product_guards_it<I: SearchIndex + ?Sized>(index: &I) {
    assert!(index.delete("p-9", pos(5)).await.expect("delete"));
    assert_eq!(
        index
            .upsert(vec![product("p-9", "Late").at(4)])
            .await
            .expect("upsert"),
        0
    );
    assert_eq!(index.get("p-9").await.expect("get"), None);
    assert_eq!(
        index
            .upsert(vec![product("p-9", "Late").at(6)])
            .await
            .expect("upsert"),
        1
    );
    assert!(index.get("p-9").await.expect("get").is_some());
}

/// Stock updates obey the same rule, and only touch `in_stock` (and the position).
pub async fn set_in_stock_is_guarded<I: SearchIndex + ?Sized>(index: &I) {
    let doc = product("p-1", "Kettle").at(10);
    index
        .upsert(vec![doc.clone(), product("p-2", "Toaster").at(10)])
        .await
        .expect("upsert");
    let stale = vec![("p-1".to_string(), false, pos(5))];
    assert_eq!(index.set_in_stock(stale).await.expect("set_in_stock"), 0);
    assert_eq!(index.get("p-1").await.expect("get"), Some(doc.clone()));

    let fresh = vec![
        ("p-1".to_string(), false, pos(12)),
        ("nobody".to_string(), false, pos(12)),
    ];
    assert_eq!(
        index.set_in_stock(fresh).await.expect("set_in_stock"),
        1,
        "unknown skipped"
    );
    let updated = index.get("p-1").await.expect("get").expect("still there");
    assert_eq!(updated, doc.clone().with_stock(false).at(12));
    let out = SearchFilter {
        in_stock: Some(false),
        ..SearchFilter::default()
    };
    assert_eq!(
        id_set(&search(index, SearchQuery::all().filtered(out)).await),
        ids(&["p-1"])
    );

    // A full document built before the stock change is older: ignored.
    assert_eq!(index.upsert(vec![doc.at(11)]).await.expect("upsert"), 0);
    assert_eq!(
        index.get("p-1").await.expect("get").map(|d| d.in_stock),
        Some(false)
    );
    // Deleted products are not resurrected by a stock update.
    assert!(index.delete("p-2", pos(13)).await.expect("delete"));
    let late = vec![("p-2".to_string(), true, pos(14))];
    assert_eq!(index.set_in_stock(late).await.expect("set_in_stock"), 0);
    assert_eq!(index.get("p-2").await.expect("get"), None);
}

/// `position` is the newest position applied, tombstones included; `None` when empty.
pub async fn position_is_the_newest_applied<I: SearchIndex + ?Sized>(index: &I) {
    assert_eq!(index.position().await.expect("position"), None);
    let docs = vec![
        product("a", "A").at(3),
        product("b", "B").at(9),
        product("c", "C").at(5),
    ];
    index.upsert(docs).await.expect("upsert");
    assert_eq!(index.position().await.expect("position"), Some(pos(9)));
    index
        .upsert(vec![product("a", "A").at(2)])
        .await
        .expect("upsert");
    assert_eq!(
        index.position().await.expect("position"),
        Some(pos(9)),
        "ignored writes don't count"
    );
    assert!(index.delete("c", pos(11)).await.expect("delete"));
    assert_eq!(index.position().await.expect("position"), Some(pos(11)));
    let stock = vec![(
        "a".to_string(),
        false,
        crate::search::SearchPosition(11, 12),
    )];
    index.set_in_stock(stock).await.expect("set_in_stock");
    assert_eq!(
        index.position().await.expect("position"),
        Some(crate::search::SearchPosition(11, 12))
    );
}

/// Test-only builders on documents.
trait DocExt {
    fn at(self, n: u64) -> Self;
    fn with_stock(self, in_stock: bool) -> Self;
}

impl DocExt for crate::search::ProductDocument {
    fn at(mut self, n: u64) -> Self {
        self.position = pos(n);
        self
    }

    fn with_stock(mut self, in_stock: bool) -> Self {
        self.in_stock = in_stock;
        self
    }
}
