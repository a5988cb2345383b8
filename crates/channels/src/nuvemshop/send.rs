//! Status sends to Nuvemshop (facts: docs/platforms.md §1 "Write order status" and
//! the addendum "Fulfillment Order API (version 2025-03)"; bodies as in
//! fixtures/nuvemshop).
//!
//! | action | `fulfillment_orders` (default) | `legacy` |
//! |---|---|---|
//! | separation | `PATCH` each UNPACKED fulfillment order to PACKED | `POST /orders/{id}/pack` |
//! | invoice | metafields `nfe.key` and `nfe.link` | same |
//! | collection order | not supported | not supported |
//! | shipment | `PATCH` each FO to DISPATCHED with `tracking_info` | `POST /orders/{id}/fulfill` |
//! | shipping exception | not supported | not supported |
//! | delivery | tracking event `delivered` on each DISPATCHED FO | not supported |
//! | cancel | `POST /orders/{id}/cancel` | same |
//!
//! Sends are retried after crashes, so an answer saying the order is already in the
//! wanted state counts as success.

use super::client::{rate_limit_wait, NuvemshopConnector};
use super::settings::{NuvemshopSettings, ShippingApi};
use super::{send_fo, send_nfe};
use crate::http_call;
use crate::send::{check_links, summary, tracking_code};
use crate::{CallInfo, PlatformError, SendCheckError, SendReport};
use ponte_core::action::{Action, ActionKind, CancelReason, Cancellation, Shipment};
use ponte_core::automation::NotSent;
use ponte_core::ErrorCode;
use reqwest::Method;
use serde_json::{json, Value};

/// Why a collection order cannot be sent.
const NO_PICKUP_ORDER: &str = "Nuvemshop has no pickup-order field or status";

/// Why a shipping exception cannot be sent (the Fulfillment Order tracking events'
/// failure statuses are not in the material).
const NO_EXCEPTION: &str = "Nuvemshop has no documented shipping-exception call";

/// Why a delivery cannot be sent with the legacy API.
const NO_LEGACY_DELIVERY: &str =
    "the legacy Nuvemshop Order API has no delivered endpoint (use shipping_api fulfillment_orders)";

/// Whether the platform takes actions of `kind` at all.
pub(super) fn support(settings: &NuvemshopSettings, kind: ActionKind) -> Result<(), NotSent> {
    match kind {
        ActionKind::CollectionOrder => Err(NotSent::NotSupported(NO_PICKUP_ORDER)),
        ActionKind::ShipmentException => Err(NotSent::NotSupported(NO_EXCEPTION)),
        ActionKind::Delivery if settings.shipping_api == ShippingApi::Legacy => {
            Err(NotSent::NotSupported(NO_LEGACY_DELIVERY))
        }
        _ => Ok(()),
    }
}

/// Checks an action against what the platform needs; no IO.
pub(super) fn check(settings: &NuvemshopSettings, action: &Action) -> Result<(), SendCheckError> {
    if let Err(NotSent::NotSupported(why)) = support(settings, action.kind()) {
        return Err(SendCheckError::new(ErrorCode::NotSupportedByPlatform, why));
    }
    match action {
        // Both APIs carry the tracking number in the fulfill/dispatch call.
        Action::Shipment(s) if tracking_code(s).is_none() => Err(SendCheckError::new(
            ErrorCode::MissingTrackingCode,
            "Nuvemshop needs the shipment's tracking code",
        )),
        _ => check_links(action),
    }
}

/// Tells the platform about `action` on order `external_id`.
pub(super) async fn send(
    conn: &NuvemshopConnector,
    external_id: &str,
    action: &Action,
) -> SendReport {
    let order_id = match external_id.parse::<u64>() {
        Ok(id) if external_id.bytes().all(|b| b.is_ascii_digit()) => id,
        _ => return SendReport::refused(format!("not a Nuvemshop order id: {external_id}")),
    };
    if let Err(e) = check(conn.settings(), action) {
        return SendReport::refused(format!("{} ({})", e.message, e.code));
    }
    let mut trail = Trail::new(conn);
    let legacy = conn.settings().shipping_api == ShippingApi::Legacy;
    let result = match action {
        Action::Separation(_) if legacy => pack(&mut trail, order_id).await,
        Action::Separation(_) => send_fo::pack(&mut trail, order_id).await,
        Action::Invoice(i) => send_nfe::send(&mut trail, order_id, i).await,
        Action::Shipment(s) if legacy => fulfill(&mut trail, order_id, s).await,
        Action::Shipment(s) => send_fo::dispatch(&mut trail, order_id, s).await,
        Action::Delivery(d) => send_fo::deliver(&mut trail, order_id, d).await,
        Action::Cancel(c) => cancel(&mut trail, order_id, c).await,
        // Refused by `check` above.
        Action::CollectionOrder(_) => Err(PlatformError::permanent(NO_PICKUP_ORDER.to_owned())),
        Action::ShipmentException(_) => Err(PlatformError::permanent(NO_EXCEPTION.to_owned())),
    };
    trail.finish(result)
}

