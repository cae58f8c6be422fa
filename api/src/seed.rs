//! `shop seed --products N`: a realistic demo catalog with stock, so a new user can try search and
//! checkout at once. Deterministic (a seeded generator, no downloads): the same `--products` and
//! `--seed` write the same catalog, and every command has an id derived from what it does, so
//! running it again writes nothing new.

use std::collections::BTreeMap;
use std::sync::Arc;

use shop_commands::{Clock, Command, CommandError, CommandHandler, HandlerConfig, SystemClock};
use shop_domain::inventory::{Inventory, InventoryCommand};
use shop_domain::product::{Product, ProductCommand, ProductDetails, Variant};
use shop_domain::{Currency, Money, ProductId, Sku, WarehouseId};
use shop_eventstore::{Actor, EventStore};
use shop_projections::search::bench::Rng;
use uuid::Uuid;

use crate::sagas::StoreArgs;

/// The most products one seed writes.
pub const MAX_PRODUCTS: u32 = 100_000;
/// Names the seed's command ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x5eed_0000_4a1b_4c2d_8e3f_0123_4567_89ab);

/// What to seed.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// How many products (1 to 100,000), each with 1 to 3 variants.
    #[arg(long, default_value_t = 200)]
    pub products: u32,
    /// The generator's seed: another seed, another catalog.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub stores: StoreArgs,
}

/// (department, [(category, nouns, typical price in cents, variant attribute, its values)]).
type Department = (
    &'static str,
    &'static [(
        &'static str,
        &'static [&'static str],
        i64,
        &'static str,
        &'static [&'static str],
    )],
);

#[rustfmt::skip]
const DEPARTMENTS: &[Department] = &[
    ("Clothing", &[
        ("T-Shirts", &["t-shirt", "tee"], 2500, "size", &["S", "M", "L", "XL"]),
        ("Hoodies", &["hoodie", "sweatshirt"], 5500, "size", &["S", "M", "L", "XL"]),
        ("Jeans", &["jeans"], 7000, "size", &["30", "32", "34", "36"]),
        ("Jackets", &["jacket", "parka"], 12000, "size", &["S", "M", "L"]),
    ]),
    ("Footwear", &[
        ("Sneakers", &["sneakers", "trainers"], 9000, "size", &["40", "41", "42", "43", "44"]),
        ("Boots", &["boots"], 14000, "size", &["39", "41", "43", "45"]),
    ]),
    ("Electronics", &[
        ("Headphones", &["headphones", "earbuds"], 15000, "color", &["black", "white", "blue"]),
        ("Phones", &["smartphone"], 60000, "storage", &["128 GB", "256 GB", "512 GB"]),
        ("Cameras", &["camera"], 70000, "color", &["black", "silver"]),
    ]),
    ("Home", &[
        ("Mugs", &["mug"], 1500, "color", &["white", "black", "green", "red"]),
        ("Lamps", &["lamp"], 6000, "color", &["brass", "black", "white"]),
        ("Cookware", &["skillet", "saucepan"], 5000, "diameter", &["20 cm", "24 cm", "28 cm"]),
    ]),
    ("Sports", &[
        ("Yoga", &["yoga mat"], 3500, "color", &["purple", "teal", "grey"]),
        ("Bottles", &["bottle"], 2500, "volume", &["500 ml", "750 ml", "1 l"]),
    ]),
    ("Books", &[
        ("Fiction", &["novel"], 1800, "format", &["paperback", "hardcover"]),
        ("Cookbooks", &["cookbook"], 3000, "format", &["paperback", "hardcover"]),
    ]),
];

const ADJECTIVES: &[&str] = &[
    "classic",
    "premium",
    "organic",
    "vintage",
    "slim",
    "lightweight",
    "waterproof",
    "compact",
    "ergonomic",
    "essential",
    "everyday",
    "rugged",
    "portable",
    "cozy",
    "durable",
    "modern",
    "minimalist",
    "urban",
    "outdoor",
    "recycled",
    "handmade",
    "soft",
    "sleek",
    "insulated",
];

const MATERIALS: &[&str] = &[
    "cotton", "leather", "wool", "denim", "linen", "bamboo", "steel", "ceramic", "oak", "canvas",
];

const BRANDS: &[&str] = &[
    "Acme",
    "Northwind",
    "Globex",
    "Umbrella Goods",
    "Stark Supply",
    "Wayfarer",
    "Lumen",
    "Fjordline",
    "Kestrel",
    "Copperleaf",
    "Bluebird",
    "Summit & Co",
];

/// One demo product and the stock of each of its variants.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoProduct {
    /// Its id (`demo-00042`).
    pub product_id: ProductId,
    /// Its details.
    pub details: ProductDetails,
    /// Its variants, each with the units to receive (some none: out of stock).
    pub variants: Vec<(Variant, u32)>,
}

