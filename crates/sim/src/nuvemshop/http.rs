//! Response helpers and the gate every API request passes: fault injection,
//! store id, User-Agent, authentication, rate limit, Content-Type, request log.

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
use crate::bucket::RateInfo;
use crate::faults::{raw_response, FaultKind};
use crate::reqlog::RequestRecord;

const JSON: &str = "application/json; charset=utf-8";

/// A JSON response from pre-rendered bytes.
pub fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(JSON))],
        body,
    )
        .into_response()
}

/// A JSON response.
pub fn json_value(status: StatusCode, body: &Value) -> Response {
    json_bytes(
        status,
        Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
    )
}

/// A JSON response from a `(status, body)` pair of the model layer.
pub fn json_pair((status, body): (u16, Value)) -> Response {
    json_value(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        &body,
    )
}

fn reason(code: u16) -> &'static str {
    StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// `{"code": c, "message": "<reason>", "description": d}`, the platform's error body.
pub fn error(code: u16, description: impl Into<Value>) -> Response {
    json_pair((
        code,
        json!({"code": code, "message": reason(code), "description": description.into()}),
    ))
}

/// Documented body for unparseable JSON.
pub fn bad_json() -> Response {
    json_value(
        StatusCode::BAD_REQUEST,
        &json!({"error": "Problems parsing JSON"}),
    )
}

/// Parses a request body; an empty body is `{}`.
pub fn parse_body(body: &Bytes) -> Result<Value, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|_| bad_json())
}

pub fn unauthorized() -> Response {
    error(401, "Invalid access token")
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
        FaultKind::RateLimited { retry_after_ms } => {
            let mut r = json_value(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"code": 429, "message": "Too Many Requests"}),
            );
            let h = r.headers_mut();
            h.insert("x-rate-limit-remaining", HeaderValue::from(0u32));
            h.insert("x-rate-limit-reset", HeaderValue::from(*retry_after_ms));
            h.insert(
                RETRY_AFTER,
                HeaderValue::from(retry_after_ms.div_ceil(1000)),
            );
            r
        }
        FaultKind::Status(code @ (502..=504)) => {
            let title = format!("{code} {}", reason(*code));
            let html = format!(
                "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
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
            let description = if *code >= 500 {
                Value::Null
            } else {
                json!(reason(*code))
            };
            let code = if StatusCode::from_u16(*code).is_ok() {
                *code
            } else {
                500
            };
            error(code, description)
        }
        // Handled by the caller (it delays, then continues).
        FaultKind::Delay(_) => error(500, Value::Null),
    }
}

fn set_rate_headers(h: &mut HeaderMap, info: RateInfo) {
    h.insert("x-rate-limit-limit", HeaderValue::from(info.limit));
    if !h.contains_key("x-rate-limit-remaining") {
        h.insert("x-rate-limit-remaining", HeaderValue::from(info.remaining));
    }
    if !h.contains_key("x-rate-limit-reset") {
        h.insert("x-rate-limit-reset", HeaderValue::from(info.reset_ms));
    }
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

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn token_ok(h: &HeaderMap, token: &str, accept_authorization: bool) -> bool {
    let check = |raw: &str| {
        let mut parts = raw.split_whitespace();
        matches!(
            (parts.next(), parts.next(), parts.next()),
            (Some(scheme), Some(t), None) if scheme.eq_ignore_ascii_case("bearer") && t == token
        )
    };
    check(header_str(h, "authentication"))
        || (accept_authorization && check(header_str(h, "authorization")))
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
    let limited = cfg.bucket_size > 0;
    let peek = || {
        inner
            .bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .peek(Instant::now())
    };
    let with_peek = |mut r: Response| {
        if limited {
            set_rate_headers(r.headers_mut(), peek());
        }
        r
    };

    if let Some(kind) = inner.faults.take(method, path) {
        if let FaultKind::Delay(d) = kind {
            let mut rx = st.shutdown.clone();
            tokio::select! {
                () = tokio::time::sleep(d) => {}
                _ = rx.wait_for(|stop| *stop) => return error(503, "Server shutting down"),
            }
        } else {
            let mut r = fault_response(&kind);
            let raw = matches!(kind, FaultKind::Raw { .. });
            if (limited && !raw) || matches!(kind, FaultKind::RateLimited { .. }) {
                let mut info = peek();
                info.limit = cfg.bucket_size;
                set_rate_headers(r.headers_mut(), info);
            }
            return r;
        }
    }

    // Only `/v1/{store_id}/...` is the API; anything else reaches the 404 fallback.
    let Some(rest) = path.strip_prefix("/v1/") else {
        return next.run(req).await;
    };
    let store = rest.split('/').next().unwrap_or_default();
    let h = req.headers();
    if cfg.require_user_agent && header_str(h, "user-agent").trim().is_empty() {
        return with_peek(error(400, "User-Agent header is required"));
    }
    // Assumption: a path with another store id is answered 401, since access
    // tokens are issued per store (`user_id`).
    if store.parse::<u64>().ok() != Some(cfg.store_id)
        || !token_ok(h, &cfg.access_token, cfg.accept_authorization_header)
    {
        return with_peek(unauthorized());
    }
    let info = if limited {
        let r = inner
            .bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_acquire(Instant::now());
        match r {
            Ok(info) => Some(info),
            Err(info) => {
                // The docs give no 429 body; this mirrors the other error bodies.
                let mut resp = json_value(
                    StatusCode::TOO_MANY_REQUESTS,
                    &json!({"code": 429, "message": "Too Many Requests"}),
                );
                set_rate_headers(resp.headers_mut(), info);
                return resp;
            }
        }
    } else {
        None
    };
    // Documented: JSON only, 415 without `Content-Type: application/json`.
    // Assumption: required on every POST/PUT/PATCH, even with an empty body.
    if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        let ct = header_str(h, "content-type").trim().to_ascii_lowercase();
        if !ct.starts_with("application/json") {
            let mut r = error(415, "Content-Type must be application/json");
            if let Some(i) = info {
                set_rate_headers(r.headers_mut(), i);
            }
            return r;
        }
    }
    let mut resp = next.run(req).await;
    if let Some(i) = info {
        set_rate_headers(resp.headers_mut(), i);
    }
    resp
}
