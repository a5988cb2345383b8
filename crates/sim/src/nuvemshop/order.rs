//! An order as the sim stores it: typed fields for filtering and state changes,
//! plus the full JSON document (`doc`) that is served, cached as bytes.
//!
//! Generated orders and fixture orders share this shape: mutations update the
//! typed field *and* the matching document keys, then re-render the cache, so a
//! `GET` costs one `Bytes` clone.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::fmt::{self, ts};
use super::fulfillment::FoRec;
use super::status::{CancelReason, FoStatus, OrderStatus, PaymentStatus, ShippingStatus};

/// One purchased line, as far as stock and fulfillment need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub product_id: u64,
    pub variant_id: u64,
    pub quantity: i64,
}

#[derive(Debug, Clone)]
pub struct OrderRec {
    pub id: u64,
    pub number: u64,
    pub status: OrderStatus,
    pub payment: PaymentStatus,
    pub shipping: ShippingStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub total_cents: i64,
    pub customer_id: Option<u64>,
    /// Lower-cased number, customer name and email, for the `q` filter.
    pub search: String,
    pub lines: Vec<Line>,
    pub fo: FoRec,
    pub doc: Map<String, Value>,
    pub json: Bytes,
}

/// A refused state change; the text becomes the error `description`.
pub type Refused = String;

