//! Status sends to VTEX (facts: docs/platforms.md §2 "Write order status", all in
//! `VX:VTEX - Orders API.json`; bodies as in fixtures/vtex).
//!
//! | action | VTEX call |
//! |---|---|
//! | separation | `POST /api/oms/pvt/orders/{orderId}/start-handling` (204) |
//! | invoice | `GET` the order, then `POST …/{orderId}/invoice` (`type: Output`, the order's items); `start-handling` first when the order is not handling yet |
//! | collection order, shipping exception | not supported |
//! | shipment | `GET` the order, then `PATCH …/{orderId}/invoice/{invoiceNumber}` (tracking) |
//! | delivery | `GET` the order, then `PUT …/{orderId}/invoice/{invoiceNumber}/tracking` (`isDelivered: true`) |
//! | cancel | `POST …/{orderId}/cancel` `{reason}` |
//!
//! Sends are retried after crashes, so "already in that state" is success:
//! - separation: VTEX answers 409 `OMS003` "Order status should be ready-for-handling"
//!   whatever the status (fixture `start_handling_409_response.json`, as the simulator),
//!   so a 409 is followed by a `GET`: handling or later is done; a status VTEX leaves by
//!   itself (payment, grace periods) is Transient ("store must retry if not 204");
//!   anything else (cancelled) is Permanent.
//! - invoice: an `Output` package with the same `invoiceNumber` already on the order is
//!   done, without a second POST (VTEX would only renew the receipt).
//! - shipment: the PATCH is idempotent. Delivery: a package already delivered is done.
//! - cancel: a refusal followed by a `GET` showing the order cancelled is done; one
//!   showing an invoice is Permanent ("VTEX does not cancel invoiced orders").
//!
//! Assumptions (not stated by the sources read):
//! - `embeddedInvoice` is the authorized NF-e XML when the ERP gave it (the engine hands
//!   it over with the action); `invoiceUrl` is the invoice's `xml_url` when given. The
//!   NF-e series has no VTEX field.
//! - The action has no items: the whole order is invoiced, every `items[]` line with its
//!   `id` (SKU id), `price` (unit cents) and `quantity` as the order shows them.
//! - An `Output` invoice needs the order in `handling` (the simulator's rule).
//! - The invoice of a shipment or delivery is the order's last `Output` package.
//! - `courier` (required by the PATCH) is the shipment's carrier, else the order's
//!   `logisticsInfo[].deliveryCompany`.
//! - `deliveredDate` ("yyyy-mm-dd hh:mm", no zone documented) is written in UTC, and
//!   `events` is empty: ponte has no carrier events, and whether a list replaces or adds
//!   to earlier ones is not documented.

use super::client::{order_id_ok, VtexConnector};
use crate::send::{check_links, summary, tracking_code};
use crate::{CallInfo, PlatformError, PlatformErrorKind, SendCheckError, SendReport};
use chrono::{DateTime, SecondsFormat, Utc};
use ponte_core::action::{
    Action, ActionKind, CancelReason, Cancellation, Delivery, Invoice, Shipment,
};
use ponte_core::automation::NotSent;
use ponte_core::ErrorCode;
use reqwest::Method;
use serde_json::{json, Value};

/// Why a collection order cannot be sent.
const NO_PICKUP_ORDER: &str = "the VTEX Orders API has no pickup-order field or status";

/// Why a shipping exception cannot be sent.
const NO_EXCEPTION: &str = "the VTEX Orders API has no shipping-exception call";

/// Statuses at or past handling: a separation is done.
const HANDLING_OR_LATER: &[&str] = &[
    "start-handling",
    "handling",
    "ready-for-invoicing",
    "invoice",
    "invoiced",
    "invoice-after-cancellation-deny",
];

