//! The storage traits. Every method is one short transaction; none is held across
//! a platform call.

use crate::access::*;
use crate::carriers::*;
use crate::error::StoreError;
use crate::mappings::*;
use crate::records::*;
use crate::retention::Prunable;
use crate::sends::*;
use crate::stock::*;
use crate::tasks::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{
    CarrierAccountId, ChannelId, OrderId, OrderStatus, RunId, SendId, TaskId, TenantId, TokenId,
    UserId,
};
use std::time::Duration;

/// Result alias.
pub type StoreResult<T> = Result<T, StoreError>;

/// Tenants and API tokens.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// The default tenant, created on first call.
    async fn default_tenant(&self, now: DateTime<Utc>) -> StoreResult<TenantId>;
    /// Creates a tenant.
    async fn insert_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    /// A tenant by id.
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// Every tenant, oldest first.
    async fn tenant_list(&self) -> StoreResult<Vec<Tenant>>;
    /// Replaces a tenant's name, plan, add-ons and state.
    async fn update_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    /// Adds an API token (`Conflict` when its hash exists).
    async fn insert_token(&self, token: &ApiToken) -> StoreResult<()>;
    /// The token with this hash and its tenant.
    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, Tenant)>>;
    /// A tenant's tokens, oldest first.
    async fn tokens(&self, tenant: TenantId) -> StoreResult<Vec<ApiToken>>;
    /// Deletes a token; whether it existed.
    async fn delete_token(&self, tenant: TenantId, id: TokenId) -> StoreResult<bool>;
    /// Records when a token was last accepted.
    async fn touch_token(
        &self,
        tenant: TenantId,
        id: TokenId,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Makes `token` the tenant's only bootstrap token: the others are deleted, and it
    /// is added unless its hash exists. One transaction.
    async fn replace_bootstrap_token(&self, token: &ApiToken) -> StoreResult<()>;
    /// Number of tokens of a tenant.
    async fn count_api_tokens(&self, tenant: TenantId) -> StoreResult<i64>;
    /// Every tenant (the schedulers sweep them all).
    async fn tenants(&self) -> StoreResult<Vec<TenantId>>;
    /// A tenant's settings object (`{}` until set).
    async fn tenant_settings(&self, tenant: TenantId) -> StoreResult<serde_json::Value>;
    /// Replaces a tenant's settings object.
    async fn set_tenant_settings(
        &self,
        tenant: TenantId,
        settings: &serde_json::Value,
    ) -> StoreResult<()>;
    /// The deployment's master-key check value, if one was stored.
    async fn key_check(&self) -> StoreResult<Option<String>>;
    /// The deployment's master-key check value: `check` is stored when there is none
    /// yet; the stored value is returned either way (the caller compares).
    async fn claim_key_check(&self, check: &str) -> StoreResult<String>;
}

/// People and the audit trail.
#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// Adds a person (`Conflict` when the e-mail is taken).
    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    /// A tenant's person by id.
    async fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>>;
    /// The person signing in with this e-mail (lower case), whatever the tenant.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// The person whose one-time link has this token hash.
    async fn user_by_reset(&self, reset_hash: &str) -> StoreResult<Option<User>>;
    /// A tenant's people, oldest first.
    async fn users(&self, tenant: TenantId) -> StoreResult<Vec<User>>;
    /// Replaces a person's mutable fields (`Conflict` when the new e-mail is taken).
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    /// Deletes a person; whether they existed.
    async fn delete_user(&self, tenant: TenantId, id: UserId) -> StoreResult<bool>;
    /// Appends to the audit trail.
    async fn insert_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// A tenant's audit trail, newest first.
    async fn audit(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEntry>>;
}

