//! Status sends to Mercado Livre (addendum "NF-e upload", "ME1 / custom shipping
//! status"; platforms.md §3 "Write order status").
//!
//! Every send first reads the order and its forward shipment (`GET /orders/{id}`,
//! `GET /orders/{id}/shipments` with `X-New-Domain: true`).
//!
//! | action | ML call |
//! |---|---|
//! | separation, collection order, shipping exception | none: `not_supported_by_platform` (ML has no seller call) |
//! | invoice, ME2 `drop_off`/`xd_drop_off`/`xd_same_day`/`cross_docking` waiting (`ready_to_ship`/`invoice_pending`) | `POST /shipments/{id}/invoice_data/?siteId={site}` with the nfeProc XML (`Content-Type: application/xml`) |
//! | invoice, same shipment past `invoice_pending` | nothing: already done |
//! | invoice, other shipments | `POST /packs/{pack_id or order id}/fiscal_documents` (multipart `fiscal_document`) |
//! | shipment / delivery, ME1 or custom | `POST /v2/shipments/{id}/seller_notifications` (`shipped` / `delivered`, substatus `null`, `service_id` of the site, tracking number and URL together) |
//! | shipment / delivery, ME2 | nothing sent, recorded as done: ML and its carrier drive ME2 |
//! | cancel | none: `not_supported_by_platform` (no seller cancel call in the material) |
//!
//! Orders tagged `fraud_risk_detected` never get a shipping status (ORD: do not ship).
//! The invoice needs the XML itself: without it the send is refused before any call
//! (`missing_nfe_xml`).

use super::client::{encode, order_id_ok, Body, MlConnector};
use super::map::{order_refs, OrderRefs};
use crate::send::{check_links, summary, tracking_code};
use crate::{CallInfo, PlatformError, PlatformErrorKind, SendCheckError, SendReport};
use chrono::SecondsFormat;
use ponte_core::action::{Action, ActionKind};
use ponte_core::automation::NotSent;
use ponte_core::ErrorCode;
use reqwest::Method;
use serde_json::json;

/// Logistic types whose NF-e ML imports (NFE).
const NFE_IMPORT_LOGISTICS: [&str; 4] = ["drop_off", "xd_drop_off", "xd_same_day", "cross_docking"];

/// NF-e upload error codes that retrying may fix (NFE table); the others are final.
const TRANSIENT_NFE_CODES: [&str; 2] = ["internal_error", "shipment_already_being_processed"];

/// NF-e upload answers that mean the NF-e is already there.
const DONE_NFE_CODES: [&str; 1] = ["shipment_invoice_already_saved"];

/// Whether ML takes actions of `kind` at all.
pub(super) fn support(kind: ActionKind) -> Result<(), NotSent> {
    match kind {
        ActionKind::Separation => Err(NotSent::NotSupported(
            "Mercado Livre has no seller call for picking",
        )),
        ActionKind::CollectionOrder => Err(NotSent::NotSupported(
            "Mercado Livre has no pickup-order call",
        )),
        ActionKind::ShipmentException => Err(NotSent::NotSupported(
            "Mercado Livre has no seller call for a shipping exception",
        )),
        ActionKind::Cancel => Err(NotSent::NotSupported(
            "Mercado Livre has no seller cancel call (cancel in ML's site or claims)",
        )),
        _ => Ok(()),
    }
}

/// Checks an action against what ML needs; no IO.
pub(super) fn check(action: &Action) -> Result<(), SendCheckError> {
    if let Err(NotSent::NotSupported(why)) = support(action.kind()) {
        return Err(SendCheckError::new(ErrorCode::NotSupportedByPlatform, why));
    }
    match action {
        Action::Invoice(i) if !i.has_xml => Err(SendCheckError::new(
            ErrorCode::MissingNfeXml,
            "Mercado Livre takes the authorized NF-e XML itself: send the invoice with its XML",
        )),
        Action::Shipment(s) if s.tracking_url.is_some() && tracking_code(s).is_none() => {
            Err(SendCheckError::new(
                ErrorCode::MissingTrackingCode,
                "Mercado Livre takes the tracking number and URL together",
            ))
        }
        _ => check_links(action),
    }
}

