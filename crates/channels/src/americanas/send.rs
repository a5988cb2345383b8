//! Status sends to Americanas (addendum "4. SkyHub / Americanas" "Bodies", "Status
//! codes"). Every call carries a JSON body (the platform refuses a bodiless write).
//!
//! | action | call |
//! |---|---|
//! | invoice | `POST /orders/{code}/invoice {"status":"order_invoiced","invoice":{"key","issue_date"}}` |
//! | shipment | `GET /orders/{code}` (its items and shipping method), then `POST /orders/{code}/shipments {"status":"order_shipped","shipment":{"code","delivered_carrier_date","items":[{"sku","qty"}],"track":{"code","carrier","method","url"}}}` |
//! | shipping exception | `POST /orders/{code}/shipment_exception {"shipment_exception":{"occurrence_date","observation"}}` |
//! | delivery | `POST /orders/{code}/delivery {"status":"complete","delivered_date"}` |
//! | cancel | `POST /orders/{code}/cancel {"status":"order_canceled"}` |
//! | separation, collection order | none: `not_supported_by_platform` |
//!
//! Assumptions (the material is silent): dates go as `AAAA-MM-DDTHH:MM:SS-03:00` (the
//! documented `issue_date` format) for `delivered_carrier_date` and `delivered_date`
//! too; the shipment `code` is the order code (one shipment per order); the track
//! `method` is the order's `shipping_method`. A 422 (a transition the platform refuses,
//! an unknown status code) is permanent with the platform's message, unless the order
//! is already in the state asked for (a retry after a crash): then the send is done.
//! The shipping exception's body (no `status` field) is taken from a copy of SkyHub's
//! reference ("TRANSPORT EXCEPTION"); the addendum names only its two fields.

use super::client::{encode, AmericanasConnector};
use super::map::{order_code_ok, status_of, text};
use crate::send::{check_links, summary, tracking_code};
use crate::{CallInfo, PlatformError, SendCheckError, SendReport};
use chrono::{DateTime, FixedOffset, Utc};
use ponte_core::action::{Action, ActionKind};
use ponte_core::automation::NotSent;
use ponte_core::ErrorCode;
use reqwest::Method;
use serde_json::{json, Value};

/// Whether Americanas takes actions of `kind` at all.
pub(super) fn support(kind: ActionKind) -> Result<(), NotSent> {
    match kind {
        ActionKind::Separation => Err(NotSent::NotSupported("Americanas has no call for picking")),
        ActionKind::CollectionOrder => {
            Err(NotSent::NotSupported("Americanas has no pickup-order call"))
        }
        _ => Ok(()),
    }
}

/// Checks an action against what Americanas needs; no IO.
pub(super) fn check(action: &Action) -> Result<(), SendCheckError> {
    if let Err(NotSent::NotSupported(why)) = support(action.kind()) {
        return Err(SendCheckError::new(ErrorCode::NotSupportedByPlatform, why));
    }
    match action {
        Action::Shipment(s) if tracking_code(s).is_none() => Err(SendCheckError::new(
            ErrorCode::MissingTrackingCode,
            "Americanas takes a shipment with its tracking code",
        )),
        _ => check_links(action),
    }
}

/// The status codes at or past which an action's state is reached.
fn reached(action: &Action) -> &'static [&'static str] {
    match action {
        Action::Invoice(_) => &[
            "order_invoiced",
            "order_shipped",
            "shipment_exception",
            "complete",
        ],
        Action::Shipment(_) => &["order_shipped", "shipment_exception", "complete"],
        Action::ShipmentException(_) => &["shipment_exception"],
        Action::Delivery(_) => &["complete"],
        Action::Cancel(_) => &["order_canceled"],
        _ => &[],
    }
}

/// A time as the platform writes it: Brasília offset (`2026-01-01T09:00:00-03:00`).
fn brt(t: DateTime<Utc>) -> String {
    match FixedOffset::west_opt(3 * 3600) {
        Some(offset) => t
            .with_timezone(&offset)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        None => t.to_rfc3339(),
    }
}

