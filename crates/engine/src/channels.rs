//! Channel management: validation by the platform, credentials sealed at rest, and a
//! short-lived cache of ready connectors for the webhook hot path.

use crate::{Engine, EngineError};
use ponte_channels::{ConfigError, Connector, Platform};
use ponte_core::automation::Automations;
use ponte_core::catalog::CatalogSettings;
use ponte_core::price::PriceSettings;
use ponte_core::stock::StockSettings;
use ponte_core::ErrorCode;
use ponte_core::{Addon, ChannelId, Entitlements, TenantId};
use ponte_store::claim::Budget;
use ponte_store::Channel;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// A new channel.
#[derive(Debug, Clone)]
pub struct ChannelInput {
    /// Platform name.
    pub platform: String,
    /// Display name.
    pub name: String,
    /// Flat settings object.
    pub settings: serde_json::Value,
    /// Credentials object.
    pub credentials: serde_json::Value,
}

/// Changes to a channel: settings merge key by key, credentials replace.
#[derive(Debug, Clone, Default)]
pub struct ChannelPatch {
    /// New name.
    pub name: Option<String>,
    /// Settings to merge (a key set to null removes it).
    pub settings: Option<serde_json::Value>,
    /// Replacement credentials.
    pub credentials: Option<serde_json::Value>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// A channel ready to verify webhooks and call its platform.
pub(crate) struct Ready {
    pub(crate) id: ChannelId,
    pub(crate) tenant_id: TenantId,
    pub(crate) platform: String,
    pub(crate) enabled: bool,
    /// The channel's automations, `instant_events` off when the tenant's plan does not
    /// include it.
    pub(crate) automations: Automations,
    /// The tenant's plan does not include instant events (their webhooks are left to polling).
    pub(crate) instant_events_not_in_plan: bool,
    /// The tenant is enabled (a disabled tenant's webhooks are refused).
    pub(crate) tenant_enabled: bool,
    pub(crate) connector: Arc<dyn Connector>,
    /// The status table the merchant saved (applied over the connector's mapping);
    /// `None`: the connector's documented table.
    pub(crate) status_rows: Option<Vec<ponte_core::status_rules::StatusRule>>,
    /// The payment table that applies (saved, or the connector's defaults).
    pub(crate) payment_rows: Vec<ponte_core::payment_map::PaymentRule>,
    /// The default customer field rules saved for the channel.
    pub(crate) field_rules: Vec<ponte_core::customer_fields::FieldRule>,
    loaded: Instant,
}

impl Ready {
    /// Applies the channel's saved tables to an order its connector mapped.
    pub(crate) fn apply_tables(&self, order: &mut ponte_core::order::MappedOrder) {
        crate::mappings::apply_saved(self.status_rows.as_deref(), order);
        order.data.payment.erp =
            ponte_core::payment_map::resolve(&self.payment_rows, &order.data.payment);
        crate::field_rules::settle_company(&mut order.data.customer);
        let channel = self.id.to_string();
        let ctx = ponte_core::customer_fields::RuleContext { channel: &channel };
        ponte_core::customer_fields::apply_field_rules(&self.field_rules, order, ctx);
    }
}

/// Ready channels by id.
#[derive(Default)]
pub(crate) struct Cache(RwLock<HashMap<ChannelId, Arc<Ready>>>);

impl Cache {
    /// The request budgets of the channels in the cache (a claim takes their tokens;
    /// jobs of other channels are budgeted after loading them).
    pub(crate) fn budgets(&self) -> HashMap<ChannelId, Budget> {
        let Ok(m) = self.0.read() else {
            return HashMap::new();
        };
        m.iter().map(|(id, r)| (*id, r.budget())).collect()
    }
}

impl Ready {
    /// The channel's request budget (its connector's rate limit).
    pub(crate) fn budget(&self) -> Budget {
        let l = self.connector.rate_limit();
        Budget {
            burst: l.burst,
            per_sec: l.per_sec,
        }
    }
}

impl Engine {
    pub(crate) fn platform(
        &self,
        name: &str,
    ) -> Result<&Arc<dyn ponte_channels::Platform>, EngineError> {
        self.platforms
            .get(name)
            .ok_or_else(|| ConfigError::UnknownPlatform(name.to_owned()).into())
    }

