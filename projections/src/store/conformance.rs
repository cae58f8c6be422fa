//! The read-model store's conformance suite: one set of cases, run against every adapter
//! (`projections/tests/store_conformance.rs`). Each case gets two handles on one fresh database,
//! as two processes would open it.

use std::sync::Arc;

use shop_eventstore::Position;

use super::{
    Batch, Checkpoint, DeadLetter, ReadStore, StoreError, TableWrite, keyset_columns, keyset_of,
};
use crate::rows::{Column, ColumnType, TableDef, Value, int, text};

/// Two handles on one fresh, empty database.
pub type Pair = (Arc<dyn ReadStore>, Arc<dyn ReadStore>);

const COLUMNS: &[Column] = &[
    Column {
        name: "id",
        ty: ColumnType::Text,
        nullable: false,
    },
    Column {
        name: "n",
        ty: ColumnType::Int,
        nullable: false,
    },
    Column {
        name: "flag",
        ty: ColumnType::Bool,
        nullable: true,
    },
    Column {
        name: "note",
        ty: ColumnType::Text,
        nullable: true,
    },
    Column {
        name: "amount",
        ty: ColumnType::Int,
        nullable: true,
    },
];

/// A table keyed by (id, n) with nullable columns of every type and an index.
pub static TABLE: TableDef = TableDef {
    name: "conformance_things",
    columns: COLUMNS,
    key_len: 2,
    indexes: &[&["note"]],
    append_only: false,
};

fn row(
    id: &str,
    n: i64,
    flag: Option<bool>,
    note: Option<&str>,
    amount: Option<i64>,
) -> Vec<Value> {
    vec![
        text(id),
        int(n),
        flag.map_or(Value::Null, Value::Bool),
        note.map_or(Value::Null, text),
        amount.map_or(Value::Null, Value::Int),
    ]
}

fn write(upserts: Vec<Vec<Value>>, deletes: Vec<Vec<Value>>) -> Batch {
    Batch {
        tables: vec![TableWrite {
            def: &TABLE,
            physical: TABLE.name.to_owned(),
            upserts,
            inserts: Vec::new(),
            deletes,
        }],
        ..Batch::default()
    }
}

fn checkpoint(commit: u64) -> Checkpoint {
    Checkpoint {
        position: Position::new(commit, commit),
        version: 3,
    }
}

async fn setup(db: &dyn ReadStore) {
    db.create_tables(&[(&TABLE, TABLE.name.to_owned())], true)
        .await
        .expect("create the table");
}

/// Creating tables twice is harmless; a missing row loads as `None`; an empty table counts 0.
pub async fn tables_are_created_once((db, _): Pair) {
    setup(db.as_ref()).await;
    setup(db.as_ref()).await;
    assert_eq!(
        db.load(&TABLE, TABLE.name, &[text("x"), int(1)])
            .await
            .unwrap(),
        None
    );
    assert_eq!(db.count(TABLE.name).await.unwrap(), 0);
    assert!(db.scan(&TABLE, TABLE.name).await.unwrap().is_empty());
}

/// Values of every type, NULLs and extremes come back as written; scans are ordered by key.
pub async fn values_round_trip((db, other): Pair) {
    setup(db.as_ref()).await;
    let rows = vec![
        row(
            "b",
            2,
            Some(true),
            Some("quote ' and \" and ünïcödé ✓"),
            Some(i64::MAX),
        ),
        row("a", 10, Some(false), None, Some(i64::MIN)),
        row("a", 2, None, Some(""), None),
    ];
    db.commit(write(rows.clone(), vec![])).await.unwrap();
    let scanned = other.scan(&TABLE, TABLE.name).await.unwrap();
    assert_eq!(
        scanned,
        vec![rows[2].clone(), rows[1].clone(), rows[0].clone()]
    );
    assert_eq!(
        other
            .load(&TABLE, TABLE.name, &[text("b"), int(2)])
            .await
            .unwrap(),
        Some(rows[0].clone())
    );
    assert_eq!(other.count(TABLE.name).await.unwrap(), 3);
}

