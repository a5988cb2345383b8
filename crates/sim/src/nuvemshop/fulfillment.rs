//! Fulfillment Order resource (API version 2025-03), one per order.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::fmt::{self, ts_fo};
use super::order::OrderRec;
use super::status::FoStatus;

/// Documented cap: "max 100 events (an additional 101st event may be delivered)".
pub const MAX_TRACKING_EVENTS: usize = 101;

#[derive(Debug, Clone)]
pub struct TrackingEvent {
    pub id: String,
    pub status: String,
    pub description: String,
    pub address: Option<String>,
    pub geolocation: Option<Value>,
    pub happened_at: DateTime<Utc>,
    pub estimated_delivery_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created: Instant,
}

impl TrackingEvent {
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status,
            "description": self.description,
            "address": self.address,
            "geolocation": self.geolocation,
            "happened_at": ts_fo(self.happened_at),
            "estimated_delivery_at": self.estimated_delivery_at.map(ts_fo),
            "created_at": ts_fo(self.created_at),
            "updated_at": ts_fo(self.created_at),
        })
    }
}

/// Validated `FulfillmentOrderTrackingEventInput`.
#[derive(Debug, Clone)]
pub struct EventInput {
    pub status: String,
    pub description: String,
    pub address: Option<String>,
    pub geolocation: Option<Value>,
    pub happened_at: Option<DateTime<Utc>>,
    pub estimated_delivery_at: Option<DateTime<Utc>>,
}

const EVENT_STATUSES: &[&str] = &[
    "dispatched",
    "received_by_post_office",
    "in_transit",
    "out_for_delivery",
    "delivery_attempt_failed",
    "delayed",
    "ready_for_pickup",
    "delivered",
    "returned_to_sender",
    "lost",
    "failure",
];