    /// Validates settings: the automations here, the rest by the platform; returns
    /// them with defaults filled in.
    fn validate_settings(
        platform: &dyn ponte_channels::Platform,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, EngineError> {
        let (automations, stock, prices, catalog, rest) = split_common(settings)?;
        let mut out = platform.validate_settings(&rest)?;
        automations.merge_into(&mut out);
        stock.merge_into(&mut out);
        prices.merge_into(&mut out);
        catalog.merge_into(&mut out);
        Ok(out)
    }

    /// Refuses settings that turn on what the tenant's plan does not include (422
    /// `plan_required` naming the plans and add-on that do).
    async fn check_plan(
        &self,
        tenant: TenantId,
        settings: &serde_json::Value,
    ) -> Result<(), EngineError> {
        if settings.get("instant_events") != Some(&serde_json::Value::Bool(true)) {
            return Ok(());
        }
        let entitled = (self.store.tenant(tenant).await?)
            .is_some_and(|t| t.entitlements().has(Addon::InstantEvents));
        if entitled {
            return Ok(());
        }
        Err(EngineError::Refused(
            ErrorCode::PlanRequired,
            format!(
                "this tenant's plan does not include instant events: {}",
                Entitlements::how_to_get(Addon::InstantEvents)
            ),
        ))
    }

    /// Checks the warehouses a channel's stock settings name exist, and stores the
    /// settings where stock and prices read them (recomputing what the channel should
    /// show).
    async fn apply_stock_settings(
        &self,
        tenant: TenantId,
        id: ChannelId,
        platform: &dyn Platform,
        settings: &serde_json::Value,
    ) -> Result<(), EngineError> {
        let (_, stock, prices, catalog, _) = split_common(settings)?;
        let known: Vec<String> = self
            .store
            .warehouses(tenant)
            .await?
            .into_iter()
            .map(|w| w.code)
            .collect();
        if let Some(missing) = stock
            .warehouse_codes()
            .find(|c| !known.iter().any(|k| k == c))
        {
            return Err(ConfigError::Invalid(format!(
                "unknown warehouse `{missing}` (create it with POST /api/v1/warehouses)"
            ))
            .into());
        }
        let cs = ponte_store::ChannelStock {
            send_stock: stock.send_stock,
            warehouses: stock.stock_warehouses,
            debit_warehouse: stock.debit_warehouse,
            buffer: stock.stock_buffer,
        };
        self.store
            .set_channel_stock(tenant, id, &cs, self.clock.now())
            .await?;
        let cp = ponte_store::ChannelPrices {
            send_prices: prices.send_prices,
            markup_bp: prices
                .markup_bp()
                .map_err(|e| ConfigError::Invalid(e.to_string()))?,
            window_edges: !platform.keeps_price_windows(),
        };
        self.store
            .set_channel_prices(tenant, id, &cp, false, self.clock.now())
            .await?;
        self.store
            .set_channel_catalog(tenant, id, &catalog.fields(), self.clock.now())
            .await?;
        if prices.send_prices {
            self.ensure_price_check_task(tenant, id).await?;
        }
        self.wake_workers();
        Ok(())
    }

    fn seal(&self, id: ChannelId, credentials: &serde_json::Value) -> Result<Vec<u8>, EngineError> {
        let plain =
            serde_json::to_vec(credentials).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.cipher.seal(&plain, id.to_string().as_bytes())
    }

    fn unseal(&self, ch: &Channel) -> Result<serde_json::Value, EngineError> {
        let plain = self
            .cipher
            .open(&ch.credentials, ch.id.to_string().as_bytes())?;
        serde_json::from_slice(&plain).map_err(|_| EngineError::Crypto)
    }

    /// The base URL a channel's settings make ponte call, refused when it points to an
    /// address ponte must not reach.
    async fn checked_base_url(
        &self,
        platform: &dyn Platform,
        settings: &serde_json::Value,
    ) -> Result<String, EngineError> {
        let url = base_url(platform, settings)?;
        self.http.check_url(&url).await?;
        Ok(url)
    }

    /// Refuses an enabled channel whose platform subscription another enabled channel
    /// of the tenant already holds ([`Platform::exclusive_key`]).
    async fn check_exclusive(
        &self,
        tenant: TenantId,
        id: ChannelId,
        platform: &dyn Platform,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
    ) -> Result<(), EngineError> {
        let Some(key) = platform.exclusive_key(settings, credentials) else {
            return Ok(());
        };
        for other in self.store.channels(tenant).await? {
            if other.id == id || !other.enabled || other.platform != platform.name() {
                continue;
            }
            let Ok(creds) = self.unseal(&other) else {
                continue;
            };
            if platform.exclusive_key(&other.settings, &creds).as_ref() == Some(&key) {
                return Err(EngineError::InUse(other.id));
            }
        }
        Ok(())
    }

    /// The URL the platform must post this channel's webhooks to.
    pub fn webhook_url(&self, id: ChannelId) -> String {
        format!(
            "{}/webhooks/{id}",
            self.config.public_url.trim_end_matches('/')
        )
    }

    /// Creates a channel after the platform validated its settings and credentials.
    pub async fn create_channel(
        &self,
        tenant: TenantId,
        input: ChannelInput,
    ) -> Result<Channel, EngineError> {
        let platform = self.platform(&input.platform)?;
        let name = input.name.trim().to_owned();
        if name.is_empty() {
            return Err(EngineError::Invalid("name must not be empty".into()));
        }
        self.check_plan(tenant, &input.settings).await?;
        let settings = Self::validate_settings(platform.as_ref(), &input.settings)?;
        self.checked_base_url(platform.as_ref(), &settings).await?;
        let credentials = with_secrets(platform.as_ref(), input.credentials, None);
        platform.validate_credentials(&credentials)?;
        let id = ChannelId::new();
        self.check_exclusive(tenant, id, platform.as_ref(), &settings, &credentials)
            .await?;
        let now = self.clock.now();
        let ch = Channel {
            id,
            tenant_id: tenant,
            platform: platform.name().to_owned(),
            name,
            settings,
            credentials: self.seal(id, &credentials)?,
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        self.apply_stock_settings(tenant, id, platform.as_ref(), &ch.settings)
            .await?;
        self.store.insert_channel(&ch).await?;
        self.ensure_channel_tasks(tenant, id).await?;
        tracing::info!(channel = %id, platform = %ch.platform, "channel created");
        self.reconcile_quietly(tenant, id).await;
        Ok(ch)
    }

    /// A tenant's channel.
    pub async fn channel(&self, tenant: TenantId, id: ChannelId) -> Result<Channel, EngineError> {
        match self.store.channel(id).await? {
            Some(c) if c.tenant_id == tenant => Ok(c),
            _ => Err(EngineError::NotFound(ErrorCode::ChannelNotFound)),
        }
    }

    /// A tenant's channels.
    pub async fn channels(&self, tenant: TenantId) -> Result<Vec<Channel>, EngineError> {
        Ok(self.store.channels(tenant).await?)
    }

    /// Applies a patch: settings are merged then validated as a whole.
    pub async fn update_channel(
        &self,
        tenant: TenantId,
        id: ChannelId,
        patch: ChannelPatch,
    ) -> Result<Channel, EngineError> {
        let mut ch = self.channel(tenant, id).await?;
        let platform = self.platform(&ch.platform)?;
        if let Some(name) = patch.name {
            if name.trim().is_empty() {
                return Err(EngineError::Invalid("name must not be empty".into()));
            }
            ch.name = name.trim().to_owned();
        }
        let calls = base_url(platform.as_ref(), &ch.settings).ok();
        if let Some(changes) = patch.settings {
            self.check_plan(tenant, &changes).await?;
            let serde_json::Value::Object(changes) = changes else {
                return Err(ConfigError::Invalid("settings must be an object".into()).into());
            };
            let mut merged = match ch.settings.clone() {
                serde_json::Value::Object(m) => m,
                _ => serde_json::Map::new(),
            };
            for (k, v) in changes {
                if v.is_null() {
                    merged.remove(&k);
                } else {
                    merged.insert(k, v);
                }
            }
            ch.settings =
                Self::validate_settings(platform.as_ref(), &serde_json::Value::Object(merged))?;
            let will_call = self
                .checked_base_url(platform.as_ref(), &ch.settings)
                .await?;
            // The stored credentials go only to the host they were given for.
            if patch.credentials.is_none()
                && calls.as_deref().map(origin) != Some(origin(&will_call))
            {
                return Err(EngineError::CredentialsRequired);
            }
        }
        let new_credentials = patch.credentials.is_some();
        if let Some(creds) = patch.credentials {
            let old = self.unseal(&ch).ok();
            let creds = with_secrets(platform.as_ref(), creds, old.as_ref());
            platform.validate_credentials(&creds)?;
            ch.credentials = self.seal(id, &creds)?;
        }
        if let Some(enabled) = patch.enabled {
            ch.enabled = enabled;
        }
        // Unreadable credentials (another master key) are refused where they are used.
        if let (true, Ok(creds)) = (ch.enabled, self.unseal(&ch)) {
            self.check_exclusive(tenant, id, platform.as_ref(), &ch.settings, &creds)
                .await?;
        }
        ch.updated_at = self.clock.now();
        self.apply_stock_settings(tenant, id, platform.as_ref(), &ch.settings)
            .await?;
        self.store.update_channel(&ch).await?;
        self.forget_channel(id);
        // Sends held by an auth failure (or a disabled channel) go out now.
        if ch.enabled && (new_credentials || patch.enabled == Some(true)) {
            let woken = self
                .store
                .wake_channel_sends(tenant, id, self.clock.now())
                .await?;
            if woken > 0 {
                tracing::info!(channel = %id, jobs = woken, "held status sends released");
                self.wake_workers();
            }
        }
        self.reconcile_quietly(tenant, id).await;
        Ok(ch)
    }

    /// Disables a channel; its history stays.
    pub async fn disable_channel(
        &self,
        tenant: TenantId,
        id: ChannelId,
    ) -> Result<Channel, EngineError> {
        self.update_channel(
            tenant,
            id,
            ChannelPatch {
                enabled: Some(false),
                ..ChannelPatch::default()
            },
        )
        .await
    }

    pub(crate) fn forget_channel(&self, id: ChannelId) {
        if let Ok(mut m) = self.channel_cache.0.write() {
            m.remove(&id);
        }
    }

    /// The ready connector of a channel, from the cache while it is fresh. Other
    /// instances see a change within the cache TTL.
    pub(crate) async fn cached_channel(&self, id: ChannelId) -> Result<Arc<Ready>, EngineError> {
        if let Some(r) = self
            .channel_cache
            .0
            .read()
            .ok()
            .and_then(|m| m.get(&id).cloned())
        {
            if r.loaded.elapsed() < self.config.channel_cache_ttl {
                return Ok(r);
            }
        }
        let ch = self
            .store
            .channel(id)
            .await?
            .ok_or(EngineError::NotFound(ErrorCode::ChannelNotFound))?;
        let creds = self.unseal(&ch)?;
        let (mut automations, _, _, _, settings) = split_common(&ch.settings)?;
        let tenant = self.store.tenant(ch.tenant_id).await?;
        let entitled = tenant
            .as_ref()
            .is_some_and(|t| t.entitlements().has(Addon::InstantEvents));
        let instant_events_not_in_plan = automations.instant_events && !entitled;
        automations.instant_events &= entitled;
        let platform = self.platform(&ch.platform)?;
        // Literal addresses meet no resolver: checked here, before any call.
        self.http.check_literal(&platform.base_url(&settings)?)?;
        let vault = Arc::new(crate::vault::ChannelVault {
            store: self.store.clone(),
            clock: self.clock.clone(),
            cipher: self.cipher.clone(),
            tenant: ch.tenant_id,
            channel: ch.id,
        });
        let budget = Arc::new(crate::endpoint_budget::ChannelEndpointBudget {
            store: self.store.clone(),
            clock: self.clock.clone(),
            tenant: ch.tenant_id,
            channel: ch.id,
        });
        let shared = ponte_channels::Shared { vault, budget };
        let connector = platform.connect_shared(&settings, &creds, self.http.clone(), shared)?;
        let status_rows = match self
            .store
            .mapping(ch.tenant_id, ch.id, ponte_store::MappingKind::Status)
            .await?
        {
            Some(rows) => Some(crate::mappings::saved_rows(rows)?),
            None => None,
        };
        let payment_rows = self.payment_rows(&ch).await?.rows;
        let field_rules = self.saved_field_rules(ch.tenant_id, ch.id).await?;
        let ready = Arc::new(Ready {
            id: ch.id,
            tenant_id: ch.tenant_id,
            platform: ch.platform.clone(),
            enabled: ch.enabled,
            automations,
            instant_events_not_in_plan,
            tenant_enabled: tenant.is_some_and(|t| t.enabled),
            connector,
            status_rows,
            payment_rows,
            field_rules,
            loaded: Instant::now(),
        });
        if let Ok(mut m) = self.channel_cache.0.write() {
            m.insert(id, ready.clone());
        }
        Ok(ready)
    }
}

/// Fills the credential keys the platform generates: kept from the channel's current
/// credentials when they have them (so a hook keeps working across a token change),
/// else a fresh random secret (32 bytes, hex).
fn with_secrets(
    platform: &dyn ponte_channels::Platform,
    mut credentials: serde_json::Value,
    old: Option<&serde_json::Value>,
) -> serde_json::Value {
    if let serde_json::Value::Object(m) = &mut credentials {
        for key in platform.generated_secrets() {
            if m.get(*key).is_none_or(serde_json::Value::is_null) {
                let value = old
                    .and_then(|o| o.get(*key))
                    .filter(|v| v.is_string())
                    .cloned()
                    .unwrap_or_else(|| hex::encode(rand::random::<[u8; 32]>()).into());
                m.insert((*key).to_owned(), value);
            }
        }
    }
    credentials
}

/// The base URL a channel's (validated) settings make ponte call.
fn base_url(platform: &dyn Platform, settings: &serde_json::Value) -> Result<String, ConfigError> {
    let (_, _, _, _, rest) = split_common(settings)?;
    platform.base_url(&rest)
}

/// Scheme, host and port of a URL (the URL itself when it does not parse).
fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => url.to_owned(),
    }
}

/// The keys every platform shares (automations, stock, prices, product data) and the
/// platform's own.
type CommonSettings = (
    Automations,
    StockSettings,
    PriceSettings,
    CatalogSettings,
    serde_json::Value,
);

/// Splits a channel's settings into the keys every platform shares and the platform's
/// own.
fn split_common(settings: &serde_json::Value) -> Result<CommonSettings, ConfigError> {
    let (automations, rest) =
        Automations::split(settings).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let (stock, rest) =
        StockSettings::split(&rest).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let (prices, rest) =
        PriceSettings::split(&rest).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let (catalog, rest) =
        CatalogSettings::split(&rest).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    Ok((automations, stock, prices, catalog, rest))
}
