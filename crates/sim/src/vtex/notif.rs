//! Feed v3 and hook configuration handlers.
//!
//! Documented (Orders API spec, Feed v3 guide): one feed and one hook per
//! appKey (the simulator has one appKey); `GET /api/orders/feed?maxlot=n`
//! (n at most 10) answers 404 without a feed configuration; retrieved items are
//! invisible for `visibilityTimeoutInSeconds`, then come back unless committed
//! with `POST /api/orders/feed {"handles": [...]}`; items older than
//! `MessageRetentionPeriodInSeconds` (at most 1209600) are dropped; a
//! reconfigured feed keeps its queue; the guide's examples use 240 s and
//! 345600 s.
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::filter::Filter;
use super::http::{error, ok, parse_body};
use super::routes::{pair, AppState, Pairs};
use super::state::{FeedConfig, HookConfig};

/// Documented maximum of `MessageRetentionPeriodInSeconds`.
pub const MAX_RETENTION_S: i64 = 1_209_600;

/// Assumption: the simulator bounds the visibility timeout like SQS (12 h).
pub const MAX_VISIBILITY_S: i64 = 43_200;

fn empty_ok() -> Response {
    StatusCode::OK.into_response()
}

/// Assumption: no configuration answers 404 with the OMS error shape.
fn no_feed() -> Response {
    error(404, "Feed configuration not found for this appKey")
}

pub async fn feed_items(State(st): State<AppState>, Query(pairs): Pairs) -> Response {
    // Documented: required, at most 10. Assumption: missing, non-numeric or
    // outside 1..=10 answers 400.
    let n = match pair(&pairs, "maxlot").map(str::parse::<usize>) {
        Some(Ok(n)) if (1..=10).contains(&n) => n,
        _ => return error(400, "maxlot must be an integer between 1 and 10"),
    };
    let mut store = st.sim.write();
    if store.feed.config.is_none() {
        return no_feed();
    }
    ok(&Value::Array(store.feed_receive(n)))
}

pub async fn feed_commit(State(st): State<AppState>, body: Bytes) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(arr) = b.get("handles").and_then(Value::as_array) else {
        return error(400, "handles is required");
    };
    let handles: Vec<String> = arr
        .iter()
        .filter_map(|h| h.as_str().map(str::to_owned))
        .collect();
    let mut store = st.sim.write();
    if store.feed.config.is_none() {
        return no_feed();
    }
    store.feed_commit(&handles);
    empty_ok()
}

fn int_field(v: &Value, keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|k| v.get(*k)).and_then(Value::as_i64)
}

pub async fn post_feed_config(State(st): State<AppState>, body: Bytes) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let filter = match Filter::parse(b.get("filter")) {
        Ok(f) => f,
        Err((code, msg)) => return error(code, msg),
    };
    // Documented: `queue` with both fields is required. The guide writes the
    // second field `messageRetentionPeriodInSeconds`, the spec
    // `MessageRetentionPeriodInSeconds`: both are accepted.
    let Some(queue) = b.get("queue").filter(|q| q.is_object()) else {
        return error(400, "queue is required");
    };
    let Some(vis) = int_field(queue, &["visibilityTimeoutInSeconds"]) else {
        return error(400, "queue.visibilityTimeoutInSeconds is required");
    };
    let Some(ret) = int_field(
        queue,
        &[
            "MessageRetentionPeriodInSeconds",
            "messageRetentionPeriodInSeconds",
        ],
    ) else {
        return error(400, "queue.MessageRetentionPeriodInSeconds is required");
    };
    if !(0..=MAX_VISIBILITY_S).contains(&vis) {
        return error(400, "visibilityTimeoutInSeconds is out of range");
    }
    if !(1..=MAX_RETENTION_S).contains(&ret) {
        return error(
            400,
            "MessageRetentionPeriodInSeconds must be at most 1209600",
        );
    }
    let mut store = st.sim.write();
    store.feed.config = Some(FeedConfig {
        filter,
        visibility_timeout_s: vis,
        retention_s: ret,
    });
    store.feed.fired.clear();
    empty_ok()
}

pub async fn get_feed_config(State(st): State<AppState>) -> Response {
    match st.sim.write().feed_config_render() {
        Some(v) => ok(&v),
        None => no_feed(),
    }
}

/// Assumption: deleting the configuration also discards its queue.
pub async fn delete_feed_config(State(st): State<AppState>) -> Response {
    let mut store = st.sim.write();
    store.feed.config = None;
    store.feed.queue.clear();
    store.feed.fired.clear();
    empty_ok()
}

/// Documented: `{filter, hook: {url, headers}}`; mixing the filter types answers
/// 409; VTEX pings the URL with `{"hookConfig":"ping"}` and answers 400 unless
/// it gets 200. Assumptions: the 200 answer has no body (the spec attaches the
/// notification example to it, which is not a configuration answer); `url` is
/// required (400); `http://` URLs are accepted unless
/// [`super::VtexConfig::hook_require_https`].
pub async fn post_hook_config(State(st): State<AppState>, body: Bytes) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let filter = match Filter::parse(b.get("filter")) {
        Ok(f) => f,
        Err((code, msg)) => return error(code, msg),
    };
    let Some(url) = b
        .get("hook")
        .and_then(|h| h.get("url"))
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
    else {
        return error(400, "hook.url is required (an http(s) URL)");
    };
    if st.sim.config().hook_require_https && !url.starts_with("https://") {
        return error(400, "Only https scheme is accepted");
    }
    let headers: Vec<(String, String)> = match b.get("hook").and_then(|h| h.get("headers")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        Some(_) => return error(400, "hook.headers must be an object"),
    };
    match super::hook::ping(url, &headers).await {
        Some(200) => {}
        Some(code) => {
            return error(
                400,
                format!("Unable to check address: the hook answered {code} to the ping"),
            )
        }
        None => {
            return error(
                400,
                "Unable to check address: the hook did not answer the ping",
            )
        }
    }
    let mut store = st.sim.write();
    store.hook = Some(HookConfig {
        filter,
        url: url.to_owned(),
        headers,
        fired: Default::default(),
    });
    empty_ok()
}

pub async fn get_hook_config(State(st): State<AppState>) -> Response {
    match st.sim.read().hook.as_ref() {
        Some(h) => ok(&h.render()),
        None => error(404, "Hook configuration not found for this appKey"),
    }
}

pub async fn delete_hook_config(State(st): State<AppState>) -> Response {
    st.sim.write().hook = None;
    empty_ok()
}
