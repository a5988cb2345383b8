//! The Americanas connector: calls the SkyHub API for one store with its three keys.

use super::map;
use super::settings::{AmericanasCredentials, AmericanasSettings};
use crate::http_call::{retry_after, send_with_headers};
use crate::{CallInfo, Connector, PlatformError, PlatformErrorKind, WebhookError, WebhookEvent};
use crate::{EndpointBudget, RateLimit};
use crate::{
    HookTarget, HookWant, Outbound, PollCursor, PollResult, SendCheckError, SendReport, StockCall,
    StockItem, Subscribed, SubscriptionReport,
};
use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use ponte_core::action::{Action, ActionKind};
use ponte_core::automation::NotSent;
use ponte_core::import::ImportPolicy;
use ponte_core::order::MappedOrder;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The budget of `GET /orders*` calls: the documented 1 per second, with a 5% margin
/// so that network jitter never puts two in one of the platform's windows.
const ORDERS_GET: RateLimit = RateLimit {
    burst: 1.0,
    per_sec: 1.0 / 1.05,
};

/// One Americanas store.
pub struct AmericanasConnector {
    settings: AmericanasSettings,
    credentials: AmericanasCredentials,
    base_url: String,
    http: Outbound,
    /// Where `GET /orders*` calls take their 1/s slot: counted across every instance
    /// (the channel's budget, applied by the engine, covers the 9/s endpoints).
    budget: Arc<dyn EndpointBudget>,
}

impl AmericanasConnector {
    pub(super) fn new(
        settings: AmericanasSettings,
        credentials: AmericanasCredentials,
        http: Outbound,
        budget: Arc<dyn EndpointBudget>,
    ) -> Self {
        Self {
            base_url: settings.base_url(),
            settings,
            credentials,
            http,
            budget,
        }
    }

    /// The channel's settings.
    pub(super) fn settings(&self) -> &AmericanasSettings {
        &self.settings
    }

    /// Sends `method path` with the store's keys; the label names method and path.
    /// `GET /orders…` first waits for its 1/s slot.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (CallInfo, Result<(HeaderMap, Vec<u8>), PlatformError>) {
        if method == Method::GET && path.starts_with("/orders") {
            self.budget.take("orders_get", ORDERS_GET).await;
        }
        let label = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header("X-User-Email", &self.credentials.user_email)
            .header("X-Api-Key", &self.credentials.api_key)
            .header(
                "X-Accountmanager-Key",
                &self.credentials.account_manager_key,
            )
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        send_with_headers(req, label, rate_limit_wait).await
    }

    /// `GET /orders/{code}` as JSON.
    pub(super) async fn get_order(&self, code: &str) -> (CallInfo, Result<Value, PlatformError>) {
        if !map::order_code_ok(code) {
            let info = CallInfo {
                request: "GET /orders/{code}".into(),
                status: None,
                duration: Duration::ZERO,
                response: None,
            };
            return (
                info,
                Err(PlatformError::permanent(format!(
                    "not an Americanas order code: {code}"
                ))),
            );
        }
        let (info, r) = self
            .call(Method::GET, &format!("/orders/{}", encode(code)), None)
            .await;
        (info, r.and_then(|(_, b)| json_of(&b)))
    }
}

/// Parses a JSON answer.
pub(super) fn json_of(body: &[u8]) -> Result<Value, PlatformError> {
    serde_json::from_slice(body).map_err(|e| PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(200),
        message: format!("unreadable answer: {e}"),
    })
}

/// Maps an order JSON with the channel's status overrides.
pub(super) fn parse_order(
    raw: Value,
    settings: &AmericanasSettings,
) -> Result<MappedOrder, PlatformError> {
    map::read_order(raw, &settings.status_map).map_err(|m| PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(200),
        message: format!("unreadable order: {m}"),
    })
}

/// How long a 429 says to wait: `Retry-After` when present, else until the next
/// one-second window (the limits are counted per second).
pub(super) fn rate_limit_wait(h: &HeaderMap) -> Duration {
    retry_after(h).unwrap_or(Duration::from_secs(1))
}

/// What [`encode`] leaves as is: RFC 3986's unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path segment (order codes carry spaces).
pub(super) fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

#[async_trait]
impl Connector for AmericanasConnector {
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
        _headers: &http::HeaderMap,
        _body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        // SkyHub pushes nothing (addendum: "no webhooks", the queue is pulled): any
        // POST to this channel's webhook URL is not the platform's.
        Err(WebhookError::Malformed(
            "Americanas sends no webhooks: its orders come from the order queue".into(),
        ))
    }

    async fn fetch_order(
        &self,
        external_id: &str,
    ) -> (CallInfo, Result<MappedOrder, PlatformError>) {
        let (info, r) = self.get_order(external_id).await;
        (info, r.and_then(|raw| parse_order(raw, &self.settings)))
    }

    async fn list_orders(&self, cursor: &PollCursor) -> (CallInfo, PollResult) {
        super::poll::list(self, cursor).await
    }

    async fn ack_listed(
        &self,
        receipt: &[String],
    ) -> Option<(CallInfo, Result<(), PlatformError>)> {
        super::poll::delete_from_queue(self, receipt).await
    }

    fn pushes_events(&self) -> bool {
        false
    }

    async fn reconcile_subscription(
        &self,
        _target: &HookTarget,
        want: HookWant,
    ) -> SubscriptionReport {
        // No push: orders come from polling the queue.
        let registered = match want {
            HookWant::Registered => vec!["polling only (order queue)".into()],
            HookWant::Removed => vec![],
        };
        SubscriptionReport {
            calls: vec![],
            result: Ok(Subscribed {
                registered,
                changes: vec![],
            }),
        }
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
        super::stock::batch_key(product_id, variant_id)
    }

    async fn push_prices(
        &self,
        items: &[crate::PriceItem],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<crate::PriceCall> {
        super::price::push(self, items, now).await
    }

    fn send_support(&self, kind: ActionKind) -> Result<(), NotSent> {
        super::send::support(kind)
    }

    fn check_send(&self, action: &Action) -> Result<(), SendCheckError> {
        super::send::check(action)
    }

    async fn send(&self, external_id: &str, action: &Action, _nfe_xml: Option<&str>) -> SendReport {
        super::send::send(self, external_id, action).await
    }
}