/// Statuses VTEX moves on from by itself towards `handling` (statuses as in map.rs).
const NOT_HANDLING_YET: &[&str] = &[
    "order-created",
    "order-completed",
    "on-order-completed",
    "on-order-completed-ffm",
    "order-accepted",
    "waiting-for-sellers-confirmation",
    "waiting-for-seller-confirmation",
    "waiting-for-authorization",
    "waiting-for-order-authorization",
    "approve-payment",
    "payment-pending",
    "payment-approved",
    "waiting-ffmt-authorization",
    "waiting-for-manual-authorization",
    "waiting-for-fulfillment",
    "waiting-for-mkt-authorization",
    "authorize-fulfillment",
    "window-to-cancel",
    "window-to-change-seller",
    "window-to-change-payment",
    "waiting-seller-handling",
    "ready-for-handling",
    "start-handling",
];

/// Whether VTEX takes actions of `kind` at all.
pub(super) fn support(kind: ActionKind) -> Result<(), NotSent> {
    match kind {
        ActionKind::CollectionOrder => Err(NotSent::NotSupported(NO_PICKUP_ORDER)),
        ActionKind::ShipmentException => Err(NotSent::NotSupported(NO_EXCEPTION)),
        _ => Ok(()),
    }
}

/// Checks an action against what VTEX needs; no IO.
pub(super) fn check(action: &Action) -> Result<(), SendCheckError> {
    if let Err(NotSent::NotSupported(why)) = support(action.kind()) {
        return Err(SendCheckError::new(ErrorCode::NotSupportedByPlatform, why));
    }
    match action {
        Action::Shipment(s) if tracking_code(s).is_none() => Err(SendCheckError::new(
            ErrorCode::MissingTrackingCode,
            "VTEX needs the shipment's tracking code (trackingNumber)",
        )),
        _ => check_links(action),
    }
}

/// Tells VTEX about `action` on order `external_id`.
pub(super) async fn send(
    conn: &VtexConnector,
    external_id: &str,
    action: &Action,
    nfe_xml: Option<&str>,
) -> SendReport {
    if !order_id_ok(external_id) {
        return SendReport::refused(format!("not a VTEX order id: {external_id:?}"));
    }
    if let Err(e) = check(action) {
        return SendReport::refused(format!("{} ({})", e.message, e.code));
    }
    let mut trail = Trail::new(conn);
    let id = external_id;
    let result = match action {
        Action::Separation(_) => start_handling(&mut trail, id).await,
        Action::Invoice(i) => invoice(&mut trail, id, i, nfe_xml).await,
        Action::Shipment(s) => ship(&mut trail, id, s).await,
        Action::Delivery(d) => deliver(&mut trail, id, d).await,
        Action::Cancel(c) => cancel(&mut trail, id, c).await,
        // Refused by `check` above.
        Action::CollectionOrder(_) => Err(PlatformError::permanent(NO_PICKUP_ORDER.to_owned())),
        Action::ShipmentException(_) => Err(PlatformError::permanent(NO_EXCEPTION.to_owned())),
    };
    trail.finish(result)
}

// ---- the calls -----------------------------------------------------------------------

/// `POST …/start-handling`; a 409 is explained by the order's status.
async fn start_handling(trail: &mut Trail<'_>, id: &str) -> Result<(), PlatformError> {
    match trail
        .call(Method::POST, &order_path(id, "/start-handling"), None)
        .await
    {
        Err(e) if e.status == Some(409) => after_conflict(trail, id, e, HANDLING_OR_LATER).await,
        r => r.map(drop),
    }
}

/// Reads the order after a 409: done when its status is in `done`, Transient while
/// VTEX still has to move it to `handling`, else Permanent.
async fn after_conflict(
    trail: &mut Trail<'_>,
    id: &str,
    refused: PlatformError,
    done: &[&str],
) -> Result<(), PlatformError> {
    let order = read_order(trail, id).await?;
    let status = status_of(&order);
    if done.contains(&status) {
        return Ok(());
    }
    let kind = if NOT_HANDLING_YET.contains(&status) {
        PlatformErrorKind::Transient
    } else {
        PlatformErrorKind::Permanent
    };
    Err(PlatformError {
        kind,
        status: refused.status,
        message: format!(
            "VTEX order {id} is `{status}`, not handling: {}",
            refused.message
        ),
    })
}

