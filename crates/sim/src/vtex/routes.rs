//! Router and the OMS handlers (orders, status writes, invoices, tracking).
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::fmt::{parse_range, ts};
use super::http::{error, ok, parse_body, vtex_error};
use super::order::{OrderRec, Package, TrackEvent};
use super::status::OrderStatus;
use super::{catalog_sku, logistics, notif, pricing, VtexSim};
use crate::SimError;

/// Router state: the sim and the server's shutdown signal.
#[derive(Clone)]
pub struct AppState {
    pub sim: VtexSim,
    pub shutdown: watch::Receiver<bool>,
}

pub(super) type Pairs = Query<Vec<(String, String)>>;

pub fn router(st: AppState) -> Router {
    Router::new()
        .route("/api/oms/pvt/orders", get(list_orders))
        .route("/api/oms/pvt/orders/{id}", get(get_order))
        .route(
            "/api/oms/pvt/orders/{id}/start-handling",
            post(start_handling),
        )
        .route("/api/oms/pvt/orders/{id}/cancel", post(cancel))
        .route("/api/oms/pvt/orders/{id}/invoice", post(invoice))
        .route(
            "/api/oms/pvt/orders/{id}/invoice/{number}",
            patch(invoice_tracking),
        )
        .route(
            "/api/oms/pvt/orders/{id}/invoice/{number}/tracking",
            put(tracking_events),
        )
        .route(
            "/api/orders/feed",
            get(notif::feed_items).post(notif::feed_commit),
        )
        .route(
            "/api/orders/feed/config",
            get(notif::get_feed_config)
                .post(notif::post_feed_config)
                .delete(notif::delete_feed_config),
        )
        .route(
            "/api/orders/hook/config",
            get(notif::get_hook_config)
                .post(notif::post_hook_config)
                .delete(notif::delete_hook_config),
        )
        .route(
            "/api/logistics/pvt/inventory/skus/{sku}",
            get(logistics::inventory_by_sku),
        )
        .route(
            "/api/logistics/pvt/inventory/skus/{sku}/warehouses/{wh}",
            put(logistics::put_inventory),
        )
        .route(
            "/api/logistics/pvt/inventory/skus/{sku}/warehouses/{wh}/quantity",
            patch(logistics::patch_quantity),
        )
        .route(
            "/pricing/prices/{item}",
            get(pricing::get_price).put(pricing::put_price),
        )
        .route(
            "/api/catalog/pvt/stockkeepingunit/{sku}",
            get(catalog_sku::get_sku).put(catalog_sku::put_sku),
        )
        .fallback(|| async { error(404, "Resource not found") })
        .layer(middleware::from_fn_with_state(
            st.clone(),
            super::http::gate,
        ))
        .with_state(st)
}

pub(super) fn pair<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Assumption: the OMS answers an unknown order with 404 (body undocumented).
fn order_not_found(id: &str) -> Response {
    error(404, format!("Order {id} not found"))
}

fn sim_error(e: &SimError) -> Response {
    match e {
        SimError::NotFound(m) => error(404, m.clone()),
        other => error(400, other.to_string()),
    }
}

/// `{date, orderId, receipt}`: the documented answer of the write endpoints.
fn receipt_answer(now: DateTime<Utc>, order_id: &str, receipt: &str) -> Response {
    ok(&json!({"date": ts(now), "orderId": order_id, "receipt": receipt}))
}

// ---- read -------------------------------------------------------------------------

async fn get_order(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let store = st.sim.read();
    match store.find_id(&id).and_then(|real| store.render(&real)) {
        Some(doc) => ok(&doc),
        None => order_not_found(&id),
    }
}

fn stats_of(values: &[f64]) -> Value {
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    let sq: f64 = values.iter().map(|v| v * v).sum();
    let mean = if n > 0.0 { sum / n } else { 0.0 };
    let var = if n > 1.0 {
        ((sq - n * mean * mean) / (n - 1.0)).max(0.0)
    } else {
        0.0
    };
    let max = values.iter().copied().fold(f64::NAN, f64::max);
    let min = values.iter().copied().fold(f64::NAN, f64::min);
    json!({
        "Count": values.len(),
        "Max": if max.is_nan() { 0.0 } else { max },
        "Mean": mean,
        "Min": if min.is_nan() { 0.0 } else { min },
        "Missing": 0,
        "StdDev": var.sqrt(),
        "Sum": sum,
        "SumOfSquares": sq,
        "Facets": null,
    })
}

