//! Router, gate (faults, 429, bearer token, request log) and handlers.
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::state::ts;
use super::{sac, stock, MlSim};
use crate::faults::{raw_response, FaultKind};
use crate::reqlog::RequestRecord;

/// Router state.
#[derive(Clone)]
pub struct AppState {
    pub sim: MlSim,
    pub shutdown: watch::Receiver<bool>,
}

type Pairs = Query<Vec<(String, String)>>;

pub fn router(st: AppState) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/orders/search", get(search))
        .route("/orders/{id}", get(order))
        .route("/orders/{id}/shipments", get(order_shipments))
        .route("/orders/billing-info/{site}/{id}", get(billing_info))
        .route("/shipments/{id}", get(shipment))
        .route(
            "/shipments/{id}/invoice_data",
            post(invoice_upload).get(invoice_read),
        )
        .route(
            "/shipments/{id}/invoice_data/",
            post(invoice_upload).get(invoice_read),
        )
        .route("/packs/{id}/fiscal_documents", post(fiscal_document))
        .route(
            "/v2/shipments/{id}/seller_notifications",
            post(seller_notification),
        )
        .route("/missed_feeds", get(missed_feeds))
        .route("/questions/{id}", get(sac::question))
        .route("/answers", post(sac::answer))
        .route("/messages/{id}", get(sac::message))
        .route(
            "/messages/packs/{pack}/sellers/{seller}",
            get(sac::pack_messages).post(sac::post_pack_message),
        )
        .route("/post-purchase/v1/claims/{id}", get(sac::claim))
        .route(
            "/post-purchase/v1/claims/{id}/messages",
            get(sac::claim_messages),
        )
        .route(
            "/post-purchase/v1/claims/{id}/actions/send-message",
            post(sac::claim_send),
        )
        .route("/items/{id}", get(stock::item).put(stock::put_item))
        .route("/user-products/{id}/stock", get(stock::user_product_stock))
        .route(
            "/user-products/{id}/stock/type/seller_warehouse",
            axum::routing::put(stock::put_user_product_stock),
        )
        .fallback(|| async { ml_error(404, "not_found", "resource not found") })
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

pub(crate) fn ok(body: &Value) -> Response {
    json_response(200, body)
}

/// `{"message", "error", "status", "cause": []}` (assumed generic error shape).
pub(crate) fn ml_error(status: u16, error: &str, message: impl Into<String>) -> Response {
    json_response(
        status,
        &json!({"message": message.into(), "error": error, "status": status, "cause": []}),
    )
}

/// The documented seller-notification error shape.
fn sn_error(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"status_code": status, "error_code": code, "message": message,
                "timestamp": ts(Utc::now()), "request_id": ulid::Ulid::generate().to_string()}),
    )
}

fn fault_response(kind: &FaultKind) -> Response {
    match kind {
        FaultKind::Redirect(_) | FaultKind::Oversized(_) => kind.common_response(),
        FaultKind::Unauthorized => ml_error(401, "unauthorized", "invalid access token"),
        FaultKind::Raw {
            status,
            headers,
            body,
        } => raw_response(*status, headers, body),
        FaultKind::RateLimited { .. } => too_many(),
        FaultKind::Status(code) => ml_error(*code, "error", "simulated failure"),
        FaultKind::Delay(_) => ml_error(500, "internal_error", "internal error"),
    }
}

fn too_many() -> Response {
    ml_error(429, "too_many_requests", "Too Many Requests")
}

async fn gate(State(st): State<AppState>, req: Request<Body>, next: Next) -> Response {
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
    if let Some(kind) = inner.faults.take(method, path) {
        if let FaultKind::Delay(d) = kind {
            let mut rx = st.shutdown.clone();
            tokio::select! {
                () = tokio::time::sleep(d) => {}
                _ = rx.wait_for(|s| *s) => return ml_error(503, "unavailable", "shutting down"),
            }
        } else {
            return fault_response(&kind);
        }
    }
    if let Some(b) = &inner.bucket {
        let mut b = b.lock().unwrap_or_else(|e| e.into_inner());
        if b.try_acquire(Instant::now()).is_err() {
            return too_many();
        }
    }
    if path == "/oauth/token" {
        return next.run(req).await;
    }
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let valid = st
        .sim
        .store()
        .access
        .get(&token)
        .is_some_and(|exp| *exp > Instant::now());
    if !valid {
        return ml_error(401, "unauthorized", "invalid access token");
    }
    next.run(req).await
}

fn pair<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

// ---- OAuth -------------------------------------------------------------------------

