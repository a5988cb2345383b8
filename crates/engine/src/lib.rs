//! ponte's engine: the application services the API calls and the workers that run
//! behind them. It owns no storage types (those come through `ponte-store` traits)
//! and no HTTP server (that is `ponte-api`).

mod action_commit;
mod actions;
mod audit;
mod auth;
mod batch;
mod budget;
mod bulk_rows;
mod carriers;
mod catalog;
mod catalog_push;
mod channels;
mod credentials;
mod csv_cell;
mod direct_sends;
mod endpoint_budget;
mod error;
mod events;
mod export;
mod field_rules;
mod figures;
mod gate;
mod import;
mod ingest;
mod mappings;
mod metrics;
mod order_channels;
mod payment_mappings;
mod people;
mod poll;
mod price_check;
mod price_push;
mod prices;
mod remap;
mod retention;
mod secrets;
mod send;
mod stock;
mod stock_push;
mod subscriptions;
mod supervise;
mod sweeps;
mod target_push;
mod task_run;
mod tasks;
mod tenant_admin;
mod tickets;
mod tokens;
mod tracking;
mod vault;
mod webhook_delivery;
mod webhook_endpoints;
mod webhook_sign;
mod worker;

pub use actions::{ActionReport, SendPlan};
pub use audit::{command_line, installation_admin, redact};
pub use auth::{hash_token, Caller, TokenSetup, TOKEN_CACHE_TTL};
pub use carriers::CarrierAccountInput;
pub use channels::{ChannelInput, ChannelPatch};
pub use error::EngineError;
pub use events::MAX_FEED_WAIT;
pub use export::CSV_MAX_ROWS;
pub use ingest::WebhookAck;
pub use mappings::{StatusMap, UnmappedStatus};
pub use metrics::Metrics;
pub use payment_mappings::{PaymentMap, UnmappedPayment};
pub use people::{user_actor, UserInput, UserPatch, RESET_LINK_TTL};
pub use prices::MAX_PRICES;
pub use secrets::{verify_master_key, Cipher, MasterKey};
pub use stock::{ProductInput, StockError, MAX_MOVEMENTS};
pub use tasks::{TenantSettings, DEFAULT_INTERVAL_SECS};
pub use tenant_admin::{TenantInput, TenantPatch};
pub use tickets::{ANSWER_MAX_CHARS, TICKET_LIST_MAX};
pub use tokens::TokenInput;
pub use webhook_endpoints::{EndpointInput, EndpointPatch, OLD_SECRET_SIGNS_FOR};
pub use webhook_sign::{parse_key, sign, signature_header, SECRET_PREFIX};
pub use worker::Workers;

