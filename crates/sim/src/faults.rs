//! Fault injection: make the next matching request(s) fail in a chosen way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// What a matched request gets instead of (or before) its normal handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this HTTP status and a body like the platform's for it
    /// (JSON `{code, message, description}`; an nginx-style HTML page for
    /// 502/503/504, as a proxy in front of the API would send).
    Status(u16),
    /// Answer 429 with `X-Rate-Limit-Remaining: 0`, `X-Rate-Limit-Reset:
    /// retry_after_ms` and `Retry-After` (seconds, rounded up). The real bucket
    /// is not touched.
    RateLimited {
        /// Milliseconds the client should wait.
        retry_after_ms: u64,
    },
    /// Wait this long, then handle the request normally (to trigger client
    /// timeouts). Cut short when the server shuts down.
    Delay(Duration),
    /// Answer 401 as for an invalid access token.
    Unauthorized,
    /// Answer `302 Found` with this `Location` (a hostile or misconfigured server
    /// pointing the client elsewhere).
    Redirect(String),
    /// Answer 200 with a JSON string body of about this many bytes (an answer too
    /// large to hold).
    Oversized(usize),
    /// Answer with exactly this status, these headers and this body (a platform, or
    /// something in front of it, sending what no documentation promises: e.g. a 429
    /// with `Retry-After: 1e20`). Header names or values HTTP cannot carry are left out.
    Raw {
        /// HTTP status (500 when it is not a valid one).
        status: u16,
        /// Headers, in order.
        headers: Vec<(String, String)>,
        /// Body, sent as is.
        body: String,
    },
}

impl FaultKind {
    /// The answer of the kinds every platform gives alike (redirect, oversized body);
    /// the platform-shaped ones are answered by each simulator (500 here).
    pub(crate) fn common_response(&self) -> axum::response::Response {
        use axum::http::{header, StatusCode};
        use axum::response::IntoResponse;
        match self {
            Self::Redirect(to) => {
                (StatusCode::FOUND, [(header::LOCATION, to.clone())]).into_response()
            }
            Self::Oversized(n) => {
                let mut body = Vec::with_capacity(n + 2);
                body.push(b'"');
                body.resize(n + 1, b'x');
                body.push(b'"');
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response()
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Matches requests whose path (e.g. `/v1/123/orders/7`) contains this.
    pub path_contains: String,
    /// Only requests with this method; `None` matches every method.
    pub method: Option<Method>,
    /// How many matching requests get the fault (0 behaves as 1).
    pub times: u32,
    /// What happens to them.
    pub kind: FaultKind,
}

impl Fault {
    /// A fault for `times` requests whose path contains `path_contains`, any method.
    pub fn new(path_contains: impl Into<String>, times: u32, kind: FaultKind) -> Self {
        Self {
            path_contains: path_contains.into(),
            method: None,
            times,
            kind,
        }
    }

    /// Restricts the fault to one method.
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }
}

/// The answer of a [`FaultKind::Raw`] fault.
pub(crate) fn raw_response(status: u16, headers: &[(String, String)], body: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, body.to_owned()).into_response();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            r.headers_mut().append(n, v);
        }
    }
    r
}

/// Queue of pending faults. The first fault (in injection order) that matches a
/// request is applied and its count decremented; spent faults are removed.
#[derive(Debug, Default)]
pub struct FaultQueue {
    pending: AtomicUsize,
    faults: Mutex<Vec<(Fault, u32)>>,
}

impl FaultQueue {
    /// Adds a fault at the end of the queue.
    pub fn push(&self, fault: Fault) {
        let left = fault.times.max(1);
        let mut q = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        q.push((fault, left));
        self.pending.store(q.len(), Ordering::Release);
    }

    /// Removes every pending fault.
    pub fn clear(&self) {
        let mut q = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        q.clear();
        self.pending.store(0, Ordering::Release);
    }

    /// Number of faults still pending.
    pub fn len(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// True when no fault is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Consumes one use of the first fault matching the request, if any.
    pub fn take(&self, method: &Method, path: &str) -> Option<FaultKind> {
        if self.pending.load(Ordering::Acquire) == 0 {
            return None; // fast path: no lock when nothing is injected
        }
        let mut q = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let idx = q.iter().position(|(f, _)| {
            f.method.as_ref().is_none_or(|m| m == method) && path.contains(&f.path_contains)
        })?;
        let kind = q[idx].0.kind.clone();
        q[idx].1 -= 1;
        if q[idx].1 == 0 {
            q.remove(idx);
        }
        self.pending.store(q.len(), Ordering::Release);
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumed_in_order() {
        let q = FaultQueue::default();
        q.push(Fault::new("/orders", 2, FaultKind::Status(500)));
        q.push(Fault::new("/orders", 1, FaultKind::Unauthorized).with_method(Method::GET));
        assert_eq!(q.take(&Method::POST, "/webhooks"), None);
        assert_eq!(
            q.take(&Method::GET, "/v1/1/orders"),
            Some(FaultKind::Status(500))
        );
        assert_eq!(
            q.take(&Method::GET, "/v1/1/orders"),
            Some(FaultKind::Status(500))
        );
        assert_eq!(q.take(&Method::POST, "/v1/1/orders"), None);
        assert_eq!(
            q.take(&Method::GET, "/v1/1/orders"),
            Some(FaultKind::Unauthorized)
        );
        assert!(q.is_empty());
    }
}
