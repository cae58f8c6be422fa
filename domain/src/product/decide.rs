//! The product's rules. Order of checks for every command: the product must exist; a command
//! whose effect is already in place is a no-op (even on a discontinued product, so retries stay
//! harmless); a discontinued product refuses catalog changes and new reviews; then the input is
//! validated.

use super::details::{
    MAX_VARIANTS, validate_details, validate_price, validate_variant, validate_variants,
};
use super::state::{ReviewStatus, fingerprint};
use super::{
    ProductCommand, ProductDetails, ProductEvent, ProductRejection, ProductState, Variant,
};
use crate::{Context, CustomerId, Money, ProductId, ReviewId, Sku};

/// Longest review text, in characters.
pub const MAX_REVIEW_TEXT_CHARS: usize = 5_000;
/// Longest reason (moderation, discontinuation), in characters.
pub const MAX_REASON_CHARS: usize = 1_000;

type Decision = Result<Vec<ProductEvent>, ProductRejection>;

pub(super) fn decide(state: &ProductState, command: &ProductCommand, _ctx: &Context) -> Decision {
    match command {
        ProductCommand::CreateProduct {
            product_id,
            details,
            variants,
        } => create(state, product_id, details, variants),
        ProductCommand::UpdateProductDetails {
            title,
            description,
            brand,
            category,
            attributes,
            images,
        } => {
            let current = state.details();
            let next = ProductDetails {
                title: title.clone().unwrap_or_else(|| current.title.clone()),
                description: description
                    .clone()
                    .unwrap_or_else(|| current.description.clone()),
                brand: brand.clone().unwrap_or_else(|| current.brand.clone()),
                category: category.clone().unwrap_or_else(|| current.category.clone()),
                attributes: attributes
                    .clone()
                    .unwrap_or_else(|| current.attributes.clone()),
                images: images.clone().unwrap_or_else(|| current.images.clone()),
            };
            update_details(state, next)
        }
        ProductCommand::AddVariant { variant } => add_variant(state, variant),
        ProductCommand::ChangeVariantPrice { sku, price } => change_price(state, sku, *price),
        ProductCommand::DiscontinueProduct { reason } => discontinue(state, reason),
        ProductCommand::SubmitReview {
            review_id,
            customer_id,
            rating,
            text,
        } => submit_review(state, review_id, customer_id, *rating, text),
        ProductCommand::ApproveReview { review_id } => approve_review(state, review_id),
        ProductCommand::RejectReview { review_id, reason } => {
            reject_review(state, review_id, reason)
        }
    }
}

fn existing(state: &ProductState) -> Result<&ProductId, ProductRejection> {
    state.id().ok_or(ProductRejection::NotFound)
}

fn not_discontinued(state: &ProductState, product_id: &ProductId) -> Result<(), ProductRejection> {
    if state.is_discontinued() {
        Err(ProductRejection::Discontinued {
            product_id: product_id.clone(),
        })
    } else {
        Ok(())
    }
}

fn validate_reason(reason: &str) -> Result<(), ProductRejection> {
    if reason.trim().is_empty() {
        return Err(ProductRejection::EmptyReason {
            max: MAX_REASON_CHARS,
        });
    }
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(ProductRejection::ReasonTooLong {
            chars,
            max: MAX_REASON_CHARS,
        });
    }
    Ok(())
}

fn create(
    state: &ProductState,
    product_id: &ProductId,
    details: &ProductDetails,
    variants: &[Variant],
) -> Decision {
    if let Some(existing) = state.id() {
        let same = existing == product_id
            && state.details() == details
            && state.variant_count() == variants.len()
            && variants.iter().all(|v| state.variant(&v.sku) == Some(v));
        return if same {
            Ok(vec![])
        } else {
            Err(ProductRejection::AlreadyExists {
                product_id: existing.clone(),
            })
        };
    }
    validate_details(details)?;
    let currency = validate_variants(variants)?;
    Ok(vec![ProductEvent::ProductCreated {
        product_id: product_id.clone(),
        details: details.clone(),
        currency,
        variants: variants.to_vec(),
    }])
}

fn update_details(state: &ProductState, next: ProductDetails) -> Decision {
    let product_id = existing(state)?;
    if &next == state.details() {
        return Ok(vec![]);
    }
    not_discontinued(state, product_id)?;
    validate_details(&next)?;
    Ok(vec![ProductEvent::ProductDetailsUpdated {
        product_id: product_id.clone(),
        details: next,
    }])
}