/// Channels.
#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Inserts a channel.
    async fn insert_channel(&self, channel: &Channel) -> StoreResult<()>;
    /// Replaces a channel's mutable fields (name, settings, credentials, enabled, updated_at);
    /// other credentials clear a recorded refusal.
    async fn update_channel(&self, channel: &Channel) -> StoreResult<()>;
    /// Replaces a channel's (sealed) credentials only while they are still `old`: a
    /// compare-and-set, so that credentials that renew themselves (Mercado Livre's
    /// rotating refresh tokens) are rotated once across instances. `false` when they
    /// changed since `old` was read (the caller reads them again).
    async fn swap_channel_credentials(
        &self,
        tenant: TenantId,
        id: ChannelId,
        old: &[u8],
        new: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// A channel by id, whatever its tenant (webhooks know only the channel id).
    async fn channel(&self, id: ChannelId) -> StoreResult<Option<Channel>>;
    /// A tenant's channels, oldest first.
    async fn channels(&self, tenant: TenantId) -> StoreResult<Vec<Channel>>;
    /// Records a channel's push subscription as last reconciled.
    async fn set_subscription(
        &self,
        tenant: TenantId,
        id: ChannelId,
        subscription: &Subscription,
    ) -> StoreResult<()>;
    /// A channel's push subscription, when it was ever reconciled.
    async fn subscription(&self, id: ChannelId) -> StoreResult<Option<Subscription>>;
    /// Records that the platform refused the channel's credentials, unless a refusal
    /// is already recorded (the first one's `since` stays). Replacing the credentials
    /// ([`ChannelStore::update_channel`] with others, or
    /// [`ChannelStore::swap_channel_credentials`]) clears it.
    async fn hold_credentials(
        &self,
        tenant: TenantId,
        id: ChannelId,
        problem: &CredentialsProblem,
    ) -> StoreResult<()>;
    /// The refusal of a channel's credentials, while they are not replaced.
    async fn credentials_problem(&self, id: ChannelId) -> StoreResult<Option<CredentialsProblem>>;
}

