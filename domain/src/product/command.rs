//! What can be asked of a product.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ProductDetails, Variant};
use crate::{CustomerId, Money, ProductId, ReviewId, Sku};

/// A product command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ProductCommand {
    /// Creates the product with its catalog details and at least one variant, all priced in one
    /// currency. Repeating it with the same content is a no-op.
    CreateProduct {
        /// The product (also its stream id).
        product_id: ProductId,
        /// Title, description, brand, category, attributes, images.
        details: ProductDetails,
        /// One or more variants with distinct SKUs.
        variants: Vec<Variant>,
    },
    /// Changes catalog details. A partial update: each field that is `Some` replaces that field
    /// wholesale (the whole attribute map, the whole image list), fields left `None` keep their
    /// value. Changing nothing is a no-op.
    UpdateProductDetails {
        /// New title.
        #[serde(default)]
        title: Option<String>,
        /// New description.
        #[serde(default)]
        description: Option<String>,
        /// New brand (`Some("")` removes it).
        #[serde(default)]
        brand: Option<String>,
        /// New category path (`Some(vec![])` makes the product uncategorised).
        #[serde(default)]
        category: Option<Vec<String>>,
        /// New attribute map, replacing the old one.
        #[serde(default)]
        attributes: Option<BTreeMap<String, String>>,
        /// New image list, replacing the old one.
        #[serde(default)]
        images: Option<Vec<String>>,
    },
    /// Adds a variant with a new SKU, priced in the product's currency.
    AddVariant {
        /// The variant.
        variant: Variant,
    },
    /// Changes one variant's price (same currency). The same price again is a no-op.
    ChangeVariantPrice {
        /// The variant.
        sku: Sku,
        /// Its new unit price.
        price: Money,
    },
    /// Takes the product out of the catalog for good: no more catalog changes or new reviews.
    DiscontinueProduct {
        /// Why (for the audit trail), 1 to 1000 characters.
        reason: String,
    },
    /// A customer's review, pending moderation. One review per customer per product.
    SubmitReview {
        /// The review's id.
        review_id: ReviewId,
        /// Who wrote it.
        customer_id: CustomerId,
        /// 1 to 5 stars.
        rating: u8,
        /// Up to 5000 characters; may be empty (a rating without text).
        text: String,
    },
    /// Publishes a review: its rating starts counting towards the product's average.
    ApproveReview {
        /// The review.
        review_id: ReviewId,
    },
    /// Refuses (or takes down) a review: it stops counting towards the average.
    RejectReview {
        /// The review.
        review_id: ReviewId,
        /// The moderator's reason, 1 to 1000 characters.
        reason: String,
    },
}
