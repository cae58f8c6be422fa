//! What a product records. Every event names its product; moderation events carry the review's
//! customer and rating and the product's resulting rating totals, so a read model never has to
//! look anything up.

use serde::{Deserialize, Serialize};

use super::{ProductDetails, Variant};
use crate::{Currency, CustomerId, Money, ProductId, ReviewId, Sku};

/// A product event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ProductEvent {
    /// The product was created.
    #[serde(rename = "product.ProductCreated.v1")]
    ProductCreated {
        /// The product.
        product_id: ProductId,
        /// Its catalog details.
        details: ProductDetails,
        /// The one currency all its variants are priced in.
        currency: Currency,
        /// Its variants, in the order given.
        variants: Vec<Variant>,
    },
    /// Catalog details changed; `details` is the complete new content, not just what changed.
    #[serde(rename = "product.ProductDetailsUpdated.v1")]
    ProductDetailsUpdated {
        /// The product.
        product_id: ProductId,
        /// All details after the change.
        details: ProductDetails,
    },
    /// A variant was added.
    #[serde(rename = "product.VariantAdded.v1")]
    VariantAdded {
        /// The product.
        product_id: ProductId,
        /// The new variant.
        variant: Variant,
    },
    /// A variant's price changed.
    #[serde(rename = "product.VariantPriceChanged.v1")]
    VariantPriceChanged {
        /// The product.
        product_id: ProductId,
        /// The variant.
        sku: Sku,
        /// The price before.
        previous_price: Money,
        /// The price now.
        price: Money,
    },
    /// The product was discontinued.
    #[serde(rename = "product.ProductDiscontinued.v1")]
    ProductDiscontinued {
        /// The product.
        product_id: ProductId,
        /// Why.
        reason: String,
    },
    /// A review was submitted and awaits moderation.
    #[serde(rename = "product.ReviewSubmitted.v1")]
    ReviewSubmitted {
        /// The product.
        product_id: ProductId,
        /// The review.
        review_id: ReviewId,
        /// Its author.
        customer_id: CustomerId,
        /// 1 to 5 stars.
        rating: u8,
        /// The text (may be empty).
        text: String,
    },
    /// A review was approved (published).
    #[serde(rename = "product.ReviewApproved.v1")]
    ReviewApproved {
        /// The product.
        product_id: ProductId,
        /// The review.
        review_id: ReviewId,
        /// Its author.
        customer_id: CustomerId,
        /// Its rating.
        rating: u8,
        /// Approved reviews of the product after this one.
        approved_reviews: u32,
        /// Sum of the approved reviews' stars after this one.
        rating_sum: u64,
    },
    /// A review was rejected, or taken down after approval (`was_approved`).
    #[serde(rename = "product.ReviewRejected.v1")]
    ReviewRejected {
        /// The product.
        product_id: ProductId,
        /// The review.
        review_id: ReviewId,
        /// Its author.
        customer_id: CustomerId,
        /// Its rating.
        rating: u8,
        /// The moderator's reason.
        reason: String,
        /// True when the review had been approved and is now taken down.
        was_approved: bool,
        /// Approved reviews of the product after this change.
        approved_reviews: u32,
        /// Sum of the approved reviews' stars after this change.
        rating_sum: u64,
    },
}