async fn token(State(st): State<AppState>, Form(form): Form<Vec<(String, String)>>) -> Response {
    let cfg = st.sim.config().clone();
    if pair(&form, "grant_type") != Some("refresh_token") {
        return ml_error(
            400,
            "unsupported_grant_type",
            "grant_type must be refresh_token",
        );
    }
    if pair(&form, "client_id") != Some(cfg.client_id.as_str())
        || pair(&form, "client_secret") != Some(cfg.client_secret.as_str())
    {
        return ml_error(401, "invalid_client", "invalid client_id or client_secret");
    }
    let mut s = st.sim.store();
    if s.grant_revoked || pair(&form, "refresh_token") != Some(s.refresh.as_str()) {
        return ml_error(400, "invalid_grant", "invalid_grant");
    }
    s.refreshes += 1;
    let n = s.refreshes;
    let access = format!("APP_USR-sim-access-{n}");
    let refresh = format!("TG-sim-refresh-{n}");
    s.refresh = refresh.clone();
    s.access
        .insert(access.clone(), Instant::now() + cfg.access_ttl);
    ok(&json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": cfg.access_ttl.as_secs(),
        "scope": "offline_access read write",
        "user_id": cfg.seller_id.parse::<u64>().unwrap_or(0),
        "refresh_token": refresh,
    }))
}

// ---- orders ------------------------------------------------------------------------

fn id_of(s: &str) -> Option<u64> {
    s.parse().ok()
}

async fn order(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match id_of(&id).and_then(|id| st.sim.order(id)) {
        Some(o) => ok(&o),
        None => ml_error(404, "not_found", format!("order {id} not found")),
    }
}