/// Invoices the whole order, unless an `Output` invoice with this number is there.
async fn invoice(
    trail: &mut Trail<'_>,
    id: &str,
    inv: &Invoice,
    xml: Option<&str>,
) -> Result<(), PlatformError> {
    let order = read_order(trail, id).await?;
    let sent = output_packages(&order)
        .filter_map(package_number)
        .any(|n| same_number(&n, &inv.number));
    if sent {
        return Ok(());
    }
    let items = invoice_items(&order)
        .map_err(|m| PlatformError::permanent(format!("VTEX order {id}: {m}")))?;
    if !HANDLING_OR_LATER.contains(&status_of(&order)) {
        start_handling(trail, id).await?;
    }
    let body = invoice_body(inv, items, xml);
    match trail
        .call(Method::POST, &order_path(id, "/invoice"), Some(&body))
        .await
    {
        Err(e) if e.status == Some(409) => after_conflict(trail, id, e, &[]).await,
        r => r.map(drop),
    }
}

/// The invoice notification body (fixture `invoice_notification_request.json`), with
/// the authorized XML as `embeddedInvoice` when the ERP gave it.
fn invoice_body(inv: &Invoice, items: Vec<Value>, xml: Option<&str>) -> Value {
    let mut body = json!({
        "type": "Output",
        "issuanceDate": iso(inv.issued_at),
        "invoiceNumber": inv.number,
        "invoiceValue": inv.total_cents.to_string(),
        "invoiceKey": inv.access_key.as_str(),
        "courier": "",
        "trackingNumber": "",
        "trackingUrl": "",
        "items": items,
    });
    if let Some(url) = &inv.xml_url {
        body["invoiceUrl"] = json!(url);
    }
    if let Some(xml) = xml {
        body["embeddedInvoice"] = json!(xml);
    }
    body
}

/// `PATCH …/invoice/{invoiceNumber}` with the tracking data.
async fn ship(trail: &mut Trail<'_>, id: &str, s: &Shipment) -> Result<(), PlatformError> {
    let order = read_order(trail, id).await?;
    let number = latest_output(&order)
        .and_then(package_number)
        .ok_or_else(|| no_invoice(id))?;
    let courier = s
        .carrier
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .or_else(|| delivery_company(&order))
        .ok_or_else(|| {
            PlatformError::permanent(format!(
                "VTEX needs the shipment's carrier (courier): the shipment names none and \
                 order {id} has no deliveryCompany"
            ))
        })?;
    let body = json!({
        "trackingNumber": tracking_code(s).unwrap_or_default(),
        "trackingUrl": s.tracking_url.as_deref().unwrap_or_default(),
        "courier": courier,
        "dispatchedDate": iso(s.shipped_at),
    });
    let path = invoice_path(id, &number, "");
    trail
        .call(Method::PATCH, &path, Some(&body))
        .await
        .map(drop)
}

/// `PUT …/invoice/{invoiceNumber}/tracking` with `isDelivered: true`.
async fn deliver(trail: &mut Trail<'_>, id: &str, d: &Delivery) -> Result<(), PlatformError> {
    let order = read_order(trail, id).await?;
    let package = latest_output(&order).ok_or_else(|| no_invoice(id))?;
    let number = package_number(package).ok_or_else(|| no_invoice(id))?;
    if delivered(package) {
        return Ok(());
    }
    if text(&package["trackingNumber"]).is_none() {
        return Err(PlatformError::permanent(format!(
            "VTEX takes a delivery only for an invoice with a tracking number: invoice \
             {number} of order {id} has none (send the shipment first)"
        )));
    }
    let body = json!({
        "isDelivered": true,
        "deliveredDate": d.delivered_at.format("%Y-%m-%d %H:%M").to_string(),
        "events": [],
    });
    let path = invoice_path(id, &number, "/tracking");
    trail.call(Method::PUT, &path, Some(&body)).await.map(drop)
}