/// Rows known to be new (a rebuild's bulk load) read back exactly like upserted ones, whatever
/// characters their text holds, next to upserts of the same batch; and a key that already exists
/// fails the whole batch, checkpoint included.
pub async fn inserts_load_new_rows((db, other): Pair) {
    setup(db.as_ref()).await;
    let inserted = vec![
        row(
            "i",
            1,
            Some(true),
            Some("tab\there\nnewline\r\\backslash \\N \\. end"),
            Some(-1),
        ),
        row("i", 2, None, None, None),
        row(
            "i",
            3,
            Some(false),
            Some("ünïcödé ✓, \"quotes\" and 'apostrophes'"),
            Some(i64::MAX),
        ),
    ];
    let mut batch = write(vec![row("u", 1, None, Some("up"), None)], vec![]);
    batch.tables[0].inserts = inserted.clone();
    batch.relaxed_durability = true;
    db.commit(batch).await.unwrap();
    let mut expected = inserted.clone();
    expected.push(row("u", 1, None, Some("up"), None));
    assert_eq!(other.scan(&TABLE, TABLE.name).await.unwrap(), expected);

    let mut clash = write(vec![], vec![]);
    clash.tables[0].inserts = vec![row("i", 9, None, None, None), row("i", 2, None, None, None)];
    clash.checkpoints.push((
        "clash".to_owned(),
        Checkpoint {
            position: Position::new(5, 5),
            version: 1,
        },
    ));
    assert!(db.commit(clash).await.is_err());
    assert_eq!(other.scan(&TABLE, TABLE.name).await.unwrap(), expected);
    assert_eq!(other.checkpoint("clash").await.unwrap(), None);
}

/// An upsert replaces the whole row; deleting a missing key is not an error.
pub async fn upserts_replace_and_deletes_remove((db, _): Pair) {
    setup(db.as_ref()).await;
    db.commit(write(
        vec![row("a", 1, Some(true), Some("x"), Some(5))],
        vec![],
    ))
    .await
    .unwrap();
    db.commit(write(
        vec![
            row("a", 1, None, None, Some(6)),
            row("b", 1, None, None, None),
        ],
        vec![vec![text("zz"), int(9)]],
    ))
    .await
    .unwrap();
    assert_eq!(
        db.load(&TABLE, TABLE.name, &[text("a"), int(1)])
            .await
            .unwrap(),
        Some(row("a", 1, None, None, Some(6)))
    );
    db.commit(write(vec![], vec![vec![text("a"), int(1)]]))
        .await
        .unwrap();
    assert_eq!(
        db.load(&TABLE, TABLE.name, &[text("a"), int(1)])
            .await
            .unwrap(),
        None
    );
    assert_eq!(db.count(TABLE.name).await.unwrap(), 1);
}

/// Rows and checkpoints commit together; a batch that fails writes neither.
pub async fn a_batch_is_all_or_nothing((db, other): Pair) {
    setup(db.as_ref()).await;
    assert_eq!(db.checkpoint("p").await.unwrap(), None);
    let mut batch = write(vec![row("a", 1, None, None, None)], vec![]);
    batch.checkpoints.push(("p".into(), checkpoint(7)));
    db.commit(batch).await.unwrap();
    assert_eq!(other.checkpoint("p").await.unwrap(), Some(checkpoint(7)));

    // The second table write names a table that does not exist: the whole batch fails.
    let mut bad = write(vec![row("b", 1, None, None, None)], vec![]);
    bad.tables.push(TableWrite {
        def: &TABLE,
        physical: "conformance_missing".into(),
        upserts: vec![row("c", 1, None, None, None)],
        inserts: Vec::new(),
        deletes: vec![],
    });
    bad.checkpoints.push(("p".into(), checkpoint(9)));
    assert!(db.commit(bad).await.is_err());
    assert_eq!(other.checkpoint("p").await.unwrap(), Some(checkpoint(7)));
    assert_eq!(
        other
            .load(&TABLE, TABLE.name, &[text("b"), int(1)])
            .await
            .unwrap(),
        None
    );

    db.reset_checkpoint("p").await.unwrap();
    assert_eq!(other.checkpoint("p").await.unwrap(), None);
}

