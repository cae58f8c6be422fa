//! Why an order refuses a command.

use super::{CancelReason, OrderStatus, RefundId};
use crate::pricing::PricingError;
use crate::{AddressError, Currency, Money, MoneyError, OrderId, PaymentId, Sku};

/// A refused order command; the message says what to do instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrderRejection {
    /// The command names another order than this stream's.
    #[error("this is order {expected}; the command is for order {got}")]
    WrongOrder {
        /// The stream's order.
        expected: OrderId,
        /// The command's order.
        got: OrderId,
    },
    /// The command does not fit where the order stands.
    #[error("cannot {action} an order that is {status}")]
    WrongStatus {
        /// What was attempted.
        action: &'static str,
        /// Where the order stands.
        status: OrderStatus,
    },
    /// Placing again with different details.
    #[error("order {order_id} was already placed with different details; use a new order id")]
    AlreadyPlaced {
        /// The order.
        order_id: OrderId,
    },
    /// No lines, or too many.
    #[error("an order needs 1 to {max} lines, got {count}")]
    InvalidLineCount {
        /// Lines given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The same SKU on two lines (or twice in an out-of-stock list).
    #[error("{sku} appears more than once: list each SKU once")]
    DuplicateSku {
        /// The SKU.
        sku: Sku,
    },
    /// A quantity outside 1..=999.
    #[error("quantity {quantity} for {sku} is out of range: use 1 to {max}")]
    InvalidQuantity {
        /// The SKU.
        sku: Sku,
        /// The quantity given.
        quantity: u32,
        /// The limit.
        max: u32,
    },
    /// A negative or absurdly large unit price.
    #[error("unit price {unit_price} for {sku} is invalid: use 0 to {max} minor units")]
    InvalidUnitPrice {
        /// The SKU.
        sku: Sku,
        /// The price given.
        unit_price: Money,
        /// The highest price accepted, in minor units.
        max: i64,
    },
    /// A line whose subtotal is not unit price × quantity.
    #[error("the subtotal of {sku} should be {expected} (unit price × quantity), not {got}")]
    LineSubtotalMismatch {
        /// The SKU.
        sku: Sku,
        /// Unit price × quantity.
        expected: Money,
        /// The subtotal given.
        got: Money,
    },
    /// An order subtotal that is not the sum of the line subtotals.
    #[error("the order subtotal should be {expected} (the sum of its lines), not {got}")]
    SubtotalMismatch {
        /// The sum of the line subtotals.
        expected: Money,
        /// The subtotal given.
        got: Money,
    },
    /// Totals whose parts are negative or whose discount exceeds the subtotal.
    #[error("the order totals are inconsistent: {0}")]
    InvalidTotals(PricingError),
    /// A total that is not subtotal − discount + tax + shipping.
    #[error(
        "the order total should be {expected} (subtotal − discount + tax + shipping), not {got}"
    )]
    TotalMismatch {
        /// The computed total.
        expected: Money,
        /// The total given.
        got: Money,
    },
    /// An amount in another currency than the order's.
    #[error("the order is in {expected}; an amount in {got} cannot be used")]
    CurrencyMismatch {
        /// The order's currency.
        expected: Currency,
        /// The amount's currency.
        got: Currency,
    },
    /// A shipping or billing address that is not usable.
    #[error("the {which} address is invalid: {error}")]
    InvalidAddress {
        /// `shipping` or `billing`.
        which: &'static str,
        /// What is wrong with it.
        error: AddressError,
    },
    /// A text is blank or too long.
    #[error("the {field} must be 1 to {max} characters and not blank")]
    InvalidText {
        /// Which text.
        field: &'static str,
        /// Its length limit in characters.
        max: usize,
    },
    /// A zero or negative amount.
    #[error("amount {amount} is invalid: use a positive amount")]
    InvalidAmount {
        /// The amount given.
        amount: Money,
    },
    /// Marking a payment pending for an order that costs nothing.
    #[error("the order total is {total}: there is nothing to pay; confirm it without a payment")]
    NothingToPay {
        /// The total (zero).
        total: Money,
    },
    /// Confirming an order that costs something without its pending payment.
    #[error(
        "the order total is {total}: mark its payment pending, then confirm it with that payment"
    )]
    PaymentRequired {
        /// The total.
        total: Money,
    },
    /// A payment other than the order's.
    #[error("the order is paid by payment {expected}, not {got}")]
    PaymentMismatch {
        /// The order's payment.
        expected: PaymentId,
        /// The command's payment.
        got: PaymentId,
    },
    /// A capture above the order's total.
    #[error("cannot capture {requested}: the order's total is {total}")]
    CaptureExceedsTotal {
        /// The capture recorded.
        requested: Money,
        /// The order's total.
        total: Money,
    },
    /// A second capture with another amount.
    #[error(
        "a capture of {recorded} is already recorded for this order; an order is captured once"
    )]
    CaptureConflict {
        /// The amount already captured.
        recorded: Money,
    },
    /// A payment failure already recorded with another reason.
    #[error("the order's payment failure is already recorded (reason: {reason})")]
    AlreadyFailed {
        /// The recorded reason.
        reason: String,
    },
    /// Shipping again with another carrier or tracking number.
    #[error("the order already shipped with {carrier}, tracking number {tracking_number}")]
    ShipmentConflict {
        /// The recorded carrier.
        carrier: String,
        /// The recorded tracking number.
        tracking_number: String,
    },
    /// Cancelling once the goods have left.
    #[error("cannot cancel an order that is {status}: refund it once the goods are returned")]
    CancelAfterShipping {
        /// Shipped or delivered.
        status: OrderStatus,
    },
    /// Cancelling again for another reason.
    #[error("the order is already cancelled (reason: {reason})")]
    AlreadyCancelled {
        /// The recorded reason.
        reason: CancelReason,
    },
    /// An out-of-stock cancellation without SKUs.
    #[error("an out-of-stock cancellation must name the SKUs that are short of stock")]
    NoOutOfStockSkus,
    /// An out-of-stock SKU that is not on the order.
    #[error("{sku} is not on this order")]
    SkuNotOnOrder {
        /// The SKU.
        sku: Sku,
    },
    /// A refund before any capture.
    #[error("nothing was captured for this order, so nothing can be refunded; void the payment")]
    NothingCaptured,
    /// Refunds beyond the captured amount.
    #[error("cannot refund {requested}: only {refundable} of the captured amount is left")]
    RefundExceedsCaptured {
        /// The refund asked for.
        requested: Money,
        /// What may still be refunded.
        refundable: Money,
    },
    /// The refund id was already used with another amount or reason.
    #[error("refund {refund_id} is already recorded with different details; use a new refund id")]
    RefundConflict {
        /// The refund id.
        refund_id: RefundId,
    },
    /// The refund limit is reached.
    #[error("the order has {max} refunds already; no more can be recorded")]
    TooManyRefunds {
        /// The limit.
        max: usize,
    },
    /// Arithmetic on amounts failed (out of range).
    #[error(transparent)]
    Money(#[from] MoneyError),
}