impl EventInput {
    /// Parses and validates a request body; `Err` is the 400 description.
    pub fn parse(body: &Value) -> Result<Self, String> {
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let status = s("status").ok_or("The status field is required")?;
        let valid = EVENT_STATUSES.contains(&status.as_str())
            || status
                .strip_prefix("custom_")
                .is_some_and(|r| !r.is_empty());
        if !valid {
            return Err("The selected status is invalid".into());
        }
        let description = s("description").ok_or("The description field is required")?;
        let ts_field = |k: &str| -> Result<Option<DateTime<Utc>>, String> {
            match body.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(raw)) => fmt::parse_ts(raw)
                    .map(Some)
                    .ok_or_else(|| format!("The {k} is not a valid date")),
                Some(_) => Err(format!("The {k} is not a valid date")),
            }
        };
        Ok(Self {
            status,
            description,
            address: s("address"),
            geolocation: body.get("geolocation").filter(|g| !g.is_null()).cloned(),
            happened_at: ts_field("happened_at")?,
            estimated_delivery_at: ts_field("estimated_delivery_at")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct FoRec {
    pub id: String,
    pub status: FoStatus,
    pub status_history: Vec<Value>,
    pub tracking_code: Option<String>,
    pub tracking_url: Option<String>,
    pub tracking_history: Vec<Value>,
    pub events: Vec<TrackingEvent>,
    pub fulfilled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    event_seq: u64,
}

impl FoRec {
    pub fn new(
        order_id: u64,
        created_at: DateTime<Utc>,
        status: FoStatus,
        doc: &Map<String, Value>,
    ) -> Self {
        let ms = created_at.timestamp_millis().max(0) as u64;
        let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
        Self {
            id: fo_id(ms, u128::from(order_id)),
            status,
            status_history: Vec::new(),
            tracking_code: s("shipping_tracking_number"),
            tracking_url: s("shipping_tracking_url"),
            tracking_history: Vec::new(),
            events: Vec::new(),
            fulfilled_at: (status == FoStatus::Delivered).then_some(created_at),
            created_at,
            updated_at: created_at,
            event_seq: 0,
        }
    }

    pub fn set_status(&mut self, now: DateTime<Utc>, to: FoStatus) {
        self.status_history.push(json!({
            "from_status": self.status.as_str(),
            "to_status": to.as_str(),
            "happened_at": ts_fo(now),
            "created_at": ts_fo(now),
        }));
        self.status = to;
        if to == FoStatus::Delivered && self.fulfilled_at.is_none() {
            self.fulfilled_at = Some(now);
        }
        self.updated_at = now;
    }

    pub fn set_tracking(&mut self, now: DateTime<Utc>, code: Option<String>, url: Option<String>) {
        if code == self.tracking_code && url == self.tracking_url {
            return;
        }
        self.tracking_history.push(json!({
            "from_tracking_info": {"url": self.tracking_url, "code": self.tracking_code},
            "to_tracking_info": {"url": url, "code": code},
            "happened_at": ts_fo(now),
            "created_at": ts_fo(now),
            "app_id": null,
            "user_id": null,
        }));
        self.tracking_code = code;
        self.tracking_url = url;
        self.updated_at = now;
    }

    /// Checks the documented rules for a new tracking event.
    pub fn check_event(&self, input: &EventInput) -> Result<(), String> {
        if !matches!(self.status, FoStatus::Dispatched | FoStatus::Delivered) {
            return Err("Fulfillment Order Must be Already DISPATCHED".into());
        }
        if self.events.len() >= MAX_TRACKING_EVENTS {
            return Err("Tracking events has reached the limit".into());
        }
        let dup = self.events.iter().any(|e| {
            let same = e.status == input.status
                && e.description == input.description
                && e.address == input.address
                && e.geolocation == input.geolocation
                && e.estimated_delivery_at == input.estimated_delivery_at;
            match input.happened_at {
                None => same,
                Some(h) => {
                    same && e.happened_at == h && e.created.elapsed() <= Duration::from_secs(60)
                }
            }
        });
        if dup {
            return Err(
                "The tracking event must not be identical to an existing tracking event".into(),
            );
        }
        Ok(())
    }

    pub fn add_event(&mut self, now: DateTime<Utc>, input: EventInput) -> TrackingEvent {
        self.event_seq += 1;
        let ms = now.timestamp_millis().max(0) as u64;
        let ev = TrackingEvent {
            id: fo_id(
                ms,
                (u128::from(self.event_seq) << 40) ^ self.id.len() as u128,
            ),
            status: input.status,
            description: input.description,
            address: input.address,
            geolocation: input.geolocation,
            happened_at: input.happened_at.unwrap_or(now),
            estimated_delivery_at: input.estimated_delivery_at,
            created_at: now,
            created: Instant::now(),
        };
        self.events.push(ev.clone());
        self.updated_at = now;
        ev
    }
}

/// Renders the fulfillment order of `order` in the documented shape.
pub fn render(order: &OrderRec) -> Value {
    let fo = &order.fo;
    let d = &order.doc;
    let currency = d.get("currency").cloned().unwrap_or(json!("BRL"));
    let money = |k: &str| d.get(k).and_then(fmt::parse_money).unwrap_or(0) as f64 / 100.0;
    let products = d
        .get("products")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut total_qty = 0u64;
    let mut total_weight = 0.0f64;
    let line_items: Vec<Value> = products
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let qty = p.get("quantity").and_then(fmt::as_u64).unwrap_or(1);
            let w = p.get("weight").and_then(fmt::parse_money).unwrap_or(0) as f64 / 100.0;
            total_qty += qty;
            total_weight += w * qty as f64;
            let dim = |k: &str| p.get(k).and_then(fmt::parse_money).map(|c| c as f64 / 100.0);
            json!({
                "id": fo_id(fo.created_at.timestamp_millis().max(0) as u64, (u128::from(order.id) << 16) | i as u128),
                "external_id": p.get("id").map(|v| fmt::as_u64(v).map_or(Value::Null, |n| json!(n.to_string()))),
                "quantity": qty,
                "variant": {"variant_id": p.get("variant_id").and_then(fmt::as_u64).map(|n| n.to_string())},
                "product": {"product_id": p.get("product_id").and_then(fmt::as_u64).map(|n| n.to_string())},
                "unit_price": {"value": p.get("price").and_then(fmt::parse_money).unwrap_or(0) as f64 / 100.0, "currency": currency},
                "unit_dimension": {"weight": w, "width": dim("width"), "height": dim("height"), "depth": dim("depth")},
                "created_at": ts_fo(fo.created_at),
                "updated_at": ts_fo(fo.created_at),
            })
        })
        .collect();
    let addr = d.get("shipping_address").cloned().unwrap_or(Value::Null);
    let a = |k: &str| addr.get(k).cloned().unwrap_or(Value::Null);
    let province = a("province");
    let destination = json!({
        "zipcode": a("zipcode"), "street": a("address"), "number": a("number"),
        "floor": a("floor"), "locality": a("locality"), "city": a("city"),
        "reference": null, "between_streets": null,
        "province": {"code": null, "name": province},
        "region": {"code": null, "name": null},
        "country": {"code": a("country"), "name": null},
    });
    let recipient_id = d
        .get("contact_identification")
        .cloned()
        .or_else(|| {
            d.get("customer")
                .and_then(|c| c.get("identification"))
                .cloned()
        })
        .unwrap_or(Value::Null);
    let option_name = d.get("shipping_option").cloned().unwrap_or(Value::Null);
    let option_code = d
        .get("shipping_option_code")
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "id": fo.id,
        "number": order.number.to_string(),
        "total_quantity": total_qty,
        "total_weight": (total_weight * 1000.0).round() / 1000.0,
        "total_price": {"value": money("subtotal"), "currency": currency},
        "assigned_location": {"location_id": "01SIMLOCATION0000000000000", "name": "Depósito principal", "address": null},
        "line_items": line_items,
        "recipient": {"name": a("name"), "phone": a("phone"), "identifier": recipient_id},
        "shipping": {
            "type": d.get("shipping_pickup_type").cloned().unwrap_or(json!("ship")),
            "carrier": {"name": d.get("shipping").cloned().unwrap_or(Value::Null), "carrier_id": null, "code": "native", "app_id": null},
            "option": {"name": option_name, "code": option_code, "reference": d.get("shipping_option_reference").cloned().unwrap_or(Value::Null), "allow_free_shipping": false},
            "merchant_cost": {"value": money("shipping_cost_owner"), "currency": currency},
            "consumer_cost": {"value": money("shipping_cost_customer"), "currency": currency},
            "min_delivery_date": null,
            "max_delivery_date": null,
            "pickup_details": null,
            "extras": null,
        },
        "discounts": [{"type": "TOTAL_OF_DISCOUNTS", "amount": {"value": money("discount"), "currency": currency}}],
        "destination": destination,
        "status": fo.status.as_str(),
        "status_history": fo.status_history,
        "tracking_info": {"url": fo.tracking_url, "code": fo.tracking_code},
        "tracking_info_history": fo.tracking_history,
        "tracking_events": fo.events.iter().map(TrackingEvent::render).collect::<Vec<_>>(),
        "fulfilled_at": fo.fulfilled_at.map(ts_fo),
        "created_at": ts_fo(fo.created_at),
        "updated_at": ts_fo(fo.updated_at),
    })
}