fn add_variant(state: &ProductState, variant: &Variant) -> Decision {
    let product_id = existing(state)?;
    if let Some(current) = state.variant(&variant.sku) {
        return if current == variant {
            Ok(vec![])
        } else {
            Err(ProductRejection::DuplicateSku {
                sku: variant.sku.clone(),
            })
        };
    }
    not_discontinued(state, product_id)?;
    if state.variant_count() >= MAX_VARIANTS {
        return Err(ProductRejection::TooManyVariants {
            count: state.variant_count().saturating_add(1),
            max: MAX_VARIANTS,
        });
    }
    let currency = state.currency().unwrap_or(variant.price.currency);
    validate_variant(variant, currency)?;
    Ok(vec![ProductEvent::VariantAdded {
        product_id: product_id.clone(),
        variant: variant.clone(),
    }])
}

fn change_price(state: &ProductState, sku: &Sku, price: Money) -> Decision {
    let product_id = existing(state)?;
    let Some(variant) = state.variant(sku) else {
        return Err(ProductRejection::UnknownSku { sku: sku.clone() });
    };
    if variant.price == price {
        return Ok(vec![]);
    }
    not_discontinued(state, product_id)?;
    let currency = state.currency().unwrap_or(variant.price.currency);
    validate_price(sku, price, currency)?;
    Ok(vec![ProductEvent::VariantPriceChanged {
        product_id: product_id.clone(),
        sku: sku.clone(),
        previous_price: variant.price,
        price,
    }])
}

fn discontinue(state: &ProductState, reason: &str) -> Decision {
    let product_id = existing(state)?;
    if state.is_discontinued() {
        return Ok(vec![]);
    }
    validate_reason(reason)?;
    Ok(vec![ProductEvent::ProductDiscontinued {
        product_id: product_id.clone(),
        reason: reason.to_owned(),
    }])
}

fn submit_review(
    state: &ProductState,
    review_id: &ReviewId,
    customer_id: &CustomerId,
    rating: u8,
    text: &str,
) -> Decision {
    let product_id = existing(state)?;
    if let Some(review) = state.review(review_id) {
        let same = &review.customer_id == customer_id
            && review.rating == rating
            && review.text_fingerprint == fingerprint(text);
        return if same {
            Ok(vec![])
        } else {
            Err(ProductRejection::ReviewIdConflict {
                review_id: review_id.clone(),
            })
        };
    }
    not_discontinued(state, product_id)?;
    if let Some(existing_review) = state.review_by(customer_id) {
        return Err(ProductRejection::AlreadyReviewed {
            customer_id: customer_id.clone(),
            review_id: existing_review.clone(),
        });
    }
    if !(1..=5).contains(&rating) {
        return Err(ProductRejection::InvalidRating { rating });
    }
    let chars = text.chars().count();
    if chars > MAX_REVIEW_TEXT_CHARS {
        return Err(ProductRejection::ReviewTextTooLong {
            chars,
            max: MAX_REVIEW_TEXT_CHARS,
        });
    }
    Ok(vec![ProductEvent::ReviewSubmitted {
        product_id: product_id.clone(),
        review_id: review_id.clone(),
        customer_id: customer_id.clone(),
        rating,
        text: text.to_owned(),
    }])
}

/// Moderation is allowed on a discontinued product, so the queue of pending reviews can drain.
fn approve_review(state: &ProductState, review_id: &ReviewId) -> Decision {
    let product_id = existing(state)?;
    let Some(review) = state.review(review_id) else {
        return Err(ProductRejection::UnknownReview {
            review_id: review_id.clone(),
        });
    };
    if review.status == ReviewStatus::Approved {
        return Ok(vec![]);
    }
    Ok(vec![ProductEvent::ReviewApproved {
        product_id: product_id.clone(),
        review_id: review_id.clone(),
        customer_id: review.customer_id.clone(),
        rating: review.rating,
        approved_reviews: state.approved_reviews().saturating_add(1),
        rating_sum: state.rating_sum().saturating_add(u64::from(review.rating)),
    }])
}

fn reject_review(state: &ProductState, review_id: &ReviewId, reason: &str) -> Decision {
    let product_id = existing(state)?;
    let Some(review) = state.review(review_id) else {
        return Err(ProductRejection::UnknownReview {
            review_id: review_id.clone(),
        });
    };
    if let ReviewStatus::Rejected { reason: current } = &review.status {
        return if current == reason {
            Ok(vec![])
        } else {
            Err(ProductRejection::ReviewAlreadyRejected {
                review_id: review_id.clone(),
                reason: current.clone(),
            })
        };
    }
    validate_reason(reason)?;
    let was_approved = review.status == ReviewStatus::Approved;
    let (approved_reviews, rating_sum) = if was_approved {
        (
            state.approved_reviews().saturating_sub(1),
            state.rating_sum().saturating_sub(u64::from(review.rating)),
        )
    } else {
        (state.approved_reviews(), state.rating_sum())
    };
    Ok(vec![ProductEvent::ReviewRejected {
        product_id: product_id.clone(),
        review_id: review_id.clone(),
        customer_id: review.customer_id.clone(),
        rating: review.rating,
        reason: reason.to_owned(),
        was_approved,
        approved_reviews,
        rating_sum,
    }])
}