/// `POST …/cancel`; a refusal is explained by the order.
async fn cancel(trail: &mut Trail<'_>, id: &str, c: &Cancellation) -> Result<(), PlatformError> {
    let body = json!({ "reason": cancel_reason(c) });
    match trail
        .call(Method::POST, &order_path(id, "/cancel"), Some(&body))
        .await
    {
        Err(e) if e.kind == PlatformErrorKind::Permanent => cancel_refused(trail, id, e).await,
        r => r.map(drop),
    }
}

/// After a refused cancel: done when the order is cancelled; a clear Permanent error
/// when it is invoiced (VTEX cancels no invoiced or partially invoiced order); else the
/// refusal itself.
async fn cancel_refused(
    trail: &mut Trail<'_>,
    id: &str,
    refused: PlatformError,
) -> Result<(), PlatformError> {
    let Ok(order) = read_order(trail, id).await else {
        return Err(refused);
    };
    let status = status_of(&order);
    if matches!(status, "canceled" | "cancel") {
        return Ok(());
    }
    let invoices: Vec<String> = output_packages(&order).filter_map(package_number).collect();
    if status != "invoiced" && invoices.is_empty() {
        return Err(refused);
    }
    Err(PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: refused.status,
        message: format!(
            "VTEX does not cancel invoiced orders: order {id} is `{status}` with invoice(s) \
             [{}] ({})",
            invoices.join(", "),
            refused.message
        ),
    })
}

/// The free-text `reason` (fixture `cancel_request.json`: "Unexpected stock shortage").
fn cancel_reason(c: &Cancellation) -> String {
    let base = match c.reason {
        CancelReason::Customer => "Cancelled at the customer's request",
        CancelReason::Inventory => "Out of stock",
        CancelReason::Fraud => "Suspected fraud",
        CancelReason::PaymentExpired => "Payment not confirmed in time",
        CancelReason::Other => "Cancelled by the seller",
    };
    match c.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(note) => format!("{base}: {note}"),
        None => base.to_owned(),
    }
}

fn no_invoice(id: &str) -> PlatformError {
    PlatformError::permanent(format!(
        "VTEX order {id} has no invoice yet: the NF-e must be sent first"
    ))
}

// ---- reading the order ---------------------------------------------------------------

/// `GET /api/oms/pvt/orders/{orderId}` as JSON.
async fn read_order(trail: &mut Trail<'_>, id: &str) -> Result<Value, PlatformError> {
    let body = trail.call(Method::GET, &order_path(id, ""), None).await?;
    serde_json::from_slice(&body).map_err(|e| PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(200),
        message: format!("unreadable VTEX order {id}: {e}"),
    })
}

fn status_of(order: &Value) -> &str {
    order["status"].as_str().unwrap_or_default()
}

/// The sale invoices (`type` other than `Input`), in the order VTEX lists them.
fn output_packages(order: &Value) -> impl Iterator<Item = &Value> {
    order["packageAttachment"]["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| {
            !p["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("input"))
        })
}

fn latest_output(order: &Value) -> Option<&Value> {
    output_packages(order).last()
}

fn package_number(package: &Value) -> Option<String> {
    text(&package["invoiceNumber"])
}

fn delivered(package: &Value) -> bool {
    let status = &package["courierStatus"];
    status["finished"].as_bool() == Some(true) || text(&status["deliveredDate"]).is_some()
}

/// The first item's carrier (`shippingData.logisticsInfo[].deliveryCompany`).
fn delivery_company(order: &Value) -> Option<String> {
    order["shippingData"]["logisticsInfo"]
        .as_array()?
        .iter()
        .find_map(|l| text(&l["deliveryCompany"]))
}

/// Every order line as an invoice item `{id, price, quantity}`.
fn invoice_items(order: &Value) -> Result<Vec<Value>, String> {
    let lines = order["items"].as_array().filter(|l| !l.is_empty());
    let lines = lines.ok_or("the order has no items to invoice")?;
    lines
        .iter()
        .enumerate()
        .map(|(n, l)| {
            let (Some(id), Some(price), Some(quantity)) =
                (text(&l["id"]), l["price"].as_i64(), l["quantity"].as_u64())
            else {
                return Err(format!("item {n} has no readable id, price or quantity"));
            };
            Ok(json!({"id": id, "price": price, "quantity": quantity}))
        })
        .collect()
}