/// Tells ML about `action` on order `external_id`.
pub(super) async fn send(
    conn: &MlConnector,
    external_id: &str,
    action: &Action,
    nfe_xml: Option<&str>,
) -> SendReport {
    if let Err(e) = check(action) {
        return SendReport::refused(format!("{}: {}", e.code.as_str(), e.message));
    }
    if !order_id_ok(external_id) {
        return SendReport::refused(format!("not a Mercado Livre order id: {external_id}"));
    }
    let (mut calls, raw) = conn.read_raw(external_id).await;
    let mut sent = vec![format!("GET /orders/{external_id}")];
    let refs = match raw {
        Ok(r) => order_refs(&r),
        Err(e) => return report(sent, calls, Err(e)),
    };
    let result = match action {
        Action::Invoice(_) => {
            let Some(xml) = nfe_xml else {
                return SendReport::refused("missing_nfe_xml: the NF-e XML is not stored".into());
            };
            invoice(conn, external_id, &refs, xml, &mut calls, &mut sent).await
        }
        Action::Shipment(_) | Action::Delivery(_) if refs.fraud => Err(PlatformError::permanent(
            "fraud_risk_detected: Mercado Livre says not to ship this order".into(),
        )),
        Action::Shipment(s) => {
            let body = |service| {
                json!({
                    "payload": {"service_id": service, "comment": "shipped", "date": s.shipped_at.to_rfc3339_opts(SecondsFormat::Millis, true)},
                    "tracking_number": tracking_code(s),
                    "tracking_url": tracking_code(s).and(s.tracking_url.as_deref()),
                    "status": "shipped",
                    "substatus": null,
                })
            };
            shipping_status(
                conn,
                &refs,
                body(conn.settings().service_id()),
                &mut calls,
                &mut sent,
            )
            .await
        }
        Action::Delivery(d) => {
            let body = json!({
                "payload": {"service_id": conn.settings().service_id(), "comment": "delivered", "date": d.delivered_at.to_rfc3339_opts(SecondsFormat::Millis, true)},
                "tracking_number": null,
                "tracking_url": null,
                "status": "delivered",
                "substatus": null,
            });
            shipping_status(conn, &refs, body, &mut calls, &mut sent).await
        }
        _ => Err(PlatformError::permanent(
            "not supported by Mercado Livre".into(),
        )),
    };
    report(sent, calls, result)
}

fn report(
    sent: Vec<String>,
    calls: Vec<CallInfo>,
    result: Result<(), PlatformError>,
) -> SendReport {
    SendReport {
        request: summary(&sent),
        calls,
        result,
    }
}

async fn invoice(
    conn: &MlConnector,
    order_id: &str,
    refs: &OrderRefs,
    xml: &str,
    calls: &mut Vec<CallInfo>,
    sent: &mut Vec<String>,
) -> Result<(), PlatformError> {
    let me2_import = refs.mode.as_deref() == Some("me2")
        && refs
            .logistic_type
            .as_deref()
            .is_some_and(|l| NFE_IMPORT_LOGISTICS.contains(&l));
    if me2_import {
        let Some(shipment) = &refs.shipment_id else {
            return Err(PlatformError::permanent("the order has no shipment".into()));
        };
        let waiting = refs.shipment_status.as_deref() == Some("ready_to_ship")
            && refs.substatus.as_deref() == Some("invoice_pending");
        if !waiting {
            return match refs.shipment_status.as_deref() {
                Some("pending" | "handling") => Err(PlatformError {
                    kind: PlatformErrorKind::Transient,
                    status: None,
                    message: "the shipment is not waiting for its NF-e yet (invoice_pending)"
                        .into(),
                }),
                // Past invoice_pending: the NF-e is there (a retry after a crash).
                _ => Ok(()),
            };
        }
        let path = format!(
            "/shipments/{}/invoice_data/?siteId={}",
            encode(shipment),
            conn.settings().site_id
        );
        sent.push(format!("POST /shipments/{shipment}/invoice_data (XML)"));
        let (info, r) = conn
            .call(
                Method::POST,
                &path,
                &[],
                Body::Raw("application/xml", xml.as_bytes().to_vec()),
            )
            .await;
        calls.push(info);
        return r.map(|_| ()).or_else(nfe_error);
    }
    let pack = refs.pack_id.clone().unwrap_or_else(|| order_id.to_owned());
    let boundary = "ponte-fiscal-document-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"fiscal_document\"; filename=\"nfe.xml\"\r\nContent-Type: application/xml\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(xml.as_bytes());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    sent.push(format!("POST /packs/{pack}/fiscal_documents (XML)"));
    let ct = "multipart/form-data; boundary=ponte-fiscal-document-boundary";
    let (info, r) = conn
        .call(
            Method::POST,
            &format!("/packs/{}/fiscal_documents", encode(&pack)),
            &[],
            Body::Raw(ct, body),
        )
        .await;
    calls.push(info);
    r.map(|_| ())
}

