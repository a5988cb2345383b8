//! The VTEX connector: calls the APIs of one account.

use super::settings::{VtexCredentials, VtexSettings};
use super::{hook, map};
use crate::http_call::{retry_after, send};
use crate::{CallInfo, Connector, PlatformError, PlatformErrorKind, WebhookError, WebhookEvent};
use crate::{
    HookTarget, HookWant, PollCursor, PollResult, SendCheckError, SendReport, SubscriptionReport,
};
use crate::{Outbound, StockCall, StockItem};
use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use ponte_core::action::{Action, ActionKind};
use ponte_core::automation::NotSent;
use ponte_core::import::ImportPolicy;
use ponte_core::order::MappedOrder;
use std::time::Duration;

/// One VTEX account.
pub struct VtexConnector {
    settings: VtexSettings,
    credentials: VtexCredentials,
    base_url: String,
    http: Outbound,
}

impl VtexConnector {
    pub(super) fn new(
        settings: VtexSettings,
        credentials: VtexCredentials,
        http: Outbound,
    ) -> Self {
        Self {
            base_url: settings.base_url(),
            settings,
            credentials,
            http,
        }
    }

    /// The channel's settings.
    pub(super) fn settings(&self) -> &VtexSettings {
        &self.settings
    }

    /// The hook secret ponte configures on its hook.
    pub(super) fn hook_secret(&self) -> &str {
        &self.credentials.hook_secret
    }

    /// A request with the documented API key headers.
    pub(super) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .header("X-VTEX-API-AppKey", &self.credentials.app_key)
            .header("X-VTEX-API-AppToken", &self.credentials.app_token)
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Sends `method path` with an optional JSON body; the label names method and
    /// path only (never a body or a header).
    pub(super) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (CallInfo, Result<Vec<u8>, PlatformError>) {
        let label = format!("{method} {path}");
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        send(req, label, rate_limit_wait).await
    }
}

/// How long a 429 says to wait: `Retry-After` when present, else a minute (VTEX's
/// best practices: "stop and back off", about one minute; platforms.md §2).
pub(super) fn rate_limit_wait(h: &reqwest::header::HeaderMap) -> Duration {
    retry_after(h).unwrap_or(Duration::from_secs(60))
}

/// A refusal made before any call.
pub(super) fn refused(request: &str, message: String) -> (CallInfo, PlatformError) {
    (
        CallInfo {
            request: request.to_owned(),
            status: None,
            duration: Duration::ZERO,
            response: None,
        },
        PlatformError {
            kind: PlatformErrorKind::Permanent,
            status: None,
            message,
        },
    )
}

/// What [`encode`] leaves as is: RFC 3986's unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path segment or query value.
pub(super) fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// VTEX order ids (`1234567890123-01`, `v40484048naf-01`, `SLR-ABC-01`): letters,
/// digits and `-` only, so they are safe in a path.
pub(super) fn order_id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Parses and maps an order body.
pub(super) fn parse_order(
    body: &[u8],
    settings: &VtexSettings,
) -> Result<MappedOrder, PlatformError> {
    let unreadable = |m: String| PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(200),
        message: format!("unreadable order: {m}"),
    };
    let raw: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| unreadable(e.to_string()))?;
    map::read_order(raw, &settings.status_map).map_err(unreadable)
}

#[async_trait]
impl Connector for VtexConnector {
    fn import_policy(&self) -> ImportPolicy {
        self.settings.import_policy
    }

    fn remap(&self, raw: serde_json::Value) -> Result<MappedOrder, String> {
        map::read_order(raw, &self.settings.status_map)
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
        hook::verify(
            headers,
            body,
            &self.credentials.hook_secret,
            &self.settings.account,
        )
    }

    async fn fetch_order(
        &self,
        external_id: &str,
    ) -> (CallInfo, Result<MappedOrder, PlatformError>) {
        if !order_id_ok(external_id) {
            let (info, e) = refused(
                "GET /api/oms/pvt/orders/{orderId}",
                format!("not a VTEX order id: {external_id}"),
            );
            return (info, Err(e));
        }
        let path = format!("/api/oms/pvt/orders/{external_id}");
        let (info, body) = self.call(reqwest::Method::GET, &path, None).await;
        (info, body.and_then(|b| parse_order(&b, &self.settings)))
    }

    async fn list_orders(&self, cursor: &PollCursor) -> (CallInfo, PollResult) {
        super::poll::list(self, cursor).await
    }

    async fn ack_listed(
        &self,
        receipt: &[String],
    ) -> Option<(CallInfo, Result<(), PlatformError>)> {
        super::poll::commit(self, receipt).await
    }

    async fn prepare_polling(&self) -> Option<SubscriptionReport> {
        Some(super::feed::reconcile(self).await)
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
        1
    }

    async fn push_stock(&self, items: &[StockItem]) -> Vec<StockCall> {
        super::stock::push(self, items).await
    }

    fn price_batch_key(&self, product_id: &str, variant_id: &str) -> String {
        super::price::batch_key(product_id, variant_id)
    }

    async fn read_prices(&self, items: &[crate::PriceItem]) -> Vec<crate::PriceRead> {
        super::price::read(self, items).await
    }

    fn catalog_batch_key(&self, product_id: &str, variant_id: &str) -> String {
        super::catalog::batch_key(product_id, variant_id)
    }

    async fn push_catalog(&self, items: &[crate::CatalogItem]) -> Vec<crate::CatalogCall> {
        super::catalog::push(self, items).await
    }

    async fn push_prices(
        &self,
        items: &[crate::PriceItem],
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<crate::PriceCall> {
        // VTEX keeps the promotional window itself (a fixed price's dateRange).
        super::price::push(self, items).await
    }

    fn send_support(&self, kind: ActionKind) -> Result<(), NotSent> {
        super::send::support(kind)
    }

    fn check_send(&self, action: &Action) -> Result<(), SendCheckError> {
        super::send::check(action)
    }

    async fn send(&self, external_id: &str, action: &Action, nfe_xml: Option<&str>) -> SendReport {
        super::send::send(self, external_id, action, nfe_xml).await
    }
}
