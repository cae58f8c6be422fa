//! Why the product aggregate refuses a command.

use crate::{Currency, CustomerId, Money, ProductId, ReviewId, Sku};

/// A refused product command; `Display` says what to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProductRejection {
    /// The product has not been created.
    #[error("this product does not exist: create it first")]
    NotFound,
    /// A create for a product that already exists with other content.
    #[error("product {product_id} already exists; update it instead of creating it again")]
    AlreadyExists {
        /// The existing product.
        product_id: ProductId,
    },
    /// The product is discontinued: its catalog content is frozen and it takes no new reviews.
    #[error("product {product_id} is discontinued and can no longer be changed or reviewed")]
    Discontinued {
        /// The product.
        product_id: ProductId,
    },
    /// The title is empty or blank.
    #[error("the title is empty: give the product a title of 1 to {max} characters")]
    EmptyTitle {
        /// Longest title allowed.
        max: usize,
    },
    /// The title is too long.
    #[error("the title has {chars} characters; shorten it to at most {max}")]
    TitleTooLong {
        /// Its length.
        chars: usize,
        /// Longest allowed.
        max: usize,
    },
    /// The description is too long.
    #[error("the description has {chars} characters; shorten it to at most {max}")]
    DescriptionTooLong {
        /// Its length.
        chars: usize,
        /// Longest allowed.
        max: usize,
    },
    /// The brand is too long.
    #[error("the brand has {chars} characters; shorten it to at most {max}")]
    BrandTooLong {
        /// Its length.
        chars: usize,
        /// Longest allowed.
        max: usize,
    },
    /// The category path has too many levels.
    #[error("the category path has {depth} levels; use at most {max}")]
    CategoryTooDeep {
        /// Its depth.
        depth: usize,
        /// Deepest allowed.
        max: usize,
    },
    /// A category level is blank or too long.
    #[error("category level {level:?} must be 1 to {max} characters and not blank")]
    InvalidCategoryLevel {
        /// The level (shortened).
        level: String,
        /// Longest allowed.
        max: usize,
    },
    /// Too many attributes on the product or on one variant.
    #[error("there are {count} attributes; use at most {max}")]
    TooManyAttributes {
        /// How many were given.
        count: usize,
        /// Most allowed.
        max: usize,
    },
    /// An attribute name is blank or too long.
    #[error("attribute name {name:?} must be 1 to {max} characters and not blank")]
    InvalidAttributeName {
        /// The name (shortened).
        name: String,
        /// Longest allowed.
        max: usize,
    },
    /// An attribute value is blank or too long.
    #[error("the value of attribute {name:?} must be 1 to {max} characters and not blank")]
    InvalidAttributeValue {
        /// The attribute's name (shortened).
        name: String,
        /// Longest value allowed.
        max: usize,
    },
    /// Too many images.
    #[error("there are {count} images; use at most {max}")]
    TooManyImages {
        /// How many were given.
        count: usize,
        /// Most allowed.
        max: usize,
    },
    /// An image URL is not an http(s) URL or is too long.
    #[error(
        "image {url:?} must be an http:// or https:// URL of at most {max} characters without spaces"
    )]
    InvalidImageUrl {
        /// The URL (shortened).
        url: String,
        /// Longest allowed.
        max: usize,
    },
    /// The same image URL appears twice.
    #[error("image {url:?} is listed twice; list each image once")]
    DuplicateImage {
        /// The URL (shortened).
        url: String,
    },
    /// A product needs at least one variant.
    #[error("a product needs at least one variant (SKU with a price)")]
    NoVariants,
    /// Too many variants.
    #[error("the product would have {count} variants; at most {max} are allowed")]
    TooManyVariants {
        /// How many it would have.
        count: usize,
        /// Most allowed.
        max: usize,
    },
    /// A SKU is used twice within the product (or a variant with this SKU exists with other
    /// content).
    #[error(
        "SKU {sku} is already a variant of this product; use another SKU or change that variant"
    )]
    DuplicateSku {
        /// The SKU.
        sku: Sku,
    },
    /// A price of zero or less.
    #[error("the price of {sku} is {price}; a price must be more than zero")]
    NonPositivePrice {
        /// The variant.
        sku: Sku,
        /// The price given.
        price: Money,
    },
    /// A price above the cap.
    #[error("the price of {sku} is {price}; the highest price accepted is {max}")]
    PriceTooHigh {
        /// The variant.
        sku: Sku,
        /// The price given.
        price: Money,
        /// The cap.
        max: Money,
    },
    /// A variant priced in another currency than the product.
    #[error("{sku} is priced in {found} but this product is priced in {expected}; use {expected}")]
    CurrencyMismatch {
        /// The variant.
        sku: Sku,
        /// The product's currency.
        expected: Currency,
        /// The currency given.
        found: Currency,
    },
    /// A weight of zero or above the cap.
    #[error(
        "{sku} weighs {grams} g; give 1 to {max} grams, or no weight for goods that are not shipped"
    )]
    InvalidWeight {
        /// The variant.
        sku: Sku,
        /// The weight given.
        grams: u32,
        /// Heaviest allowed.
        max: u32,
    },
    /// No variant has this SKU.
    #[error("this product has no variant {sku}")]
    UnknownSku {
        /// The SKU.
        sku: Sku,
    },
    /// A rating outside 1..=5.
    #[error("rating {rating} is out of range; rate from 1 to 5 stars")]
    InvalidRating {
        /// The rating given.
        rating: u8,
    },
    /// A review text that is too long.
    #[error("the review has {chars} characters; shorten it to at most {max}")]
    ReviewTextTooLong {
        /// Its length.
        chars: usize,
        /// Longest allowed.
        max: usize,
    },
    /// The customer already reviewed this product.
    #[error(
        "customer {customer_id} already reviewed this product (review {review_id}); one review per customer"
    )]
    AlreadyReviewed {
        /// The customer.
        customer_id: CustomerId,
        /// Their existing review.
        review_id: ReviewId,
    },
    /// A review id reused with other content.
    #[error("review {review_id} already exists with other content; use a new review id")]
    ReviewIdConflict {
        /// The review.
        review_id: ReviewId,
    },
    /// No review has this id.
    #[error("this product has no review {review_id}")]
    UnknownReview {
        /// The review.
        review_id: ReviewId,
    },
    /// A reason (moderation, discontinuation) that is empty or blank.
    #[error("give a reason of 1 to {max} characters")]
    EmptyReason {
        /// Longest allowed.
        max: usize,
    },
    /// A reason that is too long.
    #[error("the reason has {chars} characters; shorten it to at most {max}")]
    ReasonTooLong {
        /// Its length.
        chars: usize,
        /// Longest allowed.
        max: usize,
    },
    /// A review already rejected for another reason.
    #[error(
        "review {review_id} is already rejected with reason {reason:?}; a rejection's reason cannot be changed"
    )]
    ReviewAlreadyRejected {
        /// The review.
        review_id: ReviewId,
        /// The reason it was rejected with.
        reason: String,
    },
}