/// Documented: `page` (at most 30 pages), `per_page` (default 15, at most
/// 100), `f_status`, `f_creationDate=creationDate:[A TO B]`, `orderBy`
/// (`creationDate|orderId|totalValue|origin`, `asc|desc`), `q`; no `items`.
///
/// Assumptions: `per_page` outside 1..=100 and `page` outside 1..=30 answer 400
/// (the docs only state the limits); the default order is `creationDate,desc`
/// (newest first, as in the documented example); `f_status` takes a
/// comma-separated list; a page past the last one is an empty `list`; the
/// ~4 min index lag is not simulated (the list is always current).
async fn list_orders(State(st): State<AppState>, Query(pairs): Pairs) -> Response {
    let num = |k: &str, default: usize| -> Result<usize, Response> {
        match pair(&pairs, k) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| error(400, format!("{k} must be a positive integer"))),
        }
    };
    let page = match num("page", 1) {
        Ok(p) if (1..=30).contains(&p) => p,
        Ok(_) => return error(400, "page must be between 1 and 30"),
        Err(r) => return r,
    };
    let per_page = match num("per_page", 15) {
        Ok(p) if (1..=100).contains(&p) => p,
        Ok(_) => return error(400, "per_page must be between 1 and 100"),
        Err(r) => return r,
    };
    let statuses: Option<Vec<&str>> = pair(&pairs, "f_status")
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.split(',').map(str::trim).collect());
    let range = match pair(&pairs, "f_creationDate").filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(raw) => match parse_range("creationDate", raw) {
            Some(r) => Some(r),
            None => {
                return error(
                    400,
                    "f_creationDate must look like creationDate:[2022-01-01T00:00:00.000Z TO 2022-01-02T00:00:00.000Z]",
                )
            }
        },
    };
    let (field, desc) = match pair(&pairs, "orderBy").filter(|s| !s.trim().is_empty()) {
        None => ("creationDate", true),
        Some(raw) => {
            let (f, d) = raw.split_once(',').unwrap_or((raw, "asc"));
            if !matches!(
                f,
                "creationDate" | "orderId" | "totalValue" | "origin" | "items"
            ) || !matches!(d, "asc" | "desc")
            {
                return error(400, "orderBy must be {field},{asc|desc}");
            }
            (f, d == "desc")
        }
    };
    let q = pair(&pairs, "q")
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let store = st.sim.read();
    let mut hits: Vec<&OrderRec> = store
        .orders
        .values()
        .filter(|o| {
            statuses
                .as_ref()
                .is_none_or(|s| s.contains(&o.status.as_str()))
        })
        .filter(|o| {
            range.is_none_or(|(a, b)| {
                a.is_none_or(|a| o.creation >= a) && b.is_none_or(|b| o.creation <= b)
            })
        })
        .filter(|o| {
            q.as_deref().is_none_or(|q| {
                let c = &o.customer;
                o.order_id.to_lowercase().contains(q)
                    || c.email.to_lowercase().contains(q)
                    || c.cpf.contains(q)
                    || format!("{} {}", c.first_name, c.last_name)
                        .to_lowercase()
                        .contains(q)
            })
        })
        .collect();
    hits.sort_by(|a, b| {
        let ord = match field {
            "orderId" => a.order_id.cmp(&b.order_id),
            "totalValue" => a.value().cmp(&b.value()),
            "origin" => a.origin().cmp(b.origin()),
            "items" => a.items.len().cmp(&b.items.len()),
            _ => a.creation.cmp(&b.creation),
        }
        .then(a.sequence.cmp(&b.sequence));
        if desc {
            ord.reverse()
        } else {
            ord
        }
    });
    let total = hits.len();
    let values: Vec<f64> = hits.iter().map(|o| o.value() as f64).collect();
    let item_counts: Vec<f64> = hits
        .iter()
        .map(|o| f64::from(o.items.iter().map(|i| i.quantity).sum::<u32>()))
        .collect();
    let list: Vec<Value> = hits
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|o| o.render_summary())
        .collect();
    ok(&json!({
        "list": list,
        "facets": [],
        "paging": {
            "total": total,
            "pages": total.div_ceil(per_page),
            "currentPage": page,
            "perPage": per_page,
        },
        "stats": {"stats": {"totalValue": stats_of(&values), "totalItems": stats_of(&item_counts)}},
    }))
}

