//! `GET /orders`: filters, sorting and pagination headers.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::fmt;
use super::order::OrderRec;
use super::status::{OrderStatus, PaymentStatus, ShippingStatus};

/// Documented page size default and maximum.
pub const DEFAULT_PER_PAGE: usize = 30;
pub const MAX_PER_PAGE: usize = 200;

#[derive(Debug, Default)]
pub struct ListQuery {
    pub page: usize,
    pub per_page: usize,
    since_id: Option<u64>,
    status: Option<OrderStatus>,
    /// `None` = the default `any`.
    payment: Option<PaymentStatus>,
    shipping: Option<&'static [ShippingStatus]>,
    created_min: Option<DateTime<Utc>>,
    created_max: Option<DateTime<Utc>>,
    updated_min: Option<DateTime<Utc>>,
    updated_max: Option<DateTime<Utc>>,
    total_min: Option<i64>,
    total_max: Option<i64>,
    customer_ids: Option<Vec<u64>>,
    q: Option<String>,
    pub fields: Option<Vec<String>>,
}

fn invalid(description: String) -> (u16, Value) {
    (
        422,
        json!({"code": 422, "message": "Unprocessable Entity", "description": description}),
    )
}

// Assumption for `shipping_status` (docs list the values, not their meaning):
// `unpacked` = not packed; `unfulfilled` = not shipped yet (unpacked or packed);
// `fulfilled` = shipped or delivered.
const UNPACKED: &[ShippingStatus] = &[ShippingStatus::Unpacked];
const UNFULFILLED: &[ShippingStatus] = &[
    ShippingStatus::Unpacked,
    ShippingStatus::Unshipped,
    ShippingStatus::PartiallyPacked,
];
const FULFILLED: &[ShippingStatus] = &[
    ShippingStatus::Shipped,
    ShippingStatus::Delivered,
    ShippingStatus::PartiallyFulfilled,
];

impl ListQuery {
    /// Parses the query pairs; `Err` is a 422 `(status, body)`.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, (u16, Value)> {
        let mut q = Self {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            ..Self::default()
        };
        for (k, v) in pairs {
            let v = v.trim();
            let num = |what: &str| {
                v.parse::<u64>()
                    .map_err(|_| invalid(format!("Invalid {what}: {v}")))
            };
            let date = || {
                fmt::parse_ts(v).ok_or_else(|| invalid(format!("Invalid date format for {k}: {v}")))
            };
            match k.as_str() {
                // Assumption: out-of-range paging is refused (422) rather than
                // clamped, so clients that exceed the documented max notice.
                "page" => {
                    q.page = num("page")? as usize;
                    if q.page < 1 {
                        return Err(invalid("page must be greater than 0".into()));
                    }
                }
                "per_page" => {
                    q.per_page = num("per_page")? as usize;
                    if !(1..=MAX_PER_PAGE).contains(&q.per_page) {
                        return Err(invalid(format!(
                            "per_page must be between 1 and {MAX_PER_PAGE}"
                        )));
                    }
                }
                "since_id" => q.since_id = Some(num("since_id")?),
                "status" => {
                    q.status = match v {
                        "any" | "" => None,
                        s => Some(
                            OrderStatus::parse(s)
                                .ok_or_else(|| invalid(format!("Invalid status: {s}")))?,
                        ),
                    }
                }
                "payment_status" => {
                    q.payment = match v {
                        "any" | "" => None,
                        s => Some(
                            PaymentStatus::parse(s)
                                .ok_or_else(|| invalid(format!("Invalid payment_status: {s}")))?,
                        ),
                    }
                }
                "shipping_status" => {
                    q.shipping = match v {
                        "any" | "" => None,
                        "unpacked" => Some(UNPACKED),
                        "unfulfilled" => Some(UNFULFILLED),
                        "fulfilled" => Some(FULFILLED),
                        s => return Err(invalid(format!("Invalid shipping_status: {s}"))),
                    }
                }
                "created_at_min" => q.created_min = Some(date()?),
                "created_at_max" => q.created_max = Some(date()?),
                "updated_at_min" => q.updated_min = Some(date()?),
                "updated_at_max" => q.updated_max = Some(date()?),
                "total_min" | "total_max" => {
                    let c = fmt::parse_money(&Value::String(v.to_owned()))
                        .ok_or_else(|| invalid(format!("Invalid {k}: {v}")))?;
                    if k == "total_min" {
                        q.total_min = Some(c);
                    } else {
                        q.total_max = Some(c);
                    }
                }
                "customer_ids" => {
                    let ids = v
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| s.trim().parse::<u64>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| invalid(format!("Invalid customer_ids: {v}")))?;
                    q.customer_ids = Some(ids);
                }
                "q" if !v.is_empty() => q.q = Some(v.to_lowercase()),
                "fields" if !v.is_empty() => {
                    q.fields = Some(v.split(',').map(|f| f.trim().to_owned()).collect());
                }
                // Unknown parameters (channels, app_id, aggregates...) are ignored.
                _ => {}
            }
        }
        Ok(q)
    }

    /// True when the request filters on `updated_at`: results are then sorted by
    /// `(updated_at, id)` so an incremental poll walks changes in order (the docs
    /// do not say; otherwise the sim sorts by `id`).
    pub fn sorts_by_updated(&self) -> bool {
        self.updated_min.is_some() || self.updated_max.is_some()
    }

    pub fn matches(&self, o: &OrderRec, any_payment_is_all: bool) -> bool {
        let inside = |t: DateTime<Utc>, min: Option<DateTime<Utc>>, max: Option<DateTime<Utc>>| {
            min.is_none_or(|m| t >= m) && max.is_none_or(|m| t <= m)
        };
        let payment_ok = match self.payment {
            Some(p) => o.payment == p,
            // Documented: "any" is the default and "means authorized, pending and paid orders".
            None => {
                any_payment_is_all
                    || matches!(
                        o.payment,
                        PaymentStatus::Authorized | PaymentStatus::Pending | PaymentStatus::Paid
                    )
            }
        };
        payment_ok
            && self.since_id.is_none_or(|s| o.id > s)
            && self.status.is_none_or(|s| o.status == s)
            && self.shipping.is_none_or(|set| set.contains(&o.shipping))
            && inside(o.created_at, self.created_min, self.created_max)
            && inside(o.updated_at, self.updated_min, self.updated_max)
            && self.total_min.is_none_or(|m| o.total_cents >= m)
            && self.total_max.is_none_or(|m| o.total_cents <= m)
            && self
                .customer_ids
                .as_ref()
                .is_none_or(|ids| o.customer_id.is_some_and(|c| ids.contains(&c)))
            && self
                .q
                .as_ref()
                .is_none_or(|q| o.search.contains(q.as_str()))
    }
}