/// A non-empty string, or a number as text.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Leading zeros do not make another invoice number ("000123" is 123).
fn same_number(a: &str, b: &str) -> bool {
    a.trim().trim_start_matches('0') == b.trim().trim_start_matches('0')
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

// ---- paths and the call trail ----------------------------------------------------------

/// `/api/oms/pvt/orders/{id}{rest}`; `id` passed [`order_id_ok`].
fn order_path(id: &str, rest: &str) -> String {
    format!("/api/oms/pvt/orders/{id}{rest}")
}

/// `…/invoice/{number}{rest}`, the number percent-encoded (it comes from VTEX).
fn invoice_path(id: &str, number: &str, rest: &str) -> String {
    order_path(
        id,
        &format!("/invoice/{}{rest}", super::client::encode(number)),
    )
}

/// The calls of one send, recorded as they are made.
struct Trail<'a> {
    conn: &'a VtexConnector,
    sent: Vec<String>,
    calls: Vec<CallInfo>,
}

impl<'a> Trail<'a> {
    fn new(conn: &'a VtexConnector) -> Self {
        Self {
            conn,
            sent: vec![],
            calls: vec![],
        }
    }

    /// Makes one call and returns the 2xx body.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, PlatformError> {
        self.sent.push(match body {
            Some(b) => format!("{method} {path} {}", shown(b)),
            None => format!("{method} {path}"),
        });
        let (info, result) = self.conn.call(method, path, body).await;
        self.calls.push(info);
        result
    }

    fn finish(self, result: Result<(), PlatformError>) -> SendReport {
        SendReport {
            request: summary(&self.sent),
            calls: self.calls,
            result,
        }
    }
}

