//! A deterministic catalog for the search benchmark: products that look like a shop's (two-level
//! categories, brands, titles and descriptions from word lists, colours and sizes, prices by
//! category), and typo queries built from the same vocabulary. Same seed, same data, on any
//! machine, so figures are comparable.

use std::collections::BTreeMap;

use crate::search::{Facet, ProductDocument, SearchFilter, SearchPosition, SearchQuery};

/// SplitMix64: small, fast, and good enough to make test data (the benchmarks' catalogs and
/// `shop seed`'s demo catalog).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True `percent` times in 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Top-level category, its subcategories with the nouns their titles use, and a typical price
/// in cents.
type Department = (
    &'static str,
    &'static [(&'static str, &'static [&'static str], i64)],
);

#[rustfmt::skip]
const DEPARTMENTS: &[Department] = &[
    ("Clothing", &[("T-Shirts", &["t-shirt", "tee"], 2500), ("Hoodies", &["hoodie", "sweatshirt"], 5500), ("Jeans", &["jeans"], 7000), ("Jackets", &["jacket", "parka"], 12000), ("Dresses", &["dress"], 6500)]),
    ("Footwear", &[("Sneakers", &["sneakers", "trainers"], 9000), ("Boots", &["boots"], 14000), ("Sandals", &["sandals"], 4000)]),
    ("Electronics", &[("Phones", &["smartphone", "phone"], 60000), ("Laptops", &["laptop", "notebook"], 110000), ("Headphones", &["headphones", "earbuds"], 15000), ("Televisions", &["television", "tv"], 80000), ("Cameras", &["camera"], 70000)]),
    ("Home", &[("Lamps", &["lamp"], 6000), ("Mugs", &["mug"], 1500), ("Chairs", &["chair"], 15000), ("Rugs", &["rug"], 12000), ("Cookware", &["skillet", "saucepan"], 5000)]),
    ("Sports", &[("Yoga", &["yoga mat"], 3500), ("Bottles", &["bottle"], 2500), ("Cycling", &["bicycle", "helmet"], 45000), ("Fitness", &["dumbbell", "kettlebell"], 4000)]),
    ("Beauty", &[("Skincare", &["moisturizer", "serum"], 3000), ("Fragrance", &["perfume"], 8000), ("Hair", &["shampoo", "conditioner"], 1500)]),
    ("Toys", &[("Puzzles", &["puzzle"], 2000), ("Blocks", &["building blocks"], 4500), ("Dolls", &["doll"], 3000)]),
    ("Books", &[("Fiction", &["novel"], 1800), ("Cookbooks", &["cookbook"], 3000), ("Travel", &["guidebook"], 2500)]),
];

const ADJECTIVES: &[&str] = &[
    "classic",
    "premium",
    "organic",
    "vintage",
    "slim",
    "lightweight",
    "waterproof",
    "wireless",
    "compact",
    "ergonomic",
    "deluxe",
    "essential",
    "everyday",
    "rugged",
    "portable",
    "oversized",
    "cozy",
    "breathable",
    "durable",
    "elegant",
    "modern",
    "minimalist",
    "professional",
    "ultra",
    "smart",
    "heritage",
    "signature",
    "urban",
    "outdoor",
    "recycled",
    "handmade",
    "luxury",
    "sporty",
    "soft",
    "bold",
    "sleek",
    "foldable",
    "insulated",
    "adjustable",
    "reversible",
];

const MATERIALS: &[&str] = &[
    "cotton",
    "leather",
    "wool",
    "denim",
    "linen",
    "bamboo",
    "steel",
    "ceramic",
    "oak",
    "walnut",
    "silicone",
    "nylon",
    "polyester",
    "cashmere",
    "suede",
    "aluminium",
    "glass",
    "canvas",
    "rubber",
    "velvet",
];

const SUFFIXES: &[&str] = &[
    "", "", "", "pro", "max", "mini", "plus", "edition", "set", "pack",
];

const FILLER: &[&str] = &[
    "designed",
    "for",
    "with",
    "and",
    "the",
    "a",
    "daily",
    "use",
    "comfort",
    "quality",
    "made",
    "from",
    "finish",
    "perfect",
    "gift",
    "easy",
    "care",
    "long",
    "lasting",
    "travel",
    "home",
    "office",
    "weekend",
    "season",
    "style",
    "fit",
    "feel",
    "built",
    "to",
    "last",
    "features",
    "includes",
    "machine",
    "washable",
    "hand",
    "wash",
    "only",
    "warranty",
    "years",
    "free",
    "returns",
    "shipping",
    "fast",
    "delivery",
    "sustainably",
    "sourced",
    "materials",
    "crafted",
    "by",
    "artisans",
    "in",
    "small",
    "batches",
    "ideal",
    "every",
    "occasion",
    "pairs",
    "well",
    "favourite",
    "tested",
    "experts",
    "award",
    "winning",
    "design",
    "timeless",
    "look",
    "colour",
    "matched",
    "stitching",
    "reinforced",
    "seams",
    "pockets",
    "zip",
    "closure",
    "battery",
    "charging",
    "cable",
    "included",
    "noise",
    "reduction",
    "bluetooth",
    "water",
    "resistant",
];

const COLOURS: &[&str] = &[
    "Black", "White", "Grey", "Navy", "Blue", "Red", "Green", "Olive", "Beige", "Brown", "Pink",
    "Yellow", "Orange", "Purple",
];

