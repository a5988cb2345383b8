//! The Nuvemshop connector: calls the API of one store.

use super::map::map_order;
use super::settings::{NuvemshopCredentials, NuvemshopSettings};
use super::{dto, webhook};
use crate::http_call::{retry_after, send};
use crate::{CallInfo, Connector, PlatformError, PlatformErrorKind, WebhookError, WebhookEvent};
use crate::{
    HookTarget, HookWant, PollCursor, PollResult, SendCheckError, SendReport, SubscriptionReport,
};
use crate::{Outbound, StockCall, StockItem};
use async_trait::async_trait;
use ponte_core::action::{Action, ActionKind};
use ponte_core::automation::NotSent;
use ponte_core::import::ImportPolicy;
use ponte_core::order::MappedOrder;
use serde::Deserialize;
use std::time::Duration;

/// One Nuvemshop store.
pub struct NuvemshopConnector {
    settings: NuvemshopSettings,
    credentials: NuvemshopCredentials,
    http: Outbound,
}

impl NuvemshopConnector {
    pub(super) fn new(
        settings: NuvemshopSettings,
        credentials: NuvemshopCredentials,
        http: Outbound,
    ) -> Self {
        Self {
            settings,
            credentials,
            http,
        }
    }

    /// The channel's settings.
    pub(super) fn settings(&self) -> &NuvemshopSettings {
        &self.settings
    }

    /// A request with the documented headers: `Authentication: bearer <token>` (sic)
    /// and a `User-Agent`.
    pub(super) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!(
            "{}/{}{}",
            self.settings.api_base_url, self.settings.store_id, path
        );
        self.http
            .request(method, url)
            .header(
                "Authentication",
                format!("bearer {}", self.credentials.access_token),
            )
            .header(reqwest::header::USER_AGENT, &self.settings.user_agent)
    }
}

/// How long a 429 says to wait: `Retry-After` (seconds) when present, else
/// `X-Rate-Limit-Reset` capped at one second. The reset is the time until the whole
/// bucket is empty (`TN:README.md`), up to 20 s, while one request fits again as soon
/// as one slot leaks (0.5 s at the documented 2/s): waiting for the full reset would
/// stall a channel for no reason.
pub(super) fn rate_limit_wait(h: &reqwest::header::HeaderMap) -> Duration {
    retry_after(h)
        .or_else(|| {
            h.get("x-rate-limit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|ms| Duration::from_millis(ms).min(Duration::from_secs(1)))
        })
        .unwrap_or(Duration::from_secs(1))
}

#[async_trait]
impl Connector for NuvemshopConnector {
    fn import_policy(&self) -> ImportPolicy {
        self.settings.import_policy
    }

    fn remap(&self, raw: serde_json::Value) -> Result<MappedOrder, String> {
        read_order(raw, &self.settings)
    }

    fn rate_limit(&self) -> crate::RateLimit {
        crate::RateLimit {
            burst: self.settings.rate_limit_burst,
            per_sec: self.settings.rate_limit_per_sec,
        }
    }

    fn verify_webhook(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        webhook::verify(
            headers,
            body,
            self.credentials.app_secret.as_bytes(),
            &self.settings.store_id,
        )
    }

    async fn fetch_order(
        &self,
        external_id: &str,
    ) -> (CallInfo, Result<MappedOrder, PlatformError>) {
        if external_id.is_empty() || !external_id.chars().all(|c| c.is_ascii_digit()) {
            let info = CallInfo {
                request: "GET /orders/{id}".into(),
                status: None,
                duration: Duration::ZERO,
                response: None,
            };
            let err = PlatformError {
                kind: PlatformErrorKind::Permanent,
                status: None,
                message: format!("not a Nuvemshop order id: {external_id}"),
            };
            return (info, Err(err));
        }
        let path = format!("/orders/{external_id}");
        let (info, body) = send(
            self.request(reqwest::Method::GET, &path),
            format!("GET {path}"),
            rate_limit_wait,
        )
        .await;
        let result = body.and_then(|b| parse_order(&b, &self.settings));
        (info, result)
    }

    async fn list_orders(&self, cursor: &PollCursor) -> (CallInfo, PollResult) {
        super::poll::list(self, cursor).await
    }

    async fn reconcile_subscription(
        &self,
        target: &HookTarget,
        want: HookWant,
    ) -> SubscriptionReport {
        super::subscription::reconcile(self, target, want).await
    }

    fn stock_batch_key(&self, product_id: &str, variant_id: &str) -> String {
        super::stock::batch_key(product_id, variant_id)
    }

    fn stock_batch_max(&self) -> usize {
        super::stock::BATCH_MAX
    }

    async fn push_stock(&self, items: &[StockItem]) -> Vec<StockCall> {
        super::stock::push(self, items, super::stock::BATCH_MAX).await
    }

    fn price_batch_max(&self) -> usize {
        super::price::BATCH_MAX
    }

    async fn push_prices(
        &self,
        items: &[crate::PriceItem],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<crate::PriceCall> {
        super::price::push(self, items, now).await
    }

    async fn read_prices(&self, items: &[crate::PriceItem]) -> Vec<crate::PriceRead> {
        super::price::read(self, items).await
    }

    fn catalog_batch_max(&self) -> usize {
        super::catalog::BATCH_MAX
    }

    async fn push_catalog(&self, items: &[crate::CatalogItem]) -> Vec<crate::CatalogCall> {
        super::catalog::push(self, items).await
    }

    fn send_support(&self, kind: ActionKind) -> Result<(), NotSent> {
        super::send::support(&self.settings, kind)
    }

    fn check_send(&self, action: &Action) -> Result<(), SendCheckError> {
        super::send::check(&self.settings, action)
    }

    async fn send(&self, external_id: &str, action: &Action, _nfe_xml: Option<&str>) -> SendReport {
        // Nuvemshop takes the NF-e as key and link metafields, never the XML.
        super::send::send(self, external_id, action).await
    }
}

/// Parses an order body. Through `Value` first: the public sample repeats a key
/// (`number`), which a struct would refuse; the last one wins.
fn parse_order(body: &[u8], settings: &NuvemshopSettings) -> Result<MappedOrder, PlatformError> {
    let unreadable = |m: String| PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(200),
        message: format!("unreadable order: {m}"),
    };
    let raw: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| unreadable(e.to_string()))?;
    read_order(raw, settings).map_err(unreadable)
}

