//! Request ids: every request gets one (the client's `X-Request-Id` when it is a sensible one,
//! else a fresh UUID), every log line of the request carries it (a `request` span), and the
//! response names it in `X-Request-Id`, so a client's report can be found in the logs.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

/// The header.
pub const HEADER: &str = "x-request-id";
/// The longest request id kept from a client.
pub const MAX_CHARS: usize = 128;

/// A request's id, in the request's extensions for handlers that want it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The correlation header: a UUID a client sends to tie several requests to one operation;
/// absent or not a UUID, the request gets a fresh one. It goes into the metadata of every event
/// the request writes and onto every log line, and is answered in the same header.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// A request's correlation id, in the request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Correlation(pub Uuid);

fn sensible(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The middleware (`axum::middleware::from_fn(request_id::layer)`).
pub async fn layer(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| sensible(id))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    let correlation = request
        .headers()
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v.trim()).ok())
        .unwrap_or_else(Uuid::new_v4);
    request.extensions_mut().insert(RequestId(id.clone()));
    request.extensions_mut().insert(Correlation(correlation));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        correlation_id = %correlation,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    if let Ok(value) = HeaderValue::from_str(&correlation.to_string()) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn echo(axum::Extension(id): axum::Extension<RequestId>) -> String {
        id.0
    }

    async fn call(header: Option<&str>) -> (String, String) {
        let app = axum::Router::new()
            .route("/", get(echo))
            .layer(axum::middleware::from_fn(layer));
        let mut request = axum::http::Request::builder().uri("/");
        if let Some(value) = header {
            request = request.header(HEADER, value);
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let header = response.headers()[HEADER].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 10)
            .await
            .unwrap();
        (header, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn requests_get_an_id_and_keep_a_sensible_one_of_their_own() {
        let (header, seen) = call(None).await;
        assert!(Uuid::parse_str(&header).is_ok(), "{header}");
        assert_eq!(seen, header, "the handler sees the same id");
        let (header, seen) = call(Some("client-42.retry:1")).await;
        assert_eq!(
            (header.as_str(), seen.as_str()),
            ("client-42.retry:1", "client-42.retry:1")
        );
        for bad in ["has space", &"x".repeat(129), "<script>"] {
            let (header, _) = call(Some(bad)).await;
            assert!(Uuid::parse_str(&header).is_ok(), "{bad:?} kept as {header}");
        }
    }
}
