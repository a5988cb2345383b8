//! Separation, shipment and delivery through the Fulfillment Order API (version
//! 2025-03; platforms.md addendum 1). An order may have several fulfillment orders
//! (FOs); each is moved on its own, and FOs already past the step are left alone, so
//! repeating a send after a crash finishes what the first attempt started.

use super::send::Trail;
use crate::send::tracking_code;
use crate::{PlatformError, PlatformErrorKind};
use chrono::SecondsFormat;
use ponte_core::action::{Delivery, Shipment};
use reqwest::Method;
use serde_json::{json, Value};

const UNPACKED: &str = "UNPACKED";
const DISPATCHED: &str = "DISPATCHED";
const DELIVERED: &str = "DELIVERED";

/// One fulfillment order as far as sends need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fo {
    /// Its id (a ULID in the docs' examples).
    pub(super) id: String,
    /// `FulfillmentOrderStatus`, upper case.
    pub(super) status: String,
}

/// Reads a `GET /orders/{id}/fulfillment-orders` answer leniently: ids may be strings
/// or numbers, statuses any case. `Err` says what is wrong.
pub(super) fn parse_list(body: &[u8]) -> Result<Vec<Fo>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let items = v.as_array().ok_or("not a JSON array")?;
    items
        .iter()
        .map(|fo| {
            let id = match fo.get("id") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err("a fulfillment order without id".to_owned()),
            };
            // The id goes into a URL path.
            let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
            if id.is_empty() || !id.chars().all(safe) {
                return Err(format!("unexpected fulfillment order id {id:?}"));
            }
            let status = fo
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("fulfillment order {id} without status"))?
                .to_ascii_uppercase();
            Ok(Fo { id, status })
        })
        .collect()
}

/// `GET /orders/{id}/fulfillment-orders`; an unreadable or empty list is permanent.
async fn list(trail: &mut Trail<'_>, order_id: u64) -> Result<Vec<Fo>, PlatformError> {
    let body = trail
        .call(
            Method::GET,
            &format!("/orders/{order_id}/fulfillment-orders"),
            None,
        )
        .await?;
    let fos = parse_list(&body).map_err(|m| PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(200),
        message: format!("unreadable fulfillment-order list: {m}"),
    })?;
    if fos.is_empty() {
        return Err(PlatformError::permanent(format!(
            "order {order_id} has no fulfillment orders at the platform"
        )));
    }
    Ok(fos)
}

/// `PATCH /orders/{id}/fulfillment-orders/{fo_id}`.
async fn patch(
    trail: &mut Trail<'_>,
    order_id: u64,
    fo: &Fo,
    body: &Value,
) -> Result<(), PlatformError> {
    let path = format!("/orders/{order_id}/fulfillment-orders/{}", fo.id);
    trail.call(Method::PATCH, &path, Some(body)).await.map(drop)
}

/// Separation: every UNPACKED FO becomes PACKED ("ready for sending"); FOs already
/// PACKED, DISPATCHED, READY_FOR_PICKUP or DELIVERED need nothing.
pub(super) async fn pack(trail: &mut Trail<'_>, order_id: u64) -> Result<(), PlatformError> {
    let body = json!({"status": "PACKED"});
    for fo in list(trail, order_id).await? {
        if fo.status == UNPACKED {
            patch(trail, order_id, &fo, &body).await?;
        }
    }
    Ok(())
}

/// The dispatch body (`FulfillmentOrderStatusInput` + `FulfillmentOrderTrackingInfoInput`,
/// fixture `fulfillment_order_patch_request.json`); `url` only when known.
pub(super) fn dispatch_body(s: &Shipment) -> Value {
    let mut info = json!({"code": tracking_code(s), "notify_customer": true});
    if let Some(url) = &s.tracking_url {
        info["url"] = json!(url);
    }
    json!({"status": DISPATCHED, "tracking_info": info})
}

/// Shipment: every FO not yet DISPATCHED or DELIVERED is patched to DISPATCHED with the
/// tracking info. UNPACKED goes straight to DISPATCHED: the docs only restrict going
/// back to UNPACKED, and the simulator allows it (the real platform is unverified).
pub(super) async fn dispatch(
    trail: &mut Trail<'_>,
    order_id: u64,
    s: &Shipment,
) -> Result<(), PlatformError> {
    let body = dispatch_body(s);
    for fo in list(trail, order_id).await? {
        if fo.status != DISPATCHED && fo.status != DELIVERED {
            patch(trail, order_id, &fo, &body).await?;
        }
    }
    Ok(())
}

/// The `delivered` tracking event (`FulfillmentOrderTrackingEventInput`, fixture
/// `fulfillment_order_tracking_event_post_request.json`).
pub(super) fn delivered_event(d: &Delivery) -> Value {
    json!({
        "status": "delivered",
        "description": "Pedido entregue",
        "happened_at": d.delivered_at.to_rfc3339_opts(SecondsFormat::Secs, false),
    })
}

/// Delivery: a `delivered` tracking event on every DISPATCHED FO, the documented
/// preferred way (the platform then sets the FO to DELIVERED, `fulfilled_at` = the
/// event's `happened_at`). FOs already DELIVERED are fine; any other FO refuses the
/// whole send before an event is posted (events need a DISPATCHED FO).
pub(super) async fn deliver(
    trail: &mut Trail<'_>,
    order_id: u64,
    d: &Delivery,
) -> Result<(), PlatformError> {
    let fos = list(trail, order_id).await?;
    if let Some(fo) = fos
        .iter()
        .find(|f| f.status != DISPATCHED && f.status != DELIVERED)
    {
        return Err(PlatformError::permanent(format!(
            "fulfillment order {} is {}, not dispatched at the platform: send the shipment first",
            fo.id, fo.status
        )));
    }
    let event = delivered_event(d);
    for fo in fos.iter().filter(|f| f.status == DISPATCHED) {
        let path = format!(
            "/orders/{order_id}/fulfillment-orders/{}/tracking-events",
            fo.id
        );
        trail.call(Method::POST, &path, Some(&event)).await?;
    }
    Ok(())
}