async fn order_shipments(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> Response {
    let Some(s) = id_of(&id).and_then(|id| st.sim.shipment_of(id)) else {
        return ml_error(404, "not_found", format!("order {id} not found"));
    };
    let new_domain = headers.get("x-new-domain").and_then(|v| v.to_str().ok()) == Some("true");
    if new_domain || pair(&q, "list_all") == Some("true") {
        ok(&json!([s]))
    } else {
        ok(&s)
    }
}

async fn billing_info(
    State(st): State<AppState>,
    Path((site, id)): Path<(String, String)>,
) -> Response {
    let s = st.sim.store();
    let found = s
        .orders
        .values()
        .find(|o| o.billing_id.to_string() == id && site == "MLB");
    match found {
        Some(o) => ok(&s.render_billing(o, &st.sim.config().seller_id)),
        None => ml_error(404, "not_found", "billing info not found"),
    }
}

async fn search(State(st): State<AppState>, Query(q): Pairs) -> Response {
    let cfg = st.sim.config();
    if pair(&q, "seller") != Some(cfg.seller_id.as_str()) {
        return ml_error(403, "forbidden", "caller is not the seller");
    }
    let from = pair(&q, "order.date_last_updated.from")
        .and_then(|f| chrono::DateTime::parse_from_rfc3339(f).ok())
        .map(|d| d.with_timezone(&Utc));
    let offset: usize = pair(&q, "offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: usize = pair(&q, "limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
        .min(51);
    let s = st.sim.store();
    // Documented: the seller's search hides cancelled orders.
    let matching: Vec<_> = s
        .orders
        .values()
        .filter(|o| o.status != "cancelled")
        .filter(|o| from.is_none_or(|f| o.updated >= f))
        .collect();
    let results: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|o| s.render_order(o, &cfg.seller_id))
        .collect();
    ok(&json!({
        "query": "", "results": results,
        "sort": {"id": "date_asc", "name": "Date ascending"},
        "available_sorts": [], "filters": [],
        "paging": {"total": matching.len(), "offset": offset, "limit": limit},
        "display": "complete",
    }))
}

// ---- shipments ---------------------------------------------------------------------

async fn shipment(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let s = st.sim.store();
    match id_of(&id).and_then(|id| s.shipments.get(&id)) {
        Some(sh) => ok(&s.render_shipment(sh, &st.sim.config().seller_id)),
        None => ml_error(404, "not_found", "shipment not found"),
    }
}

/// NF-e import (NFE): ME2 drop_off/xd_drop_off/xd_same_day/cross_docking shipments in
/// `ready_to_ship`/`invoice_pending`, the body the nfeProc XML.
async fn invoice_upload(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let nfe_error = |code: &str| ml_error(400, code, code.replace('_', " "));
    if pair(&q, "siteId") != Some("MLB") {
        return nfe_error("invalid_operation_for_site_id");
    }
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let xml = String::from_utf8_lossy(&body).into_owned();
    if !ct.starts_with("application/xml") || !xml.contains("<nfeProc") {
        return nfe_error("malformed_XML");
    }
    let order_id = {
        let mut s = st.sim.store();
        if !s.invoice_errors.is_empty() {
            let code = s.invoice_errors.remove(0);
            return nfe_error(&code);
        }
        let Some(sid) = id_of(&id).filter(|sid| s.shipments.contains_key(sid)) else {
            return nfe_error("invalid_shipment");
        };
        if s.invoices.contains_key(&sid) {
            return nfe_error("shipment_invoice_already_saved");
        }
        let sh = s.shipments.get(&sid).cloned();
        let Some(sh) = sh else {
            return nfe_error("invalid_shipment");
        };
        let Some(o) = s.orders.get(&sh.order_id) else {
            return nfe_error("invalid_shipment");
        };
        let importable = o.new.mode == "me2"
            && ["drop_off", "xd_drop_off", "xd_same_day", "cross_docking"]
                .contains(&o.new.logistic_type.as_str());
        if !importable
            || sh.status != "ready_to_ship"
            || sh.substatus.as_deref() != Some("invoice_pending")
        {
            return nfe_error("invalid_shipment");
        }
        s.invoices.insert(sid, xml);
        if let Some(sh) = s.shipments.get_mut(&sid) {
            sh.substatus = Some("ready_to_print".into());
        }
        sh.order_id
    };
    st.sim.notify_shipment(&id, order_id);
    ok(&json!({"status": "approved", "shipment_id": id_of(&id)}))
}

async fn invoice_read(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let s = st.sim.store();
    match id_of(&id).filter(|sid| s.invoices.contains_key(sid)) {
        Some(sid) => ok(&json!({"id": sid + 1, "shipment_id": sid, "status": "approved"})),
        None => ml_error(404, "not_found", "invoice not found"),
    }
}

async fn fiscal_document(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct.starts_with("multipart/form-data")
        || !String::from_utf8_lossy(&body).contains("name=\"fiscal_document\"")
    {
        return ml_error(400, "bad_request", "fiscal_document is required");
    }
    st.sim
        .store()
        .fiscal_documents
        .entry(id)
        .or_default()
        .push(body.to_vec());
    ok(&json!({"ids": ["sim-doc"]}))
}

/// ME1 seller notifications (V2; addendum "ME1").
async fn seller_notification(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return sn_error(400, "invalid_seller_json_format", "invalid JSON");
    };
    let status = b["status"].as_str().unwrap_or_default().to_owned();
    let substatus_ok = b
        .get("substatus")
        .is_some_and(|s| s.is_null() || s.is_string());
    let tn = !b["tracking_number"].is_null();
    let tu = !b["tracking_url"].is_null();
    if !["shipped", "delivered", "not_delivered"].contains(&status.as_str())
        || !substatus_ok
        || tn != tu
        || b["payload"]["service_id"].as_u64() != Some(11)
    {
        return sn_error(400, "invalid_seller_json_format", "invalid body");
    }
    let order_id = {
        let mut s = st.sim.store();
        let Some(sid) = id_of(&id).filter(|sid| s.shipments.contains_key(sid)) else {
            return sn_error(404, "not_found", "shipment not found");
        };
        let Some(order_id) = s.shipments.get(&sid).map(|sh| sh.order_id) else {
            return sn_error(404, "not_found", "shipment not found");
        };
        let mode = s
            .orders
            .get(&order_id)
            .map(|o| o.new.mode.clone())
            .unwrap_or_default();
        if mode != "me1" && mode != "custom" {
            return sn_error(400, "shipment_mode_is_not_me1", "shipment mode is not me1");
        }
        if let Some(sh) = s.shipments.get_mut(&sid) {
            if sh.status == "delivered" {
                return sn_error(403, "bad_request", "Status-substatus not allowed");
            }
            sh.status = status;
            sh.substatus = b["substatus"].as_str().map(Into::into);
            if let Some(t) = b["tracking_number"].as_str() {
                sh.tracking_number = Some(t.into());
            }
        }
        s.seller_notifications.push((sid, b));
        order_id
    };
    st.sim.notify("orders_v2", format!("/orders/{order_id}"));
    ok(&json!({"status": "OK"}))
}

async fn missed_feeds(State(st): State<AppState>, Query(q): Pairs) -> Response {
    if pair(&q, "app_id") != Some(st.sim.config().client_id.as_str()) {
        return ml_error(403, "forbidden", "app_id is not the caller's application");
    }
    let topic = pair(&q, "topic");
    let offset: usize = pair(&q, "offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: usize = pair(&q, "limit").and_then(|v| v.parse().ok()).unwrap_or(10);
    let s = st.sim.store();
    let messages: Vec<Value> = s
        .missed
        .iter()
        .filter(|m| topic.is_none_or(|t| m["topic"] == t))
        .skip(offset)
        .take(limit)
        .cloned()
        .collect();
    ok(&json!({ "messages": messages }))
}