/// Maps one order already read as a `Value` (a fetched body or a list item).
pub(super) fn read_order(
    raw: serde_json::Value,
    settings: &NuvemshopSettings,
) -> Result<MappedOrder, String> {
    let order = dto::Order::deserialize(&raw).map_err(|e| e.to_string())?;
    map_order(order, raw, &settings.status_map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_core::OrderStatus;

    fn settings() -> NuvemshopSettings {
        NuvemshopSettings::parse(&serde_json::json!({"store_id": "1"}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../fixtures/nuvemshop/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn fixture_order_parses_without_loss() {
        let o = parse_order(&fixture("order.json"), &settings()).unwrap_or_else(|e| panic!("{e}"));
        let d = &o.data;
        assert_eq!(d.external_id, "450789469");
        assert_eq!(
            d.number.as_deref(),
            Some("101"),
            "the last `number` key wins"
        );
        assert_eq!(d.status, OrderStatus::AwaitingPayment);
        assert_eq!(d.items.len(), 1);
        assert_eq!(d.items[0].unit_price_cents, Some(1900));
        assert_eq!(d.items[0].quantity, 2);
        assert_eq!(d.items[0].variant_id.as_deref(), Some("101"));
        assert_eq!(d.items[0].sku, None, "the public sample has no sku");
        assert_eq!(d.totals.subtotal_cents, Some(3800));
        assert_eq!(d.totals.total_cents, None, "the public sample has no total");
        assert_eq!(d.shipping.cost_cents, Some(2000));
        assert_eq!(d.customer.email.as_deref(), Some("john.doe@example.com"));
        assert_eq!(
            d.shipping_address.as_ref().and_then(|a| a.city.as_deref()),
            Some("Springfield")
        );
        assert_eq!(
            d.billing_address.as_ref().and_then(|a| a.number.as_deref()),
            Some("742")
        );
        assert_eq!(d.payment.gateway.as_deref(), Some("PayPal"));
        assert!(d.placed_at.is_some() && d.platform_updated_at.is_some());
        assert!(!o.closed_at_platform);
        assert_eq!(o.raw["id"], 450789469);
    }

    #[test]
    fn every_listed_fixture_order_parses() {
        let list: Vec<serde_json::Value> =
            serde_json::from_slice(&fixture("orders_list_response.json"))
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(!list.is_empty());
        for o in list {
            let body = serde_json::to_vec(&o).unwrap_or_else(|e| panic!("{e}"));
            let m = parse_order(&body, &settings()).unwrap_or_else(|e| panic!("{e}"));
            assert!(!m.data.external_id.is_empty());
        }
        for name in [
            "order_pack_response.json",
            "order_fulfill_response.json",
            "order_cancel_response.json",
        ] {
            let m =
                parse_order(&fixture(name), &settings()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!m.data.external_id.is_empty(), "{name}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [&b"[]"[..], b"{}", b"null", b"{\"id\":{}}", b"\xff"] {
            assert!(parse_order(body, &settings()).is_err());
        }
        let m = parse_order(
            br#"{"id":"5","products":[{"price":19.9,"quantity":"3"}]}"#,
            &settings(),
        );
        let m = m.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.data.items[0].unit_price_cents, Some(1990));
        assert_eq!(m.data.items[0].quantity, 3);
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            ".{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            let keys = prop_oneof![
                Just("id".to_owned()),
                Just("products".to_owned()),
                Just("price".to_owned()),
                Just("customer".to_owned()),
                Just("identification".to_owned()),
                Just("updated_at".to_owned()),
                Just("payment_status".to_owned()),
                "[a-z_]{1,8}",
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(keys, inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever the platform sends, reading it is an answer or an error, never a panic.
        #[test]
        fn any_json_order_is_read_or_refused(v in json_value()) {
            let body = serde_json::to_vec(&v).unwrap_or_default();
            let _ = parse_order(&body, &settings());
        }
    }
}
