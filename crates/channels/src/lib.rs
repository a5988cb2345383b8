//! Connectors: one module per platform behind the [`Platform`] and [`Connector`]
//! traits. Wire DTOs live in each module's `dto.rs`, pure mapping in `map.rs`.
//! HTTP types stay inside this crate (and the api crate).

pub mod americanas;
pub mod carriers;
mod catalog;
mod error;
mod http_call;
pub mod mercadolivre;
pub mod nuvemshop;
mod outbound;
mod payment_defaults;
mod poll;
mod price;
mod send;
mod settings;
mod shared;
mod stock;
mod subscription;
mod vault;
pub mod vtex;

pub use catalog::{unsupported as catalog_unsupported, CatalogCall, CatalogItem};
pub use error::{ConfigError, PlatformError, PlatformErrorKind, WebhookError};
pub use http_call::{CallInfo, MAX_BODY_BYTES};
pub use outbound::{is_public, Outbound};
pub use poll::{PollCursor, PollMode, PollPage, PollResult, UnreadableOrder};
pub use price::{
    unreadable as prices_unreadable, unsupported as prices_unsupported, PriceCall, PriceItem,
    PriceRead, ShownPrice,
};
pub use send::{SendCheckError, SendReport};
pub use shared::{EndpointBudget, LocalBudget, Shared};
pub use stock::{StockCall, StockItem};
pub use subscription::{HookTarget, HookWant, Subscribed, SubscriptionReport};
pub use vault::{CredentialVault, VaultError};

use async_trait::async_trait;
use ponte_core::action::{Action, ActionKind};
use ponte_core::automation::NotSent;
use ponte_core::import::ImportPolicy;
use ponte_core::order::MappedOrder;
use ponte_core::status_rules::StatusTable;
use ponte_core::status_vocab::StatusVocabulary;
use ponte_core::ticket::{FetchedTicket, OutboundAction, TicketKind};
use std::sync::Arc;

/// What a verified webhook asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The platform's event name.
    pub event: String,
    /// The platform id the event is about.
    pub resource_id: Option<String>,
    /// Import the order, or acknowledge and ignore (with why).
    pub action: WebhookAction,
}

/// What to do with a verified webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAction {
    /// Fetch and import the order `resource_id`.
    ImportOrder,
    /// Fetch and store the SAC ticket `resource_id` (`question:123`, ...).
    ImportTicket,
    /// Acknowledge, record and count, do nothing else.
    Ignore(String),
}

/// A platform: validates channel configuration and builds connectors.
pub trait Platform: Send + Sync {
    /// Platform name used in the API (`nuvemshop`).
    fn name(&self) -> &'static str;
    /// Validates settings (unknown keys are rejected) and returns them with defaults filled in.
    fn validate_settings(
        &self,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, ConfigError>;
    /// Validates credentials.
    fn validate_credentials(&self, credentials: &serde_json::Value) -> Result<(), ConfigError>;
    /// Credential keys ponte fills with a fresh random secret when they are not given
    /// (VTEX: the hook secret ponte configures on its hook).
    fn generated_secrets(&self) -> &'static [&'static str] {
        &[]
    }
    /// What the platform keeps one push subscription and change queue for, when it is
    /// not the channel (VTEX: one hook and one feed per account and appKey): two
    /// enabled channels with the same key would take each other's. `None`: per channel.
    fn exclusive_key(
        &self,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
    ) -> Option<String> {
        let _ = (settings, credentials);
        None
    }
    /// The base URL a channel with these (validated) settings calls: the host its
    /// credentials are sent to.
    fn base_url(&self, settings: &serde_json::Value) -> Result<String, ConfigError>;
    /// The platform's status fields and their documented values: what a row of a
    /// channel's status table (DE-PARA) may name.
    fn status_vocabulary(&self) -> StatusVocabulary {
        StatusVocabulary {
            status: &[],
            payment_status: &[],
            shipping_status: &[],
        }
    }
    /// Whether the platform keeps a promotional window itself (VTEX: a fixed price's
    /// `dateRange`). A platform that does not shows the promotion in force when it was
    /// pushed, so ponte pushes its prices again whenever a window opens or closes.
    fn keeps_price_windows(&self) -> bool {
        false
    }
    /// The connector's documented status table (first match wins; a status no row
    /// matches is imported as `awaiting_payment`).
    fn default_status_table(&self) -> StatusTable {
        StatusTable::default()
    }
    /// The connector's documented payment methods mapped to ERP payment types (NF-e
    /// `tPag` codes), first match wins.
    fn default_payment_table(&self) -> Vec<ponte_core::payment_map::PaymentRule> {
        Vec::new()
    }
    /// Builds a connector for one channel.
    fn connect(
        &self,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
        http: Outbound,
    ) -> Result<Arc<dyn Connector>, ConfigError>;
    /// As [`Platform::connect`], with what the channel shares with the other
    /// instances: its stored credentials, for a platform whose credentials change by
    /// themselves (rotating OAuth tokens), and its endpoint budgets. The default
    /// ignores `shared`.
    fn connect_shared(
        &self,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
        http: Outbound,
        shared: Shared,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        let _ = shared;
        self.connect(settings, credentials, http)
    }
}

