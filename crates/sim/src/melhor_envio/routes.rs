//! Router, gate (faults, request log) and the tracking handler.
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::{MeSim, MAX_ORDERS};
use crate::faults::{raw_response, FaultKind};
use crate::reqlog::RequestRecord;

/// Router state.
#[derive(Clone)]
pub struct AppState {
    pub sim: MeSim,
    pub shutdown: watch::Receiver<bool>,
}

pub fn router(st: AppState) -> Router {
    Router::new()
        .route("/api/v2/me/shipment/tracking", post(tracking))
        .fallback(|| async { error(404, "Not Found") })
        .layer(middleware::from_fn_with_state(st.clone(), gate))
        .with_state(st)
}

fn json_response(status: u16, body: &Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
    )
        .into_response()
}

fn error(status: u16, message: &str) -> Response {
    json_response(status, &json!({"message": message}))
}

fn too_many() -> Response {
    let mut r = error(429, "Too Many Attempts.");
    r.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn fault_response(kind: &FaultKind) -> Response {
    match kind {
        FaultKind::Redirect(_) | FaultKind::Oversized(_) => kind.common_response(),
        FaultKind::Unauthorized => error(401, "Unauthenticated."),
        FaultKind::Raw {
            status,
            headers,
            body,
        } => raw_response(*status, headers, body),
        FaultKind::RateLimited { .. } => too_many(),
        FaultKind::Status(code) => error(*code, "simulated failure"),
        FaultKind::Delay(_) => error(500, "Server Error"),
    }
}

async fn gate(State(st): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let at = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let resp = match st.sim.inner.faults.take(&method, &path) {
        Some(FaultKind::Delay(d)) => {
            let mut rx = st.shutdown.clone();
            let stopped = tokio::select! {
                () = tokio::time::sleep(d) => false,
                _ = rx.wait_for(|s| *s) => true,
            };
            if stopped {
                error(503, "shutting down")
            } else {
                next.run(req).await
            }
        }
        Some(kind) => fault_response(&kind),
        None => next.run(req).await,
    };
    st.sim.inner.log.push(RequestRecord {
        method,
        path,
        query,
        status: resp.status().as_u16(),
        at,
    });
    resp
}

/// `YYYY-MM-DD HH:MM:SS` in Brasília time (third-party format; the offset assumed).
fn fmt(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        Value::from(
            (t - chrono::Duration::hours(3))
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
        )
    })
}

/// `POST /api/v2/me/shipment/tracking` `{"orders": [id, …]}`.
async fn tracking(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let cfg = &st.sim.inner.config;
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(cfg.access_token.as_str()) {
        return error(401, "Unauthenticated.");
    }
    if let Some(b) = crate::lock(&st.sim.inner.bucket).as_mut() {
        if b.try_acquire(Instant::now()).is_err() {
            return too_many();
        }
    }
    let ids: Vec<String> = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => match v["orders"].as_array() {
            Some(a) => a
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            None => return error(422, "The orders field is required."),
        },
        Err(_) => return error(400, "Invalid JSON"),
    };
    if ids.is_empty() || ids.len() > MAX_ORDERS {
        return error(422, "The orders field must have 1 to 50 items.");
    }
    let s = st.sim.store();
    let mut out = Map::new();
    for id in ids {
        let Some(o) = s.orders.get(&id) else { continue };
        out.insert(
            id.clone(),
            json!({"id": id, "protocol": o.protocol, "status": o.status, "tracking": o.tracking,
                   "melhorenvio_tracking": format!("ME{}", &o.protocol[4..]),
                   "created_at": fmt(Some(o.created_at)), "paid_at": fmt(Some(o.created_at)),
                   "generated_at": fmt(Some(o.created_at)), "posted_at": fmt(o.posted_at),
                   "delivered_at": fmt(o.delivered_at), "canceled_at": fmt(o.canceled_at),
                   "expired_at": Value::Null}),
        );
    }
    json_response(200, &Value::Object(out))
}
