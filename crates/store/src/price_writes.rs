//! Price writes inside one transaction, one sequence each for every backend: a bulk of
//! prices (the current ones written with the timers of their window edges, the future
//! ones scheduled with their timer jobs), a scheduled price taking effect, a
//! cancellation, a channel's price settings, a window edge and a resync.
//! Each marks what every price-showing channel listing the SKUs should show and
//! enqueues the push job of every channel left with a pending price, in the same
//! transaction. A backend implements [`PriceTx`] (locking, loading and writing SQL).

use crate::prices::{
    edge_job, has_edge_at, price_text, schedule_job, ChannelPrices, NewPrice, PricesWritten,
    ScheduleState, ScheduledPrice,
};
use crate::target_marks::{
    mark, mark_channel, mark_feeds, refused_rows, Feed, TargetListing, TargetTx,
};
use crate::target_push::PushKind;
use crate::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::price::PriceValue;
use ponte_core::{ChannelId, ScheduledPriceId, TenantId};
use std::collections::{BTreeMap, BTreeSet};

/// A listing of a SKU with a price on a channel that shows prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceFeed {
    /// The listing.
    pub listing: TargetListing,
    /// The channel's markup (basis points).
    pub markup_bp: i64,
    /// The channel is pushed again when a promotional window opens or closes.
    pub window_edges: bool,
    /// The SKU's current price.
    pub price: PriceValue,
}

/// The primitives of price writes (with those every kind shares). Never called with an
/// empty batch.
#[async_trait]
pub trait PriceTx: TargetTx {
    /// Stores the SKUs' current prices (one row per SKU).
    async fn write_prices(
        &mut self,
        tenant: TenantId,
        rows: &BTreeMap<&str, &PriceValue>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Stores new scheduled prices.
    async fn insert_scheduled(
        &mut self,
        tenant: TenantId,
        rows: &[ScheduledPrice],
    ) -> StoreResult<()>;
    /// A scheduled price still waiting.
    async fn waiting_scheduled(
        &mut self,
        tenant: TenantId,
        id: ScheduledPriceId,
    ) -> StoreResult<Option<ScheduledPrice>>;
    /// Moves a scheduled price to `state` (applied or cancelled) at `now`.
    async fn settle_scheduled(
        &mut self,
        tenant: TenantId,
        id: ScheduledPriceId,
        state: ScheduleState,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Stores a channel's price settings.
    async fn write_channel_prices(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        settings: &ChannelPrices,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The SKUs whose current price has a promotional price and a window opening or
    /// closing at `at` (to the microsecond).
    async fn edge_skus(&mut self, tenant: TenantId, at: DateTime<Utc>) -> StoreResult<Vec<String>>;
    /// The listings of these SKUs that have a price, on channels that show prices
    /// (only `channel`'s when given).
    async fn load_price_feeds(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<PriceFeed>>;
    /// Sets the last error of these targets of the channel: (SKU, note).
    async fn note_price_targets(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        notes: &[(String, String)],
    ) -> StoreResult<()>;
}

/// Writes a bulk of prices, all or nothing: rows naming SKUs that are not products
/// refuse the batch (their row index and SKU). Rows due now set the current price
/// (the last row of a SKU wins); rows in the future become scheduled prices, each with
/// its timer job due at its time.
pub async fn write_prices<T: PriceTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    rows: &[NewPrice],
    now: DateTime<Utc>,
) -> StoreResult<Result<PricesWritten, Vec<(usize, String)>>> {
    tx.lock_targets(PushKind::PRICES, tenant).await?;
    let skus: BTreeSet<&str> = rows.iter().map(|r| r.sku.as_str()).collect();
    if skus.is_empty() {
        return Ok(Ok(PricesWritten {
            applied: 0,
            scheduled: vec![],
        }));
    }
    if let Some(refused) = refused_rows(tx, tenant, &skus, rows, |r| r.sku.as_str()).await? {
        return Ok(Err(refused));
    }
    let mut current: BTreeMap<&str, &PriceValue> = BTreeMap::new();
    let mut scheduled = Vec::new();
    let mut applied = 0;
    for r in rows {
        match r.effective_at.filter(|at| *at > now) {
            None => {
                applied += 1;
                current.insert(&r.sku, &r.value);
            }
            Some(at) => scheduled.push(ScheduledPrice {
                id: ScheduledPriceId::new(),
                sku: r.sku.clone(),
                value: r.value.clone(),
                effective_at: at,
                state: ScheduleState::Waiting,
                created_at: now,
                settled_at: None,
            }),
        }
    }
    if !scheduled.is_empty() {
        tx.insert_scheduled(tenant, &scheduled).await?;
        let jobs = scheduled
            .iter()
            .map(|s| schedule_job(s.id, s.effective_at))
            .collect::<StoreResult<Vec<_>>>()?;
        tx.insert_tenant_jobs(tenant, &jobs).await?;
    }
    if !current.is_empty() {
        tx.write_prices(tenant, &current, now).await?;
        insert_edge_jobs(tx, tenant, current.values().copied(), now).await?;
        let marked: BTreeSet<&str> = current.keys().copied().collect();
        mark::<PriceFeed, T>(tx, tenant, &marked, None, false, now).await?;
    }
    Ok(Ok(PricesWritten { applied, scheduled }))
}

/// Enqueues the timer of every window edge of these prices after `now` (one job per
/// moment: windows sharing an edge share its job).
async fn insert_edge_jobs<'a, T: PriceTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    values: impl Iterator<Item = &'a PriceValue>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let edges: BTreeSet<DateTime<Utc>> = values.flat_map(|v| v.window_edges_after(now)).collect();
    if edges.is_empty() {
        return Ok(());
    }
    let jobs = edges
        .into_iter()
        .map(edge_job)
        .collect::<StoreResult<Vec<_>>>()?;
    tx.insert_tenant_jobs(tenant, &jobs).await
}

/// Applies a scheduled price that is still waiting: it becomes the SKU's current
/// price and `applied`, and the SKU's targets are marked, in the caller's
/// transaction. `None` when it is not waiting (applied, cancelled or unknown): a timer
/// that fires twice changes nothing the second time.
pub async fn apply_scheduled<T: PriceTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    id: ScheduledPriceId,
    now: DateTime<Utc>,
) -> StoreResult<Option<ScheduledPrice>> {
    tx.lock_targets(PushKind::PRICES, tenant).await?;
    let Some(s) = tx.waiting_scheduled(tenant, id).await? else {
        return Ok(None);
    };
    let rows = BTreeMap::from([(s.sku.as_str(), &s.value)]);
    tx.write_prices(tenant, &rows, now).await?;
    insert_edge_jobs(tx, tenant, std::iter::once(&s.value), now).await?;
    tx.settle_scheduled(tenant, id, ScheduleState::Applied, now)
        .await?;
    let skus = BTreeSet::from([s.sku.as_str()]);
    mark::<PriceFeed, T>(tx, tenant, &skus, None, false, now).await?;
    Ok(Some(ScheduledPrice {
        state: ScheduleState::Applied,
        settled_at: Some(now),
        ..s
    }))
}

/// Cancels a scheduled price still waiting; false when it is not (its timer job then
/// finds nothing to apply).
pub async fn cancel_scheduled<T: PriceTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    id: ScheduledPriceId,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    tx.lock_targets(PushKind::PRICES, tenant).await?;
    if tx.waiting_scheduled(tenant, id).await?.is_none() {
        return Ok(false);
    }
    tx.settle_scheduled(tenant, id, ScheduleState::Cancelled, now)
        .await?;
    Ok(true)
}

