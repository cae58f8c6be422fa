//! The shop's business rules as pure deciders: `initial` (the state's `Default`),
//! `evolve(state, event)` and `decide(state, command, context)`, plus money, ids and pricing.
//! No IO, no clock, no randomness: time arrives in the [`Context`] and ids inside each command, so
//! every rule is a plain function tested with given/when/then (module `testing`, feature `testing`).
//!
//! One folder per aggregate (`command.rs`, `event.rs`, `state.rs`, `decide.rs`, `tests.rs`):
//! [`product`], [`inventory`], [`cart`], [`order`], [`payment`], [`promotion`]; [`pricing`] holds
//! the pure price, discount, tax and shipping calculations they share.

pub mod address;
pub mod aggregate;
pub mod cart;
pub mod checkout;
pub mod deadline;
pub mod discount;
pub mod ids;
pub mod inventory;
pub mod money;
pub mod order;
pub mod payment;
pub mod pricing;
pub mod product;
pub mod promotion;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use address::{Address, AddressError};
pub use aggregate::{Aggregate, Context, stream_name};
pub use discount::Discount;
pub use ids::{
    CartId, CustomerId, DeadlineId, InvalidId, OrderId, PaymentId, ProductId, PromoCode, ReviewId,
    Sku, WarehouseId,
};
pub use money::{Currency, Money, MoneyError};