/// A platform's request budget for one channel: a token bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests that may be made at once.
    pub burst: f64,
    /// Sustained requests per second.
    pub per_sec: f64,
}

/// One configured channel's link to its platform.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Which orders the channel imports.
    fn import_policy(&self) -> ImportPolicy;
    /// The channel's request budget, shared by every instance.
    fn rate_limit(&self) -> RateLimit;
    /// Authenticates a webhook (in constant time) and reads what it is about.
    fn verify_webhook(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError>;
    /// Maps a stored platform payload (the `raw` of an order) again, without calling
    /// the platform: what remap re-applies the channel's tables to.
    fn remap(&self, raw: serde_json::Value) -> Result<MappedOrder, String> {
        let _ = raw;
        Err("this platform cannot map a stored payload".into())
    }
    /// Fetches one order and maps it.
    async fn fetch_order(
        &self,
        external_id: &str,
    ) -> (CallInfo, Result<MappedOrder, PlatformError>);
    /// Lists orders updated at or after `cursor.since`: one page of a walk that the
    /// engine repeats with [`PollPage::next`] (polling safety net, manual sync).
    async fn list_orders(&self, cursor: &PollCursor) -> (CallInfo, PollResult);
    /// Acknowledges a listed page once its orders are stored ([`PollPage::receipt`];
    /// VTEX commits the feed handles). Platforms whose listings need no
    /// acknowledgement make no call.
    async fn ack_listed(
        &self,
        receipt: &[String],
    ) -> Option<(CallInfo, Result<(), PlatformError>)> {
        let _ = receipt;
        None
    }
    /// Whether the platform pushes events (webhooks, notifications) at all. `false`
    /// (Americanas: only a pulled queue): every order comes by polling, and one that
    /// no webhook announced is not a gap.
    fn pushes_events(&self) -> bool {
        true
    }
    /// Sets up what polling reads, when the platform needs it (VTEX: the Feed v3 queue
    /// with ponte's filter), so that changes are kept from the moment the channel is
    /// created or enabled. `None`: nothing to set up.
    async fn prepare_polling(&self) -> Option<SubscriptionReport> {
        None
    }
    /// Makes the platform's push subscription for this channel what `want` says:
    /// ponte's webhook registered at `target.url` (repairing what is missing or
    /// stale), or every registration of the channel removed. Idempotent.
    async fn reconcile_subscription(
        &self,
        target: &HookTarget,
        want: HookWant,
    ) -> SubscriptionReport;
    /// The key of the platform call a listing's stock goes out in: items with the
    /// same key are pushed together (Nuvemshop: one call per product).
    fn stock_batch_key(&self, product_id: &str, variant_id: &str) -> String;
    /// Most items one stock call takes.
    fn stock_batch_max(&self) -> usize;
    /// Pushes absolute quantities; `items` share one batch key and are at most
    /// [`Connector::stock_batch_max`]. One call's outcome per platform call made.
    async fn push_stock(&self, items: &[StockItem]) -> Vec<StockCall>;
    /// The key of the platform call a listing's price goes out in (default: its
    /// product).
    fn price_batch_key(&self, product_id: &str, variant_id: &str) -> String {
        let _ = variant_id;
        product_id.to_owned()
    }
    /// Most items one price call takes.
    fn price_batch_max(&self) -> usize {
        1
    }
    /// Pushes prices (markup applied); `items` share one batch key and are at most
    /// [`Connector::price_batch_max`]. `now` is the push's time: a platform without
    /// promotional windows of its own gets the promotion in force then. One call's
    /// outcome per platform call made. Default: prices are not supported (every item
    /// refused, no call).
    async fn push_prices(
        &self,
        items: &[PriceItem],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<PriceCall> {
        let _ = now;
        prices_unsupported(items, "this platform")
    }
    /// The key of the platform call a listing's product data goes out in (default: its
    /// product).
    fn catalog_batch_key(&self, product_id: &str, variant_id: &str) -> String {
        let _ = variant_id;
        product_id.to_owned()
    }
    /// Most items one product data push takes.
    fn catalog_batch_max(&self) -> usize {
        1
    }
    /// Pushes product data (the fields the channel carries); `items` share one batch
    /// key and are at most [`Connector::catalog_batch_max`]. One outcome per record.
    /// Default: product data is not supported (every item refused, no call).
    async fn push_catalog(&self, items: &[CatalogItem]) -> Vec<CatalogCall> {
        catalog_unsupported(items, "this platform")
    }
    /// Reads back the prices the platform shows for these listings (the price check),
    /// one read per item. Default: not supported (every item refused, no call).
    async fn read_prices(&self, items: &[PriceItem]) -> Vec<PriceRead> {
        prices_unreadable(items, "this platform")
    }
    /// Whether the platform can take ERP events of this kind at all
    /// (`NotSent::NotSupported` with why not, when it cannot).
    fn send_support(&self, kind: ActionKind) -> Result<(), NotSent>;
    /// Checks the platform's requirements for a send; on error no call is made.
    fn check_send(&self, action: &Action) -> Result<(), SendCheckError>;
    /// Tells the platform about an ERP event on order `external_id` (maybe several calls).
    /// `nfe_xml` is the authorized NF-e XML stored with an invoice action, when given
    /// (VTEX embeds it in the invoice notification).
    async fn send(&self, external_id: &str, action: &Action, nfe_xml: Option<&str>) -> SendReport;
    /// Reads one SAC ticket (`question:123`, `pack:456`, `claim:789`). Default: the
    /// platform has no SAC API ponte uses (no call).
    async fn fetch_ticket(
        &self,
        external_id: &str,
    ) -> (Vec<CallInfo>, Result<FetchedTicket, PlatformError>) {
        let _ = external_id;
        (
            vec![],
            Err(PlatformError::permanent(
                "this platform has no SAC API".into(),
            )),
        )
    }
    /// Whether the platform lets the seller close a ticket of this kind.
    fn closes_tickets(&self, kind: TicketKind) -> bool {
        let _ = kind;
        false
    }
    /// Answers (`text`) or closes ticket `external_id`. Default: refused, no call.
    async fn send_ticket(
        &self,
        external_id: &str,
        action: OutboundAction,
        text: &str,
    ) -> TicketSendReport {
        let _ = (external_id, action, text);
        TicketSendReport {
            request: String::new(),
            calls: vec![],
            result: Err(PlatformError::permanent(
                "this platform has no SAC API".into(),
            )),
        }
    }
}

/// What answering or closing a ticket did.
#[derive(Debug, Clone)]
pub struct TicketSendReport {
    /// What was sent: method and path of each call, text length (no secrets).
    pub request: String,
    /// Every call, in order.
    pub calls: Vec<CallInfo>,
    /// The platform's id of the message it took (when it gives one), or the failure.
    pub result: Result<Option<String>, PlatformError>,
}

/// Every platform ponte knows.
pub fn platforms() -> Vec<Arc<dyn Platform>> {
    vec![
        Arc::new(nuvemshop::Nuvemshop),
        Arc::new(vtex::Vtex),
        Arc::new(mercadolivre::MercadoLivre),
        Arc::new(americanas::Americanas),
    ]
}
