//! What command responses carry: the status, a JSON body, the aggregate's revision as `ETag`,
//! the global position written as `X-Consistency-Position` (pass it back as `X-Min-Position` to
//! read your own write) and, for created resources, `Location`.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shop_commands::Outcome;
use shop_eventstore::Position;

/// The consistency header of command responses.
pub const POSITION_HEADER: &str = "x-consistency-position";

/// A command's answer.
#[derive(Debug)]
pub struct Written<T> {
    status: StatusCode,
    body: T,
    revision: Option<u64>,
    position: Option<Position>,
    location: Option<String>,
}

impl<T: Serialize> Written<T> {
    /// `200` with `body`, tagged with `outcome`'s revision and position.
    pub fn ok(outcome: &Outcome, body: T) -> Self {
        Self {
            status: StatusCode::OK,
            body,
            revision: outcome.revision,
            position: outcome.position,
            location: None,
        }
    }

    /// `201 Created` at `location`.
    pub fn created(outcome: &Outcome, location: String, body: T) -> Self {
        Self {
            status: StatusCode::CREATED,
            location: Some(location),
            ..Self::ok(outcome, body)
        }
    }

    /// `202 Accepted`: done in the background; `location` says where to follow it.
    pub fn accepted(outcome: &Outcome, location: String, body: T) -> Self {
        Self {
            status: StatusCode::ACCEPTED,
            location: Some(location),
            ..Self::ok(outcome, body)
        }
    }

    /// The position to name instead (a later write of the same request).
    pub fn at(mut self, position: Option<Position>) -> Self {
        if position > self.position {
            self.position = position;
        }
        self
    }
}

/// An aggregate's revision for an `ETag` next to read-model data: its stream's last event, one
/// row read (not the state folded: the body comes from the read model).
pub async fn revision_of<A: shop_domain::Aggregate>(
    app: &super::AppState,
    id: &A::Id,
) -> Result<Option<u64>, crate::problem::Problem> {
    let stream = shop_commands::CommandHandler::<A>::stream_of(id)?;
    match app
        .events
        .read_stream(&stream, shop_eventstore::ReadStream::backwards().limit(1))
        .await
    {
        Ok(events) => Ok(events.first().map(|e| e.revision)),
        Err(shop_eventstore::Error::StreamNotFound(_)) => Ok(None),
        Err(e) => Err(crate::problem::Problem::internal(&e)),
    }
}

/// An ETag for a revision.
pub fn etag(revision: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{revision}\"")).expect("digits are a valid header")
}

impl<T: Serialize> IntoResponse for Written<T> {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(revision) = self.revision {
            headers.insert(header::ETAG, etag(revision));
        }
        if let Some(position) = self.position
            && let Ok(value) = HeaderValue::from_str(&position.to_string())
        {
            headers.insert(POSITION_HEADER, value);
        }
        if let Some(location) = self.location
            && let Ok(value) = HeaderValue::from_str(&location)
        {
            headers.insert(header::LOCATION, value);
        }
        (self.status, headers, Json(self.body)).into_response()
    }
}

/// A query's answer: the body, with the aggregate's revision as `ETag` when known and the
/// read-your-writes verdict ([`super::fresh::Freshness`]).
#[derive(Debug)]
pub struct Read<T> {
    body: T,
    revision: Option<u64>,
    freshness: super::fresh::Freshness,
}

impl<T: Serialize> Read<T> {
    /// `200` with `body`.
    pub fn new(body: T, freshness: super::fresh::Freshness) -> Self {
        Self {
            body,
            revision: None,
            freshness,
        }
    }

    /// Tagged with the aggregate's revision.
    pub fn revision(mut self, revision: Option<u64>) -> Self {
        self.revision = revision;
        self
    }
}

impl<T: Serialize> IntoResponse for Read<T> {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(revision) = self.revision {
            headers.insert(header::ETAG, etag(revision));
        }
        self.freshness.write(&mut headers);
        (StatusCode::OK, headers, Json(self.body)).into_response()
    }
}