/// A body as the send history shows it: an embedded NF-e XML is named by its size,
/// so the invoice fields stay readable within the summary's length.
fn shown(body: &Value) -> Value {
    let mut b = body.clone();
    if let Some(xml) = b.get("embeddedInvoice").and_then(Value::as_str) {
        b["embeddedInvoice"] = json!(format!("<NF-e XML, {} bytes>", xml.len()));
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::SUMMARY_MAX;
    use ponte_core::action::{Separation, SeparationKind};
    use ponte_core::nfe::NfeKey;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn invoice(xml_url: Option<&str>) -> Invoice {
        Invoice {
            number: "26".into(),
            series: "1".into(),
            access_key: NfeKey::parse("43180906929383000163550010000000261000010301")
                .unwrap_or_else(|e| panic!("{e}")),
            issued_at: at("2026-03-01T10:00:00Z"),
            total_cents: 12_345,
            xml_url: xml_url.map(str::to_owned),
            has_xml: false,
        }
    }

    fn shipment(code: Option<&str>, url: Option<&str>) -> Action {
        Action::Shipment(Shipment {
            tracking_code: code.map(str::to_owned),
            tracking_url: url.map(str::to_owned),
            carrier: None,
            shipped_at: at("2026-03-02T09:00:00Z"),
        })
    }

    #[test]
    fn support_and_check() {
        assert!(support(ActionKind::CollectionOrder).is_err());
        for k in ActionKind::ALL {
            let unsupported = [ActionKind::CollectionOrder, ActionKind::ShipmentException];
            assert_eq!(support(k).is_ok(), !unsupported.contains(&k));
        }
        let code = |a: &Action| check(a).map_err(|e| e.code.as_str());
        assert_eq!(code(&shipment(None, None)), Err("missing_tracking_code"));
        assert_eq!(
            code(&shipment(Some("  "), None)),
            Err("missing_tracking_code")
        );
        assert_eq!(
            code(&shipment(Some("BR1"), Some("ftp://x"))),
            Err("invalid_tracking_url")
        );
        assert_eq!(code(&shipment(Some("BR1"), None)), Ok(()));
        assert_eq!(
            code(&Action::Invoice(invoice(Some("nfe.xml")))),
            Err("invalid_xml_url")
        );
        let sep = Action::Separation(Separation {
            kind: SeparationKind::Production,
        });
        assert_eq!(code(&sep), Ok(()));
    }

    #[test]
    fn invoice_body_has_the_documented_shape() {
        let items = vec![json!({"id": "1", "price": 100, "quantity": 2})];
        let body = invoice_body(&invoice(Some("https://nfe.example/26.xml")), items, None);
        assert_eq!(
            body,
            json!({
                "type": "Output",
                "issuanceDate": "2026-03-01T10:00:00+00:00",
                "invoiceNumber": "26",
                "invoiceValue": "12345",
                "invoiceKey": "43180906929383000163550010000000261000010301",
                "invoiceUrl": "https://nfe.example/26.xml",
                "courier": "",
                "trackingNumber": "",
                "trackingUrl": "",
                "items": [{"id": "1", "price": 100, "quantity": 2}],
            })
        );
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/vtex/invoice_notification_request.json"
        );
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        for key in body.as_object().into_iter().flat_map(|o| o.keys()) {
            assert!(doc.get(key).is_some(), "{key} is not a documented field");
        }
        assert!(invoice_body(&invoice(None), vec![], None)
            .get("invoiceUrl")
            .is_none());
        let xml = "<nfeProc versao=\"4.00\"/>";
        let with_xml = invoice_body(&invoice(None), vec![], Some(xml));
        assert_eq!(with_xml["embeddedInvoice"], xml);
        assert_eq!(shown(&with_xml)["embeddedInvoice"], "<NF-e XML, 24 bytes>");
    }

    #[test]
    fn order_reading() {
        let order = json!({
            "status": "invoiced",
            "items": [{"id": "7", "price": 990, "quantity": 1}, {"id": 8, "price": 10, "quantity": 3}],
            "shippingData": {"logisticsInfo": [{"deliveryCompany": ""}, {"deliveryCompany": "Correios PAC"}]},
            "packageAttachment": {"packages": [
                {"type": "Output", "invoiceNumber": "1"},
                {"type": "Output", "invoiceNumber": "0002", "courierStatus": {"finished": true}},
                {"type": "Input", "invoiceNumber": "R-1"},
            ]},
        });
        assert_eq!(status_of(&order), "invoiced");
        let numbers: Vec<_> = output_packages(&order).filter_map(package_number).collect();
        assert_eq!(numbers, ["1", "0002"]);
        let latest = latest_output(&order).unwrap_or(&Value::Null);
        assert_eq!(package_number(latest).as_deref(), Some("0002"));
        assert!(delivered(latest));
        assert!(same_number("0002", "2") && !same_number("12", "2"));
        assert_eq!(delivery_company(&order).as_deref(), Some("Correios PAC"));
        assert_eq!(
            invoice_items(&order),
            Ok(vec![
                json!({"id": "7", "price": 990, "quantity": 1}),
                json!({"id": "8", "price": 10, "quantity": 3}),
            ])
        );
        assert!(invoice_items(&json!({"items": []})).is_err());
        assert!(invoice_items(&json!({"items": [{"id": "1", "quantity": 1}]})).is_err());
        assert!(latest_output(&json!({"packageAttachment": null})).is_none());
        assert_eq!(status_of(&json!([])), "");
    }

    #[test]
    fn reasons_paths_and_summary() {
        let c = Cancellation {
            reason: CancelReason::Inventory,
            note: Some(" lote 7 ".into()),
        };
        assert_eq!(cancel_reason(&c), "Out of stock: lote 7");
        assert_eq!(
            invoice_path("v1-01", "NF 1/2", "/tracking"),
            "/api/oms/pvt/orders/v1-01/invoice/NF%201%2F2/tracking"
        );
        let long = vec!["x".repeat(600)];
        assert_eq!(summary(&long).chars().count(), SUMMARY_MAX);
    }
}