/// The `i`th product of the catalog of `seed`.
pub fn demo_product(seed: u64, i: u32) -> DemoProduct {
    let mut rng = Rng::new(seed.wrapping_mul(0x1000_0001).wrapping_add(u64::from(i)));
    let (department, categories) = rng.pick(DEPARTMENTS);
    let (category, nouns, typical, attribute, values) = rng.pick(categories);
    let adjective = rng.pick(ADJECTIVES);
    let material = rng.pick(MATERIALS);
    let noun = rng.pick(nouns);
    let brand = rng.pick(BRANDS);
    let title = format!("{} {material} {noun}", capitalised(adjective));
    let description = format!(
        "A {adjective} {noun} by {brand}, made from {material}. Part of our {} range: built to \
         last, easy care, free returns.",
        category.to_lowercase()
    );
    // 60 % to 160 % of the category's typical price, in whole cents ending in 99.
    let price = (typical * (60 + rng.below(101) as i64) / 100 / 100) * 100 + 99;
    let count = 1 + rng.below(3.min(values.len()));
    let start = rng.below(values.len());
    let product_id = ProductId::new(format!("demo-{i:05}")).expect("a valid id");
    let variants = (0..count)
        .map(|v| {
            let value = values[(start + v) % values.len()];
            let variant = Variant {
                sku: Sku::new(format!("DEMO-{i:05}-{v}")).expect("a valid SKU"),
                price: Money::new(price + 100 * v as i64, Currency::EUR),
                attributes: BTreeMap::from([((*attribute).to_owned(), value.to_owned())]),
                weight_grams: Some(100 + rng.below(1_900) as u32),
            };
            // One variant in ten is out of stock, the rest have 5 to 200 units.
            let units = if rng.below(10) == 0 {
                0
            } else {
                5 + rng.below(196) as u32
            };
            (variant, units)
        })
        .collect();
    DemoProduct {
        product_id,
        details: ProductDetails {
            title,
            description,
            brand: (*brand).to_owned(),
            category: vec![(*department).to_owned(), (*category).to_owned()],
            attributes: BTreeMap::from([("material".to_owned(), (*material).to_owned())]),
            images: vec![format!("https://images.example.com/demo/{i:05}.jpg")],
        },
        variants,
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn id(what: &str, seed: u64, key: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{what}|{seed}|{key}").as_bytes())
}

/// What a seed holds (a repeated run answers from the first: it writes nothing new).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    /// Products in the catalog of this seed.
    pub products: u32,
    /// SKUs with stock.
    pub stocked: u32,
}

/// Writes the catalog of `seed` with `products` products to `store`.
pub async fn seed_store(
    store: Arc<dyn EventStore>,
    products: u32,
    seed: u64,
) -> anyhow::Result<Seeded> {
    anyhow::ensure!(
        (1..=MAX_PRODUCTS).contains(&products),
        "--products is 1 to {MAX_PRODUCTS}"
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let catalog: CommandHandler<Product> =
        CommandHandler::new(store.clone(), clock.clone(), HandlerConfig::default());
    let inventory: CommandHandler<Inventory> =
        CommandHandler::new(store, clock, HandlerConfig::default());
    let actor = Actor::new("admin", "seed");
    let warehouse = WarehouseId::new("main")?;
    let mut seeded = Seeded::default();
    for i in 0..products {
        let demo = demo_product(seed, i);
        let create = ProductCommand::CreateProduct {
            product_id: demo.product_id.clone(),
            details: demo.details.clone(),
            variants: demo.variants.iter().map(|(v, _)| v.clone()).collect(),
        };
        let command = Command::new(
            id("product", seed, demo.product_id.as_str()),
            create,
            actor.clone(),
        );
        match catalog.handle(&demo.product_id, command).await {
            Ok(_) => seeded.products += 1,
            // Created by another seed with other details: leave it.
            Err(CommandError::Rejected(rejection)) => {
                tracing::warn!(product = %demo.product_id, %rejection, "left as it is");
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        for (variant, units) in &demo.variants {
            if *units == 0 {
                continue;
            }
            let receive = InventoryCommand::ReceiveStock {
                sku: variant.sku.clone(),
                warehouse: warehouse.clone(),
                quantity: *units,
                note: Some("demo seed".into()),
            };
            let command = Command::new(
                id("stock", seed, variant.sku.as_str()),
                receive,
                actor.clone(),
            );
            inventory.handle(&variant.sku, command).await?;
            seeded.stocked += 1;
        }
    }
    Ok(seeded)
}

/// `shop seed`.
pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=MAX_PRODUCTS).contains(&args.products),
        "--products is 1 to {MAX_PRODUCTS}"
    );
    let store = args.stores.events().await?;
    let seeded = seed_store(store, args.products, args.seed).await?;
    println!(
        "seeded {} products with stock for {} SKUs (running it again writes nothing new)",
        seeded.products, seeded.stocked
    );
    Ok(())
}
