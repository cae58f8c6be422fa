//! Read-your-writes. A command's response names the global position it wrote
//! (`X-Consistency-Position`); a query that passes it back (`X-Min-Position`, or
//! `?min_position=`) waits, up to a bounded time, for the read model it reads to have applied
//! that position. If it has, the answer says `X-Consistency: fresh`; if the wait runs out, the
//! answer still comes (the read model's current data) but says `X-Consistency: stale`, so old data
//! is never served silently as new. Without a position there is no wait and no header.

use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use shop_eventstore::Position;

use super::AppState;
use crate::problem::Problem;

/// The request header.
pub const MIN_POSITION_HEADER: &str = "x-min-position";
/// The response header.
pub const CONSISTENCY_HEADER: &str = "x-consistency";

/// The position a query must see, if any.
#[derive(Clone, Copy, Debug, Default)]
pub struct MinPosition(pub Option<Position>);

impl<S: Send + Sync> FromRequestParts<S> for MinPosition {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let from_header = parts
            .headers
            .get(MIN_POSITION_HEADER)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let from_query = parts.uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| *k == "min_position")
                .map(|(_, v)| v.to_owned())
        });
        match from_header.or(from_query) {
            None => Ok(Self(None)),
            Some(text) => text.trim().parse().map(|p| Self(Some(p))).map_err(|_| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_min_position",
                    "Invalid min position",
                    "X-Min-Position takes a position as answered in X-Consistency-Position \
                     (<commit>.<prepare>)",
                )
            }),
        }
    }
}

/// Whether a query's read model had reached the position asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Freshness {
    /// No position was asked for.
    #[default]
    Unasked,
    /// The read model has applied it.
    Fresh,
    /// It had not within the wait: the data may predate the caller's write.
    Stale,
}

impl Freshness {
    /// Names the verdict in `headers`.
    pub fn write(self, headers: &mut HeaderMap) {
        let value = match self {
            Self::Unasked => return,
            Self::Fresh => "fresh",
            Self::Stale => "stale",
        };
        headers.insert(CONSISTENCY_HEADER, HeaderValue::from_static(value));
    }
}

/// A position the log has not reached (a client's mistake, or someone making requests wait):
/// answered stale at once rather than after holding a request slot for the whole wait.
async fn beyond_the_log(
    app: &AppState,
    position: shop_eventstore::Position,
    deadline: Instant,
) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, app.events.head_position()).await {
        Ok(Ok(head)) => head.is_none_or(|head| position > head),
        _ => false,
    }
}

/// How often a wait looks at the shared stores (for projections and a search feed running in
/// another process, whose progress this process's status board does not see).
const POLL: Duration = Duration::from_millis(50);

/// Waits until `projection` has applied `min` (bounded by the configured wait). This process's
/// runner tells at once; a runner in another process (several API nodes share one active
/// runner) is seen through the checkpoint it commits with its rows.
pub async fn settle(app: &AppState, projection: &str, min: MinPosition) -> Freshness {
    let Some(position) = min.0 else {
        return Freshness::Unasked;
    };
    let deadline = Instant::now() + app.limits.consistency_wait;
    if beyond_the_log(app, position, deadline).await {
        return Freshness::Stale;
    }
    loop {
        let here = app.board.get(projection).and_then(|s| s.checkpoint);
        if here.is_some_and(|c| c >= position) {
            return Freshness::Fresh;
        }
        if let Ok(Some(committed)) = app.reads.checkpoint(projection).await
            && committed.position >= position
        {
            return Freshness::Fresh;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Freshness::Stale;
        }
        app.board
            .wait_for(projection, position, left.min(POLL))
            .await;
    }
}

/// Waits until the search index reflects `min` (bounded by the configured wait). The feed in
/// this process tells; a feed in another process is seen through the index's own position, which
/// proves it only when a document changed at or after `min` (otherwise the answer is `stale`,
/// never a wrong `fresh`: documents are shipped in position order).
pub async fn settle_search(app: &AppState, min: MinPosition) -> Freshness {
    let Some(position) = min.0 else {
        return Freshness::Unasked;
    };
    let deadline = Instant::now() + app.limits.consistency_wait;
    if beyond_the_log(app, position, deadline).await {
        return Freshness::Stale;
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Some(feed) = &app.search_feed
            && feed.wait_for(position, left.min(POLL)).await
        {
            return Freshness::Fresh;
        }
        if let Ok(Some(held)) = app.search.position().await
            && (held.0, held.1) >= (position.commit(), position.prepare())
        {
            return Freshness::Fresh;
        }
        if Instant::now() >= deadline {
            return Freshness::Stale;
        }
        if app.search_feed.is_none() {
            tokio::time::sleep(left.min(POLL)).await;
        }
    }
}
