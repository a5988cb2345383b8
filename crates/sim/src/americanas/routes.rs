//! Router, gate (faults, limits, auth headers, request log) and handlers.
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::state::STATUS_CODES;
use super::{limit_of, AmSim};
use crate::bucket::LeakyBucket;
use crate::faults::{raw_response, FaultKind};
use crate::reqlog::RequestRecord;

/// Router state.
#[derive(Clone)]
pub struct AppState {
    pub sim: AmSim,
    pub shutdown: watch::Receiver<bool>,
}

pub fn router(st: AppState) -> Router {
    Router::new()
        .route("/queues/orders", get(queue_next))
        .route("/queues/orders/{code}", axum::routing::delete(queue_delete))
        .route("/orders", get(list))
        .route("/orders/{code}", get(order))
        .route("/orders/{code}/{action}", post(write))
        .route("/products/{sku}", get(product).put(put_product))
        .route("/variations/{sku}", get(variation).put(put_variation))
        .fallback(|| async { error(404, "resource not found") })
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

fn ok(body: &Value) -> Response {
    json_response(200, body)
}

/// `{"error": message}` (assumed error shape).
fn error(status: u16, message: impl Into<String>) -> Response {
    json_response(status, &json!({"error": message.into()}))
}

fn fault_response(kind: &FaultKind) -> Response {
    match kind {
        FaultKind::Redirect(_) | FaultKind::Oversized(_) => kind.common_response(),
        FaultKind::Unauthorized => error(401, "Unauthorized"),
        FaultKind::Raw {
            status,
            headers,
            body,
        } => raw_response(*status, headers, body),
        FaultKind::RateLimited { .. } => error(429, "Too Many Requests"),
        FaultKind::Status(code) => error(*code, "simulated failure"),
        FaultKind::Delay(_) => error(500, "internal error"),
    }
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
                _ = rx.wait_for(|s| *s) => return error(503, "shutting down"),
            }
        } else {
            return fault_response(&kind);
        }
    }
    let cfg = &inner.config;
    let authorized = {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        header("x-user-email") == cfg.user_email
            && header("x-api-key") == cfg.api_key
            && header("x-accountmanager-key") == cfg.account_manager_key
    };
    if !authorized {
        return error(401, "Unauthorized");
    }
    if cfg.limits {
        let (class, per_sec) = limit_of(method, path);
        let mut buckets = inner.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets
            .entry((class.to_owned(), method.clone()))
            .or_insert_with(|| LeakyBucket::new(per_sec, f64::from(per_sec)));
        if b.try_acquire(Instant::now()).is_err() {
            return error(429, "Too Many Requests");
        }
    }
    next.run(req).await
}

// ---- queue -------------------------------------------------------------------------

async fn queue_next(State(st): State<AppState>) -> Response {
    let hide = st.sim.config().queue_return;
    let mut s = st.sim.store();
    let Some(code) = s.next_in_queue(hide) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    match s.orders.get(&code) {
        Some(o) => ok(&s.render(o)),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn queue_delete(State(st): State<AppState>, Path(code): Path<String>) -> Response {
    if st.sim.store().delete_from_queue(&code) {
        ok(&json!({}))
    } else {
        error(404, format!("order {code} is not in the queue"))
    }
}

// ---- orders ------------------------------------------------------------------------

async fn order(State(st): State<AppState>, Path(code): Path<String>) -> Response {
    match st.sim.order(&code) {
        Some(o) => ok(&o),
        None => error(404, format!("order {code} not found")),
    }
}

async fn list(State(st): State<AppState>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let num = |k: &str, d: usize| {
        q.iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(d)
    };
    let page = num("page", 1).max(1);
    let per_page = num("per_page", 25).clamp(1, 100);
    let statuses: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "filters[statuses][]")
        .map(|(_, v)| v.as_str())
        .collect();
    let s = st.sim.store();
    let matching: Vec<_> = s
        .orders
        .values()
        .filter(|o| statuses.is_empty() || statuses.contains(&o.status.as_str()))
        .collect();
    let orders: Vec<Value> = matching
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|o| s.render(o))
        .collect();
    ok(&json!({"total": matching.len(), "orders": orders}))
}

/// Parses a required JSON body: 400 when missing or not JSON.
fn body_json(body: &Bytes) -> Result<Value, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(error(400, "request body is required"));
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| error(400, "request body must be a JSON object"))
}

