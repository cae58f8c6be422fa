//! Product: one catalog entry (`product-<id>`) with its variants and its customer reviews.
//!
//! A product has catalog details (title, description, brand, category path, attributes, up to 20
//! images) and one or more variants, each a SKU with its own price, attributes and optional
//! shipping weight. All variants of a product are priced in one currency, fixed by the first
//! variant at creation; a variant in another currency is refused (selling in several currencies
//! is a price-list concern, not a product's). SKUs are unique within a product; uniqueness across
//! products is not this aggregate's job: the catalog read model holds every SKU and the API checks
//! it before creating a product or adding a variant.
//!
//! Details are updated field by field (fields left out keep their value; a given field replaces
//! the old one wholesale); the event carries the complete new details. A discontinued product is
//! frozen: no detail, variant or price changes and no new reviews, but reviews already submitted
//! can still be approved or rejected, so the moderation queue drains.
//!
//! Reviews: one per customer per product, rated 1 to 5 stars, pending until a moderator approves
//! or rejects it. Moderation can be reversed (a rejected review approved later, an approved one
//! taken down). Only approved reviews count: the state keeps their count and star sum as running
//! totals (copied from the moderation events, which carry them for readers) and exposes
//! [`ProductState::average_rating_hundredths`].

mod command;
mod decide;
mod details;
mod error;
mod event;
mod state;
#[cfg(test)]
mod tests;

pub use command::ProductCommand;
pub use decide::{MAX_REASON_CHARS, MAX_REVIEW_TEXT_CHARS};
pub use details::{
    MAX_ATTRIBUTE_KEY_CHARS, MAX_ATTRIBUTE_VALUE_CHARS, MAX_ATTRIBUTES, MAX_BRAND_CHARS,
    MAX_CATEGORY_DEPTH, MAX_CATEGORY_LEVEL_CHARS, MAX_DESCRIPTION_CHARS, MAX_IMAGE_URL_CHARS,
    MAX_IMAGES, MAX_PRICE_MINOR, MAX_TITLE_CHARS, MAX_VARIANTS, MAX_WEIGHT_GRAMS, ProductDetails,
    Variant,
};
pub use error::ProductRejection;
pub use event::ProductEvent;
pub use state::{ProductState, ReviewRecord, ReviewStatus};

use crate::{Aggregate, Context, ProductId};

/// The product aggregate.
#[derive(Clone, Copy, Debug, Default)]
pub struct Product;

impl Aggregate for Product {
    type Id = ProductId;
    const CATEGORY: &'static str = "product";
    const SNAPSHOT_VERSION: u32 = 1;

    type State = ProductState;
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Rejection = ProductRejection;

    fn evolve(state: &mut ProductState, event: &ProductEvent) {
        state.apply(event);
    }

    fn decide(
        state: &ProductState,
        command: &ProductCommand,
        ctx: &Context,
    ) -> Result<Vec<ProductEvent>, ProductRejection> {
        decide::decide(state, command, ctx)
    }
}