/// Whether a failed call says the order is already in the wanted state: a 422 whose
/// body holds one of `phrases` (lower case). The wording is the simulator's
/// ("Order is already packed"); the real platform's is unverified.
pub(super) fn already(err: &PlatformError, phrases: &[&str]) -> bool {
    let text = err.message.to_ascii_lowercase();
    err.status == Some(422) && phrases.iter().any(|p| text.contains(p))
}

/// Legacy `POST /orders/{id}/pack` (Postman "Pack an order", body `{}`).
async fn pack(trail: &mut Trail<'_>, order_id: u64) -> Result<(), PlatformError> {
    let path = format!("/orders/{order_id}/pack");
    match trail.call(Method::POST, &path, Some(&json!({}))).await {
        Err(e) if already(&e, &["already packed", "already fulfilled"]) => Ok(()),
        r => r.map(drop),
    }
}

/// The legacy fulfill body (fixture `order_fulfill_request.json`).
pub(super) fn fulfill_body(s: &Shipment) -> Value {
    let mut body = json!({
        "shipping_tracking_number": tracking_code(s),
        "notify_customer": true,
    });
    if let Some(url) = &s.tracking_url {
        body["shipping_tracking_url"] = json!(url);
    }
    body
}

/// Legacy `POST /orders/{id}/fulfill`.
async fn fulfill(trail: &mut Trail<'_>, order_id: u64, s: &Shipment) -> Result<(), PlatformError> {
    let path = format!("/orders/{order_id}/fulfill");
    match trail
        .call(Method::POST, &path, Some(&fulfill_body(s)))
        .await
    {
        Err(e) if already(&e, &["already fulfilled"]) => Ok(()),
        r => r.map(drop),
    }
}

/// The cancel body: `reason` is one of `customer|inventory|fraud|other` (platforms.md).
/// `restock` is left out, so the platform's default (true) applies: the order's stock
/// goes back to the store, and ponte's stock push (a later feature) sends the true
/// available numbers anyway.
pub(super) fn cancel_body(c: &Cancellation) -> Value {
    let reason = match c.reason {
        CancelReason::Customer => "customer",
        CancelReason::Inventory => "inventory",
        CancelReason::Fraud => "fraud",
        CancelReason::PaymentExpired | CancelReason::Other => "other",
    };
    json!({"reason": reason, "email": true})
}

/// `POST /orders/{id}/cancel`.
async fn cancel(
    trail: &mut Trail<'_>,
    order_id: u64,
    c: &Cancellation,
) -> Result<(), PlatformError> {
    let path = format!("/orders/{order_id}/cancel");
    match trail.call(Method::POST, &path, Some(&cancel_body(c))).await {
        Err(e) if already(&e, &["already cancelled", "already canceled"]) => Ok(()),
        r => r.map(drop),
    }
}

/// The calls of one send, recorded as they are made.
pub(super) struct Trail<'a> {
    conn: &'a NuvemshopConnector,
    sent: Vec<String>,
    calls: Vec<CallInfo>,
}

impl<'a> Trail<'a> {
    fn new(conn: &'a NuvemshopConnector) -> Self {
        Self {
            conn,
            sent: vec![],
            calls: vec![],
        }
    }

    /// Makes one call (`path` below the store) and returns the 2xx body.
    pub(super) async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, PlatformError> {
        let label = format!("{method} {path}");
        let mut req = self.conn.request(method, path);
        match body {
            Some(b) => {
                req = req.json(b);
                self.sent.push(format!("{label} {b}"));
            }
            None => self.sent.push(label.clone()),
        }
        let (info, result) = http_call::send(req, label, rate_limit_wait).await;
        self.calls.push(info);
        result
    }

    /// The body excerpt of the last answer.
    pub(super) fn last_response(&self) -> Option<&str> {
        self.calls.last().and_then(|c| c.response.as_deref())
    }

    fn finish(self, result: Result<(), PlatformError>) -> SendReport {
        SendReport {
            request: summary(&self.sent),
            calls: self.calls,
            result,
        }
    }
}

#[cfg(test)]
mod tests;
