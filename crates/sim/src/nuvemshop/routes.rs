//! Routes and handlers of the simulated API (all under `/v1/{store_id}`).
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::http::{error, json_bytes, json_pair, json_value, parse_body};
use super::listing::ListQuery;
use super::order::OrderRec;
use super::resources::field_errors;
use super::state::Store;
use super::status::CancelReason;
use super::NuvemshopSim;
use super::{fo_routes as fo, res_routes as res};
use crate::SimError;

/// Router state: the sim and the server's shutdown signal.
#[derive(Clone)]
pub struct AppState {
    pub sim: NuvemshopSim,
    pub shutdown: watch::Receiver<bool>,
}

pub(super) type Pairs = Query<Vec<(String, String)>>;

pub fn router(st: AppState) -> Router {
    Router::new()
        .route("/v1/{store}/orders", get(list_orders))
        .route("/v1/{store}/orders/{id}", get(get_order))
        .route("/v1/{store}/orders/{id}/pack", post(pack))
        .route("/v1/{store}/orders/{id}/fulfill", post(fulfill))
        .route("/v1/{store}/orders/{id}/cancel", post(cancel))
        .route("/v1/{store}/orders/{id}/close", post(close))
        .route("/v1/{store}/orders/{id}/open", post(reopen))
        .route(
            "/v1/{store}/orders/{id}/fulfillment-orders",
            get(fo::list_fos),
        )
        .route(
            "/v1/{store}/orders/{id}/fulfillment-orders/{fo}",
            get(fo::get_fo).patch(fo::patch_fo),
        )
        .route(
            "/v1/{store}/orders/{id}/fulfillment-orders/{fo}/tracking-events",
            get(fo::list_events).post(fo::post_event),
        )
        .route("/v1/{store}/metafields", post(res::post_metafield))
        .route(
            "/v1/{store}/metafields/{x}",
            get(res::get_metafields)
                .put(res::put_metafield)
                .delete(res::delete_metafield),
        )
        .route(
            "/v1/{store}/products/{pid}",
            get(res::get_product).put(res::put_product),
        )
        .route(
            "/v1/{store}/products/sku/{sku}",
            get(res::get_product_by_sku),
        )
        .route(
            "/v1/{store}/products/{pid}/variants",
            get(res::get_variants).patch(res::patch_variants),
        )
        .route(
            "/v1/{store}/products/{pid}/variants/{vid}",
            get(res::get_variant).put(res::put_variant),
        )
        .route(
            "/v1/{store}/webhooks",
            get(res::list_webhooks).post(res::post_webhook),
        )
        .route(
            "/v1/{store}/webhooks/{wid}",
            get(res::get_webhook)
                .put(res::put_webhook)
                .delete(res::delete_webhook),
        )
        .fallback(|| async { error(404, "Resource not found") })
        .layer(middleware::from_fn_with_state(
            st.clone(),
            super::http::gate,
        ))
        .with_state(st)
}

pub(super) fn order_not_found() -> Response {
    error(404, "Order with such id does not exist")
}

pub(super) fn product_not_found() -> Response {
    error(404, "Product with such id does not exist")
}

pub(super) fn ok_json(v: &Value) -> Response {
    json_value(StatusCode::OK, v)
}

pub(super) fn pair<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn fields_of(pairs: &[(String, String)]) -> Option<Vec<String>> {
    pair(pairs, "fields")
        .filter(|f| !f.trim().is_empty())
        .map(|f| f.split(',').map(|s| s.trim().to_owned()).collect())
}

fn render_order(o: &OrderRec, fields: Option<&[String]>) -> Response {
    match fields {
        Some(f) => {
            let f: Vec<&str> = f.iter().map(String::as_str).collect();
            ok_json(&o.render_fields(&f))
        }
        None => json_bytes(StatusCode::OK, o.json.clone()),
    }
}

// ---- orders ---------------------------------------------------------------------

