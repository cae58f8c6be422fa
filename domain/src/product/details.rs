//! The catalog content of a product and of its variants, and the limits every piece must respect.
//! These types are part of the event wire format (`ProductCreated`, `ProductDetailsUpdated`,
//! `VariantAdded`): add fields only with `#[serde(default)]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ProductRejection;
use crate::{Currency, Money, Sku};

/// Longest title, in characters (a title needs at least one non-blank character).
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest brand, in characters (an empty brand means "no brand").
pub const MAX_BRAND_CHARS: usize = 100;
/// Deepest category path (`["Clothing", "T-Shirts"]` has depth 2).
pub const MAX_CATEGORY_DEPTH: usize = 10;
/// Longest category level, in characters.
pub const MAX_CATEGORY_LEVEL_CHARS: usize = 100;
/// Most attributes on a product or on one variant.
pub const MAX_ATTRIBUTES: usize = 50;
/// Longest attribute name, in characters.
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 100;
/// Longest attribute value, in characters.
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 500;
/// Most images on a product.
pub const MAX_IMAGES: usize = 20;
/// Longest image URL, in characters.
pub const MAX_IMAGE_URL_CHARS: usize = 2_048;
/// Most variants (SKUs) on a product.
pub const MAX_VARIANTS: usize = 250;
/// Highest variant price in minor units: the same cap carts and orders apply to unit prices.
pub const MAX_PRICE_MINOR: i64 = crate::pricing::MAX_UNIT_PRICE_MINOR;
/// Heaviest variant, in grams (one tonne).
pub const MAX_WEIGHT_GRAMS: u32 = 1_000_000;

/// What a product is, as shown in the catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDetails {
    /// 1 to [`MAX_TITLE_CHARS`] characters, not blank.
    pub title: String,
    /// Up to [`MAX_DESCRIPTION_CHARS`] characters; may be empty.
    pub description: String,
    /// Up to [`MAX_BRAND_CHARS`] characters; empty for an unbranded product.
    pub brand: String,
    /// From the broadest category to the narrowest, e.g. `["Clothing", "T-Shirts"]`; empty for an
    /// uncategorised product.
    pub category: Vec<String>,
    /// Free-form product attributes (`material` → `cotton`).
    pub attributes: BTreeMap<String, String>,
    /// Image URLs (`https://` or `http://`), at most [`MAX_IMAGES`], no duplicates; the first is
    /// the main image.
    pub images: Vec<String>,
}

/// One purchasable variant of a product: its own SKU, price and attributes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// The stock-keeping unit; unique within the product (uniqueness across products is the
    /// catalog read model's job, checked by the API before creating or adding a variant).
    pub sku: Sku,
    /// Unit price: positive, at most [`MAX_PRICE_MINOR`], in the product's one currency.
    pub price: Money,
    /// What distinguishes this variant (`colour` → `red`, `size` → `M`).
    pub attributes: BTreeMap<String, String>,
    /// Shipping weight of one unit in grams (1 to [`MAX_WEIGHT_GRAMS`]); `None` when the variant
    /// is not shipped (digital goods) or its weight is not known yet.
    #[serde(default)]
    pub weight_grams: Option<u32>,
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn shortened(text: &str) -> String {
    text.chars().take(80).collect()
}