/// `POST /orders/{code}/{invoice|shipments|delivery|cancel|shipment_exception|approval}`.
async fn write(
    State(st): State<AppState>,
    Path((code, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (target, from): (&str, &[&str]) = match action.as_str() {
        "invoice" => ("order_invoiced", &["payment_received"]),
        "shipments" => ("order_shipped", &["order_invoiced"]),
        "delivery" => ("complete", &["order_shipped", "shipment_exception"]),
        "cancel" => (
            "order_canceled",
            &["book_product", "payment_received", "order_invoiced"],
        ),
        "shipment_exception" => ("shipment_exception", &["order_shipped"]),
        "approval" => ("payment_received", &["book_product"]),
        _ => return error(404, "resource not found"),
    };
    let b = match body_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    // The shipping exception's body carries no status (SkyHub's reference, "TRANSPORT
    // EXCEPTION": `{"shipment_exception": {"occurrence_date", "observation"}}`).
    let status = match b["status"].as_str() {
        None if action == "shipment_exception" => target,
        s => s.unwrap_or_default(),
    };
    if !STATUS_CODES.contains(&status) {
        return error(422, format!("unknown status code '{status}'"));
    }
    if status != target {
        return error(422, format!("status '{status}' is not taken by /{action}"));
    }
    let mut s = st.sim.store();
    let Some(o) = s.orders.get(&code) else {
        return error(404, format!("order {code} not found"));
    };
    if !from.contains(&o.status.as_str()) {
        return error(
            422,
            format!("order {code} is '{}': cannot move to '{target}'", o.status),
        );
    }
    let problem = match action.as_str() {
        "invoice" => {
            let key = b["invoice"]["key"].as_str().unwrap_or_default();
            (key.len() != 44 || !key.bytes().all(|c| c.is_ascii_digit()))
                .then_some("invoice.key must be the 44-digit NF-e access key")
        }
        "shipments" => {
            let sh = &b["shipment"];
            if sh["track"]["code"].as_str().is_none_or(str::is_empty) {
                Some("shipment.track.code is required")
            } else if sh["items"].as_array().is_none_or(Vec::is_empty) {
                Some("shipment.items is required")
            } else {
                None
            }
        }
        "delivery" => b["delivered_date"]
            .as_str()
            .is_none_or(str::is_empty)
            .then_some("delivered_date is required"),
        "shipment_exception" => {
            let x = &b["shipment_exception"];
            if x["observation"].as_str().is_none_or(str::is_empty) {
                Some("shipment_exception.observation is required")
            } else if x["occurrence_date"].as_str().is_none_or(str::is_empty) {
                Some("shipment_exception.occurrence_date is required")
            } else {
                None
            }
        }
        _ => None,
    };
    if let Some(p) = problem {
        return error(422, p);
    }
    let Some(o) = s.orders.get_mut(&code) else {
        return error(404, format!("order {code} not found"));
    };
    match action.as_str() {
        "invoice" => o.invoices.push(b["invoice"].clone()),
        "shipments" => o.shipments.push(b["shipment"].clone()),
        "delivery" => o.delivered_date = b["delivered_date"].as_str().map(str::to_owned),
        "shipment_exception" => o.exceptions.push(b["shipment_exception"].clone()),
        _ => {}
    }
    s.set_status(&code, target);
    ok(&json!({}))
}

// ---- products ----------------------------------------------------------------------

async fn product(State(st): State<AppState>, Path(sku): Path<String>) -> Response {
    match st.sim.product_qty(&sku) {
        Some(q) => ok(&json!({"sku": sku, "qty": q})),
        None => error(404, format!("product {sku} not found")),
    }
}

async fn variation(State(st): State<AppState>, Path(sku): Path<String>) -> Response {
    match st.sim.variation_qty(&sku) {
        Some(q) => ok(&json!({"sku": sku, "qty": q})),
        None => error(404, format!("variation {sku} not found")),
    }
}

/// What one `PUT /products|variations/{sku}` sets: `qty`, and/or `price` with
/// `promotional_price` (numbers in reais, the promotional one at most the price).
struct ListingUpdate {
    qty: Option<i64>,
    price: Option<Value>,
}

fn update_of(body: &Bytes, key: &str) -> Result<ListingUpdate, Response> {
    let b = body_json(body)?;
    let p = &b[key];
    let qty = match p.get("qty") {
        None => None,
        Some(q) => Some(
            q.as_i64()
                .filter(|q| *q >= 0)
                .ok_or_else(|| error(422, format!("{key}.qty must be a non-negative integer")))?,
        ),
    };
    let amount = |f: &str| p.get(f).map(|v| v.as_f64().filter(|x| *x >= 0.0));
    let price = match (amount("price"), amount("promotional_price")) {
        (None, None) => None,
        (Some(Some(price)), Some(Some(promo))) if promo <= price => {
            Some(json!({"price": price, "promotional_price": promo}))
        }
        (Some(Some(price)), None) => Some(json!({ "price": price })),
        _ => {
            return Err(error(
                422,
                format!("{key}.price must be a non-negative number, promotional_price at most it"),
            ))
        }
    };
    if qty.is_none() && price.is_none() {
        return Err(error(422, format!("{key} has nothing to update")));
    }
    Ok(ListingUpdate { qty, price })
}

/// Applies an update to the listing `kind/sku` (`products` or `variations`).
fn put_listing(st: &AppState, kind: &str, sku: &str, body: &Bytes) -> Response {
    let key = if kind == "products" {
        "product"
    } else {
        "variation"
    };
    let u = match update_of(body, key) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut s = st.sim.store();
    let listing = if kind == "products" {
        s.products.get_mut(sku)
    } else {
        s.variations.get_mut(sku)
    };
    let Some(q) = listing else {
        return error(404, format!("{key} {sku} not found"));
    };
    if let Some(qty) = u.qty {
        *q = qty;
    }
    if let Some(price) = u.price {
        s.prices.insert(format!("{kind}/{sku}"), price);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn put_product(State(st): State<AppState>, Path(sku): Path<String>, body: Bytes) -> Response {
    put_listing(&st, "products", &sku, &body)
}

async fn put_variation(
    State(st): State<AppState>,
    Path(sku): Path<String>,
    body: Bytes,
) -> Response {
    put_listing(&st, "variations", &sku, &body)
}