async fn list_orders(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(pairs): Pairs,
) -> Response {
    let q = match ListQuery::parse(&pairs) {
        Ok(q) => q,
        Err(e) => return json_pair(e),
    };
    let any_all = st.sim.inner.config.any_payment_status_is_all;
    let (total, body) = {
        let store = st.sim.read();
        let mut hits: Vec<&OrderRec> = store
            .orders
            .values()
            .filter(|o| q.matches(o, any_all))
            .collect();
        if q.sorts_by_updated() {
            hits.sort_by_key(|o| (o.updated_at, o.id));
        }
        let page = hits
            .iter()
            .skip((q.page - 1).saturating_mul(q.per_page))
            .take(q.per_page);
        let body = match &q.fields {
            Some(f) => {
                let f: Vec<&str> = f.iter().map(String::as_str).collect();
                let v: Vec<Value> = page.map(|o| o.render_fields(&f)).collect();
                Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
            }
            None => {
                let mut buf = Vec::with_capacity(2 + q.per_page.min(hits.len()) * 2048);
                buf.push(b'[');
                for (i, o) in page.enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.extend_from_slice(&o.json);
                }
                buf.push(b']');
                Bytes::from(buf)
            }
        };
        (hits.len(), body)
    };
    if total == 0 {
        // Observed platform behaviour (integrations match on this body).
        return error(404, "Last page is 0");
    }
    let last = total.div_ceil(q.per_page);
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let link = super::listing::link_header(
        host,
        uri.path(),
        uri.query().unwrap_or_default(),
        q.page,
        q.per_page,
        last,
    );
    let mut resp = json_bytes(StatusCode::OK, body);
    let h = resp.headers_mut();
    h.insert("x-total-count", HeaderValue::from(total));
    if let Ok(v) = HeaderValue::from_str(&link) {
        h.insert("link", v);
    }
    resp
}

async fn get_order(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Query(pairs): Pairs,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return order_not_found();
    };
    let store = st.sim.read();
    match store.orders.get(&id) {
        Some(o) => render_order(o, fields_of(&pairs).as_deref()),
        None => order_not_found(),
    }
}

fn order_action(
    st: &AppState,
    id: &str,
    f: impl FnOnce(&mut Store, u64) -> Result<(), SimError>,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return order_not_found();
    };
    let mut store = st.sim.write();
    match f(&mut store, id) {
        Ok(()) => match store.orders.get(&id) {
            Some(o) => json_bytes(StatusCode::OK, o.json.clone()),
            None => order_not_found(),
        },
        Err(SimError::NotFound(_)) => order_not_found(),
        Err(SimError::InvalidTransition(d)) => error(422, d),
        Err(e) => error(422, e.to_string()),
    }
}

async fn pack(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(r) = parse_body(&body) {
        return r;
    }
    order_action(&st, &id, |s, id| s.transition(id, |o, now| o.pack(now)))
}

fn opt_string(body: &Value, key: &'static str) -> Result<Option<String>, Response> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(json_pair((422, field_errors(&[(key, "must be a string")])))),
    }
}

fn opt_bool(body: &Value, key: &'static str) -> Result<Option<bool>, Response> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(json_pair((
            422,
            field_errors(&[(key, "must be true or false")]),
        ))),
    }
}

async fn fulfill(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let parsed = (|| {
        let b = parse_body(&body)?;
        let code = opt_string(&b, "shipping_tracking_number")?;
        let url = opt_string(&b, "shipping_tracking_url")?;
        // notify_customer (default true) only affects e-mails: validated, ignored.
        opt_bool(&b, "notify_customer")?;
        Ok::<_, Response>((code, url))
    })();
    let (code, url) = match parsed {
        Ok(p) => p,
        Err(r) => return r,
    };
    order_action(&st, &id, |s, id| {
        s.transition(id, |o, now| o.fulfill(now, code, url))
    })
}

async fn cancel(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let parsed = (|| {
        let b = parse_body(&body)?;
        let reason = match opt_string(&b, "reason")? {
            None => None,
            Some(r) => Some(CancelReason::parse(&r).ok_or_else(|| {
                json_pair((
                    422,
                    json!({"code": 422, "message": "Unprocessable Entity", "description": "Validation error",
                           "reason": ["The selected reason is invalid."]}),
                ))
            })?),
        };
        opt_bool(&b, "email")?; // notification e-mail: validated, ignored
        let restock = opt_bool(&b, "restock")?.unwrap_or(true);
        Ok::<_, Response>((reason, restock))
    })();
    let (reason, restock) = match parsed {
        Ok(p) => p,
        Err(r) => return r,
    };
    order_action(&st, &id, |s, id| s.cancel(id, reason, restock))
}

async fn close(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(r) = parse_body(&body) {
        return r;
    }
    order_action(&st, &id, |s, id| s.transition(id, |o, now| o.close(now)))
}

async fn reopen(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(r) = parse_body(&body) {
        return r;
    }
    order_action(&st, &id, |s, id| s.transition(id, |o, now| o.reopen(now)))
}
