//! Response helpers and the gate every request passes: fault injection,
//! authentication, request log.
//!
//! Error bodies: the Orders API documents `{"error": {"code", "message",
//! "exception"}}` (start-handling's 401 example `{"code": "1", "message":
//! "Unauthorized access"}` and 409 example `OMS003`). The simulator uses that
//! shape for every error; where the spec gives no example the `code` is the
//! HTTP status as a string (an assumption, never a real OMS code).

// Helpers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};

use super::routes::AppState;
use crate::faults::{raw_response, FaultKind};
use crate::reqlog::RequestRecord;

const JSON: &str = "application/json; charset=utf-8";

pub fn json_value(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(JSON))],
        Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
    )
        .into_response()
}

pub fn ok(body: &Value) -> Response {
    json_value(StatusCode::OK, body)
}

/// `{"error": {"code": code, "message": message, "exception": null}}`.
pub fn vtex_error(status: u16, code: &str, message: impl Into<String>) -> Response {
    json_value(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        &json!({"error": {"code": code, "message": message.into(), "exception": null}}),
    )
}

/// An error whose code is the HTTP status (undocumented cases).
pub fn error(status: u16, message: impl Into<String>) -> Response {
    vtex_error(status, &status.to_string(), message)
}

/// Documented 401 body (start-handling's example).
pub fn unauthorized() -> Response {
    vtex_error(401, "1", "Unauthorized access")
}

/// Parses a JSON body; an empty body is `{}`.
pub fn parse_body(body: &Bytes) -> Result<Value, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| error(400, format!("Invalid JSON: {e}")))
}

/// The documented error of the Logistics API under lock contention. The body is
/// an assumption (the spec read lists no 423 example).
pub fn locked() -> Response {
    vtex_error(423, "423", "Unable to acquire lock")
}

fn reason(code: u16) -> &'static str {
    StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

fn fault_response(kind: &FaultKind) -> Response {
    match kind {
        FaultKind::Redirect(_) | FaultKind::Oversized(_) => kind.common_response(),
        FaultKind::Unauthorized => unauthorized(),
        FaultKind::Raw {
            status,
            headers,
            body,
        } => raw_response(*status, headers, body),
        // Assumption: VTEX documents no 429 body or headers beyond "Too many
        // requests"; the sim sends `Retry-After` (seconds, rounded up).
        FaultKind::RateLimited { retry_after_ms } => {
            let mut r = error(429, "Too many requests");
            r.headers_mut().insert(
                RETRY_AFTER,
                HeaderValue::from(retry_after_ms.div_ceil(1000)),
            );
            r
        }
        FaultKind::Status(423) => locked(),
        FaultKind::Status(code @ (502..=504)) => {
            let title = format!("{code} {}", reason(*code));
            let html = format!(
                "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
            );
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::BAD_GATEWAY);
            (
                status,
                [(CONTENT_TYPE, HeaderValue::from_static("text/html"))],
                html,
            )
                .into_response()
        }
        FaultKind::Status(code) => {
            let code = if StatusCode::from_u16(*code).is_ok() {
                *code
            } else {
                500
            };
            error(code, reason(code))
        }
        // Handled by the caller (it delays, then continues).
        FaultKind::Delay(_) => error(500, "Internal Server Error"),
    }
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Middleware around every route.
pub async fn gate(State(st): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let at = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let resp = gate_inner(&st, req, next, &method, &path).await;
    st.sim.inner.log.push(RequestRecord {
        method,
        path,
        query,
        status: resp.status().as_u16(),
        at,
    });
    resp
}

async fn gate_inner(
    st: &AppState,
    req: Request<Body>,
    next: Next,
    method: &Method,
    path: &str,
) -> Response {
    let inner = &st.sim.inner;
    let cfg = &inner.config;
    if let Some(kind) = inner.faults.take(method, path) {
        if let FaultKind::Delay(d) = kind {
            let mut rx = st.shutdown.clone();
            tokio::select! {
                () = tokio::time::sleep(d) => {}
                _ = rx.wait_for(|stop| *stop) => return error(503, "Server shutting down"),
            }
        } else {
            return fault_response(&kind);
        }
    }
    if !path.starts_with("/api/") {
        return next.run(req).await;
    }
    // Documented: `X-VTEX-API-AppKey` + `X-VTEX-API-AppToken`, or a user token
    // in `VtexIdclientAutCookie` (header) instead.
    let h = req.headers();
    let key_ok = header_str(h, "x-vtex-api-appkey") == cfg.app_key
        && header_str(h, "x-vtex-api-apptoken") == cfg.app_token;
    let cookie = header_str(h, "vtexidclientautcookie");
    let user_ok = cfg
        .user_token
        .as_deref()
        .is_some_and(|t| !cookie.is_empty() && cookie == t);
    if !(key_ok || user_ok) {
        return unauthorized();
    }
    if method == Method::GET && path.starts_with("/api/oms/pvt/orders") {
        if let Some(bucket) = &inner.orders_bucket {
            let mut bucket = bucket.lock().unwrap_or_else(|e| e.into_inner());
            if bucket.try_acquire(Instant::now()).is_err() {
                // No documented body or headers: the Orders API's error shape.
                return vtex_error(429, "429", "Too Many Requests");
            }
        }
    }
    next.run(req).await
}
