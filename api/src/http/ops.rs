//! Operations: health and readiness, the event feed for analysts, and the admin endpoints for
//! projections (status, rebuild) and checkout sagas (list, retry).

use std::time::Duration;

use anyhow::Context as _;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shop_eventstore::{Actor, ReadAll};
use shop_projections::models::sagas::{sagas_by_state, stuck_sagas};
use utoipa::ToSchema;

use super::AppState;
use super::fresh::Freshness;
use super::input::{Admin, invalid_id, require, time};
use super::output::Read;
use crate::auth::{Caller, Role};
use crate::problem::Problem;

/// A projection this far behind the head (in events) makes the server not ready.
pub const NOT_READY_LAG_EVENTS: u64 = 10_000;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready: the event store, the read-model database and the search index answer within 2 s, and
/// no projection is hopelessly behind.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = String),
        (status = 503, description = "Not ready", body = Problem)))]
pub async fn readyz(State(app): State<AppState>) -> Response {
    let checks = async {
        app.events
            .head_position()
            .await
            .context("the event store")?;
        app.reads
            .checkpoint("catalog")
            .await
            .context("the read-model database")?;
        app.search.health().await.context("the search index")?;
        for status in app.board.all() {
            anyhow::ensure!(
                status.lag_events < NOT_READY_LAG_EVENTS,
                "projection {} is {} events behind",
                status.name,
                status.lag_events
            );
        }
        anyhow::Ok(())
    };
    match tokio::time::timeout(Duration::from_secs(2), checks).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => {
            // Which part failed is said; how is logged (store errors are not for the public).
            tracing::warn!(error = %format!("{e:#}"), "not ready");
            not_ready(&format!("{e}"))
        }
        Err(_) => not_ready("a store did not answer within 2 s"),
    }
}

fn not_ready(detail: &str) -> Response {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        "Not ready",
        detail,
    )
    .retry_after(5)
    .into_response()
}

/// `?after=<position>&limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Events after this position (`<commit>.<prepare>`, as answered in `next_after`); from the
    /// start when absent.
    pub after: Option<String>,
    /// Events per page, 1 to 1000 (default 100).
    pub limit: Option<usize>,
    /// Only streams of these categories, comma-separated (`order,payment`).
    pub category: Option<String>,
}

/// An event as the feed shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEvent {
    /// Global position.
    pub position: String,
    /// Stream.
    pub stream: String,
    /// Revision in the stream.
    pub revision: u64,
    /// Type, e.g. `order.OrderPlaced.v1`.
    pub event_type: String,
    /// Id.
    pub event_id: String,
    /// When it was recorded.
    pub recorded_at: String,
    /// The event's data.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Correlation id.
    pub correlation_id: String,
    /// Who (kind:id).
    pub actor: String,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    /// In log order.
    pub events: Vec<FeedEvent>,
    /// Pass as `after` for the next page (absent when this page is empty).
    pub next_after: Option<String>,
}

/// The event log in order, for analysts and auditors (exports, replays).
#[utoipa::path(get, path = "/events", tag = "operations", params(FeedQuery),
    responses((status = 200, description = "A page of events", body = FeedPage)),
    security(("bearer" = [])))]
pub async fn events(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<FeedQuery>,
) -> Result<Read<FeedPage>, Problem> {
    require(&caller, &[Role::Analyst, Role::Auditor])?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            "Invalid limit",
            "limit is 1 to 1000",
        ));
    }
    let mut read = ReadAll::forwards().limit(limit);
    if let Some(categories) = &query.category {
        let categories: Vec<String> = categories
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| format!("{c}-"))
            .collect();
        if categories.is_empty()
            || categories
                .iter()
                .any(|c| !c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'))
        {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_category",
                "Invalid category",
                "category takes stream categories such as order,payment",
            ));
        }
        read.filter = shop_eventstore::AllFilter::stream_prefixes(categories);
    }
    if let Some(after) = &query.after {
        read.from = Some(after.parse().map_err(|_| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_position",
                "Invalid position",
                "after takes a position as answered in next_after",
            )
        })?);
    }
    let events = app.events.read_all(read).await.map_err(|e| {
        tracing::warn!(error = %e, "reading the log failed");
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Try again",
            "the event store did not answer",
        )
        .retry_after(1)
    })?;
    let next_after = events.last().map(|e| e.position.to_string());
    let events = events
        .into_iter()
        // Idempotency records hold whole responses (a guest cart's token among them): the
        // server's own bookkeeping, not the shop's history.
        .filter(|e| !e.stream.as_str().starts_with("idempotency-"))
        .map(|e| FeedEvent {
            position: e.position.to_string(),
            stream: e.stream.to_string(),
            revision: e.revision,
            event_type: e.event_type.clone(),
            event_id: e.event_id.to_string(),
            recorded_at: e.recorded_at.to_rfc3339(),
            data: redacted(e.data.decode().unwrap_or_default()),
            correlation_id: e.metadata.correlation_id.to_string(),
            actor: format!("{}:{}", e.metadata.actor.kind, e.metadata.actor.id),
        })
        .collect();
    Ok(Read::new(
        FeedPage { events, next_after },
        Freshness::Unasked,
    ))
}

