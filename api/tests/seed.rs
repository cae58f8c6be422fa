//! `shop seed`: a deterministic demo catalog with stock; valid for the product and inventory
//! rules, the same on every run, and idempotent.

mod support;

use std::sync::Arc;

use shop_api::seed::{demo_product, seed_store};
use shop_domain::Aggregate;
use shop_domain::inventory::Inventory;
use shop_domain::product::Product;
use shop_eventstore::EventStore;
use shop_eventstore::sqlite::{SqliteEventStore, SqliteOptions};

#[test]
fn the_catalog_is_deterministic_and_varied() {
    assert_eq!(demo_product(1, 7), demo_product(1, 7));
    assert_ne!(demo_product(1, 7), demo_product(2, 7));
    let products: Vec<_> = (0..200).map(|i| demo_product(1, i)).collect();
    let brands: std::collections::BTreeSet<_> =
        products.iter().map(|p| p.details.brand.clone()).collect();
    let departments: std::collections::BTreeSet<_> = products
        .iter()
        .map(|p| p.details.category[0].clone())
        .collect();
    assert!(brands.len() >= 8, "{brands:?}");
    assert!(departments.len() >= 5, "{departments:?}");
    let variants: Vec<_> = products.iter().flat_map(|p| &p.variants).collect();
    let out_of_stock = variants.iter().filter(|(_, units)| *units == 0).count();
    assert!(out_of_stock > 0 && out_of_stock < variants.len() / 4);
    // Every product passes the catalog's rules.
    let at = shop_domain::Context::at(chrono::Utc::now());
    for p in &products {
        let create = shop_domain::product::ProductCommand::CreateProduct {
            product_id: p.product_id.clone(),
            details: p.details.clone(),
            variants: p.variants.iter().map(|(v, _)| v.clone()).collect(),
        };
        let state = <Product as Aggregate>::State::default();
        Product::decide(&state, &create, &at).unwrap_or_else(|e| panic!("{}: {e}", p.product_id));
        assert!((1..=3).contains(&p.variants.len()));
    }
}

#[tokio::test]
async fn seeding_writes_valid_products_with_stock_once() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(
        SqliteEventStore::open(dir.path().join("events.db"), SqliteOptions::default())
            .await
            .unwrap(),
    );
    let first = seed_store(store.clone(), 50, 1).await.unwrap();
    assert_eq!(first.products, 50);
    assert!(first.stocked > 40, "{first:?}");
    let head = store.head_position().await.unwrap();
    let again = seed_store(store.clone(), 50, 1).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(
        store.head_position().await.unwrap(),
        head,
        "a second run writes nothing"
    );

    for i in [0u32, 17, 49] {
        let demo = demo_product(1, i);
        let product =
            support::fold::<Product>(&store, format!("product-{}", demo.product_id)).await;
        assert_eq!(product.details().title, demo.details.title);
        for (variant, units) in &demo.variants {
            let stock =
                support::fold::<Inventory>(&store, format!("inventory-{}", variant.sku)).await;
            assert_eq!(stock.available(), u64::from(*units), "{}", variant.sku);
        }
    }
    assert!(seed_store(store, 0, 1).await.is_err());
}