/// Batches larger than one statement's chunk commit whole.
pub async fn large_batches_commit((db, _): Pair) {
    setup(db.as_ref()).await;
    let rows: Vec<_> = (0..25_000)
        .map(|n| row("bulk", n, Some(n % 2 == 0), None, Some(n)))
        .collect();
    db.commit(write(rows, vec![])).await.unwrap();
    assert_eq!(db.count(TABLE.name).await.unwrap(), 25_000);
    let deletes: Vec<_> = (0..12_000).map(|n| vec![text("bulk"), int(n)]).collect();
    db.commit(write(vec![], deletes)).await.unwrap();
    assert_eq!(db.count(TABLE.name).await.unwrap(), 13_000);
}

/// Parked events are kept per projection, in log order.
pub async fn dead_letters_are_kept((db, other): Pair) {
    let letter = |commit: u64, projection: &str| DeadLetter {
        projection: projection.into(),
        position: Position::new(commit, commit),
        event_id: uuid::Uuid::from_u128(u128::from(commit)),
        stream: "order-1".into(),
        event_type: "order.OrderPlaced.v1".into(),
        error: "cannot apply".into(),
    };
    let batch = Batch {
        dead_letters: vec![letter(9, "p"), letter(3, "p"), letter(5, "q")],
        ..Batch::default()
    };
    db.commit(batch).await.unwrap();
    let got = other.dead_letters("p").await.unwrap();
    assert_eq!(got, vec![letter(3, "p"), letter(9, "p")]);
}

/// A shadow table replaces the live one, with the checkpoint moved; the shadow name can be used
/// again afterwards.
pub async fn swaps_replace_live_tables((db, other): Pair) {
    setup(db.as_ref()).await;
    let shadow = format!("{}__rebuild", TABLE.name);
    db.commit(write(vec![row("old", 1, None, None, None)], vec![]))
        .await
        .unwrap();
    for round in 0..2 {
        db.create_tables(&[(&TABLE, shadow.clone())], false)
            .await
            .unwrap();
        let mut batch = Batch {
            tables: vec![TableWrite {
                def: &TABLE,
                physical: shadow.clone(),
                upserts: vec![row("new", round, None, Some("n"), None)],
                inserts: Vec::new(),
                deletes: vec![],
            }],
            ..Batch::default()
        };
        batch
            .checkpoints
            .push(("p@rebuild".into(), checkpoint(20 + round as u64)));
        db.commit(batch).await.unwrap();
        db.swap(&[(&TABLE, shadow.clone())], "p@rebuild", "p")
            .await
            .unwrap();
        assert_eq!(
            other.scan(&TABLE, TABLE.name).await.unwrap(),
            vec![row("new", round, None, Some("n"), None)]
        );
        assert_eq!(
            other.checkpoint("p").await.unwrap(),
            Some(checkpoint(20 + round as u64))
        );
        assert_eq!(other.checkpoint("p@rebuild").await.unwrap(), None);
    }
}