const SYLLABLES: &[&str] = &[
    "ac", "me", "zen", "ora", "vel", "tri", "no", "va", "lux", "pix", "kor", "sol", "te", "ra",
    "vi", "ta", "quo", "fen", "dal", "mir",
];

/// The generated catalog.
pub(super) struct Catalog {
    pub products: Vec<ProductDocument>,
    brands: Vec<String>,
}

/// Makes `n` products.
pub(super) fn catalog(n: usize, seed: u64) -> Catalog {
    let mut rng = Rng::new(seed);
    let brands: Vec<String> = (0..80)
        .map(|_| {
            let name = format!("{}{}", rng.pick(SYLLABLES), rng.pick(SYLLABLES));
            let mut chars = name.chars();
            chars
                .next()
                .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
        })
        .collect();
    let products = (0..n).map(|i| product(&mut rng, &brands, i)).collect();
    Catalog { products, brands }
}

fn product(rng: &mut Rng, brands: &[String], i: usize) -> ProductDocument {
    let (department, subs) = rng.pick(DEPARTMENTS);
    let (sub, nouns, typical) = rng.pick(subs);
    let noun = rng.pick(nouns);
    let suffix = rng.pick(SUFFIXES);
    let title = format!(
        "{} {} {noun} {suffix}",
        rng.pick(ADJECTIVES),
        rng.pick(MATERIALS)
    );
    let words = 12 + rng.below(18);
    let mut description = Vec::with_capacity(words);
    for _ in 0..words {
        description.push(match rng.below(10) {
            0 => *rng.pick(ADJECTIVES),
            1 => *rng.pick(MATERIALS),
            _ => *rng.pick(FILLER),
        });
    }
    let mut attributes = BTreeMap::new();
    let colours = (0..1 + rng.below(3))
        .map(|_| rng.pick(COLOURS).to_string())
        .collect();
    attributes.insert("colour".to_owned(), colours);
    let sizes: &[&str] = match *department {
        "Clothing" => &["XS", "S", "M", "L", "XL", "XXL"],
        "Footwear" => &["38", "39", "40", "41", "42", "43", "44", "45"],
        _ => &[],
    };
    if !sizes.is_empty() {
        let from = rng.below(sizes.len());
        attributes.insert(
            "size".to_owned(),
            sizes[from..].iter().map(|s| s.to_string()).collect(),
        );
    }
    // Prices spread from a third to three times the typical one.
    let price_min = (typical / 3 + rng.below((*typical * 3) as usize) as i64).max(100);
    let rated = rng.chance(80);
    let position = SearchPosition(i as u64 + 1, i as u64 + 1);
    ProductDocument {
        product_id: format!("bench-{i:07}"),
        title: title.trim().to_owned(),
        description: description.join(" "),
        brand: if rng.chance(5) {
            String::new()
        } else {
            rng.pick(brands).clone()
        },
        category: vec![department.to_string(), sub.to_string()],
        currency: "EUR".to_owned(),
        price_min,
        price_max: price_min + price_min * rng.below(50) as i64 / 100,
        rating: rated.then(|| 250 + rng.below(251) as u32),
        review_count: if rated { 1 + rng.below(400) as u32 } else { 0 },
        in_stock: rng.chance(85),
        attributes,
        skus: vec![format!("bench-{i:07}-1")],
        image: Some(format!("https://img.example/bench/{i}.jpg")),
        created_at: 1_700_000_000_000 + i as i64 * 60_000,
        position,
    }
}

impl Catalog {
    /// `n` queries: one vocabulary word, with one typo (never on the first letter, which would
    /// cost two) when it has five letters or more, the three facets, and a filter.
    pub fn queries(&self, n: usize, seed: u64) -> Vec<SearchQuery> {
        let mut rng = Rng::new(seed ^ 0x5EA2_C4E5);
        let vocabulary: Vec<&str> = ADJECTIVES
            .iter()
            .chain(MATERIALS)
            .chain(
                DEPARTMENTS
                    .iter()
                    .flat_map(|(_, subs)| subs.iter().flat_map(|s| s.1.iter())),
            )
            .copied()
            .filter(|w| !w.contains(' ') && !w.contains('-'))
            .collect();
        (0..n)
            .map(|_| {
                let word = rng.pick(&vocabulary);
                let text = if word.chars().count() >= 5 {
                    typo(&mut rng, word)
                } else {
                    word.to_string()
                };
                let filter = match rng.below(3) {
                    0 => SearchFilter {
                        in_stock: Some(true),
                        ..SearchFilter::default()
                    },
                    1 => SearchFilter {
                        price_max: Some(20_000),
                        ..SearchFilter::default()
                    },
                    _ => SearchFilter {
                        brands: vec![rng.pick(&self.brands).clone()],
                        ..SearchFilter::default()
                    },
                };
                SearchQuery::text(text).filtered(filter).with_facets([
                    Facet::Brand,
                    Facet::Category,
                    Facet::Attribute("colour".into()),
                ])
            })
            .collect()
    }
}

/// One edit (substitution, deletion, insertion or transposition) after the first letter.
fn typo(rng: &mut Rng, word: &str) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    let at = 1 + rng.below(chars.len() - 1);
    let letter = (b'a' + rng.below(26) as u8) as char;
    match rng.below(4) {
        0 if chars[at] != letter => chars[at] = letter,
        1 => {
            chars.remove(at);
        }
        2 if at + 1 < chars.len() && chars[at] != chars[at + 1] => chars.swap(at, at + 1),
        _ => chars.insert(at, letter),
    }
    chars.into_iter().collect()
}