/// Stores a channel's price settings and recomputes what it should show for every SKU
/// it lists (`force`: every one pending, pushed again even if unchanged).
pub async fn set_channel_prices<T: PriceTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    channel: ChannelId,
    settings: &ChannelPrices,
    force: bool,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    tx.lock_targets(PushKind::PRICES, tenant).await?;
    tx.write_channel_prices(tenant, channel, settings, now)
        .await?;
    mark_channel::<PriceFeed, T>(tx, tenant, channel, force, now).await
}

/// A window edge's timer: every SKU whose current price has a promotional window
/// opening or closing at `at` is pushed again (pending even if unchanged) to the
/// channels that keep no windows of their own, whose push jobs are enqueued. The
/// number of targets marked (none when the prices changed since: their writes
/// scheduled their own edges).
pub async fn mark_window_edge<T: PriceTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    tx.lock_targets(PushKind::PRICES, tenant).await?;
    let skus = tx.edge_skus(tenant, at).await?;
    let skus: BTreeSet<&str> = skus.iter().map(String::as_str).collect();
    if skus.is_empty() {
        return Ok(0);
    }
    let mut feeds = tx.load_price_feeds(tenant, &skus, None).await?;
    feeds.retain(|f| f.window_edges && has_edge_at(&f.price, at));
    mark_feeds(tx, tenant, &feeds, true, now).await
}

/// Makes every listing of the channel with a price pending again, pushed even if
/// unchanged; how many.
pub async fn resync_prices<T: PriceTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    channel: ChannelId,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    tx.lock_targets(PushKind::PRICES, tenant).await?;
    mark_channel::<PriceFeed, T>(tx, tenant, channel, true, now).await
}

/// Records the drift a price check found: each drifted target's last error says what
/// the channel shows; with `fix` they are pending again (pushed even if unchanged) and
/// the channel's push job is enqueued. How many targets were marked again.
pub async fn note_drift<T: PriceTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    channel: ChannelId,
    drifts: &[(String, String)],
    fix: bool,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    if drifts.is_empty() {
        return Ok(0);
    }
    tx.lock_targets(PushKind::PRICES, tenant).await?;
    tx.note_price_targets(tenant, channel, drifts).await?;
    if !fix {
        return Ok(0);
    }
    let skus: BTreeSet<&str> = drifts.iter().map(|(s, _)| s.as_str()).collect();
    mark::<PriceFeed, T>(tx, tenant, &skus, Some(channel), true, now).await
}

/// A listing's price is the SKU's current price with its channel's markup.
#[async_trait]
impl<T: PriceTx + ?Sized> Feed<T> for PriceFeed {
    const KIND: PushKind = PushKind::PRICES;

    async fn load(
        tx: &mut T,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<Self>> {
        tx.load_price_feeds(tenant, skus, channel).await
    }

    fn listing(&self) -> &TargetListing {
        &self.listing
    }

    fn desired(&self) -> StoreResult<String> {
        price_text(&self.price.with_markup(self.markup_bp))
    }
}
