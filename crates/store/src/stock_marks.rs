//! Balance changes inside a transaction, one sequence for every backend: ledger
//! entries move the balances (read, folded in order, written back whole), then every
//! stock-showing listing of the SKUs they touched gets its new value, and each channel
//! left with a pending value gets its push job, in the same transaction.
//!
//! A backend implements [`MarksTx`] (locking, loading and writing SQL); the sequences
//! are [`apply_entries`] and [`mark_targets`]. Balances are written back whole, so a
//! caller takes [`MarksTx::lock_stock`] before anything it protects is read.

use crate::stock_plan::{
    desired_values, entry_level_keys, entry_skus, feed_level_keys, fold_entries, push_jobs, Feed,
    LedgerEntry, LevelKey, SkuKey,
};
use crate::{NewJob, PushState, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::stock::Balance;
use ponte_core::{ChannelId, TenantId};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The primitives of stock writes inside one transaction. Never called with an empty
/// batch.
#[async_trait]
pub trait MarksTx: Send {
    /// Serialises stock writers: the stock of these SKUs, or the whole stock of the
    /// tenants in `whole`, held until the transaction ends (called with both empty too).
    async fn lock_stock(&mut self, skus: &BTreeSet<SkuKey>, whole: &[TenantId]) -> StoreResult<()>;
    /// The stored balances among `keys`.
    async fn load_levels(
        &mut self,
        keys: &BTreeSet<LevelKey>,
    ) -> StoreResult<HashMap<LevelKey, Balance>>;
    /// Appends the entries to the ledger, in order.
    async fn write_ledger(
        &mut self,
        entries: &[LedgerEntry],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Writes the balances whole.
    async fn write_levels(
        &mut self,
        levels: &BTreeMap<LevelKey, Balance>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The listings of these SKUs on channels that show stock (only `channel`'s when
    /// given).
    async fn load_feeds(
        &mut self,
        skus: &BTreeSet<SkuKey>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<Feed>>;
    /// Stores each feed's value as its target's desired value (`force`: every target
    /// becomes pending); the tenant, channel and resulting state of each target.
    async fn write_targets(
        &mut self,
        values: &[(&Feed, i64)],
        force: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(TenantId, ChannelId, PushState)>>;
    /// Enqueues jobs (coalescing on their unique keys).
    async fn insert_jobs(&mut self, jobs: &[(TenantId, &NewJob)]) -> StoreResult<()>;
}

/// The conflict clause of the statement inserting targets as `pending` (columns
/// `tenant_id, channel_id, sku, product_id, variant_id, desired, changed_at, state`):
/// a target whose listing changed, or every one when `force` (the backend's boolean
/// parameter or literal) holds, becomes pending with no attempts; a new desired value
/// becomes pending and resets the attempts, even when it is the value last recorded as
/// pushed (a call carrying another value may have reached the platform unrecorded: the
/// process died during it, or it timed out); the same value keeps its state. `t` names
/// the stored row. Returns each target's tenant, channel and state.
pub fn target_upsert(t: &str, force: &str) -> String {
    let same =
        format!("{t}.product_id = excluded.product_id AND {t}.variant_id = excluded.variant_id");
    format!(
        " ON CONFLICT (tenant_id, channel_id, sku) DO UPDATE SET \
         state = CASE WHEN {force} THEN 'pending' \
           WHEN NOT ({same}) THEN 'pending' \
           WHEN {t}.desired = excluded.desired THEN {t}.state ELSE 'pending' END, \
         attempts = CASE WHEN {force} OR {t}.desired <> excluded.desired OR NOT ({same}) THEN 0 ELSE {t}.attempts END, \
         pushed = CASE WHEN {same} THEN {t}.pushed ELSE NULL END, \
         changed_at = CASE WHEN {t}.desired = excluded.desired THEN {t}.changed_at ELSE excluded.changed_at END, \
         desired = excluded.desired, product_id = excluded.product_id, variant_id = excluded.variant_id \
         RETURNING tenant_id, channel_id, state"
    )
}

/// Applies ledger entries in order: writes them and the resulting balances, then
/// marks the targets of every SKU they touched, and of `also_mark` (in one pass, so
/// that the transaction enqueues its push jobs once, in key order). The caller holds
/// the SKUs' locks.
pub async fn apply_entries<T: MarksTx + ?Sized>(
    tx: &mut T,
    entries: &[LedgerEntry],
    also_mark: &BTreeSet<SkuKey>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut skus = also_mark.clone();
    if !entries.is_empty() {
        let levels = tx.load_levels(&entry_level_keys(entries)).await?;
        // In key order: concurrent writers of other SKUs never wait on each other.
        let levels = fold_entries(levels, entries);
        tx.write_ledger(entries, now).await?;
        tx.write_levels(&levels, now).await?;
        skus.extend(entry_skus(entries));
    }
    mark_targets(tx, &skus, None, false, now).await
}

/// Recomputes what every stock-showing channel listing these SKUs (or only `channel`)
/// should show; a changed value becomes pending, `force` makes every one pending.
/// Enqueues the push job of each channel left with a pending value. The caller holds
/// the SKUs' locks.
pub async fn mark_targets<T: MarksTx + ?Sized>(
    tx: &mut T,
    skus: &BTreeSet<SkuKey>,
    channel: Option<ChannelId>,
    force: bool,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if skus.is_empty() {
        return Ok(());
    }
    let feeds = tx.load_feeds(skus, channel).await?;
    if feeds.is_empty() {
        return Ok(());
    }
    let keys = feed_level_keys(&feeds);
    let levels = if keys.is_empty() {
        HashMap::new()
    } else {
        tx.load_levels(&keys).await?
    };
    // One row per target (an upsert cannot touch a row twice), in key order.
    let values = desired_values(&feeds, &levels);
    let pending: BTreeSet<(TenantId, ChannelId)> = tx
        .write_targets(&values, force, now)
        .await?
        .into_iter()
        .filter(|(_, _, state)| *state == PushState::Pending)
        .map(|(t, c, _)| (t, c))
        .collect();
    let jobs = push_jobs(pending, now)?;
    if jobs.is_empty() {
        return Ok(());
    }
    let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|(t, j)| (*t, j)).collect();
    tx.insert_jobs(&refs).await
}
