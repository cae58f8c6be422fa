//! Cases: writing, reading back, counting, deleting and clearing.

use super::{catalog, counts, id_set, ids, load_catalog, pos, product, search};
use crate::search::{Facet, SearchError, SearchIndex, SearchQuery};

/// A written document reads back as written, and is searchable at once.
pub async fn upsert_then_get<I: SearchIndex + ?Sized>(index: &I) {
    assert_eq!(index.get("tshirt-classic").await.expect("get"), None);
    load_catalog(index).await;
    let expected = catalog().remove(0);
    let got = index.get("tshirt-classic").await.expect("get");
    assert_eq!(got.as_ref(), Some(&expected));
    let results = search(index, SearchQuery::text("classic")).await;
    assert_eq!(
        results.hits,
        vec![expected],
        "hits carry the whole document"
    );
    assert_eq!(results.total, 1);
    index.health().await.expect("a working index is healthy");
}

/// One invalid document fails the whole batch before anything is written.
pub async fn invalid_documents_write_nothing<I: SearchIndex + ?Sized>(index: &I) {
    let good = product("good-1", "Good");
    for bad in [
        product("has space", "Bad"),
        product("", "Bad"),
        product("é", "Bad"),
    ] {
        let err = index.upsert(vec![good.clone(), bad]).await.unwrap_err();
        assert!(matches!(err, SearchError::InvalidDocument(_)), "{err:?}");
    }
    let mut bad_key = product("bad-key", "Bad");
    bad_key
        .attributes
        .insert("col.our".into(), vec!["Red".into()]);
    let err = index.upsert(vec![good, bad_key]).await.unwrap_err();
    assert!(matches!(err, SearchError::InvalidDocument(_)), "{err:?}");
    assert_eq!(index.count().await.expect("count"), 0);
    assert_eq!(index.position().await.expect("position"), None);
}

/// `count` is the number of live products.
pub async fn count_follows_writes<I: SearchIndex + ?Sized>(index: &I) {
    assert_eq!(index.count().await.expect("count"), 0);
    load_catalog(index).await;
    assert_eq!(index.count().await.expect("count"), 8);
    assert!(index.delete("mug-travel", pos(2)).await.expect("delete"));
    assert!(index.delete("never-there", pos(3)).await.expect("delete"));
    assert_eq!(
        index.count().await.expect("count"),
        7,
        "tombstones are not counted"
    );
}

/// A deleted product is gone from get, search, totals and facets.
pub async fn delete_removes_everywhere<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    assert!(
        index
            .delete("tshirt-classic", pos(2))
            .await
            .expect("delete")
    );
    assert_eq!(index.get("tshirt-classic").await.expect("get"), None);
    assert!(
        search(index, SearchQuery::text("classic"))
            .await
            .hits
            .is_empty()
    );
    let all = search(index, SearchQuery::all().with_facets([Facet::Brand])).await;
    assert_eq!(all.total, 7);
    assert!(!id_set(&all).contains("tshirt-classic"));
    assert_eq!(
        all.facet(&Facet::Brand),
        counts(&[("Acme", 2), ("Fleet", 1), ("Gadgetry", 2), ("Sonique", 1)])
    );
}

/// `clear` removes documents and tombstones: afterwards any position is accepted again.
pub async fn clear_empties_everything<I: SearchIndex + ?Sized>(index: &I) {
    load_catalog(index).await;
    assert!(index.delete("mug-travel", pos(9)).await.expect("delete"));
    index.clear().await.expect("clear");
    assert_eq!(index.count().await.expect("count"), 0);
    assert_eq!(index.position().await.expect("position"), None);
    assert_eq!(index.get("tshirt-classic").await.expect("get"), None);
    let all = search(index, SearchQuery::all()).await;
    assert_eq!((all.total, all.hits.len()), (0, 0));
    assert_eq!(all.price_stats, None);
    let applied = index
        .upsert(vec![product("mug-travel", "Mug")])
        .await
        .expect("upsert");
    assert_eq!(applied, 1, "the tombstone at 9 went with the clear");
    assert_eq!(
        id_set(&search(index, SearchQuery::all()).await),
        ids(&["mug-travel"])
    );
}
