//! The access log and `/metrics` in the Prometheus text format: request latency histograms by route and status,
//! the command handlers' counters (commands, rejections, conflicts, load shedding), the
//! projections' lag, sagas by state, the deadline backlog, and the rate limiter's and load shedder's refusals. Kept in-process with
//! atomics and one short-held lock per request, no metrics crate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shop_commands::HandlerStats;

use super::AppState;

/// Histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// The server's own counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    rate_limited: AtomicU64,
    shed: AtomicU64,
}

impl Metrics {
    /// No requests yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A request answered.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default()
            .observe(seconds);
    }

    /// A request refused by the rate limit.
    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// A request shed under load.
    pub fn shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Records every request's latency under its route template (`/orders/{order_id}`, so ids do
/// not explode the label set; unmatched paths count as `unmatched`).
pub async fn layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Only the methods the API has: a client inventing methods must not grow the label set.
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    app.metrics.observe(&method, &route, status, seconds);
    // The access log: one line per request (inside the request span, so it carries the request
    // and correlation ids); probes at debug so they do not drown the rest.
    let millis = (seconds * 10_000.0).round() / 10.0;
    if matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics") {
        tracing::debug!(status, millis, route, "answered");
    } else if status >= 500 {
        tracing::warn!(status, millis, route, "answered");
    } else {
        tracing::info!(status, millis, route, "answered");
    }
    response
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn handler(out: &mut String, aggregate: &str, s: HandlerStats) {
    for (name, value) in [
        ("commands", s.commands),
        ("accepted", s.accepted),
        ("rejected", s.rejected),
        ("replayed", s.replayed),
        ("conflicts", s.conflicts),
        ("overloaded", s.overloaded),
        ("events", s.events),
    ] {
        let _ = writeln!(
            out,
            "shop_command_{name}_total{{aggregate=\"{aggregate}\"}} {value}"
        );
    }
}

/// The metrics page.
pub fn render(app: &AppState) -> String {
    let mut out = String::with_capacity(8 * 1024);
    out.push_str(
        "# HELP shop_http_request_duration_seconds HTTP request latency by route and status.\n",
    );
    out.push_str("# TYPE shop_http_request_duration_seconds histogram\n");
    let requests = app
        .metrics
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for ((method, route, status), h) in &requests {
        let labels = format!(
            "method=\"{method}\",route=\"{}\",status=\"{status}\"",
            escape(route)
        );
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "shop_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                h.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "shop_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(
            out,
            "shop_http_request_duration_seconds_sum{{{labels}}} {}",
            h.sum
        );
        let _ = writeln!(
            out,
            "shop_http_request_duration_seconds_count{{{labels}}} {}",
            h.count
        );
    }
    out.push_str(
        "# HELP shop_http_rate_limited_total Requests refused by the per-client rate limit.\n",
    );
    out.push_str("# TYPE shop_http_rate_limited_total counter\n");
    let _ = writeln!(
        out,
        "shop_http_rate_limited_total {}",
        app.metrics.rate_limited.load(Ordering::Relaxed)
    );
    out.push_str("# HELP shop_http_shed_total Requests refused because too many were in flight.\n");
    out.push_str("# TYPE shop_http_shed_total counter\n");
    let _ = writeln!(
        out,
        "shop_http_shed_total {}",
        app.metrics.shed.load(Ordering::Relaxed)
    );

    out.push_str("# HELP shop_command_commands_total Commands handled by this process's API handlers, by aggregate (also _accepted, _rejected, _replayed, _conflicts, _overloaded, _events).\n");
    for name in [
        "commands",
        "accepted",
        "rejected",
        "replayed",
        "conflicts",
        "overloaded",
        "events",
    ] {
        let _ = writeln!(out, "# TYPE shop_command_{name}_total counter");
    }
    handler(&mut out, "product", app.products.stats());
    handler(&mut out, "inventory", app.inventory.stats());
    handler(&mut out, "cart", app.carts.stats());
    handler(&mut out, "order", app.orders.stats());
    handler(&mut out, "payment", app.payments.stats());
    handler(&mut out, "promotion", app.promotions.stats());

    out.push_str("# HELP shop_projection_lag_seconds Age of the newest applied event while behind the head (0 when caught up).\n");
    out.push_str("# TYPE shop_projection_lag_seconds gauge\n");
    let statuses = app.board.all();
    for s in &statuses {
        let _ = writeln!(
            out,
            "shop_projection_lag_seconds{{projection=\"{}\"}} {}",
            escape(&s.name),
            s.lag.as_secs_f64()
        );
    }
    out.push_str("# HELP shop_projection_lag_events Events of a projection's categories not yet applied (counted up to 10000).\n");
    out.push_str("# TYPE shop_projection_lag_events gauge\n");
    for s in &statuses {
        let _ = writeln!(
            out,
            "shop_projection_lag_events{{projection=\"{}\"}} {}",
            escape(&s.name),
            s.lag_events
        );
    }
    out.push_str("# HELP shop_projection_applied_total Events applied since start.\n");
    out.push_str("# TYPE shop_projection_applied_total counter\n");
    for s in &statuses {
        let _ = writeln!(
            out,
            "shop_projection_applied_total{{projection=\"{}\"}} {}",
            escape(&s.name),
            s.applied
        );
    }
    if let Some(feed) = &app.search_feed {
        let status = feed.status();
        out.push_str("# HELP shop_search_feed_upserted_total Documents the search feed wrote to the index since start.\n");
        out.push_str("# TYPE shop_search_feed_upserted_total counter\n");
        let _ = writeln!(out, "shop_search_feed_upserted_total {}", status.upserted);
        out.push_str("# TYPE shop_search_feed_retrying gauge\n");
        let _ = writeln!(
            out,
            "shop_search_feed_retrying {}",
            u8::from(status.retrying)
        );
    }
    if let Some(gauges) = &app.gauges {
        out.push_str(&gauges());
    }
    out
}

/// The most sagas counted per state on one scrape.
const SAGA_COUNT_LIMIT: usize = 1_000;

/// Sagas by state from the operators' read model: the open states (bounded by the checkouts in
/// flight) and the stuck ones, each counted up to [`SAGA_COUNT_LIMIT`].
async fn saga_states(app: &AppState) -> String {
    use shop_projections::models::sagas::{sagas_by_state, stuck_sagas};
    let mut out = String::from(
        "# HELP shop_sagas Open checkout sagas by state, and the stuck ones (each counted up to 1000).\n\
         # TYPE shop_sagas gauge\n",
    );
    for state in ["running", "compensating", "stuck"] {
        let mut count = 0usize;
        let mut after: Option<String> = None;
        while count < SAGA_COUNT_LIMIT {
            let page = if state == "stuck" {
                stuck_sagas(app.reads.as_ref(), after.as_deref(), 1000).await
            } else {
                sagas_by_state(app.reads.as_ref(), state, after.as_deref(), 1000).await
            };
            let Ok(page) = page else {
                return out;
            };
            count += page.len();
            match page.last() {
                Some(last) if page.len() == 1000 => after = Some(last.order_id.clone()),
                _ => break,
            }
        }
        let _ = writeln!(out, "shop_sagas{{state=\"{state}\"}} {count}");
    }
    out
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(app): State<AppState>) -> Response {
    let mut page = render(&app);
    page.push_str(&saga_states(&app).await);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], page).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.003);
        h.observe(0.2);
        assert_eq!(h.counts[0], 0);
        assert_eq!(h.counts[2], 1, "≤ 5 ms");
        assert_eq!(h.counts[7], 2, "≤ 250 ms");
        assert_eq!(h.count, 2);
    }
}