/// Payment method tokens are the provider's, not the analysts': replaced wherever they occur.
fn redacted(mut data: serde_json::Value) -> serde_json::Value {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map.iter_mut() {
                    if key == "method_token" {
                        *inner = serde_json::Value::from("[redacted]");
                    } else {
                        walk(inner);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut data);
    data
}

/// A projection's progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionView {
    /// Its name.
    pub name: String,
    /// `live`, `standby`, `rebuilding`, `retrying`, `stopped`, …
    pub state: String,
    /// Applied up to here.
    pub checkpoint: Option<String>,
    /// Events of its categories not yet applied (up to 10,000).
    pub lag_events: u64,
    /// Age of the newest applied event while behind.
    pub lag_seconds: f64,
    /// Events applied since start.
    pub applied: u64,
    /// Events parked since start.
    pub parked: u64,
    /// The newest error.
    pub last_error: Option<String>,
}

/// The projections' progress (admin).
#[utoipa::path(get, path = "/admin/projections", tag = "operations",
    responses((status = 200, description = "Projections", body = [ProjectionView])),
    security(("bearer" = [])))]
pub async fn projections(
    State(app): State<AppState>,
    Admin(_): Admin,
) -> Result<axum::Json<Vec<ProjectionView>>, Problem> {
    Ok(axum::Json(
        app.board
            .all()
            .into_iter()
            .map(|s| ProjectionView {
                name: s.name,
                state: format!("{:?}", s.state).to_lowercase(),
                checkpoint: s.checkpoint.map(|p| p.to_string()),
                lag_events: s.lag_events,
                lag_seconds: s.lag.as_secs_f64(),
                applied: s.applied,
                parked: s.parked,
                last_error: s.last_error.map(|(at, e)| format!("{at}: {e}")),
            })
            .collect(),
    ))
}

/// Rebuilds a projection from the log without downtime (admin): answers 202 at once; follow it
/// in `/admin/projections`.
#[utoipa::path(post, path = "/admin/projections/{name}/rebuild", tag = "operations",
    params(("name" = String, Path)),
    responses((status = 202, description = "Rebuild started")),
    security(("bearer" = [])))]
pub async fn rebuild(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Admin(caller): Admin,
) -> Result<StatusCode, Problem> {
    let Some(runner) = app.runner.clone() else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "not_here",
            "Projections run elsewhere",
            "this process does not run the projections",
        ));
    };
    if app.board.get(&name).is_none() {
        return Err(super::input::not_found("projection"));
    }
    tracing::info!(projection = %name, operator = %caller.subject, "rebuild requested");
    tokio::spawn(async move {
        match runner.rebuild(&[name.as_str()]).await {
            Ok(report) => tracing::info!(projection = %name, ?report, "rebuild done"),
            Err(e) => {
                tracing::error!(projection = %name, error = %format!("{e:#}"), "rebuild failed")
            }
        }
    });
    Ok(StatusCode::ACCEPTED)
}

/// `?state=` or `?stuck=true`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SagaQuery {
    /// `started`, `compensating`, `confirmed`, `cancelled`, `payment_failed`, …
    pub state: Option<String>,
    /// Only sagas stuck after repeated failures.
    pub stuck: Option<bool>,
    /// The order id the previous page ended at.
    pub after: Option<String>,
    /// Rows, 1 to 100.
    pub limit: Option<usize>,
}

/// A checkout saga.
#[derive(Debug, Serialize, ToSchema)]
pub struct SagaView {
    /// The order.
    pub order_id: String,
    /// Where it stands.
    pub state: String,
    /// Why it compensates.
    pub reason: Option<String>,
    /// Stuck after repeated failures.
    pub stuck: bool,
    /// Failed attempts.
    pub attempts: i64,
    /// The newest failure.
    pub last_error: Option<String>,
    /// Last change.
    pub updated_at: String,
}

/// Checkout sagas by state, or the stuck ones (admin, auditor).
#[utoipa::path(get, path = "/admin/sagas", tag = "operations", params(SagaQuery),
    responses((status = 200, description = "Sagas", body = [SagaView])),
    security(("bearer" = [])))]
pub async fn sagas(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<SagaQuery>,
) -> Result<axum::Json<Vec<SagaView>>, Problem> {
    require(&caller, &[Role::Admin, Role::Auditor])?;
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    let rows = match (query.stuck, query.state) {
        (Some(true), _) => stuck_sagas(app.reads.as_ref(), query.after.as_deref(), limit).await,
        (_, Some(state)) => {
            sagas_by_state(app.reads.as_ref(), &state, query.after.as_deref(), limit).await
        }
        _ => {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "State or stuck",
                "ask for ?state=<state> or ?stuck=true",
            ));
        }
    }
    .map_err(|e| Problem::internal(&e))?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|r| SagaView {
                order_id: r.order_id,
                state: r.state,
                reason: r.reason,
                stuck: r.stuck,
                attempts: r.stuck_attempts,
                last_error: r.last_error,
                updated_at: time(r.updated_at),
            })
            .collect(),
    ))
}

/// Asks the process managers to drive a saga again now (admin; 409 once the saga has ended).
#[utoipa::path(post, path = "/admin/sagas/{order_id}/retry", tag = "operations",
    params(("order_id" = String, Path)),
    responses((status = 202, description = "Retry recorded")),
    security(("bearer" = [])))]
pub async fn retry_saga(
    State(app): State<AppState>,
    Path(order_id): Path<String>,
    Admin(caller): Admin,
) -> Result<StatusCode, Problem> {
    let order_id = shop_domain::OrderId::new(order_id).map_err(|e| invalid_id("order id", e))?;
    let state = app
        .checkout
        .state(&order_id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    if state.order_id.is_none() {
        return Err(super::input::not_found("saga"));
    }
    if state.outcome.is_some() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "saga_ended",
            "Saga ended",
            "the checkout has ended: there is nothing to retry",
        ));
    }
    app.checkout
        .request_retry(&order_id, Actor::new("admin", caller.subject.clone()))
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(StatusCode::ACCEPTED)
}
