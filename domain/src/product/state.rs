//! The folded state of one product: enough to decide, not a read model. Rating totals are running
//! sums copied from the moderation events, so folding stays O(1) per event.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{ProductDetails, ProductEvent, Variant};
use crate::{Currency, CustomerId, ProductId, ReviewId, Sku};

/// Where a review stands in moderation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Submitted, not moderated yet.
    Pending,
    /// Published; counts towards the average.
    Approved,
    /// Refused or taken down.
    Rejected {
        /// The moderator's reason.
        reason: String,
    },
}

/// What the aggregate remembers of a review. The text itself lives in the event and the read
/// model; the state keeps a fingerprint of it, enough to tell a retried submission from a
/// conflicting one without snapshotting every review's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRecord {
    /// Its author.
    pub customer_id: CustomerId,
    /// 1 to 5 stars.
    pub rating: u8,
    /// FNV-1a 64 of the text's UTF-8 bytes.
    pub text_fingerprint: u64,
    /// Moderation status.
    pub status: ReviewStatus,
}

/// The state of one product stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductState {
    id: Option<ProductId>,
    details: ProductDetails,
    currency: Option<Currency>,
    variants: BTreeMap<Sku, Variant>,
    discontinued: bool,
    reviews: HashMap<ReviewId, ReviewRecord>,
    review_by_customer: HashMap<CustomerId, ReviewId>,
    approved_reviews: u32,
    rating_sum: u64,
}

impl ProductState {
    /// The product's id, once created.
    pub fn id(&self) -> Option<&ProductId> {
        self.id.as_ref()
    }

    /// True once created.
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// Catalog details (empty before creation).
    pub fn details(&self) -> &ProductDetails {
        &self.details
    }

    /// The currency every variant is priced in, once created.
    pub fn currency(&self) -> Option<Currency> {
        self.currency
    }

    /// The variant with this SKU.
    pub fn variant(&self, sku: &Sku) -> Option<&Variant> {
        self.variants.get(sku)
    }

    /// All variants, by SKU.
    pub fn variants(&self) -> impl Iterator<Item = &Variant> {
        self.variants.values()
    }

    /// How many variants.
    pub fn variant_count(&self) -> usize {
        self.variants.len()
    }

    /// True once discontinued.
    pub fn is_discontinued(&self) -> bool {
        self.discontinued
    }

    /// The review with this id.
    pub fn review(&self, review_id: &ReviewId) -> Option<&ReviewRecord> {
        self.reviews.get(review_id)
    }

    /// The review this customer wrote, if any.
    pub fn review_by(&self, customer_id: &CustomerId) -> Option<&ReviewId> {
        self.review_by_customer.get(customer_id)
    }

    /// How many reviews are approved.
    pub fn approved_reviews(&self) -> u32 {
        self.approved_reviews
    }

    /// Sum of the approved reviews' stars.
    pub fn rating_sum(&self) -> u64 {
        self.rating_sum
    }

    /// Average stars of approved reviews in hundredths (4.67 stars = 467), rounded half up;
    /// `None` without approved reviews.
    pub fn average_rating_hundredths(&self) -> Option<u32> {
        let count = u64::from(self.approved_reviews);
        if count == 0 {
            return None;
        }
        let hundredths = (self.rating_sum.saturating_mul(100) + count / 2) / count;
        u32::try_from(hundredths).ok()
    }

    /// Average stars of approved reviews, for display only (decisions and events use the integer
    /// totals); `None` without approved reviews.
    pub fn average_rating(&self) -> Option<f64> {
        self.average_rating_hundredths()
            .map(|h| f64::from(h) / 100.0)
    }

    pub(super) fn apply(&mut self, event: &ProductEvent) {
        match event {
            ProductEvent::ProductCreated {
                product_id,
                details,
                currency,
                variants,
            } => {
                self.id = Some(product_id.clone());
                self.details = details.clone();
                self.currency = Some(*currency);
                self.variants = variants
                    .iter()
                    .map(|v| (v.sku.clone(), v.clone()))
                    .collect();
            }
            ProductEvent::ProductDetailsUpdated { details, .. } => {
                self.details = details.clone();
            }
            ProductEvent::VariantAdded { variant, .. } => {
                self.variants.insert(variant.sku.clone(), variant.clone());
            }
            ProductEvent::VariantPriceChanged { sku, price, .. } => {
                if let Some(variant) = self.variants.get_mut(sku) {
                    variant.price = *price;
                }
            }
            ProductEvent::ProductDiscontinued { .. } => self.discontinued = true,
            ProductEvent::ReviewSubmitted {
                review_id,
                customer_id,
                rating,
                text,
                ..
            } => {
                self.reviews.insert(
                    review_id.clone(),
                    ReviewRecord {
                        customer_id: customer_id.clone(),
                        rating: *rating,
                        text_fingerprint: fingerprint(text),
                        status: ReviewStatus::Pending,
                    },
                );
                self.review_by_customer
                    .insert(customer_id.clone(), review_id.clone());
            }
            ProductEvent::ReviewApproved {
                review_id,
                approved_reviews,
                rating_sum,
                ..
            } => {
                self.set_status(review_id, ReviewStatus::Approved);
                self.approved_reviews = *approved_reviews;
                self.rating_sum = *rating_sum;
            }
            ProductEvent::ReviewRejected {
                review_id,
                reason,
                approved_reviews,
                rating_sum,
                ..
            } => {
                self.set_status(
                    review_id,
                    ReviewStatus::Rejected {
                        reason: reason.clone(),
                    },
                );
                self.approved_reviews = *approved_reviews;
                self.rating_sum = *rating_sum;
            }
        }
    }

    fn set_status(&mut self, review_id: &ReviewId, status: ReviewStatus) {
        if let Some(review) = self.reviews.get_mut(review_id) {
            review.status = status;
        }
    }
}

/// FNV-1a, 64 bits: a stable fingerprint (unlike `std`'s hasher, which may change between Rust
/// releases and would break snapshots).
pub(super) fn fingerprint(text: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    text.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}