use ponte_channels::Platform;
use ponte_core::{Clock, TenantId};
use ponte_store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Why an instance is not ready.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotReady {
    /// The store does not answer.
    #[error("database unavailable")]
    Database,
    /// Worker loops (named) that panicked and are not running again yet.
    #[error("worker loop not running: {0}")]
    WorkersDown(String),
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Base URL the platforms reach ponte at (for webhook URLs).
    pub public_url: String,
    /// Whether `public_url` was configured (`PONTE_PUBLIC_URL`): only then does ponte
    /// register its webhooks at the platforms; otherwise channels are polling-only.
    pub public_url_set: bool,
    /// This process's id in job leases.
    pub instance_id: String,
    /// Concurrent claim loops.
    pub workers: usize,
    /// Jobs claimed per loop iteration.
    pub claim_batch: u32,
    /// Job lease length.
    pub lease: Duration,
    /// How long a cached channel (and its decrypted credentials) is trusted.
    pub channel_cache_ttl: Duration,
    /// Import retries.
    pub import_retry: ponte_core::retry::RetryPolicy,
    /// Status-send backoff (`max_attempts` comes from each channel's automations).
    pub send_retry: ponte_core::retry::RetryPolicy,
    /// Longest a platform call may take.
    pub platform_timeout: Duration,
    /// Whether platform calls may reach loopback and private addresses
    /// (`PONTE_ALLOW_PRIVATE_NETWORKS`: simulators, sandboxes, tests).
    pub allow_private_networks: bool,
    /// Shortest interval a scheduled task accepts.
    pub min_task_interval: Duration,
    /// How far before its cursor a polling run starts reading again (late-indexed
    /// orders, clock skew between ponte and the platform).
    pub poll_overlap: Duration,
    /// Concurrent task runs per instance.
    pub task_workers: usize,
    /// Concurrent stock push jobs (one channel each) per instance.
    pub stock_workers: usize,
    /// Days raw deliveries, send attempts, task runs and stock pushes are kept once
    /// finished (see `ponte_store::Prunable` for what is kept whatever its age).
    pub retention_days: u32,
    /// Time between retention sweeps; `None`: records are never deleted.
    pub retention_sweep: Option<Duration>,
    /// How often the job counts and database size shown by `/metrics` and `/ready`
    /// are read.
    pub figures_every: Duration,
    /// Hex SHA-256 of the installation's admin token (`PONTE_ADMIN_TOKEN`), which
    /// manages tenants; none: tenants are managed from the command line only.
    pub admin_token_hash: Option<String>,
    /// When failed webhook deliveries are tried again.
    pub webhook_schedule: ponte_core::webhook_schedule::WebhookSchedule,
    /// Longest a webhook endpoint may take to answer (a 2xx later is a failure).
    pub webhook_timeout: Duration,
    /// Webhook deliveries in flight per instance.
    pub webhook_concurrency: usize,
    /// How often the webhook loop looks for new events when idle.
    pub webhook_poll: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            public_url_set: false,
            instance_id: format!("ponte-{}", ponte_core::JobId::new()),
            workers: 4,
            claim_batch: 32,
            lease: Duration::from_secs(60),
            channel_cache_ttl: Duration::from_secs(5),
            import_retry: ponte_core::retry::RetryPolicy::default(),
            send_retry: ponte_core::retry::RetryPolicy {
                base: Duration::from_secs(5),
                ..ponte_core::retry::RetryPolicy::default()
            },
            platform_timeout: Duration::from_secs(20),
            allow_private_networks: false,
            min_task_interval: Duration::from_secs(60),
            poll_overlap: Duration::from_secs(600),
            task_workers: 2,
            stock_workers: 4,
            retention_days: 90,
            retention_sweep: Some(Duration::from_secs(3600)),
            figures_every: Duration::from_secs(5),
            admin_token_hash: None,
            webhook_schedule: ponte_core::webhook_schedule::WebhookSchedule::default(),
            webhook_timeout: Duration::from_secs(15),
            webhook_concurrency: 64,
            webhook_poll: webhook_delivery::DEFAULT_POLL,
        }
    }
}

/// The application: every service the API and the workers use.
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cipher: Cipher,
    pub(crate) config: EngineConfig,
    pub(crate) platforms: HashMap<&'static str, Arc<dyn Platform>>,
    pub(crate) http: ponte_channels::Outbound,
    pub(crate) metrics: Metrics,
    pub(crate) channel_cache: Arc<channels::Cache>,
    /// The loop that runs the sends action batches start.
    pub(crate) direct: Arc<direct_sends::DirectSends>,
    pub(crate) carrier_cache: carriers::CarrierCache,
    pub(crate) ingest: ingest::Ingest,
    pub(crate) wake: Arc<tokio::sync::Notify>,
    /// Wakes one claim loop (new imports or sends committed); it wakes another when it
    /// finds a full batch.
    pub(crate) claim_wake: Arc<tokio::sync::Notify>,
    /// Wakes the webhook delivery loop (deliveries queued again).
    pub(crate) webhook_wake: Arc<tokio::sync::Notify>,
    pub(crate) tokens: auth::TokenCache,
    pub(crate) order_channels: order_channels::OrderChannels,
    pub(crate) gate: Arc<gate::WriteGate>,
    pub(crate) actions: action_commit::ActionCommitter,
    pub(crate) figures: figures::Figures,
    pub(crate) loops: supervise::Loops,
    default_tenant: TenantId,
}