// ---- status writes ----------------------------------------------------------------

/// Documented: 204 on success; 409 `OMS003` "Order status should be
/// ready-for-handling to perform this action" otherwise. The order passes
/// through `start-handling` to `handling` (two changes).
async fn start_handling(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let jobs = {
        let mut store = st.sim.write();
        let Some(id) = store.find_id(&id) else {
            return order_not_found(&id);
        };
        let status = store.orders.get(&id).map(|o| o.status);
        if status != Some(OrderStatus::ReadyForHandling) {
            return vtex_error(
                409,
                "OMS003",
                "Order status should be ready-for-handling to perform this action",
            );
        }
        match store.transition(
            &id,
            &[OrderStatus::StartHandling, OrderStatus::Handling],
            |_, _| {},
        ) {
            Ok(j) => j,
            Err(e) => return sim_error(&e),
        }
    };
    st.sim.dispatch(jobs);
    StatusCode::NO_CONTENT.into_response()
}

/// Documented: `{reason}` -> 200 `{date, orderId, receipt}`; invoiced and
/// partially invoiced orders cannot be cancelled, partially invoiced ones
/// "will result in a `400` status code error". Assumptions: an invoiced order
/// gets the same 400 (the body is not documented); cancelling a cancelled order
/// answers 200 again without a new change; the order passes through `cancel`
/// to `canceled` (two changes).
async fn cancel(State(st): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let reason = body
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let (resp, jobs) = {
        let mut store = st.sim.write();
        let Some(id) = store.find_id(&id) else {
            return order_not_found(&id);
        };
        let Some(o) = store.orders.get(&id) else {
            return order_not_found(&id);
        };
        if o.status == OrderStatus::Invoiced || o.invoiced_value() > 0 {
            return error(
                400,
                "Order cannot be canceled: it is invoiced or partially invoiced",
            );
        }
        let already = o.status == OrderStatus::Canceled;
        let receipt = store.receipt();
        let jobs = if already {
            Vec::new()
        } else {
            let r = reason.clone();
            match store.transition(
                &id,
                &[OrderStatus::Cancel, OrderStatus::Canceled],
                move |o, now| {
                    o.cancel_reason = Some(r);
                    o.canceled_at = Some(now);
                },
            ) {
                Ok(j) => j,
                Err(e) => return sim_error(&e),
            }
        };
        let now = store.clock.now();
        (receipt_answer(now, &id, &receipt), jobs)
    };
    st.sim.dispatch(jobs);
    resp
}

fn str_field<'a>(b: &'a Value, k: &str) -> Option<&'a str> {
    b.get(k).and_then(Value::as_str)
}

