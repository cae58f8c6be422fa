//! Command handling: load an aggregate's stream, decide, append with the exact expected revision,
//! retry on conflict. Process managers (the checkout saga) and the durable deadline scheduler live
//! here too. Built on the `shop-eventstore` port; the handlers arrive with the domain issue.
