//! Fulfillment Order handlers (`/orders/{id}/fulfillment-orders...`).
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::fulfillment::{self, EventInput};
use super::http::{error, json_value, parse_body};
use super::order::OrderRec;
use super::routes::{ok_json, order_not_found, AppState};
use super::state::Store;
use super::status::{FoStatus, OrderStatus};

fn fo_not_found() -> Response {
    error(404, "Fulfillment order not found")
}

pub(super) async fn list_fos(
    State(st): State<AppState>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let store = st.sim.read();
    match id.parse::<u64>().ok().and_then(|id| store.orders.get(&id)) {
        Some(o) => ok_json(&json!([fulfillment::render(o)])),
        None => order_not_found(),
    }
}

fn with_fo<T>(
    store: &Store,
    id: &str,
    fo: &str,
    f: impl FnOnce(&OrderRec) -> T,
) -> Result<T, Response> {
    let o = id
        .parse::<u64>()
        .ok()
        .and_then(|id| store.orders.get(&id))
        .ok_or_else(order_not_found)?;
    if o.fo.id != fo {
        return Err(fo_not_found());
    }
    Ok(f(o))
}

pub(super) async fn get_fo(
    State(st): State<AppState>,
    Path((_, id, fo)): Path<(String, String, String)>,
) -> Response {
    let store = st.sim.read();
    match with_fo(&store, &id, &fo, fulfillment::render) {
        Ok(v) => ok_json(&v),
        Err(r) => r,
    }
}

struct FoPatch {
    status: Option<FoStatus>,
    tracking: Option<(Option<String>, Option<String>)>,
    touches_shipment: bool,
    touches_location: bool,
}

fn parse_fo_patch(body: &Value) -> Result<FoPatch, Response> {
    let bad = |d: &str| error(400, d.to_owned());
    if !body.is_object() {
        return Err(bad("Invalid input format"));
    }
    let status = match body.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(FoStatus::parse(s).ok_or_else(|| bad("Invalid status"))?),
        Some(_) => return Err(bad("Invalid status")),
    };
    let tracking = match body.get("tracking_info") {
        None | Some(Value::Null) => None,
        Some(t @ Value::Object(_)) => {
            let s = |k: &str| match t.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad("Invalid tracking_info")),
            };
            if t.get("notify_customer")
                .is_some_and(|n| !n.is_boolean() && !n.is_null())
            {
                return Err(bad("Invalid tracking_info"));
            }
            Some((s("code")?, s("url")?))
        }
        Some(_) => return Err(bad("Invalid tracking_info")),
    };
    Ok(FoPatch {
        status,
        tracking,
        touches_shipment: ["destination", "shipping", "recipient"]
            .iter()
            .any(|k| body.get(*k).is_some_and(|v| !v.is_null())),
        touches_location: body.get("assigned_location").is_some_and(|v| !v.is_null()),
    })
}

pub(super) async fn patch_fo(
    State(st): State<AppState>,
    Path((_, id, fo)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let patch = match parse_body(&body).and_then(|b| parse_fo_patch(&b)) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut store = st.sim.write();
    let check = with_fo(&store, &id, &fo, |o| {
        let pickup = o.doc.get("shipping_pickup_type").and_then(Value::as_str) == Some("pickup");
        let sent = matches!(o.fo.status, FoStatus::Dispatched | FoStatus::Delivered);
        if o.status == OrderStatus::Cancelled {
            return Err("The order is cancelled".to_owned());
        }
        if patch.touches_shipment && sent {
            return Err("Destination, shipping and recipient cannot change once sent".to_owned());
        }
        if patch.touches_location && (sent || o.fo.status == FoStatus::Packed) {
            return Err("The assigned location cannot change once packed or sent".to_owned());
        }
        match patch.status {
            Some(to) => fulfillment::check_transition(o.fo.status, to, pickup),
            None => Ok(()),
        }
    });
    let oid = match check {
        Ok(Ok(())) => id.parse::<u64>().unwrap_or_default(),
        Ok(Err(d)) => return error(400, d),
        Err(r) => return r,
    };
    let now = store.clock.tick();
    let Some(o) = store.orders.get_mut(&oid) else {
        return order_not_found();
    };
    if let Some((code, url)) = patch.tracking {
        o.apply_tracking(now, code, url);
    }
    if let Some(to) = patch.status {
        o.apply_fo_status(now, to);
    }
    ok_json(&fulfillment::render(o))
}

pub(super) async fn list_events(
    State(st): State<AppState>,
    Path((_, id, fo)): Path<(String, String, String)>,
) -> Response {
    let store = st.sim.read();
    match with_fo(&store, &id, &fo, |o| {
        o.fo.events
            .iter()
            .map(fulfillment::TrackingEvent::render)
            .collect::<Vec<_>>()
    }) {
        Ok(v) => ok_json(&Value::Array(v)),
        Err(r) => r,
    }
}

pub(super) async fn post_event(
    State(st): State<AppState>,
    Path((_, id, fo)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let input =
        match parse_body(&body).and_then(|b| EventInput::parse(&b).map_err(|d| error(400, d))) {
            Ok(i) => i,
            Err(r) => return r,
        };
    let mut store = st.sim.write();
    match with_fo(&store, &id, &fo, |o| o.fo.check_event(&input)) {
        Ok(Ok(())) => {}
        Ok(Err(d)) => return error(400, d),
        Err(r) => return r,
    }
    let now = store.clock.tick();
    let Some(o) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| store.orders.get_mut(&id))
    else {
        return order_not_found();
    };
    let delivered = input.status == "delivered";
    let ev = o.fo.add_event(now, input);
    // Documented: a `delivered` event sets the FO to DELIVERED with
    // `fulfilled_at` = the event's `happened_at`.
    if delivered && o.fo.status != FoStatus::Delivered {
        o.fo.fulfilled_at = Some(ev.happened_at);
        o.apply_fo_status(now, FoStatus::Delivered);
    }
    json_value(StatusCode::CREATED, &ev.render())
}
