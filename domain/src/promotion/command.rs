//! What can be asked of a promotion.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CustomerId, Discount, Money, OrderId, PromoCode};

/// A promotion command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PromotionCommand {
    /// Creates the promotion. Repeating it with the same terms is a no-op.
    CreatePromotion {
        /// The code customers type (also the stream id); see [`PromoCode::normalised`].
        code: PromoCode,
        /// What it takes off.
        discount: Discount,
        /// The smallest order subtotal it applies to, if any.
        #[serde(default)]
        minimum_subtotal: Option<Money>,
        /// First instant it can be redeemed (inclusive).
        valid_from: DateTime<Utc>,
        /// Instant it stops being redeemable (exclusive).
        valid_until: DateTime<Utc>,
        /// Most redemptions in total (counting only those not released), if limited.
        #[serde(default)]
        usage_limit: Option<u32>,
        /// Most redemptions per customer (not released), if limited. A limited promotion needs
        /// an identified customer to redeem it.
        #[serde(default)]
        per_customer_limit: Option<u32>,
    },
    /// Stops the promotion for good.
    DeactivatePromotion {
        /// Why (for the audit trail), 1 to 1000 characters.
        reason: String,
    },
    /// Uses the promotion on an order. Repeating it for the same order is a no-op.
    RedeemPromotion {
        /// The order it is used on.
        order_id: OrderId,
        /// The customer placing it; `None` for a guest checkout.
        #[serde(default)]
        customer_id: Option<CustomerId>,
        /// The order's merchandise subtotal the discount is computed on.
        subtotal: Money,
    },
    /// Gives an order's redemption back (order cancelled, payment failed). Unknown or already
    /// released redemptions are a no-op.
    ReleaseRedemption {
        /// The order whose redemption is given back.
        order_id: OrderId,
        /// Why, 1 to 1000 characters (`payment failed`, `order cancelled`).
        reason: String,
    },
}