/// Classifies an NF-e upload refusal by ML's error code (NFE table).
fn nfe_error(e: PlatformError) -> Result<(), PlatformError> {
    let code = error_code(&e.message);
    match code.as_deref() {
        Some(c) if DONE_NFE_CODES.contains(&c) => Ok(()),
        Some(c) if TRANSIENT_NFE_CODES.contains(&c) => Err(PlatformError {
            kind: PlatformErrorKind::Transient,
            message: format!("{c}: {}", e.message),
            ..e
        }),
        Some(c) if matches!(e.kind, PlatformErrorKind::Permanent) => Err(PlatformError {
            message: format!("{c}: {}", e.message),
            ..e
        }),
        _ => Err(e),
    }
}

/// ML's error code in an answer excerpt (`error`, `error_code` or a `cause` code).
pub(super) fn error_code(message: &str) -> Option<String> {
    let start = message.find('{')?;
    let v: serde_json::Value = serde_json::from_str(&message[start..]).ok()?;
    let text = super::map::text;
    text(&v["error_code"])
        .or_else(|| text(&v["cause"][0]["code"]))
        .or_else(|| text(&v["error"]))
}

async fn shipping_status(
    conn: &MlConnector,
    refs: &OrderRefs,
    body: serde_json::Value,
    calls: &mut Vec<CallInfo>,
    sent: &mut Vec<String>,
) -> Result<(), PlatformError> {
    match refs.mode.as_deref() {
        Some("me1" | "custom") => {}
        other => {
            // ME2 (and Full): ML and its carrier report shipping; nothing to send.
            sent.push(format!(
                "nothing sent: not_supported_by_platform for {} shipments (ML drives them)",
                other.unwrap_or("unknown")
            ));
            return Ok(());
        }
    }
    let Some(shipment) = &refs.shipment_id else {
        return Err(PlatformError::permanent("the order has no shipment".into()));
    };
    if body["status"] == "delivered" && refs.shipment_status.as_deref() == Some("delivered") {
        return Ok(());
    }
    sent.push(format!(
        "POST /v2/shipments/{shipment}/seller_notifications {}",
        body["status"]
    ));
    let (info, r) = conn
        .call(
            Method::POST,
            &format!("/v2/shipments/{}/seller_notifications", encode(shipment)),
            &[],
            Body::Json(&body),
        )
        .await;
    calls.push(info);
    r.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_read() {
        assert_eq!(
            error_code(r#"HTTP 400: {"status_code":400,"error_code":"validation_error"}"#)
                .as_deref(),
            Some("validation_error")
        );
        assert_eq!(
            error_code(r#"HTTP 400: {"error":"invalid_nfe_cstat","message":"x"}"#).as_deref(),
            Some("invalid_nfe_cstat")
        );
        let e = PlatformError {
            kind: PlatformErrorKind::Permanent,
            status: Some(400),
            message: r#"HTTP 400: {"error":"shipment_invoice_already_saved"}"#.into(),
        };
        assert_eq!(nfe_error(e), Ok(()));
        let e = PlatformError {
            kind: PlatformErrorKind::Permanent,
            status: Some(400),
            message: r#"HTTP 400: {"error":"shipment_already_being_processed"}"#.into(),
        };
        assert!(nfe_error(e).is_err_and(|e| e.kind == PlatformErrorKind::Transient));
    }
}