impl Engine {
    /// Builds the engine over a migrated store. Starts the ingest committer; call
    /// [`Workers::start`] to run jobs.
    pub async fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        cipher: Cipher,
        config: EngineConfig,
    ) -> Result<Arc<Self>, EngineError> {
        let default_tenant = store.default_tenant(clock.now()).await?;
        let figures =
            figures::Figures::new(store.as_ref(), clock.as_ref(), config.figures_every).await;
        let http =
            ponte_channels::Outbound::new(config.platform_timeout, config.allow_private_networks)?;
        let wake = Arc::new(tokio::sync::Notify::new());
        let claim_wake = Arc::new(tokio::sync::Notify::new());
        let metrics = Metrics::new();
        let gate = Arc::new(gate::WriteGate::default());
        let ingest = ingest::Ingest::start(
            store.clone(),
            claim_wake.clone(),
            metrics.clone(),
            gate.clone(),
        );
        let channel_cache = Arc::new(channels::Cache::default());
        let direct = Arc::new(direct_sends::DirectSends::default());
        let actions = action_commit::ActionCommitter::start(action_commit::CommitterParts {
            store: store.clone(),
            clock: clock.clone(),
            wake: claim_wake.clone(),
            gate: gate.clone(),
            direct: direct.clone(),
            channels: channel_cache.clone(),
            lease: config.lease,
        });
        Ok(Arc::new(Self {
            platforms: ponte_channels::platforms()
                .into_iter()
                .map(|p| (p.name(), p))
                .collect(),
            store,
            clock,
            cipher,
            config,
            http,
            metrics,
            channel_cache,
            direct,
            carrier_cache: carriers::CarrierCache::default(),
            ingest,
            wake,
            claim_wake,
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
            tokens: auth::TokenCache::default(),
            order_channels: order_channels::OrderChannels::default(),
            gate,
            actions,
            figures,
            loops: supervise::Loops::default(),
            default_tenant,
        }))
    }

    /// The tenant created at first start.
    pub fn default_tenant(&self) -> TenantId {
        self.default_tenant
    }

    /// The store (for read-only API queries).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Whether this instance can do its work: the store answered the latest
    /// background read, recently (no query here), and every worker loop runs (one
    /// that panicked is down until it has been restarted).
    pub fn ready(&self) -> Result<(), NotReady> {
        if !self.figures.fresh() {
            return Err(NotReady::Database);
        }
        let down: Vec<String> = (self.loops.all().iter())
            .filter(|l| !l.running())
            .map(|l| l.name.clone())
            .collect();
        if down.is_empty() {
            Ok(())
        } else {
            Err(NotReady::WorkersDown(down.join(", ")))
        }
    }

    /// The metrics in the text exposition format, with the figures last read (no
    /// query here).
    pub fn render_metrics(&self) -> String {
        self.metrics.render(self.figures.latest().as_ref())
    }

    /// Wakes the claim loops (new jobs were enqueued elsewhere).
    pub fn wake_workers(&self) {
        self.wake.notify_waiters();
    }

    /// Wakes the loops that run jobs added outside this engine's own wake-ups: `kinds`
    /// added by another instance, `own_kinds` added by this instance's store (imports
    /// and sends need nothing: the engine woke a claim loop as it committed them), or
    /// every loop when `any` kind may have been added. Imports and sends wake one claim
    /// loop (it wakes another when it finds a full batch); other kinds wake all loops.
    pub fn wake_for<'a>(
        &self,
        kinds: impl IntoIterator<Item = &'a str>,
        own_kinds: impl IntoIterator<Item = &'a str>,
        any: bool,
    ) {
        let claimed = |k: &&str| worker::CLAIM_KINDS.contains(k);
        let (mut claim, mut other) = (any, any);
        for k in kinds {
            claim |= claimed(&k);
            other |= !claimed(&k);
        }
        other |= own_kinds.into_iter().any(|k| !claimed(&k));
        if other {
            self.wake.notify_waiters();
        } else if claim {
            self.claim_wake.notify_one();
        }
    }

    /// Waits until every accepted delivery is committed (for shutdown).
    pub async fn drain_ingest(&self) {
        self.ingest.drain().await;
    }
}