/// Checks every field of `details` against the limits above.
pub(super) fn validate_details(details: &ProductDetails) -> Result<(), ProductRejection> {
    if details.title.trim().is_empty() {
        return Err(ProductRejection::EmptyTitle {
            max: MAX_TITLE_CHARS,
        });
    }
    let title = chars(&details.title);
    if title > MAX_TITLE_CHARS {
        return Err(ProductRejection::TitleTooLong {
            chars: title,
            max: MAX_TITLE_CHARS,
        });
    }
    let description = chars(&details.description);
    if description > MAX_DESCRIPTION_CHARS {
        return Err(ProductRejection::DescriptionTooLong {
            chars: description,
            max: MAX_DESCRIPTION_CHARS,
        });
    }
    let brand = chars(&details.brand);
    if brand > MAX_BRAND_CHARS {
        return Err(ProductRejection::BrandTooLong {
            chars: brand,
            max: MAX_BRAND_CHARS,
        });
    }
    if details.category.len() > MAX_CATEGORY_DEPTH {
        return Err(ProductRejection::CategoryTooDeep {
            depth: details.category.len(),
            max: MAX_CATEGORY_DEPTH,
        });
    }
    if let Some(level) = details
        .category
        .iter()
        .find(|l| l.trim().is_empty() || chars(l) > MAX_CATEGORY_LEVEL_CHARS)
    {
        return Err(ProductRejection::InvalidCategoryLevel {
            level: shortened(level),
            max: MAX_CATEGORY_LEVEL_CHARS,
        });
    }
    validate_attributes(&details.attributes)?;
    if details.images.len() > MAX_IMAGES {
        return Err(ProductRejection::TooManyImages {
            count: details.images.len(),
            max: MAX_IMAGES,
        });
    }
    for (i, url) in details.images.iter().enumerate() {
        if !is_image_url(url) {
            return Err(ProductRejection::InvalidImageUrl {
                url: shortened(url),
                max: MAX_IMAGE_URL_CHARS,
            });
        }
        if details.images[..i].contains(url) {
            return Err(ProductRejection::DuplicateImage {
                url: shortened(url),
            });
        }
    }
    Ok(())
}

fn is_image_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty())
        && chars(url) <= MAX_IMAGE_URL_CHARS
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn validate_attributes(attributes: &BTreeMap<String, String>) -> Result<(), ProductRejection> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(ProductRejection::TooManyAttributes {
            count: attributes.len(),
            max: MAX_ATTRIBUTES,
        });
    }
    for (key, value) in attributes {
        if key.trim().is_empty() || chars(key) > MAX_ATTRIBUTE_KEY_CHARS {
            return Err(ProductRejection::InvalidAttributeName {
                name: shortened(key),
                max: MAX_ATTRIBUTE_KEY_CHARS,
            });
        }
        if value.trim().is_empty() || chars(value) > MAX_ATTRIBUTE_VALUE_CHARS {
            return Err(ProductRejection::InvalidAttributeValue {
                name: shortened(key),
                max: MAX_ATTRIBUTE_VALUE_CHARS,
            });
        }
    }
    Ok(())
}

/// Checks a variant's price (positive, capped, in `currency`) and weight.
pub(super) fn validate_price(
    sku: &Sku,
    price: Money,
    currency: Currency,
) -> Result<(), ProductRejection> {
    if price.currency != currency {
        return Err(ProductRejection::CurrencyMismatch {
            sku: sku.clone(),
            expected: currency,
            found: price.currency,
        });
    }
    if price.amount <= 0 {
        return Err(ProductRejection::NonPositivePrice {
            sku: sku.clone(),
            price,
        });
    }
    if price.amount > MAX_PRICE_MINOR {
        return Err(ProductRejection::PriceTooHigh {
            sku: sku.clone(),
            price,
            max: Money::new(MAX_PRICE_MINOR, currency),
        });
    }
    Ok(())
}

/// Checks one variant against the product's currency.
pub(super) fn validate_variant(
    variant: &Variant,
    currency: Currency,
) -> Result<(), ProductRejection> {
    validate_price(&variant.sku, variant.price, currency)?;
    validate_attributes(&variant.attributes)?;
    if let Some(grams) = variant.weight_grams
        && !(1..=MAX_WEIGHT_GRAMS).contains(&grams)
    {
        return Err(ProductRejection::InvalidWeight {
            sku: variant.sku.clone(),
            grams,
            max: MAX_WEIGHT_GRAMS,
        });
    }
    Ok(())
}

/// Checks the variants of a new product and returns the product's currency (the first
/// variant's; every other variant must use it).
pub(super) fn validate_variants(variants: &[Variant]) -> Result<Currency, ProductRejection> {
    let Some(first) = variants.first() else {
        return Err(ProductRejection::NoVariants);
    };
    if variants.len() > MAX_VARIANTS {
        return Err(ProductRejection::TooManyVariants {
            count: variants.len(),
            max: MAX_VARIANTS,
        });
    }
    let currency = first.price.currency;
    for (i, variant) in variants.iter().enumerate() {
        if variants[..i].iter().any(|v| v.sku == variant.sku) {
            return Err(ProductRejection::DuplicateSku {
                sku: variant.sku.clone(),
            });
        }
        validate_variant(variant, currency)?;
    }
    Ok(currency)
}
