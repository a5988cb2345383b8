//! The Mercado Livre connector: calls the API for one seller with its OAuth token.

use super::map;
use super::notify;
use super::settings::{MlCredentials, MlSettings};
use super::token::Tokens;
use crate::http_call::{joined, retry_after, send_with_headers};
use crate::{CallInfo, Connector, PlatformError, PlatformErrorKind, WebhookError, WebhookEvent};
use crate::{CredentialVault, Outbound, StockCall, StockItem};
use crate::{
    HookTarget, HookWant, PollCursor, PollResult, SendCheckError, SendReport, Subscribed,
    SubscriptionReport,
};
use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use ponte_core::action::{Action, ActionKind};
use ponte_core::automation::NotSent;
use ponte_core::import::ImportPolicy;
use ponte_core::order::MappedOrder;
use ponte_core::ticket::{FetchedTicket, OutboundAction};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One Mercado Livre seller.
pub struct MlConnector {
    settings: MlSettings,
    client_id: String,
    tokens: Tokens,
    base_url: String,
    http: Outbound,
}

/// A request's body.
pub(super) enum Body<'a> {
    /// No body.
    None,
    /// JSON.
    Json(&'a Value),
    /// Raw bytes with their content type.
    Raw(&'static str, Vec<u8>),
}

impl MlConnector {
    pub(super) fn new(
        settings: MlSettings,
        credentials: MlCredentials,
        http: Outbound,
        vault: Option<Arc<dyn CredentialVault>>,
    ) -> Self {
        Self {
            base_url: settings.base_url(),
            client_id: credentials.client_id.clone(),
            tokens: Tokens::new(&credentials, vault),
            settings,
            http,
        }
    }

    /// The channel's settings.
    pub(super) fn settings(&self) -> &MlSettings {
        &self.settings
    }

    /// The application id (`client_id`).
    pub(super) fn app_id(&self) -> &str {
        &self.client_id
    }

    /// Sends `method path` with the seller's token; a 401 renews the token once and
    /// the call is made again. The label names method and path only.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&'static str, String)],
        body: Body<'_>,
    ) -> (CallInfo, Result<(HeaderMap, Vec<u8>), PlatformError>) {
        let label = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let started = Instant::now();
        let mut stale: Option<String> = None;
        loop {
            let token = match self
                .tokens
                .access(&self.http, &self.base_url, stale.as_deref())
                .await
            {
                Ok(t) => t,
                Err((info, e)) => {
                    let mut info = info.unwrap_or(CallInfo {
                        request: label.clone(),
                        status: None,
                        duration: Duration::ZERO,
                        response: None,
                    });
                    info.request = format!("{label} (POST /oauth/token)");
                    return (info, Err(e));
                }
            };
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base_url))
                .bearer_auth(&token)
                .header(reqwest::header::ACCEPT, "application/json");
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            req = match &body {
                Body::None => req,
                Body::Json(v) => req.json(v),
                Body::Raw(ct, b) => req
                    .header(reqwest::header::CONTENT_TYPE, *ct)
                    .body(b.clone()),
            };
            let (mut info, result) = send_with_headers(req, label.clone(), rate_limit_wait).await;
            if stale.is_none() && info.status == Some(401) {
                stale = Some(token);
                continue;
            }
            info.duration = started.elapsed();
            return (info, result);
        }
    }

    /// `GET path` as JSON.
    pub(super) async fn get_json(
        &self,
        path: &str,
        headers: &[(&'static str, String)],
    ) -> (CallInfo, Result<Value, PlatformError>) {
        let (info, r) = self.call(Method::GET, path, headers, Body::None).await;
        (info, r.and_then(|(_, b)| json_of(&b)))
    }

    /// Reads an order with its billing data and forward shipment, as a raw payload
    /// ([`map::compose`]). Returns the calls made.
    pub(super) async fn read_raw(
        &self,
        order_id: &str,
    ) -> (Vec<CallInfo>, Result<Value, PlatformError>) {
        let (info, order) = self.get_json(&format!("/orders/{order_id}"), &[]).await;
        let mut calls = vec![info];
        let order = match order {
            Ok(o) => o,
            Err(e) => return (calls, Err(e)),
        };
        let (more, extra) = self.read_extras(order_id, &order).await;
        calls.extend(more);
        (calls, extra.map(|(b, s)| map::compose(order, b, s)))
    }

    /// The billing data and the forward shipment of an order already read.
    pub(super) async fn read_extras(
        &self,
        order_id: &str,
        order: &Value,
    ) -> (
        Vec<CallInfo>,
        Result<(Option<Value>, Option<Value>), PlatformError>,
    ) {
        let mut calls = vec![];
        let billing = match map::text(&order["buyer"]["billing_info"]["id"]) {
            Some(id) => {
                let path = format!(
                    "/orders/billing-info/{}/{}",
                    self.settings.site_id,
                    encode(&id)
                );
                let (info, r) = self.get_json(&path, &[]).await;
                calls.push(info);
                match r {
                    Ok(v) => Some(v),
                    // No billing data (buyer without it): the order still imports.
                    Err(e) if e.kind == PlatformErrorKind::NotFound => None,
                    Err(e) => return (calls, Err(e)),
                }
            }
            None => None,
        };
        let shipment = if order["shipping"]["id"].is_null() {
            None
        } else {
            let path = format!("/orders/{order_id}/shipments?list_all=true");
            let (info, r) = self
                .get_json(&path, &[("X-New-Domain", "true".into())])
                .await;
            calls.push(info);
            match r {
                Ok(v) => map::forward_shipment(v),
                Err(e) if e.kind == PlatformErrorKind::NotFound => None,
                Err(e) => return (calls, Err(e)),
            }
        };
        (calls, Ok((billing, shipment)))
    }
}

/// The `order_id` of a shipment (`GET /shipments/{id}`).
fn shipment_order(shipment: &Value) -> Result<String, PlatformError> {
    map::text(&shipment["order_id"])
        .filter(|id| order_id_ok(id))
        .ok_or_else(|| PlatformError::permanent("the shipment names no order".into()))
}

/// Parses a JSON answer.
pub(super) fn json_of(body: &[u8]) -> Result<Value, PlatformError> {
    serde_json::from_slice(body).map_err(|e| PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(200),
        message: format!("unreadable answer: {e}"),
    })
}