/// One owner at a time, across handles; released when the guard is dropped.
pub async fn locks_exclude_other_owners((db, other): Pair) {
    let guard = db.try_lock("catalog").await.unwrap().expect("a free lock");
    assert!(other.try_lock("catalog").await.unwrap().is_none());
    assert!(other.try_lock("orders").await.unwrap().is_some());
    drop(guard);
    let mut taken = None;
    for _ in 0..50 {
        taken = other.try_lock("catalog").await.unwrap();
        if taken.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(taken.is_some(), "the lock was not released");
}

const PAGED_COLUMNS: &[Column] = &[
    Column {
        name: "id",
        ty: ColumnType::Text,
        nullable: false,
    },
    Column {
        name: "featured",
        ty: ColumnType::Bool,
        nullable: false,
    },
    Column {
        name: "rank",
        ty: ColumnType::Int,
        nullable: false,
    },
    Column {
        name: "note",
        ty: ColumnType::Text,
        nullable: true,
    },
];

/// A table keyed by `id` to page through: NOT NULL order columns of each type with ties, an index
/// on them, and a nullable column.
pub static PAGED: TableDef = TableDef {
    name: "conformance_paged",
    columns: PAGED_COLUMNS,
    key_len: 1,
    indexes: &[&["rank"], &["featured", "rank"]],
    append_only: false,
};

fn paged(id: &str, featured: bool, rank: i64) -> Vec<Value> {
    vec![text(id), Value::Bool(featured), int(rank), Value::Null]
}

/// Ranks with ties (broken by id), ids inserted out of order.
fn paged_rows() -> Vec<Vec<Value>> {
    vec![
        paged("e", true, 2),
        paged("a", false, 3),
        paged("d", true, 1),
        paged("c", false, 2),
        paged("b", true, 2),
        paged("f", false, 1),
        paged("g", true, -5),
    ]
}

async fn setup_paged(db: &dyn ReadStore) {
    db.create_tables(&[(&PAGED, PAGED.name.to_owned())], true)
        .await
        .expect("create the table");
    let batch = Batch {
        tables: vec![TableWrite {
            def: &PAGED,
            physical: PAGED.name.to_owned(),
            upserts: paged_rows(),
            inserts: Vec::new(),
            deletes: vec![],
        }],
        ..Batch::default()
    };
    db.commit(batch).await.expect("commit the rows");
}

/// Walks the whole table `limit` rows at a time, each page continuing after the last row of the
/// one before; returns the ids of every page.
async fn walk(db: &dyn ReadStore, order_by: &[&str], limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut after: Option<Vec<Value>> = None;
    loop {
        let rows = db
            .page(&PAGED, PAGED.name, order_by, after.as_deref(), limit)
            .await
            .expect("a page");
        assert!(rows.len() <= limit, "a page longer than its limit");
        let Some(last) = rows.last() else {
            return pages;
        };
        after = Some(keyset_of(&PAGED, order_by, last).expect("the keyset of a row"));
        pages.push(ids_of(&rows));
        assert!(pages.len() <= 20, "the walk does not end");
    }
}

fn ids_of(rows: &[Vec<Value>]) -> Vec<String> {
    rows.iter()
        .map(|r| match &r[0] {
            Value::Text(id) => id.clone(),
            other => panic!("an id, not {other}"),
        })
        .collect()
}

fn pages(ids: &[&[&str]]) -> Vec<Vec<String>> {
    ids.iter()
        .map(|page| page.iter().map(|id| (*id).to_owned()).collect())
        .collect()
}

/// A keyset walk returns every row once, ordered by the order columns with ties broken by the
/// key, whole rows as written; booleans order false before true.
pub async fn pages_follow_the_keyset_order((db, other): Pair) {
    setup_paged(db.as_ref()).await;
    assert_eq!(
        walk(other.as_ref(), &["rank"], 3).await,
        pages(&[&["g", "d", "f"], &["b", "c", "e"], &["a"]])
    );
    assert_eq!(
        walk(other.as_ref(), &["featured", "rank"], 4).await,
        pages(&[&["f", "c", "a", "g"], &["d", "b", "e"]])
    );
    // Ordered by the key alone (the key is not repeated in the keyset).
    assert_eq!(
        walk(other.as_ref(), &[], 5).await,
        pages(&[&["a", "b", "c", "d", "e"], &["f", "g"]])
    );
    assert_eq!(
        walk(other.as_ref(), &["id"], 7).await,
        pages(&[&["a", "b", "c", "d", "e", "f", "g"]])
    );
    assert_eq!(keyset_columns(&PAGED, &["id"]).unwrap().len(), 1);
    let first = other
        .page(&PAGED, PAGED.name, &["rank"], None, 1)
        .await
        .unwrap();
    assert_eq!(first, vec![paged("g", true, -5)]);
}

/// `after` is exclusive: a row's own keyset continues after it; a tuple between rows starts at
/// the next one (a value of the order columns with the smallest key includes that value's ties).
/// `limit` caps the page; 0 gives nothing.
pub async fn page_after_is_exclusive_and_limited((db, _): Pair) {
    setup_paged(db.as_ref()).await;
    let page = |after: Vec<Value>, limit: usize| {
        let db = db.clone();
        async move {
            let rows = db
                .page(&PAGED, PAGED.name, &["rank"], Some(&after), limit)
                .await
                .expect("a page");
            ids_of(&rows)
        }
    };
    assert_eq!(page(vec![int(2), text("b")], 10).await, ["c", "e", "a"]);
    assert_eq!(page(vec![int(2), text("")], 10).await, ["b", "c", "e", "a"]);
    assert_eq!(page(vec![int(2), text("bb")], 2).await, ["c", "e"]);
    assert_eq!(page(vec![int(1), text("zzz")], 1).await, ["b"]);
    assert_eq!(page(vec![int(i64::MIN), text("")], 2).await, ["g", "d"]);
    assert_eq!(
        page(vec![int(3), text("a")], 10).await,
        Vec::<String>::new()
    );
    assert_eq!(
        page(vec![int(-5), text("g")], 0).await,
        Vec::<String>::new()
    );
    let all = db
        .page(&PAGED, PAGED.name, &["rank"], None, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
    let flagged = db
        .page(
            &PAGED,
            PAGED.name,
            &["featured", "rank"],
            Some(&[Value::Bool(false), int(3), text("a")]),
            2,
        )
        .await
        .unwrap();
    assert_eq!(ids_of(&flagged), ["g", "d"]);
}

/// An empty table pages as nothing, from the start or after a tuple.
pub async fn paging_an_empty_table((db, _): Pair) {
    db.create_tables(&[(&PAGED, PAGED.name.to_owned())], true)
        .await
        .unwrap();
    let start = db
        .page(&PAGED, PAGED.name, &["rank"], None, 10)
        .await
        .unwrap();
    assert!(start.is_empty());
    let after = db
        .page(
            &PAGED,
            PAGED.name,
            &["rank"],
            Some(&[int(0), text("x")]),
            10,
        )
        .await
        .unwrap();
    assert!(after.is_empty());
}

/// Names that are not plain identifiers or not columns, nullable order columns, repeated
/// columns and `after` tuples of the wrong length, with NULL or with a value of another type than
/// its column's are refused before any SQL runs.
pub async fn page_refuses_bad_requests((db, _): Pair) {
    setup_paged(db.as_ref()).await;
    let refused =
        |physical: &'static str, order_by: &'static [&'static str], after: Option<Vec<Value>>| {
            let db = db.clone();
            async move {
                match db
                    .page(&PAGED, physical, order_by, after.as_deref(), 10)
                    .await
                {
                    Err(StoreError::Invalid(_)) => {}
                    other => panic!("{physical} by {order_by:?} after {after:?}: {other:?}"),
                }
            }
        };
    refused("conformance_paged; DROP TABLE x", &["rank"], None).await;
    refused("Conformance_Paged", &["rank"], None).await;
    refused(PAGED.name, &["rank desc"], None).await;
    refused(PAGED.name, &["rank) > (0"], None).await;
    refused(PAGED.name, &["missing"], None).await;
    refused(PAGED.name, &["note"], None).await;
    refused(PAGED.name, &["rank", "rank"], None).await;
    refused(PAGED.name, &["rank"], Some(vec![int(1)])).await;
    refused(PAGED.name, &["rank"], Some(vec![int(1), text("a"), int(2)])).await;
    refused(PAGED.name, &["rank"], Some(vec![Value::Null, text("a")])).await;
    refused(PAGED.name, &["rank"], Some(vec![text("1"), text("a")])).await;
    refused(PAGED.name, &["featured"], Some(vec![int(1), text("a")])).await;
    assert!(keyset_of(&PAGED, &["missing"], &paged("a", true, 1)).is_err());
    // The table is untouched.
    assert_eq!(db.count(PAGED.name).await.unwrap(), 7);
}

/// A nullable order column may order a page that starts after a given tuple: rows holding NULL
/// in it are left out on every adapter; from the first row it is refused.
pub async fn nullable_order_columns_skip_nulls((db, _): Pair) {
    setup_paged(db.as_ref()).await;
    let mut noted = paged("h", false, 9);
    noted[3] = text("x");
    let mut other = paged("i", true, 8);
    other[3] = text("w");
    let batch = Batch {
        tables: vec![TableWrite {
            def: &PAGED,
            physical: PAGED.name.to_owned(),
            upserts: vec![noted, other],
            inserts: Vec::new(),
            deletes: vec![],
        }],
        ..Batch::default()
    };
    db.commit(batch).await.expect("commit the rows");
    let rows = db
        .page(
            &PAGED,
            PAGED.name,
            &["note"],
            Some(&[text(""), text("")]),
            10,
        )
        .await
        .expect("a page");
    let ids: Vec<_> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        ids,
        vec![text("i"), text("h")],
        "only the rows with a note, by note"
    );
    let rows = db
        .page(
            &PAGED,
            PAGED.name,
            &["note"],
            Some(&[text("x"), text("")]),
            10,
        )
        .await
        .expect("a page");
    assert_eq!(rows.len(), 1, "from a note on");
    assert!(matches!(
        db.page(&PAGED, PAGED.name, &["note"], None, 10).await,
        Err(StoreError::Invalid(_))
    ));
    // Only as the first column: later, a NULL would not leave the row out, and the databases
    // sort it at opposite ends.
    let after = [Value::Bool(false), text(""), text("")];
    assert!(matches!(
        db.page(&PAGED, PAGED.name, &["featured", "note"], Some(&after), 10)
            .await,
        Err(StoreError::Invalid(_))
    ));
}

/// `page_back` walks the same keyset the other way: newest first, strictly before the tuple
/// given, with ties broken by the key descending; an integer column at its maximum starts at the
/// top whatever follows it.
pub async fn pages_walk_backwards((db, other): Pair) {
    setup_paged(db.as_ref()).await;
    let mut pages = Vec::new();
    let mut before = vec![int(i64::MAX), text("")];
    loop {
        let rows = other
            .page_back(&PAGED, PAGED.name, &["rank"], &before, 3)
            .await
            .expect("a page");
        let Some(last) = rows.last() else { break };
        before = keyset_of(&PAGED, &["rank"], last).expect("the keyset of a row");
        pages.push(ids_of(&rows));
        assert!(pages.len() <= 20, "the walk does not end");
    }
    assert_eq!(
        pages,
        self::pages(&[&["a", "e", "c"], &["b", "f", "d"], &["g"]])
    );
    // Exclusive, like `after`: a row's own keyset continues with the row before it.
    let rows = other
        .page_back(&PAGED, PAGED.name, &["rank"], &[int(2), text("c")], 10)
        .await
        .expect("a page");
    assert_eq!(ids_of(&rows), vec!["b", "f", "d", "g"]);
    assert!(matches!(
        other
            .page_back(&PAGED, PAGED.name, &["rank"], &[int(2)], 10)
            .await,
        Err(StoreError::Invalid(_))
    ));
}

/// Declares one test per case for an adapter: `read_store_conformance!(pair_factory)`, where
/// `pair_factory().await` returns `Option<Pair>` (`None`: the adapter is not configured here).
#[macro_export]
macro_rules! read_store_conformance {
    ($pair:path) => {
        $crate::read_store_conformance!(@cases $pair;
            tables_are_created_once, values_round_trip, upserts_replace_and_deletes_remove,
            inserts_load_new_rows,
            a_batch_is_all_or_nothing, large_batches_commit, dead_letters_are_kept,
            swaps_replace_live_tables, locks_exclude_other_owners,
            pages_follow_the_keyset_order, page_after_is_exclusive_and_limited,
            paging_an_empty_table, page_refuses_bad_requests,
            nullable_order_columns_skip_nulls, pages_walk_backwards);
    };
    (@cases $pair:path; $($case:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(pair) = $pair().await else {
                    eprintln!("database not configured: skipping {}", stringify!($case));
                    return;
                };
                $crate::store::conformance::$case(pair).await;
            }
        )+
    };
}
