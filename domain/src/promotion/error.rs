//! Why the promotion aggregate refuses a command.

use chrono::{DateTime, Utc};

use crate::{Currency, CustomerId, Money, OrderId, PromoCode};

/// A refused promotion command; `Display` says what to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PromotionRejection {
    /// The promotion has not been created.
    #[error("this promotion code does not exist")]
    NotFound,
    /// A create for a code that already exists with other terms.
    #[error("promotion {code} already exists with other terms; choose another code")]
    AlreadyExists {
        /// The code.
        code: PromoCode,
    },
    /// A percentage outside 1..=10 000 basis points.
    #[error(
        "a percentage discount of {basis_points} basis points is out of range; use 1 to 10000 (0.01 % to 100 %)"
    )]
    InvalidPercentage {
        /// The value given.
        basis_points: u32,
    },
    /// A fixed discount of zero or less, or above the cap.
    #[error("a fixed discount of {amount} is out of range; use more than zero and at most {max}")]
    InvalidFixedAmount {
        /// The amount given.
        amount: Money,
        /// The cap.
        max: Money,
    },
    /// A minimum subtotal of zero or less, or above the cap.
    #[error(
        "a minimum subtotal of {amount} is out of range; use more than zero and at most {max}, or no minimum"
    )]
    InvalidMinimumSubtotal {
        /// The amount given.
        amount: Money,
        /// The cap.
        max: Money,
    },
    /// A fixed discount and a minimum subtotal in different currencies.
    #[error(
        "the discount is in {discount} but the minimum subtotal is in {minimum}; use one currency"
    )]
    TermsCurrencyMismatch {
        /// The fixed discount's currency.
        discount: Currency,
        /// The minimum subtotal's currency.
        minimum: Currency,
    },
    /// A validity window that ends before it starts.
    #[error(
        "the validity window from {valid_from} to {valid_until} is empty; valid_until must be after valid_from"
    )]
    EmptyWindow {
        /// Start.
        valid_from: DateTime<Utc>,
        /// End.
        valid_until: DateTime<Utc>,
    },
    /// A promotion created already ended.
    #[error("the promotion would already have ended at {valid_until}; choose a later end")]
    EndsInThePast {
        /// End.
        valid_until: DateTime<Utc>,
    },
    /// A usage limit of zero.
    #[error("a usage limit of 0 would make the promotion unusable; give at least 1 or no limit")]
    ZeroUsageLimit,
    /// A per-customer limit of zero.
    #[error(
        "a per-customer limit of 0 would make the promotion unusable; give at least 1 or no limit"
    )]
    ZeroPerCustomerLimit,
    /// A reason that is empty or blank.
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
    /// The promotion was deactivated.
    #[error("promotion {code} is no longer active ({reason})")]
    Inactive {
        /// The code.
        code: PromoCode,
        /// Why it was deactivated.
        reason: String,
    },
    /// Redeemed before the window opens.
    #[error("promotion {code} cannot be used before {valid_from}")]
    NotYetValid {
        /// The code.
        code: PromoCode,
        /// When it starts.
        valid_from: DateTime<Utc>,
    },
    /// Redeemed after the window closed.
    #[error("promotion {code} expired at {valid_until}")]
    Expired {
        /// The code.
        code: PromoCode,
        /// When it ended.
        valid_until: DateTime<Utc>,
    },
    /// A subtotal of zero or less.
    #[error(
        "an order subtotal of {subtotal} cannot be discounted; the subtotal must be more than zero"
    )]
    NonPositiveSubtotal {
        /// The subtotal given.
        subtotal: Money,
    },
    /// An order in another currency than the promotion's.
    #[error("promotion {code} applies to orders in {expected}, not {found}")]
    CurrencyMismatch {
        /// The code.
        code: PromoCode,
        /// The promotion's currency.
        expected: Currency,
        /// The order's currency.
        found: Currency,
    },
    /// The subtotal is below the promotion's minimum.
    #[error("promotion {code} needs a subtotal of at least {minimum}; this order's is {subtotal}")]
    BelowMinimum {
        /// The code.
        code: PromoCode,
        /// The order's subtotal.
        subtotal: Money,
        /// The minimum.
        minimum: Money,
    },
    /// Every use of the promotion is taken.
    #[error("promotion {code} has been used the maximum of {limit} times")]
    UsageLimitReached {
        /// The code.
        code: PromoCode,
        /// The total limit.
        limit: u32,
    },
    /// A guest tried a promotion limited per customer.
    #[error("promotion {code} is limited per customer: sign in to use it")]
    CustomerRequired {
        /// The code.
        code: PromoCode,
    },
    /// The customer used up their share.
    #[error(
        "customer {customer_id} has already used promotion {code} the maximum of {limit} times"
    )]
    CustomerLimitReached {
        /// The code.
        code: PromoCode,
        /// The customer.
        customer_id: CustomerId,
        /// The per-customer limit.
        limit: u32,
    },
    /// The order already redeemed the promotion with other details.
    #[error(
        "order {order_id} already redeemed promotion {code} with another customer or subtotal; release it first"
    )]
    OrderAlreadyRedeemed {
        /// The code.
        code: PromoCode,
        /// The order.
        order_id: OrderId,
    },
    /// The order's redemption was released; an order cannot redeem the code again.
    #[error(
        "order {order_id}'s use of promotion {code} was released; place a new order to use it again"
    )]
    RedemptionWasReleased {
        /// The code.
        code: PromoCode,
        /// The order.
        order_id: OrderId,
    },
}
