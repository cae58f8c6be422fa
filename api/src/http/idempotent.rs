//! `Idempotency-Key` on POST: the first request with a key runs and its response (status,
//! `ETag`, `Location`, `X-Consistency-Position`, body) is stored with a fingerprint of the
//! request; a repeat gets the stored response again (with `Idempotent-Replayed: true`); the same
//! key with another request is a 422; while the first is still running, a repeat is a 409 with
//! `Retry-After`. Keys are scoped to the caller (the bearer token's subject; for anonymous
//! callers, the guest cart token or else the client address) and expire after 24 hours
//! ([`crate::idempotency`]). A response worth retrying (5xx, 429) is not stored: the key is
//! released, so the retry runs again.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::input::{Scope, too_large};
use crate::idempotency::{Begin, IdempotencyError, StoredResponse, fingerprint};
use crate::problem::Problem;

/// The request header.
pub const KEY_HEADER: &str = "idempotency-key";
/// Set on a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// The response headers stored with a response.
const KEPT_HEADERS: [&str; 5] = [
    "content-type",
    "etag",
    "location",
    "x-consistency-position",
    "retry-after",
];

fn scope(app: &AppState, parts: &axum::http::request::Parts) -> String {
    if let Ok(caller) = app.auth.caller(parts) {
        return format!("sub:{}:{}", caller.role, caller.subject);
    }
    if let Some(token) = parts
        .headers
        .get(super::carts::TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        return format!("cart:{}", super::carts::token_hash(token.trim()));
    }
    match super::limits::client_address(parts, app.limits.trusted_proxy_hops) {
        Some(ip) => format!("ip:{ip}"),
        None => "anonymous".into(),
    }
}

fn invalid_key() -> Response {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
        "Invalid Idempotency-Key",
        "an Idempotency-Key is 1 to 255 visible ASCII characters",
    )
    .into_response()
}

fn unavailable(e: &IdempotencyError) -> Response {
    tracing::warn!(error = %e, "idempotency store failed");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "Try again",
        "the request's idempotency key could not be checked; try again",
    )
    .retry_after(1)
    .into_response()
}

fn replay(stored: StoredResponse) -> Response {
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// The middleware.
pub async fn layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    // Every request gets its scope: command ids derived from a key (on any method) must never
    // meet another caller's.
    let scope = scope(&app, &parts);
    parts.extensions.insert(Scope(scope.clone()));
    if parts.method != Method::POST {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let Some(key) = parts.headers.get(KEY_HEADER).cloned() else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let Ok(key) = key.to_str().map(str::to_owned) else {
        return invalid_key();
    };
    let Ok(bytes) = axum::body::to_bytes(body, app.limits.max_body_bytes).await else {
        return too_large().into_response();
    };
    let print = fingerprint(parts.method.as_str(), parts.uri.path(), &bytes);
    let claim = match app.idempotency.begin(&scope, &key, &print).await {
        Ok(Begin::Run(claim)) => claim,
        Ok(Begin::Replay(stored)) => return replay(stored),
        Ok(Begin::Mismatch) => {
            return Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was used for another request; use a new key",
            )
            .into_response();
        }
        Ok(Begin::InProgress) => {
            return Problem::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "Request in progress",
                "a request with this Idempotency-Key is still running",
            )
            .retry_after(1)
            .into_response();
        }
        Err(IdempotencyError::InvalidKey) => return invalid_key(),
        Err(e) => return unavailable(&e),
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    // Anything the client is told to try again later (5xx, 429, a 409 conflict with
    // Retry-After) is not the request's answer: the key is released for the retry.
    let try_again = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || response
            .headers()
            .contains_key(axum::http::header::RETRY_AFTER);
    if try_again {
        if let Err(e) = app.idempotency.release(claim).await {
            tracing::warn!(error = %e, "releasing an idempotency key failed");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return Problem::internal(&"a response body could not be read").into_response();
    };
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            parts
                .headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(|v| ((*name).to_owned(), v.to_owned()))
        })
        .collect();
    let stored = StoredResponse {
        status: status.as_u16(),
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    if let Err(e) = app.idempotency.complete(claim, stored).await {
        // The work is done; a repeat will find the key claimed and not completed, and run
        // again once the claim lapses, answering from the command handlers' memory.
        tracing::warn!(error = %e, "storing an idempotent response failed");
    }
    Response::from_parts(parts, Body::from(bytes))
}