/// `invoiceValue` is documented as a string of cents (`"2499"`); integers are
/// accepted too (observed in integrations). Must be > 0.
fn cents_field(v: Option<&Value>) -> Option<i64> {
    let n = match v? {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    (n > 0).then_some(n)
}

/// Documented body: required `type` (`Output` sale, `Input` return),
/// `issuanceDate`, `invoiceNumber`, `invoiceValue` (string, cents), `items[]`
/// (`id`, `price` unit cents, `quantity`); optional `invoiceKey`, `invoiceUrl`,
/// `embeddedInvoice`, `courier`, `trackingNumber`, `trackingUrl`,
/// `dispatchedDate`, `cfop`. Answer 200 `{date, orderId, receipt}`; the same
/// `invoiceNumber` again only generates a new receipt. Once `Output` invoices
/// cover the order value the order goes `invoice` -> `invoiced`.
///
/// Assumptions: `Output` invoices need the order in `handling` (else 409 with
/// the OMS error shape, message modelled on `OMS003`); `Input` (return)
/// invoices need it `invoiced`; invalid bodies and SKUs not in the order get
/// 400.
async fn invoice(State(st): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let kind = match str_field(&b, "type") {
        Some(t) if t.eq_ignore_ascii_case("output") => "Output",
        Some(t) if t.eq_ignore_ascii_case("input") => "Input",
        _ => return error(400, "type must be Output or Input"),
    };
    let Some(issuance) = str_field(&b, "issuanceDate").filter(|s| !s.trim().is_empty()) else {
        return error(400, "issuanceDate is required");
    };
    let Some(number) = str_field(&b, "invoiceNumber").filter(|s| !s.trim().is_empty()) else {
        return error(400, "invoiceNumber is required");
    };
    let Some(value) = cents_field(b.get("invoiceValue")) else {
        return error(
            400,
            "invoiceValue must be a number of cents greater than 0, e.g. \"2499\"",
        );
    };
    let Some(raw_items) = b.get("items").and_then(Value::as_array) else {
        return error(400, "items is required");
    };
    let mut lines = Vec::with_capacity(raw_items.len());
    for it in raw_items {
        let sku = match it.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return error(400, "items[].id is required"),
        };
        let (Some(price), Some(qty)) = (
            it.get("price").and_then(Value::as_i64),
            it.get("quantity").and_then(Value::as_u64),
        ) else {
            return error(
                400,
                "items[].price and items[].quantity are required integers",
            );
        };
        let desc = str_field(it, "description").unwrap_or_default().to_owned();
        lines.push((sku, u32::try_from(qty).unwrap_or(u32::MAX), price, desc));
    }
    let opt = |k: &str| str_field(&b, k).map(str::to_owned);
    let (resp, jobs) = {
        let mut store = st.sim.write();
        let Some(id) = store.find_id(&id) else {
            return order_not_found(&id);
        };
        let Some(o) = store.orders.get(&id) else {
            return order_not_found(&id);
        };
        if o.packages.iter().any(|p| p.invoice_number == number) {
            // Documented: resending an invoice number only renews the receipt.
            let receipt = store.receipt();
            let jobs = match store.update(&id, |o, _| {
                if let Some(p) = o.packages.iter_mut().find(|p| p.invoice_number == number) {
                    p.receipt.clone_from(&receipt);
                }
            }) {
                Ok(j) => j,
                Err(e) => return sim_error(&e),
            };
            let now = store.clock.now();
            (receipt_answer(now, &id, &receipt), jobs)
        } else {
            let required = if kind == "Output" {
                OrderStatus::Handling
            } else {
                OrderStatus::Invoiced
            };
            if o.status != required {
                return error(
                    409,
                    format!("Order status should be {required} to perform this action"),
                );
            }
            let mut pkg_items = Vec::with_capacity(lines.len());
            for (sku, qty, price, desc) in &lines {
                match o.items.iter().position(|i| &i.sku_id == sku) {
                    Some(idx) => pkg_items.push((idx, *qty, *price, desc.clone())),
                    None => return error(400, format!("SKU {sku} is not in order {id}")),
                }
            }
            let covers = kind == "Output" && o.invoiced_value() + value >= o.value();
            let receipt = store.receipt();
            let now = store.clock.now();
            let pkg = Package {
                invoice_number: number.to_owned(),
                kind: kind.to_owned(),
                issuance_date: issuance.to_owned(),
                invoice_value: value,
                invoice_key: opt("invoiceKey"),
                invoice_url: opt("invoiceUrl"),
                embedded_invoice: opt("embeddedInvoice"),
                courier: opt("courier").unwrap_or_default(),
                tracking_number: opt("trackingNumber").unwrap_or_default(),
                tracking_url: opt("trackingUrl").unwrap_or_default(),
                dispatched_date: opt("dispatchedDate"),
                cfop: opt("cfop"),
                items: pkg_items,
                delivered: false,
                delivered_date: None,
                events: Vec::new(),
                receipt: receipt.clone(),
                last_change: now,
            };
            let r = if covers {
                store.transition(
                    &id,
                    &[OrderStatus::Invoice, OrderStatus::Invoiced],
                    move |o, now| {
                        let mut pkg = pkg;
                        pkg.last_change = now;
                        o.packages.push(pkg);
                        o.invoiced = Some(now);
                    },
                )
            } else {
                store.update(&id, move |o, now| {
                    let mut pkg = pkg;
                    pkg.last_change = now;
                    o.packages.push(pkg);
                })
            };
            let jobs = match r {
                Ok(j) => j,
                Err(e) => return sim_error(&e),
            };
            let now = store.clock.now();
            (receipt_answer(now, &id, &receipt), jobs)
        }
    };
    st.sim.dispatch(jobs);
    resp
}

