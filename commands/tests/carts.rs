//! Cart operations that read the catalog: prices are captured from the product when an item is
//! added, and a guest cart merged on sign-in is repriced to current prices and closed.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use shop_commands::{
    AddToCart, CartError, CartService, Command, CommandHandler, MergeCarts, Outcome,
};
use shop_domain::cart::{Cart, CartCommand, CartOwner, CartStatus};
use shop_domain::product::{Product, ProductCommand, ProductDetails, Variant};
use shop_domain::{CartId, Currency, CustomerId, Money, ProductId};
use shop_eventstore::EventStore;
use support::*;
use uuid::Uuid;

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

struct Shop {
    store: Arc<dyn EventStore>,
    carts: CommandHandler<Cart>,
    products: CommandHandler<Product>,
    service: CartService,
    _dir: tempfile::TempDir,
}

async fn shop() -> Shop {
    let (store, dir) = sqlite_store().await;
    let carts: CommandHandler<Cart> = handler(store.clone());
    let products: CommandHandler<Product> = handler(store.clone());
    let service = CartService::new(carts.clone(), products.clone());
    let tee = ProductId::new("tee").unwrap();
    let variant = |s: &str, price| Variant {
        sku: sku(s),
        price: eur(price),
        attributes: BTreeMap::new(),
        weight_grams: None,
    };
    products
        .handle(
            &tee,
            command(ProductCommand::CreateProduct {
                product_id: tee.clone(),
                details: ProductDetails {
                    title: "Tee".into(),
                    description: String::new(),
                    brand: "Acme".into(),
                    category: vec!["Clothing".into()],
                    attributes: BTreeMap::new(),
                    images: vec![],
                },
                variants: vec![variant("TEE-S", 1000), variant("TEE-M", 1200)],
            }),
        )
        .await
        .unwrap();
    Shop {
        store,
        carts,
        products,
        service,
        _dir: dir,
    }
}

impl Shop {
    async fn open_cart(&self, id: &str, owner: CartOwner) -> CartId {
        let cart_id = CartId::new(id).unwrap();
        self.carts
            .handle(
                &cart_id,
                command(CartCommand::CreateCart {
                    cart_id: cart_id.clone(),
                    owner,
                    currency: Currency::EUR,
                }),
            )
            .await
            .unwrap();
        cart_id
    }

    async fn add(&self, cart: &CartId, s: &str, quantity: u32) -> Result<Outcome, CartError> {
        self.service
            .add_item(command(AddToCart {
                cart_id: cart.clone(),
                product_id: ProductId::new("tee").unwrap(),
                sku: sku(s),
                quantity,
            }))
            .await
    }

    async fn reprice(&self, s: &str, price: i64) {
        self.products
            .handle(
                &ProductId::new("tee").unwrap(),
                command(ProductCommand::ChangeVariantPrice {
                    sku: sku(s),
                    price: eur(price),
                }),
            )
            .await
            .unwrap();
    }
}

fn guest() -> CartOwner {
    CartOwner::Guest {
        token_hash: "a".repeat(64),
    }
}

fn customer() -> CartOwner {
    CartOwner::Customer {
        customer_id: CustomerId::new("alice").unwrap(),
    }
}

#[tokio::test]
async fn adding_an_item_captures_the_current_catalog_price() {
    let shop = shop().await;
    let cart = shop.open_cart("c1", customer()).await;
    shop.add(&cart, "TEE-S", 2).await.unwrap();
    let (state, _) = shop.carts.load(&cart).await.unwrap();
    assert_eq!(state.line(&sku("TEE-S")).unwrap().unit_price, eur(1000));

    // The price changes; the next add captures the new one for the whole line.
    shop.reprice("TEE-S", 900).await;
    shop.add(&cart, "TEE-S", 1).await.unwrap();
    let (state, _) = shop.carts.load(&cart).await.unwrap();
    let line = state.line(&sku("TEE-S")).unwrap();
    assert_eq!((line.quantity, line.unit_price), (3, eur(900)));
}

#[tokio::test]
async fn unknown_or_discontinued_products_are_refused_and_change_nothing() {
    let shop = shop().await;
    let cart = shop.open_cart("c1", customer()).await;
    let head = shop.store.head_position().await.unwrap();
    assert!(matches!(
        shop.add(&cart, "TEE-XL", 1).await,
        Err(CartError::UnknownVariant { .. })
    ));
    let missing = shop
        .service
        .add_item(command(AddToCart {
            cart_id: cart.clone(),
            product_id: ProductId::new("nope").unwrap(),
            sku: sku("TEE-S"),
            quantity: 1,
        }))
        .await;
    assert!(matches!(missing, Err(CartError::UnknownProduct(_))));
    assert_eq!(shop.store.head_position().await.unwrap(), head);

    shop.products
        .handle(
            &ProductId::new("tee").unwrap(),
            command(ProductCommand::DiscontinueProduct {
                reason: "end of line".into(),
            }),
        )
        .await
        .unwrap();
    let err = shop.add(&cart, "TEE-S", 1).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "product tee is discontinued and can no longer be added to a cart"
    );
}

#[tokio::test]
async fn a_guest_cart_merges_at_current_prices_and_closes_once() {
    let shop = shop().await;
    let guest_cart = shop.open_cart("g1", guest()).await;
    let mine = shop.open_cart("c1", customer()).await;
    shop.add(&guest_cart, "TEE-S", 2).await.unwrap();
    shop.add(&guest_cart, "TEE-M", 1).await.unwrap();
    shop.add(&mine, "TEE-S", 1).await.unwrap();
    shop.reprice("TEE-S", 800).await;

    let merge = Command::new(
        Uuid::new_v4(),
        MergeCarts {
            guest_cart_id: guest_cart.clone(),
            into_cart_id: mine.clone(),
        },
        admin(),
    );
    let outcome = shop.service.merge(merge.clone()).await.unwrap();
    assert_eq!(outcome.events_written, 1);
    let (state, _) = shop.carts.load(&mine).await.unwrap();
    let s = state.line(&sku("TEE-S")).unwrap();
    assert_eq!((s.quantity, s.unit_price), (3, eur(800)));
    let m = state.line(&sku("TEE-M")).unwrap();
    assert_eq!((m.quantity, m.unit_price), (1, eur(1200)));
    let (closed, _) = shop.carts.load(&guest_cart).await.unwrap();
    assert_eq!(
        closed.status(),
        &CartStatus::MergedInto {
            cart_id: mine.clone()
        }
    );

    // A retry of the same merge answers the same and writes nothing.
    let head = shop.store.head_position().await.unwrap();
    assert_eq!(shop.service.merge(merge).await.unwrap(), outcome);
    assert_eq!(shop.store.head_position().await.unwrap(), head);

    // The closed guest cart cannot be merged elsewhere.
    let other = shop.open_cart("c2", customer()).await;
    let again = shop
        .service
        .merge(command(MergeCarts {
            guest_cart_id: guest_cart,
            into_cart_id: other,
        }))
        .await;
    assert!(matches!(again, Err(CartError::NotMergeable { .. })));
}