impl OrderRec {
    /// Builds the record from a complete document (generated or fixture).
    pub fn from_doc(doc: Map<String, Value>, fallback_now: DateTime<Utc>) -> Result<Self, String> {
        let id = doc
            .get("id")
            .and_then(fmt::as_u64)
            .ok_or("order without id")?;
        let get_str = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default();
        let status = OrderStatus::parse(get_str("status")).unwrap_or(OrderStatus::Open);
        let payment =
            PaymentStatus::parse(get_str("payment_status")).unwrap_or(PaymentStatus::Pending);
        let shipping = ShippingStatus::parse(get_str("shipping_status"))
            .or_else(|| {
                (get_str("shipping_status") == "fulfilled").then_some(ShippingStatus::Shipped)
            })
            .unwrap_or(ShippingStatus::Unpacked);
        let created_at = fmt::parse_ts(get_str("created_at")).unwrap_or(fallback_now);
        let updated_at = fmt::parse_ts(get_str("updated_at")).unwrap_or(created_at);
        let total_cents = doc
            .get("total")
            .or_else(|| doc.get("price"))
            .and_then(fmt::parse_money)
            .unwrap_or(0);
        let customer = doc.get("customer");
        let customer_id = customer.and_then(|c| c.get("id")).and_then(fmt::as_u64);
        let number = doc.get("number").and_then(fmt::as_u64).unwrap_or(0);
        let cname = customer
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let cemail = customer
            .and_then(|c| c.get("email"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let search = format!("{number} {cname} {cemail}").to_lowercase();
        let lines = doc
            .get("products")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| {
                        Some(Line {
                            product_id: p.get("product_id").and_then(fmt::as_u64)?,
                            variant_id: p.get("variant_id").and_then(fmt::as_u64)?,
                            quantity: p.get("quantity").and_then(fmt::as_u64).unwrap_or(1) as i64,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let fo = FoRec::new(id, created_at, FoStatus::from_shipping(shipping), &doc);
        let mut rec = Self {
            id,
            number,
            status,
            payment,
            shipping,
            created_at,
            updated_at,
            total_cents,
            customer_id,
            search,
            lines,
            fo,
            doc,
            json: Bytes::new(),
        };
        rec.refresh();
        Ok(rec)
    }

    /// Re-renders the cached JSON.
    pub fn refresh(&mut self) {
        self.json = Bytes::from(serde_json::to_vec(&self.doc).unwrap_or_else(|_| b"{}".to_vec()));
    }

    fn set(&mut self, key: &str, v: Value) {
        self.doc.insert(key.to_owned(), v);
    }

    /// Sets a key only if the document already has it or the value is not null
    /// (keeps fixture documents to their own key set).
    fn set_opt(&mut self, key: &str, v: Option<String>) {
        match v {
            Some(s) => self.set(key, Value::String(s)),
            None if self.doc.contains_key(key) => self.set(key, Value::Null),
            None => {}
        }
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        self.updated_at = now;
        self.set("updated_at", Value::String(ts(now)));
        self.refresh();
    }

    /// Sets `payment_status` (and `paid_at` the first time it becomes paid).
    pub fn set_payment(&mut self, now: DateTime<Utc>, p: PaymentStatus) {
        self.payment = p;
        self.set("payment_status", Value::String(p.as_str().into()));
        if p == PaymentStatus::Paid && self.doc.get("paid_at").is_none_or(Value::is_null) {
            self.set("paid_at", Value::String(ts(now)));
        }
        self.touch(now);
    }

    fn ensure_not_cancelled(&self) -> Result<(), Refused> {
        if self.status == OrderStatus::Cancelled {
            Err("Order is cancelled".into())
        } else {
            Ok(())
        }
    }

    /// Moves the (single) fulfillment order and mirrors it on the order.
    pub fn apply_fo_status(&mut self, now: DateTime<Utc>, to: FoStatus) {
        if self.fo.status == to {
            return;
        }
        self.fo.set_status(now, to);
        self.shipping = to.shipping_status();
        self.set(
            "shipping_status",
            Value::String(self.shipping.as_str().into()),
        );
        if to == FoStatus::Dispatched {
            self.set("shipped_at", Value::String(ts(now)));
        }
        self.touch(now);
    }

    /// Mirrors fulfillment tracking info on the legacy order fields.
    pub fn apply_tracking(
        &mut self,
        now: DateTime<Utc>,
        code: Option<String>,
        url: Option<String>,
    ) {
        self.fo.set_tracking(now, code.clone(), url.clone());
        self.set_opt("shipping_tracking_number", code);
        self.set_opt("shipping_tracking_url", url);
        self.touch(now);
    }

    /// Legacy `POST /orders/{id}/pack`.
    pub fn pack(&mut self, now: DateTime<Utc>) -> Result<(), Refused> {
        self.ensure_not_cancelled()?;
        match self.fo.status {
            FoStatus::Unpacked => {
                self.apply_fo_status(now, FoStatus::Packed);
                Ok(())
            }
            FoStatus::Packed | FoStatus::ReadyForPickup => Err("Order is already packed".into()),
            FoStatus::Dispatched | FoStatus::Delivered => Err("Order is already fulfilled".into()),
        }
    }

    /// Legacy `POST /orders/{id}/fulfill`.
    pub fn fulfill(
        &mut self,
        now: DateTime<Utc>,
        code: Option<String>,
        url: Option<String>,
    ) -> Result<(), Refused> {
        self.ensure_not_cancelled()?;
        match self.fo.status {
            FoStatus::Dispatched | FoStatus::Delivered => Err("Order is already fulfilled".into()),
            _ => {
                self.apply_tracking(now, code, url);
                self.apply_fo_status(now, FoStatus::Dispatched);
                Ok(())
            }
        }
    }

    /// `POST /orders/{id}/cancel`. Stock is restocked by the caller.
    pub fn cancel(
        &mut self,
        now: DateTime<Utc>,
        reason: Option<CancelReason>,
    ) -> Result<(), Refused> {
        if self.status == OrderStatus::Cancelled {
            return Err("Order is already cancelled".into());
        }
        self.status = OrderStatus::Cancelled;
        self.set("status", Value::String("cancelled".into()));
        self.set("cancelled_at", Value::String(ts(now)));
        self.set(
            "cancel_reason",
            reason.map_or(Value::Null, |r| Value::String(r.as_str().into())),
        );
        self.touch(now);
        Ok(())
    }

    /// `POST /orders/{id}/close`.
    pub fn close(&mut self, now: DateTime<Utc>) -> Result<(), Refused> {
        match self.status {
            OrderStatus::Open => {
                self.status = OrderStatus::Closed;
                self.set("status", Value::String("closed".into()));
                if self.doc.contains_key("closed_at") {
                    self.set("closed_at", Value::String(ts(now)));
                }
                self.touch(now);
                Ok(())
            }
            OrderStatus::Closed => Err("Order is already closed".into()),
            OrderStatus::Cancelled => Err("Order is cancelled".into()),
        }
    }

    /// `POST /orders/{id}/open`: re-opens a closed or cancelled order (the admin
    /// can re-open both). Assumption: re-opening a cancelled order clears
    /// `cancelled_at`/`cancel_reason` and does not claim stock again.
    pub fn reopen(&mut self, now: DateTime<Utc>) -> Result<(), Refused> {
        match self.status {
            OrderStatus::Open => Err("Order is already open".into()),
            prev => {
                self.status = OrderStatus::Open;
                self.set("status", Value::String("open".into()));
                if prev == OrderStatus::Cancelled {
                    self.set_opt("cancelled_at", None);
                    self.set("cancel_reason", Value::Null);
                }
                if self.doc.contains_key("closed_at") {
                    self.set("closed_at", Value::Null);
                }
                self.touch(now);
                Ok(())
            }
        }
    }

    /// The document restricted to `fields` (the `fields` query parameter).
    pub fn render_fields(&self, fields: &[&str]) -> Value {
        let m: Map<String, Value> = fields
            .iter()
            .filter_map(|f| self.doc.get(*f).map(|v| ((*f).to_owned(), v.clone())))
            .collect();
        Value::Object(m)
    }
}
