//! `/health`, `/ready`, `/metrics`. Readiness and metrics answer from the figures the
//! engine reads in the background: a probe or a scrape never queries the database.

use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// `/health` and `/ready`.
pub(crate) fn probes() -> Router<AppState> {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
}

/// `/metrics`.
pub(crate) fn metrics_route() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn ready(State(engine): State<AppState>) -> impl IntoResponse {
    match engine.ready() {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn metrics(State(engine): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        engine.render_metrics(),
    )
}