/// Documented status rules for `PATCH .../fulfillment-orders/{id}`. A PATCH to
/// the current status is accepted as a no-op (assumption: the docs do not say,
/// and it keeps client retries idempotent).
pub fn check_transition(from: FoStatus, to: FoStatus, pickup: bool) -> Result<(), String> {
    use FoStatus::{Delivered, Dispatched, Packed, ReadyForPickup, Unpacked};
    if from == to {
        return Ok(());
    }
    match (from, to) {
        (Delivered, _) => Err("The fulfillment order is already DELIVERED".into()),
        (_, ReadyForPickup) if !pickup => {
            Err("READY_FOR_PICKUP is only valid for pickup fulfillment orders".into())
        }
        (Packed, Unpacked)
        | (Unpacked, Packed)
        | (Unpacked | Packed, Dispatched | ReadyForPickup)
        | (_, Delivered) => Ok(()),
        (_, Unpacked) => Err("The status can only go back to UNPACKED from PACKED".into()),
        _ => Err(format!("Invalid status transition from {from} to {to}")),
    }
}

/// A ULID-shaped id (26 characters, Crockford base32), as Nuvemshop uses for
/// fulfillment orders and tracking events; deterministic from time and `entropy`.
fn fo_id(ms: u64, entropy: u128) -> String {
    ulid::Ulid::from_parts(ms, entropy).to_string()
}
