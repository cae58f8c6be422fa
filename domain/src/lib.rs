//! The shop's business rules as pure deciders: `initial`, `evolve(state, event)` and
//! `decide(state, command)`, plus money and pricing. No IO, no clock, no randomness: time and ids
//! arrive with each command. The aggregates themselves arrive with the domain issue; this crate is
//! the place they go.