/// Assumption: an unknown invoice number answers 404 (undocumented).
fn invoice_not_found(number: &str) -> Response {
    error(404, format!("Invoice {number} not found"))
}

/// Documented body: `trackingNumber`, `trackingUrl`, `courier`,
/// `dispatchedDate`; answer 200 `{date, orderId, receipt}`. Assumption: a body
/// without `trackingNumber` or `courier` answers 400.
async fn invoice_tracking(
    State(st): State<AppState>,
    Path((id, number)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(tn), Some(courier)) = (
        str_field(&b, "trackingNumber").filter(|s| !s.is_empty()),
        str_field(&b, "courier").filter(|s| !s.is_empty()),
    ) else {
        return error(400, "trackingNumber and courier are required");
    };
    let tn = tn.to_owned();
    let courier = courier.to_owned();
    let url = str_field(&b, "trackingUrl").unwrap_or_default().to_owned();
    let dispatched = str_field(&b, "dispatchedDate").map(str::to_owned);
    let (resp, jobs) = {
        let mut store = st.sim.write();
        let Some(id) = store.find_id(&id) else {
            return order_not_found(&id);
        };
        if !store
            .orders
            .get(&id)
            .is_some_and(|o| o.packages.iter().any(|p| p.invoice_number == number))
        {
            return invoice_not_found(&number);
        }
        let receipt = store.receipt();
        let rc = receipt.clone();
        let jobs = match store.update(&id, |o, now| {
            if let Some(p) = o.packages.iter_mut().find(|p| p.invoice_number == number) {
                p.tracking_number = tn;
                p.courier = courier;
                p.tracking_url = url;
                if dispatched.is_some() {
                    p.dispatched_date = dispatched;
                }
                p.receipt = rc;
                p.last_change = now;
            }
        }) {
            Ok(j) => j,
            Err(e) => return sim_error(&e),
        };
        let now = store.clock.now();
        (receipt_answer(now, &id, &receipt), jobs)
    };
    st.sim.dispatch(jobs);
    resp
}

/// Documented body: `isDelivered`, `deliveredDate` (`yyyy-mm-dd hh:mm`, may be
/// null), `events[{city, state, description, date}]`; only for invoices that
/// already have a tracking number; answer 200 `{date, orderId, receipt}`.
/// Assumptions: without a tracking number the answer is 400; `events` is the
/// full event history (it replaces the previous list).
async fn tracking_events(
    State(st): State<AppState>,
    Path((id, number)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let delivered = b
        .get("isDelivered")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let delivered_date = str_field(&b, "deliveredDate").map(str::to_owned);
    let raw_events = match b.get("events") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return error(400, "events must be an array"),
    };
    let (resp, jobs) = {
        let mut store = st.sim.write();
        let Some(id) = store.find_id(&id) else {
            return order_not_found(&id);
        };
        let Some(pkg) = store
            .orders
            .get(&id)
            .and_then(|o| o.packages.iter().find(|p| p.invoice_number == number))
        else {
            return invoice_not_found(&number);
        };
        if pkg.tracking_number.is_empty() {
            return error(
                400,
                "The invoice has no tracking number; send it with PATCH .../invoice/{invoiceNumber} first",
            );
        }
        let receipt = store.receipt();
        let rc = receipt.clone();
        let jobs = match store.update(&id, |o, now| {
            if let Some(p) = o.packages.iter_mut().find(|p| p.invoice_number == number) {
                p.events = raw_events
                    .iter()
                    .map(|e| TrackEvent {
                        city: str_field(e, "city").unwrap_or_default().to_owned(),
                        state: str_field(e, "state").unwrap_or_default().to_owned(),
                        description: str_field(e, "description").unwrap_or_default().to_owned(),
                        date: str_field(e, "date").unwrap_or_default().to_owned(),
                        at: now,
                    })
                    .collect();
                p.delivered = delivered;
                p.delivered_date = if delivered {
                    delivered_date.or_else(|| Some(ts(now)))
                } else {
                    None
                };
                p.receipt = rc;
                p.last_change = now;
            }
        }) {
            Ok(j) => j,
            Err(e) => return sim_error(&e),
        };
        let now = store.clock.now();
        (receipt_answer(now, &id, &receipt), jobs)
    };
    st.sim.dispatch(jobs);
    resp
}
