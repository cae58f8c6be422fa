//! Limits that keep a flash sale from collapsing the server: a per-client rate limit (token
//! bucket per bearer subject, or per IP address for anonymous clients; 429 with `Retry-After`),
//! a cap on requests in flight (503 `overloaded` with `Retry-After` at once rather than a queue
//! that grows until everything times out), and the command handlers' own per-stream queue limit
//! (also 503). Body size is limited by the router.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::problem::Problem;

/// The server's limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Requests per second each client may sustain (0: no limit).
    pub rate_per_second: u32,
    /// Requests a client may send at once above the rate.
    pub rate_burst: u32,
    /// Requests handled at once; more are answered 503 (load shedding).
    pub max_in_flight: usize,
    /// Commands that may wait per stream (the handlers' queue); more are answered 503.
    pub command_queue: usize,
    /// Longest wait of a query for `X-Min-Position`.
    pub consistency_wait: Duration,
    /// Proxies in front of the server that append the client's address to `X-Forwarded-For`
    /// (0: none; the peer is the client).
    pub trusted_proxy_hops: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            rate_per_second: 50,
            rate_burst: 100,
            max_in_flight: 1024,
            command_queue: 2048,
            consistency_wait: super::DEFAULT_CONSISTENCY_WAIT,
            trusted_proxy_hops: 0,
        }
    }
}

/// The client's address: the peer's, or behind `hops` trusted proxies the address the
/// outermost of them saw (the `hops`-th entry of `X-Forwarded-For` from the right; entries further
/// left were written by the client and prove nothing).
pub fn client_address(parts: &axum::http::request::Parts, hops: usize) -> Option<std::net::IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if hops == 0 {
        return peer;
    }
    // Entries are chosen by position before they are read: dropping one that does not parse
    // would shift the choice onto an entry the client wrote.
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let Some(entry) = forwarded
        .len()
        .checked_sub(hops)
        .and_then(|i| forwarded.get(i))
    else {
        return peer;
    };
    address(entry).or(peer)
}

/// An address as proxies write it: `203.0.113.7`, `203.0.113.7:51234`, `2001:db8::1` or
/// `[2001:db8::1]:51234`.
fn address(entry: &str) -> Option<std::net::IpAddr> {
    entry
        .parse()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })
}

/// Clients tracked at most; beyond it, idle full buckets are forgotten.
const MAX_CLIENTS: usize = 100_000;

/// Token buckets per client, and the in-flight cap.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl RateLimiter {
    pub fn new(rate_per_second: u32, burst: u32, max_in_flight: usize) -> Self {
        Self {
            rate: f64::from(rate_per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
            in_flight: Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1))),
        }
    }

    /// Takes a token for `client`, or says how many seconds until one is there.
    pub fn take(&self, client: &str, now: Instant) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(client) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets
            .entry(client.to_owned())
            .or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// The middleware.
pub async fn layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(request.uri().path(), "/healthz" | "/readyz" | "/metrics") {
        return next.run(request).await;
    }
    // The client: the bearer token's subject, else the peer's address.
    let (mut parts, body) = request.into_parts();
    let caller = app.auth.caller(&parts);
    parts
        .extensions
        .insert(crate::auth::Verified(caller.clone()));
    let key = match caller {
        Ok(caller) => format!("sub:{}", caller.subject),
        Err(_) => match client_address(&parts, app.limits.trusted_proxy_hops) {
            Some(ip) => format!("ip:{ip}"),
            None => "anonymous".into(),
        },
    };
    let request = Request::from_parts(parts, body);
    if let Err(seconds) = app.rate.take(&key, Instant::now()) {
        app.metrics.rate_limited();
        return Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
            "this client sent more requests than it may; slow down",
        )
        .retry_after(seconds)
        .into_response();
    }
    let permit = match app.rate.in_flight.clone().try_acquire_owned() {
        Ok(permit) => permit,
        Err(_) => {
            app.metrics.shed();
            return Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Overloaded",
                "the server is at capacity; try again shortly",
            )
            .retry_after(1)
            .into_response();
        }
    };
    let response = next.run(request).await;
    drop(permit);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, forwarded: &[&str]) -> axum::http::request::Parts {
        let mut request = axum::http::Request::builder();
        for f in forwarded {
            request = request.header("x-forwarded-for", *f);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        parts
    }

    #[test]
    fn the_client_is_the_peer_or_what_the_trusted_proxies_saw() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().ok();
        let p = parts("10.0.0.2:5000", &["6.6.6.6, 203.0.113.7"]);
        assert_eq!(client_address(&p, 0), ip("10.0.0.2"), "no proxy trusted");
        assert_eq!(
            client_address(&p, 1),
            ip("203.0.113.7"),
            "what our proxy appended"
        );
        assert_eq!(client_address(&p, 2), ip("6.6.6.6"));
        assert_eq!(
            client_address(&p, 3),
            ip("10.0.0.2"),
            "too few entries: the peer"
        );
        let p = parts("10.0.0.2:5000", &["6.6.6.6", "203.0.113.7"]);
        assert_eq!(
            client_address(&p, 1),
            ip("203.0.113.7"),
            "several header lines"
        );
        // With ports, brackets or garbage: chosen by position, never shifted onto the client's.
        let p = parts("10.0.0.2:5000", &["1.2.3.4, 203.0.113.7:51234"]);
        assert_eq!(client_address(&p, 1), ip("203.0.113.7"));
        let p = parts("10.0.0.2:5000", &["1.2.3.4, [2001:db8::1]:443"]);
        assert_eq!(client_address(&p, 1), ip("2001:db8::1"));
        let p = parts("10.0.0.2:5000", &["1.2.3.4, unknown"]);
        assert_eq!(
            client_address(&p, 1),
            ip("10.0.0.2"),
            "unreadable: the peer"
        );
    }

    #[test]
    fn a_bucket_allows_its_burst_then_the_rate() {
        let limiter = RateLimiter::new(10, 3, 8);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("a", t0).is_ok());
        }
        assert_eq!(limiter.take("a", t0), Err(1));
        assert!(
            limiter.take("b", t0).is_ok(),
            "clients have their own buckets"
        );
        assert!(limiter.take("a", t0 + Duration::from_millis(100)).is_ok());
        assert!(limiter.take("a", t0 + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn a_zero_rate_is_no_limit() {
        let limiter = RateLimiter::new(0, 1, 8);
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert!(limiter.take("a", t0).is_ok());
        }
    }
}