/// Tells Americanas about `action` on order `code`.
pub(super) async fn send(conn: &AmericanasConnector, code: &str, action: &Action) -> SendReport {
    if let Err(e) = check(action) {
        return SendReport::refused(format!("{}: {}", e.code.as_str(), e.message));
    }
    if !order_code_ok(code) {
        return SendReport::refused(format!("not an Americanas order code: {code}"));
    }
    let mut calls = vec![];
    let mut sent = vec![];
    let (path, body) = match action {
        Action::Invoice(i) => (
            "invoice",
            json!({"status": "order_invoiced", "invoice": {"key": i.access_key.as_str(), "issue_date": brt(i.issued_at)}}),
        ),
        Action::Shipment(s) => {
            let (info, order) = conn.get_order(code).await;
            calls.push(info);
            sent.push(format!("GET /orders/{code}"));
            let order = match order {
                Ok(o) => o,
                Err(e) => return report(sent, calls, Err(e)),
            };
            let items: Vec<Value> = order["items"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|i| json!({"sku": text(&i["id"]), "qty": i["qty"]}))
                .collect();
            (
                "shipments",
                json!({"status": "order_shipped", "shipment": {
                    "code": code,
                    "delivered_carrier_date": brt(s.shipped_at),
                    "items": items,
                    "track": {
                        "code": tracking_code(s),
                        "carrier": s.carrier.clone().or_else(|| text(&order["shipping_carrier"])),
                        "method": text(&order["shipping_method"]),
                        "url": s.tracking_url,
                    },
                }}),
            )
        }
        Action::ShipmentException(x) => (
            "shipment_exception",
            json!({"shipment_exception": {"occurrence_date": brt(x.occurred_at), "observation": x.observation}}),
        ),
        Action::Delivery(d) => (
            "delivery",
            json!({"status": "complete", "delivered_date": brt(d.delivered_at)}),
        ),
        Action::Cancel(_) => ("cancel", json!({"status": "order_canceled"})),
        _ => {
            return SendReport::refused(
                "not_supported_by_platform: not supported by Americanas".into(),
            )
        }
    };
    // The status the body asks for (the shipping exception's is its path's).
    let status = body.get("status").cloned().unwrap_or_else(|| path.into());
    sent.push(format!("POST /orders/{code}/{path} {status}"));
    let (info, r) = conn
        .call(
            Method::POST,
            &format!("/orders/{}/{path}", encode(code)),
            Some(&body),
        )
        .await;
    calls.push(info);
    let result = match r {
        Ok(_) => Ok(()),
        Err(e) if e.status == Some(422) => {
            // Maybe already done (a retry after a crash): read where the order is.
            let (info, order) = conn.get_order(code).await;
            calls.push(info);
            sent.push(format!("GET /orders/{code}"));
            match order {
                Ok(o)
                    if status_of(&o)
                        .0
                        .is_some_and(|s| reached(action).contains(&s.as_str())) =>
                {
                    Ok(())
                }
                _ => Err(e),
            }
        }
        Err(e) => Err(e),
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

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_core::action::{CancelReason, Cancellation, Shipment};

    #[test]
    fn checks_and_dates() {
        assert!(support(ActionKind::Separation).is_err());
        assert!(support(ActionKind::CollectionOrder).is_err());
        assert!(support(ActionKind::Cancel).is_ok());
        let s = Shipment {
            tracking_code: Some(" ".into()),
            tracking_url: None,
            carrier: None,
            shipped_at: Utc::now(),
        };
        assert_eq!(
            check(&Action::Shipment(s)).map_err(|e| e.code),
            Err(ErrorCode::MissingTrackingCode)
        );
        assert!(check(&Action::Cancel(Cancellation {
            reason: CancelReason::Customer,
            note: None
        }))
        .is_ok());
        let t = DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(brt(t), "2026-01-01T09:00:00-03:00");
    }
}