/// The `Link` header: absolute URLs on the request's host, every original
/// parameter kept except `page`/`per_page`, which are appended.
pub fn link_header(
    host: &str,
    path: &str,
    raw_query: &str,
    page: usize,
    per_page: usize,
    last: usize,
) -> String {
    let kept: Vec<&str> = raw_query
        .split('&')
        .filter(|kv| {
            let k = kv.split('=').next().unwrap_or_default();
            !kv.is_empty() && k != "page" && k != "per_page"
        })
        .collect();
    let prefix = if kept.is_empty() {
        String::new()
    } else {
        format!("{}&", kept.join("&"))
    };
    let url = |p: usize| format!("<http://{host}{path}?{prefix}page={p}&per_page={per_page}>");
    let mut parts = Vec::new();
    if page < last {
        parts.push(format!("{}; rel=\"next\"", url(page + 1)));
    }
    parts.push(format!("{}; rel=\"last\"", url(last)));
    if page > 1 {
        parts.push(format!("{}; rel=\"first\"", url(1)));
        parts.push(format!("{}; rel=\"prev\"", url((page - 1).min(last))));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_keeps_filters() {
        let l = link_header(
            "h:1",
            "/v1/1/orders",
            "status=open&page=2&per_page=10",
            2,
            10,
            3,
        );
        assert_eq!(
            l,
            "<http://h:1/v1/1/orders?status=open&page=3&per_page=10>; rel=\"next\", \
             <http://h:1/v1/1/orders?status=open&page=3&per_page=10>; rel=\"last\", \
             <http://h:1/v1/1/orders?status=open&page=1&per_page=10>; rel=\"first\", \
             <http://h:1/v1/1/orders?status=open&page=1&per_page=10>; rel=\"prev\""
        );
    }

    #[test]
    fn rejects_big_pages() {
        let p = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        assert!(ListQuery::parse(&p("per_page", "201")).is_err());
        assert!(ListQuery::parse(&p("per_page", "200")).is_ok());
        assert!(ListQuery::parse(&p("page", "0")).is_err());
        assert!(ListQuery::parse(&p("status", "weird")).is_err());
        assert!(ListQuery::parse(&p("updated_at_min", "2026-01-01T00:00:00+0000")).is_ok());
    }
}