/// How long a 429 says to wait: `Retry-After` when present, else 10 s plus jitter
/// (ML documents no header; its FAQ asks for exponential backoff with jitter).
pub(super) fn rate_limit_wait(h: &HeaderMap) -> Duration {
    retry_after(h).unwrap_or_else(|| Duration::from_millis(10_000 + rand_jitter_ms()))
}

/// Up to 5 s of jitter, from the clock's nanoseconds (no extra dependency).
fn rand_jitter_ms() -> u64 {
    u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    ) % 5_000
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

/// ML order ids are numbers.
pub(super) fn order_id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 24 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Maps a raw payload.
pub(super) fn parse_raw(raw: Value, settings: &MlSettings) -> Result<MappedOrder, PlatformError> {
    map::read_order(raw, &settings.status_map).map_err(|m| PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(200),
        message: format!("unreadable order: {m}"),
    })
}

#[async_trait]
impl Connector for MlConnector {
    fn import_policy(&self) -> ImportPolicy {
        self.settings.import_policy
    }

    fn remap(&self, raw: Value) -> Result<MappedOrder, String> {
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
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        super::notify::verify(body, &self.settings.seller_id, &self.client_id)
    }

    async fn fetch_order(
        &self,
        external_id: &str,
    ) -> (CallInfo, Result<MappedOrder, PlatformError>) {
        let mut calls = vec![];
        let order_id = match external_id.strip_prefix(notify::SHIPMENT_PREFIX) {
            Some(shipment) if order_id_ok(shipment) => {
                // A `shipments` notification: the shipment names its order.
                let (info, r) = self.get_json(&format!("/shipments/{shipment}"), &[]).await;
                calls.push(info);
                match r.and_then(|s| shipment_order(&s)) {
                    Ok(id) => id,
                    Err(e) => return (joined(calls), Err(e)),
                }
            }
            _ if order_id_ok(external_id) => external_id.to_owned(),
            _ => {
                return (
                    joined(calls),
                    Err(PlatformError::permanent(format!(
                        "not a Mercado Livre order id: {external_id}"
                    ))),
                );
            }
        };
        let (more, raw) = self.read_raw(&order_id).await;
        calls.extend(more);
        (
            joined(calls),
            raw.and_then(|r| parse_raw(r, &self.settings)),
        )
    }

    async fn list_orders(&self, cursor: &PollCursor) -> (CallInfo, PollResult) {
        super::poll::list(self, cursor).await
    }

    async fn reconcile_subscription(
        &self,
        _target: &HookTarget,
        want: HookWant,
    ) -> SubscriptionReport {
        // ML's callback URL and topics are set in the application manager, not by
        // API (platforms.md §3 "Notifications"): nothing to call.
        let registered = match want {
            HookWant::Registered => vec!["orders_v2 (set in the ML application manager)".into()],
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
        super::stock::batch_key(&self.settings, product_id, variant_id)
    }

    fn stock_batch_max(&self) -> usize {
        super::stock::batch_max(&self.settings)
    }

    async fn push_stock(&self, items: &[StockItem]) -> Vec<StockCall> {
        super::stock::push(self, items).await
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

    async fn fetch_ticket(
        &self,
        external_id: &str,
    ) -> (Vec<CallInfo>, Result<FetchedTicket, PlatformError>) {
        self.read_ticket(external_id).await
    }

    async fn send_ticket(
        &self,
        external_id: &str,
        action: OutboundAction,
        text: &str,
    ) -> crate::TicketSendReport {
        self.answer_ticket(external_id, action, text).await
    }
}