/// Inbound deliveries (the inbox).
#[async_trait]
pub trait InboxStore: Send + Sync {
    /// Stores deliveries and enqueues their jobs, all in ONE transaction (group
    /// commit). A job whose `unique_key` is already pending is coalesced into it.
    async fn accept_deliveries(&self, batch: &[NewDelivery]) -> StoreResult<()>;
    /// Lists deliveries, newest first.
    async fn deliveries(
        &self,
        tenant: TenantId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>>;
}

/// The job queue.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Enqueues jobs in one transaction (coalesced by unique key).
    async fn enqueue(&self, jobs: &[(TenantId, NewJob)]) -> StoreResult<()>;
    /// Leases up to `limit` due jobs of the given kinds to `owner` until `now + lease`.
    async fn claim_jobs(
        &self,
        owner: &str,
        kinds: &[&str],
        limit: u32,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<Vec<Job>>;
    /// Extends every lease `owner` holds to `until`.
    async fn heartbeat(&self, owner: &str, until: DateTime<Utc>) -> StoreResult<u64>;
    /// Finishes a job; false when the lease was lost (nothing changed).
    async fn finish_job(
        &self,
        lease: &JobLease,
        outcome: &JobOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Returns jobs whose lease expired to the queue; the count.
    async fn reap_expired(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Returns every job `owner` (or, with `None`, anyone) holds to the queue.
    async fn release_leases(&self, owner: Option<&str>) -> StoreResult<u64>;
    /// Jobs per state.
    async fn job_counts(&self) -> StoreResult<JobCounts>;
    /// The earliest `run_at` of pending jobs of the given kinds (of any kind when
    /// `kinds` is empty).
    async fn next_run_at(&self, kinds: &[&str]) -> StoreResult<Option<DateTime<Utc>>>;
}

/// Orders.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Applies import results, each under its job lease, in one transaction: the
    /// order upsert (by channel and external id), timeline, deliveries and job.
    async fn apply_imports(
        &self,
        batch: Vec<ImportCommit>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ImportApplied>>;
    /// Applies orders read by a listing (commits without a lease) in one transaction,
    /// exactly as [`OrderStore::apply_imports`] applies fetched ones; the webhook
    /// deliveries of those orders still waiting are settled by it (and reported as
    /// `announced`).
    async fn apply_polled(
        &self,
        batch: Vec<ImportCommit>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<PolledApplied>>;
    /// Orders in one of `statuses` (of one channel, or all), oldest id after `after`
    /// first, at most `limit`.
    async fn orders_in_status(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
        statuses: &[OrderStatus],
        after: Option<OrderId>,
        limit: u32,
    ) -> StoreResult<Vec<OrderRef>>;
    /// An order by id.
    async fn order(&self, tenant: TenantId, id: OrderId) -> StoreResult<Option<StoredOrder>>;
    /// Lists orders, newest first.
    async fn orders(
        &self,
        tenant: TenantId,
        filter: &OrderFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<StoredOrder>>;
    /// Everything that happened to an order (by channel and external id), oldest first:
    /// deliveries received, fetches, import, skips, status changes.
    async fn timeline(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        external_id: &str,
    ) -> StoreResult<Vec<TimelineEntry>>;
}

/// Scheduled tasks and their runs. A task runs as one job at a time (kind
/// [`TASK_JOB_KIND`], payload [`TaskJob`]); due times fire by compare-and-set, so any
/// number of instances start each due run once.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Creates the tasks that do not exist yet (by tenant, kind and channel); existing
    /// ones are left as they are.
    async fn ensure_tasks(&self, tasks: &[NewTask], now: DateTime<Utc>) -> StoreResult<()>;
    /// A tenant's tasks (of one channel, or all), each with its latest run.
    async fn tasks(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<ScheduledTask>>;
    /// One task with its latest run.
    async fn task(&self, tenant: TenantId, id: TaskId) -> StoreResult<Option<ScheduledTask>>;
    /// Changes a task's interval or enabled flag; when either is given the next due
    /// time becomes `now + interval`.
    async fn update_task(
        &self,
        tenant: TenantId,
        id: TaskId,
        patch: &TaskPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ScheduledTask>>;
    /// Enabled tasks due at `now` (every enabled tenant: a disabled tenant's schedule
    /// waits), oldest due first.
    async fn due_tasks(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<ScheduledTask>>;
    /// Starts a run in one transaction: fires the due time (when asked; see
    /// [`RunRequest::fire`]), refuses while the task has a queued or running run, else
    /// records the run `queued` and enqueues its job (due now).
    async fn start_run(&self, req: &RunRequest, now: DateTime<Utc>) -> StoreResult<RunStart>;
    /// A worker took the run's job: the run becomes `running` (started now, counts
    /// reset: a run resumed after a crash starts over). `None` if the lease was lost or
    /// the run is over.
    async fn begin_run(
        &self,
        lease: &JobLease,
        tenant: TenantId,
        run: RunId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<TaskRun>>;
    /// Records a running run's progress, under its job's lease (a worker that lost
    /// the run writes nothing).
    async fn progress_run(
        &self,
        lease: &JobLease,
        tenant: TenantId,
        run: RunId,
        counts: &RunCounts,
    ) -> StoreResult<()>;
    /// Ends a run and its job in one transaction, under the job's lease (false when
    /// lost: nothing written); a successful import run moves its task's cursor.
    async fn finish_run(
        &self,
        lease: &JobLease,
        tenant: TenantId,
        run: RunId,
        end: &RunEnd,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// One run.
    async fn task_run(&self, tenant: TenantId, id: RunId) -> StoreResult<Option<TaskRun>>;
    /// A task's runs, newest first.
    async fn task_runs(
        &self,
        tenant: TenantId,
        task: TaskId,
        page: &PageRequest,
    ) -> StoreResult<Page<TaskRun>>;
    /// Orders polling found that no webhook had announced, over every run of a
    /// channel's tasks.
    async fn poll_gaps(&self, tenant: TenantId, channel: ChannelId) -> StoreResult<u64>;
}

/// Stock: the catalogue, the ledger, balances and what each channel should show.
///
/// Orders move stock by themselves: [`OrderStore::apply_imports`],
/// [`OrderStore::apply_polled`] and [`SendStore::apply_actions`] bring each touched
/// order's effect in its channel's debit warehouse to what its state asks for
/// (`ponte_core::stock::order_effect`): reserved while open, debited once invoiced,
/// nothing once cancelled (released, or restored after an invoice); lines whose SKU is
/// not a product are recorded as unmapped; lines with a SKU, product and variant reveal
/// a listing when the channel has none for that SKU. Every balance change marks the
/// affected (channel, SKU) targets and enqueues the channel's push job, in the same
/// transaction.
#[async_trait]
pub trait StockStore: Send + Sync {
    /// Adds a product; `Conflict` when the SKU exists.
    async fn insert_product(&self, product: &Product) -> StoreResult<()>;
    /// Replaces a product's name, EAN and unit; false when there is no such SKU.
    async fn update_product(&self, product: &Product) -> StoreResult<bool>;
    /// One product.
    async fn product(&self, tenant: TenantId, sku: &str) -> StoreResult<Option<Product>>;
    /// Products by SKU (the cursor is the last SKU of the previous page).
    async fn products(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Product>>;
    /// Adds a warehouse; `Conflict` when the code exists.
    async fn insert_warehouse(&self, warehouse: &Warehouse) -> StoreResult<()>;
    /// A tenant's warehouses by code.
    async fn warehouses(&self, tenant: TenantId) -> StoreResult<Vec<Warehouse>>;
    /// Sets listings (one per channel and SKU: a new one replaces the old) and marks
    /// their targets. `Ok(Err(skus))` when some SKUs are not products (nothing written).
    async fn upsert_listings(
        &self,
        listings: &[Listing],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<(), Vec<String>>>;
    /// A channel's listings by SKU.
    async fn listings(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        page: &PageRequest,
    ) -> StoreResult<Page<Listing>>;
    /// Stores a channel's stock settings and recomputes its targets.
    async fn set_channel_stock(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        settings: &ChannelStock,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Records movements in the ledger and applies them, in ONE transaction, in order;
    /// `Ok(Err(..))` (nothing recorded) when a row names an unknown SKU or warehouse.
    async fn record_movements(
        &self,
        tenant: TenantId,
        batch: &[NewMovement],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<u64, MovementsRefused>>;
    /// A SKU's balances and channel values.
    async fn sku_stock(&self, tenant: TenantId, sku: &str) -> StoreResult<Option<SkuStock>>;
    /// What one order does to stock: its effect per SKU, and its lines flagged as
    /// unmapped (their SKU is not a product).
    async fn order_stock(
        &self,
        tenant: TenantId,
        order: OrderId,
    ) -> StoreResult<(
        Vec<crate::stock_plan::OrderStockEffect>,
        Vec<crate::stock_plan::UnmappedLine>,
    )>;
    /// Order lines whose SKU is not a product, grouped by channel and platform ids.
    async fn unmapped_skus(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<UnmappedSku>>;
    /// The pending targets of up to `limit` of the channel's products (whole products,
    /// so that a product's variants go out in one call), by product id, for the push job
    /// holding `lease`; `None` when the lease is lost or an older push job of the
    /// channel is running (this one should come back later: the older one may have
    /// looked before these values were marked).
    async fn claim_stock_targets(
        &self,
        lease: &JobLease,
        channel: ChannelId,
        limit: u32,
    ) -> StoreResult<Option<Vec<StockTarget>>>;
    /// Records push calls and their effect on the targets: succeeded → `pushed` holds
    /// what was sent (the target stays pending if it changed meanwhile); retrying →
    /// one more attempt; failed → `failed`; waiting → unchanged.
    async fn record_pushes(
        &self,
        tenant: TenantId,
        pushes: &[PushRecord],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Push calls, newest first (of one channel, touching one SKU).
    async fn stock_pushes(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
        sku: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Page<StockPush>>;
    /// Marks every listing of the channel pending (pushed again even if unchanged) and
    /// enqueues its push job; the number of listings.
    async fn resync_stock(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// A channel's targets per state: (pending, pushed, failed).
    async fn stock_summary(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<(u64, u64, u64)>;
}

/// Prices: a SKU's current price, scheduled prices and what each channel should show
/// ([`crate::price_writes`] holds the sequences every backend runs).
#[async_trait]
pub trait PriceStore: Send + Sync {
    /// Writes a bulk of prices in ONE transaction, all or nothing
    /// ([`crate::price_writes::write_prices`]); `Ok(Err(rows))` (nothing written) when
    /// rows name SKUs that are not products.
    async fn write_prices(
        &self,
        tenant: TenantId,
        rows: &[crate::NewPrice],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<crate::PricesWritten, Vec<(usize, String)>>>;
    /// Applies a scheduled price still waiting, in one transaction
    /// ([`crate::price_writes::apply_scheduled`]); `None` when it is not waiting.
    async fn apply_scheduled_price(
        &self,
        tenant: TenantId,
        id: ponte_core::ScheduledPriceId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<crate::ScheduledPrice>>;
    /// Cancels a scheduled price still waiting; false when it is not.
    async fn cancel_scheduled_price(
        &self,
        tenant: TenantId,
        id: ponte_core::ScheduledPriceId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Stores a channel's price settings and recomputes what it should show (`force`:
    /// every listing pending again); the number of listings marked.
    async fn set_channel_prices(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        settings: &crate::ChannelPrices,
        force: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// A window edge's timer, in one transaction
    /// ([`crate::price_writes::mark_window_edge`]); the number of targets marked.
    async fn mark_price_edge(
        &self,
        tenant: TenantId,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Makes every listing of the channel with a price pending again, in one
    /// transaction ([`crate::price_writes::resync_prices`]); how many.
    async fn resync_prices(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Price push calls, newest first (of one channel, touching one SKU), in the shape
    /// of the stock history (items carry the price).
    async fn price_pushes(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
        sku: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Page<crate::StockPush>>;
    /// A channel's price targets per state: (pending, pushed, failed).
    async fn price_summary(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<(u64, u64, u64)>;
    /// A SKU's prices (`None` when it is not a product).
    async fn sku_prices(
        &self,
        tenant: TenantId,
        sku: &str,
    ) -> StoreResult<Option<crate::SkuPrices>>;
    /// The pending price targets of up to `limit` of the channel's products (whole
    /// products), for the push job holding `lease`; `None` when the lease is lost or an
    /// older price push job of the channel is running (as
    /// [`StockStore::claim_stock_targets`]).
    async fn claim_price_targets(
        &self,
        lease: &JobLease,
        channel: ChannelId,
        limit: u32,
    ) -> StoreResult<Option<Vec<crate::PriceTarget>>>;
    /// Records price push calls and their effect on the targets (as
    /// [`StockStore::record_pushes`]), every call in the price push history.
    async fn record_price_pushes(
        &self,
        tenant: TenantId,
        pushes: &[crate::PricePushRecord],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Up to `limit` of the channel's pushed price targets, at random (what a price
    /// check reads back).
    async fn price_check_sample(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        limit: u32,
    ) -> StoreResult<Vec<crate::PriceTarget>>;
    /// Records the drift a price check found, in one transaction
    /// ([`crate::price_writes::note_drift`]); how many targets were marked again.
    async fn note_price_drift(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        drifts: &[(String, String)],
        fix: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Scheduled prices still waiting, oldest first (the cursor is the last id of the
    /// previous page).
    async fn scheduled_prices(
        &self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> StoreResult<Page<crate::ScheduledPrice>>;
}

/// Product data: a product's catalogue fields and what each channel carrying them
/// should show ([`crate::catalog`] holds the sequences every backend runs).
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Writes a bulk of product data in ONE transaction, all or nothing
    /// ([`crate::catalog::write_product_data`]); `Ok(Err(rows))` (nothing written)
    /// when rows name SKUs that are not products; else the number of targets marked.
    async fn write_product_data(
        &self,
        tenant: TenantId,
        rows: &[(String, ponte_core::catalog::ProductData)],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<u64, Vec<(usize, String)>>>;
    /// Stores the fields a channel carries and recomputes what it should show
    /// ([`crate::catalog::set_channel_catalog`]); how many targets.
    async fn set_channel_catalog(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        fields: &[ponte_core::catalog::CatalogField],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// A SKU's product data and every channel's value (`None` when it is not a
    /// product).
    async fn sku_catalog(
        &self,
        tenant: TenantId,
        sku: &str,
    ) -> StoreResult<Option<crate::catalog::SkuCatalog>>;
    /// The pending product data targets of up to `limit` of the channel's products
    /// (whole products), for the push job holding `lease`; `None` when the lease is
    /// lost or an older push job of the channel is running (as
    /// [`StockStore::claim_stock_targets`]).
    async fn claim_catalog_targets(
        &self,
        lease: &crate::JobLease,
        channel: ChannelId,
        limit: u32,
    ) -> StoreResult<Option<Vec<crate::catalog::CatalogTarget>>>;
    /// Records product data push calls and their effect on the targets, every call in
    /// the product data push history.
    async fn record_catalog_pushes(
        &self,
        tenant: TenantId,
        pushes: &[crate::catalog::CatalogPushRecord],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Product data push calls, newest first (of one channel, touching one SKU), in
    /// the shape of the stock history (items carry the fields).
    async fn catalog_pushes(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
        sku: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Page<crate::StockPush>>;
}

/// Token buckets shared by every instance (a platform's budget is per store and app,
/// not per process).
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Sets bucket `key` (a new one starts at `capacity`) to `next(tokens,
    /// elapsed_secs since its last update)` atomically across instances, and returns
    /// the `(tokens, elapsed_secs)` `next` was given.
    async fn update_bucket(
        &self,
        tenant: TenantId,
        key: &str,
        capacity: f64,
        now: DateTime<Utc>,
        next: &(dyn Fn(f64, f64) -> f64 + Sync),
    ) -> StoreResult<(f64, f64)>;

    /// Takes up to `want` tokens from bucket `key` (refilled at `per_sec` up to
    /// `capacity`), atomically across instances.
    async fn take_tokens(
        &self,
        tenant: TenantId,
        key: &str,
        want: u32,
        capacity: f64,
        per_sec: f64,
        now: DateTime<Utc>,
    ) -> StoreResult<RateGrant> {
        let take = |tokens, elapsed| crate::rate::take(tokens, elapsed, want, capacity, per_sec);
        let (tokens, elapsed) = self
            .update_bucket(tenant, key, capacity, now, &|t, e| take(t, e).0)
            .await?;
        Ok(take(tokens, elapsed).1)
    }

    /// Charges `n` tokens for calls already made (a page or send that took several
    /// requests) to bucket `key`, even below zero: later takers wait until it refills.
    async fn spend_tokens(
        &self,
        tenant: TenantId,
        key: &str,
        n: u32,
        capacity: f64,
        per_sec: f64,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let spend = |t, e| crate::rate::spend(t, e, n, capacity, per_sec);
        self.update_bucket(tenant, key, capacity, now, &spend)
            .await
            .map(|_| ())
    }
}

/// ERP actions and the status sends they cause (the outbound side).
///
/// An order's sends go out one at a time in `seq` order, run by one job per order
/// (kind [`SEND_JOB_KIND`], key [`send_job_key`], payload [`SendJob`]). Every attempt is
/// recorded as started BEFORE the platform call and finished after it, so a crash leaves
/// an `interrupted` attempt, never an unrecorded one.
#[async_trait]
pub trait SendStore: Send + Sync {
    /// Applies ERP actions in one transaction (group commit), in order; one result per
    /// action. Each is decided with `ponte_core::action::decide` against the stored
    /// status and fulfilment (as left by the actions before it), and when applied writes
    /// the order (status, fulfilment), the NF-e XML, a timeline entry and, when
    /// `send_max_attempts` is set, the status send (next `seq` of the order, state
    /// `pending`, or `blocked` when an earlier send of the order is failed or blocked)
    /// and, unless blocked, its order's send job (coalesced by key, due now). Serialized
    /// with imports of the same orders.
    async fn apply_actions(
        &self,
        batch: &[ActionCommit],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ActionApplied>> {
        Ok(self
            .apply_actions_and_start(batch, now, None)
            .await?
            .applied)
    }

    /// [`SendStore::apply_actions`], and with `start` the sends it queues are started in
    /// the same transaction ([`crate::claim::start_queued`]): leased to `start.owner`,
    /// budgeted and begun, ready for the platform call and `finish_sends`.
    async fn apply_actions_and_start(
        &self,
        batch: &[ActionCommit],
        now: DateTime<Utc>,
        start: Option<&crate::claim::StartSends<'_>>,
    ) -> StoreResult<ActionsApplied>;

    /// Records how sends ended ([`SendStore::finish_sends`]), then applies a batch of
    /// actions ([`SendStore::apply_actions_and_start`]). A single-writer store does both
    /// in one transaction: one commit where there were two, for the action committer
    /// that takes the finished sends with the next batch.
    async fn finish_and_apply(
        &self,
        finishes: &[SendFinish],
        batch: &[ActionCommit],
        now: DateTime<Utc>,
        start: Option<&crate::claim::StartSends<'_>>,
    ) -> StoreResult<(Vec<bool>, ActionsApplied)> {
        let finished = self.finish_sends(finishes, now).await?;
        let applied = self.apply_actions_and_start(batch, now, start).await?;
        Ok((finished, applied))
    }

    /// Begins claimed send jobs, in one transaction. For each job (lease checked): if
    /// another job of the same order is running (this one was enqueued meanwhile), this
    /// one is finished (`Idle`): the running one takes the new send when it finishes
    /// (PostgreSQL serializes this with `finish_sends` and `apply_action` by the order's
    /// lock). Otherwise takes
    /// the order's first send that has not succeeded: an attempt left `started` by a
    /// crash becomes `interrupted` and counts; a send out of attempts becomes `failed`
    /// (with `interrupted` as last error) and the sends after it `blocked`. When the head
    /// is `pending`, records a new attempt `started` (n = highest n + 1) and returns it;
    /// otherwise finishes the job (`Idle`).
    async fn begin_sends(
        &self,
        jobs: &[(JobLease, SendJob)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SendBegin>>;

    /// Claims due jobs, takes their channels' tokens and begins the send jobs within
    /// budget, in one transaction ([`crate::claim::claim_work`]).
    async fn claim_work(
        &self,
        req: &crate::claim::ClaimRequest<'_>,
        budgets: &std::collections::HashMap<ponte_core::ChannelId, crate::claim::Budget>,
    ) -> StoreResult<crate::claim::Claimed>;

    /// Records how attempts ended, in one transaction, each under its job's lease (false
    /// when it was lost: nothing written for it). Succeeded: send `succeeded`, last error
    /// cleared; the job runs again now if the order has another pending send, else it is
    /// done. Retry: attempt counted, job due at `run_at`. RateLimited / Held: not counted,
    /// job due at `run_at`. Failed: send `failed`, the order's later pending sends
    /// `blocked`, job done. Each attempt also becomes a timeline entry of the order.
    /// The attempts' extra calls are charged to their channels' buckets in the same
    /// transaction, lease or not (`send_plan::Charge`).
    async fn finish_sends(
        &self,
        batch: &[SendFinish],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<bool>>;

    /// Lists sends with their attempts, newest first.
    async fn status_sends(
        &self,
        tenant: TenantId,
        filter: &SendFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<StatusSend>>;

    /// One send with its attempts.
    async fn status_send(&self, tenant: TenantId, id: SendId) -> StoreResult<Option<StatusSend>>;

    /// The authorized NF-e XML stored with an order's invoice action, when one was given.
    async fn invoice_xml(&self, tenant: TenantId, order: OrderId) -> StoreResult<Option<String>>;

    /// Resends failed sends with a fresh attempt budget (history kept): they become
    /// `pending`, the sends they blocked `pending` again, and their orders' jobs are
    /// enqueued (due now). Returns the ids resent (sends not `failed` are left alone).
    async fn resend(
        &self,
        tenant: TenantId,
        selector: &ResendSelector,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SendId>>;

    /// Makes a channel's waiting send jobs due now (after its credentials changed).
    async fn wake_channel_sends(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

/// Outbound events (see [`crate::NewEvent`]): written by the other stores' transactions,
/// read here in commit order.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// A tenant's events after `q.after` in commit order (`seq` ascending), of the
    /// types asked, at most `q.limit`.
    async fn events(
        &self,
        tenant: TenantId,
        q: &crate::EventQuery,
    ) -> StoreResult<Vec<crate::Event>>;
}

/// Outbound webhooks ([`crate::webhooks`]): endpoints, the events queued for each, and
/// their delivery attempts. An endpoint's events of one order go out one at a time in
/// feed order: a message is claimed only when no earlier message of its order is
/// still pending for that endpoint (a failed one no longer holds the later ones).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint; it receives the tenant's events committed from now on.
    async fn insert_endpoint(&self, ep: &crate::webhooks::WebhookEndpoint) -> StoreResult<()>;
    /// An endpoint by id.
    async fn endpoint(
        &self,
        tenant: TenantId,
        id: ponte_core::EndpointId,
    ) -> StoreResult<Option<crate::webhooks::WebhookEndpoint>>;
    /// A tenant's endpoints, oldest first.
    async fn endpoints(
        &self,
        tenant: TenantId,
    ) -> StoreResult<Vec<crate::webhooks::WebhookEndpoint>>;
    /// Replaces an endpoint's fields (not its queue position); false when not found.
    async fn update_endpoint(&self, ep: &crate::webhooks::WebhookEndpoint) -> StoreResult<bool>;
    /// Deletes an endpoint with its queue and attempts; false when not found.
    async fn delete_endpoint(
        &self,
        tenant: TenantId,
        id: ponte_core::EndpointId,
    ) -> StoreResult<bool>;
    /// Queues the events committed since each enabled endpoint's last queueing that it
    /// wants ([`crate::webhooks::WebhookEndpoint::wants`]), up to `limit` events per
    /// endpoint; how many messages were queued. Safe from several instances at once.
    async fn queue_deliveries(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// Claims due messages of enabled endpoints (each the first pending one of its
    /// order for its endpoint), as many per endpoint as `slots` allows
    /// ([`crate::webhooks::DeliverySlots::allowances`]), under `owner`'s lease until
    /// `now + lease`, recording each attempt `started` (an attempt left `started` by a
    /// lost lease becomes `interrupted`).
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        slots: &crate::webhooks::DeliverySlots,
    ) -> StoreResult<Vec<crate::webhooks::ClaimedDelivery>>;
    /// Records how attempts ended ([`crate::webhooks::plan_finish`]), in one
    /// transaction, each under its lease (false when it was lost: nothing written).
    async fn finish_deliveries(
        &self,
        batch: &[crate::webhooks::DeliveryFinish],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<bool>>;
    /// One round of the delivery loop: records `done` (as
    /// [`Self::finish_deliveries`]), queues new events (as [`Self::queue_deliveries`],
    /// up to `queue_limit` per endpoint) and claims due messages (as
    /// [`Self::claim_deliveries`]). A backend may do the three in one transaction.
    async fn delivery_round(
        &self,
        done: &[crate::webhooks::DeliveryFinish],
        now: DateTime<Utc>,
        queue_limit: u32,
        owner: &str,
        lease: std::time::Duration,
        slots: &crate::webhooks::DeliverySlots,
    ) -> StoreResult<Vec<crate::webhooks::ClaimedDelivery>> {
        self.finish_deliveries(done, now).await?;
        self.queue_deliveries(now, queue_limit).await?;
        self.claim_deliveries(owner, now, lease, slots).await
    }
    /// An endpoint's attempts, newest first.
    async fn webhook_attempts(
        &self,
        tenant: TenantId,
        endpoint: ponte_core::EndpointId,
        page: &PageRequest,
    ) -> StoreResult<Page<crate::webhooks::WebhookAttempt>>;
    /// Every endpoint of the tenant (oldest first) with its messages pending and failed
    /// and its last attempts that succeeded and failed.
    async fn endpoint_deliveries(
        &self,
        tenant: TenantId,
    ) -> StoreResult<Vec<crate::webhooks::EndpointDeliveries>>;
    /// Queues again, due now with a fresh attempt budget, every event the endpoint
    /// wants committed at or after `since` (up to the endpoint's queue position);
    /// how many.
    async fn recover_deliveries(
        &self,
        tenant: TenantId,
        endpoint: ponte_core::EndpointId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Queues again, due now with a fresh attempt budget, the message of one attempt;
    /// false when the attempt is not the endpoint's.
    async fn resend_attempt(
        &self,
        tenant: TenantId,
        endpoint: ponte_core::EndpointId,
        attempt: ponte_core::AttemptId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

/// Housekeeping: retention deletes and the database's size.
#[async_trait]
pub trait MaintenanceStore: Send + Sync {
    /// Deletes up to `limit` records of kind `what` older than `cutoff` that its rule
    /// ([`Prunable`]) allows, in one short transaction; the number deleted. Safe to run
    /// from several instances at once.
    async fn prune(&self, what: Prunable, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// The database's size in bytes.
    async fn database_size(&self) -> StoreResult<u64>;
    /// Refreshes the query planner's statistics of the tables that changed much since
    /// they were last gathered; the tables refreshed. A burst on a fresh or fast-changing
    /// queue table otherwise leaves the planner believing it tiny (whole-table scans).
    async fn refresh_statistics(&self) -> StoreResult<Vec<String>>;
}

/// A channel's DE-PARA tables and what they leave unmapped.
#[async_trait]
pub trait MappingStore: Send + Sync {
    /// The rows saved for one of a channel's tables; `None` when never saved (the
    /// connector's defaults apply).
    async fn mapping(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        kind: MappingKind,
    ) -> StoreResult<Option<serde_json::Value>>;
    /// Replaces one of a channel's tables with `rows` (already checked).
    async fn set_mapping(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        kind: MappingKind,
        rows: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The channel's orders grouped by the platform values of `group`, each group with
    /// its count and one of its orders; most orders first.
    async fn order_groups(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        group: OrderGroup,
    ) -> StoreResult<Vec<OrderValueGroup>>;
}

/// Carrier accounts and what their carriers reported.
#[async_trait]
pub trait CarrierStore: Send + Sync {
    /// Adds a carrier account (a name the tenant already uses is a `Conflict`); a
    /// default account stops being default when another default is added.
    async fn insert_carrier_account(&self, account: &CarrierAccount) -> StoreResult<()>;
    /// A tenant's carrier accounts, oldest first.
    async fn carrier_accounts(&self, tenant: TenantId) -> StoreResult<Vec<CarrierAccount>>;
    /// Deletes a carrier account; false when there was none.
    async fn delete_carrier_account(
        &self,
        tenant: TenantId,
        id: CarrierAccountId,
    ) -> StoreResult<bool>;
    /// The tenant's shipped orders with a tracking code and no delivery ([`ShipmentToTrack::of`]),
    /// by id after `after`, reading at most `limit` shipped orders.
    async fn shipments_to_track(
        &self,
        tenant: TenantId,
        after: Option<OrderId>,
        limit: u32,
    ) -> StoreResult<(Vec<ShipmentToTrack>, Option<OrderId>)>;
    /// Records a poll in one transaction: each event not recorded before for its order
    /// (by key) becomes one timeline entry ([`tracking_notes`]); every polled order's
    /// poll time becomes `now`. Returns how many events were new.
    async fn record_tracking(
        &self,
        tenant: TenantId,
        polls: &[TrackingPoll],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

/// A complete storage backend.
pub trait Store:
    MappingStore
    + CarrierStore
    + crate::tickets::TicketStore
    + TenantStore
    + PeopleStore
    + ChannelStore
    + InboxStore
    + JobStore
    + OrderStore
    + SendStore
    + TaskStore
    + StockStore
    + PriceStore
    + CatalogStore
    + RateLimitStore
    + MaintenanceStore
    + EventStore
    + WebhookStore
{
    /// Backend name for logs and metrics (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;
    /// Whether write transactions all wait for one writer. Then an action batch starts
    /// the sends it queues itself (one transaction fewer per batch); with concurrent
    /// writers the claims do it beside the batches, which stay short (measured by
    /// `ponte-bench sends`: starting in the batch made PostgreSQL slower).
    fn single_writer(&self) -> bool;
}
