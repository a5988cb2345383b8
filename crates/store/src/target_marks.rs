//! Writing the targets of a kind kept under one tenant-wide lock (prices, product
//! data), for every backend: what each listing's channel should show, the push job of
//! every channel left with a pending value, and the recorded calls. A backend
//! implements [`TargetTx`] once for every such kind ([`PushKind`] names the tables).

use crate::target_push::{PushCall, PushKind, PushRow};
use crate::{NewJob, PushState, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use std::collections::{BTreeMap, BTreeSet};

/// A SKU's listing on a channel: where a target's value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetListing {
    /// Channel.
    pub channel: ChannelId,
    /// SKU.
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
}

/// What one channel should show for a listed SKU: the value as the targets store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetValue<'a> {
    /// The listing.
    pub listing: &'a TargetListing,
    /// The stored value.
    pub desired: String,
}

/// The primitives every kind's writes share. Never called with an empty batch.
#[async_trait]
pub trait TargetTx: Send {
    /// Serialises the tenant's writers of `kind` until the transaction ends.
    async fn lock_targets(&mut self, kind: PushKind, tenant: TenantId) -> StoreResult<()>;
    /// The SKUs among `skus` that are not products.
    async fn unknown_skus(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
    ) -> StoreResult<Vec<String>>;
    /// Every SKU the channel lists.
    async fn listed_skus(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<Vec<String>>;
    /// Stores each value as its target's desired one with the conflict rule of
    /// `crate::stock_marks::target_upsert`; the channel and resulting state of each.
    async fn upsert_targets(
        &mut self,
        kind: PushKind,
        tenant: TenantId,
        values: &[TargetValue<'_>],
        force: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(ChannelId, PushState)>>;
    /// Enqueues jobs (coalescing on their unique keys).
    async fn insert_tenant_jobs(&mut self, tenant: TenantId, jobs: &[NewJob]) -> StoreResult<()>;
    /// Stores a push call, the SKUs it sent and its effect on their targets of its
    /// channel ([`PushRow::target_set`]).
    async fn write_call(
        &mut self,
        kind: PushKind,
        tenant: TenantId,
        row: &PushRow<'_, String>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// What a listing's target of one kind is derived from (prices, product data), and how
/// a backend's transaction `T` loads it.
#[async_trait]
pub trait Feed<T: TargetTx + ?Sized>: Sized + Send + Sync {
    /// The kind.
    const KIND: PushKind;
    /// The feeds of these SKUs' listings on channels of the kind (only `channel`'s
    /// when given).
    async fn load(
        tx: &mut T,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<Self>>;
    /// The listing it feeds.
    fn listing(&self) -> &TargetListing;
    /// What the listing's channel should show, as stored.
    fn desired(&self) -> StoreResult<String>;
}

/// Marks the targets of kind `F` of new or changed listings (after they are written,
/// in the same transaction).
pub async fn mark_listings<F: Feed<T>, T: TargetTx + ?Sized>(
    tx: &mut T,
    listings: &[crate::Listing],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for (tenant, skus) in crate::Listing::skus_by_tenant(listings) {
        tx.lock_targets(F::KIND, tenant).await?;
        mark::<F, T>(tx, tenant, &skus, None, false, now).await?;
    }
    Ok(())
}

/// Recomputes what the channel should show for every SKU it lists (`force`: every
/// one pending, pushed again even if unchanged); how many targets.
pub async fn mark_channel<F: Feed<T>, T: TargetTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    channel: ChannelId,
    force: bool,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let listed = tx.listed_skus(tenant, channel).await?;
    let skus: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    mark::<F, T>(tx, tenant, &skus, Some(channel), force, now).await
}

/// Recomputes what every channel of kind `F` listing these SKUs (or only `channel`)
/// should show. A changed value becomes pending (every one with `force`); each
/// channel left with a pending value gets its push job. The number of targets written.
pub async fn mark<F: Feed<T>, T: TargetTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    skus: &BTreeSet<&str>,
    channel: Option<ChannelId>,
    force: bool,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    if skus.is_empty() {
        return Ok(0);
    }
    let feeds = F::load(tx, tenant, skus, channel).await?;
    mark_feeds(tx, tenant, &feeds, force, now).await
}

/// Writes what each feed's channel should show (see [`mark`]).
pub async fn mark_feeds<F: Feed<T>, T: TargetTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    feeds: &[F],
    force: bool,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let values = feeds
        .iter()
        .map(|f| {
            Ok(TargetValue {
                listing: f.listing(),
                desired: f.desired()?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    mark_targets(tx, F::KIND, tenant, values, force, now).await
}

/// Writes what each listing's channel should show (one value per target: the last
/// given wins) and enqueues the push job of every channel left with a pending value.
/// The number of targets written.
pub async fn mark_targets<'a, T: TargetTx + ?Sized>(
    tx: &mut T,
    kind: PushKind,
    tenant: TenantId,
    values: impl IntoIterator<Item = TargetValue<'a>>,
    force: bool,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    // One row per target (an upsert cannot touch a row twice), in key order.
    let by_key: BTreeMap<(ChannelId, &str), TargetValue<'a>> = values
        .into_iter()
        .map(|v| ((v.listing.channel, v.listing.sku.as_str()), v))
        .collect();
    if by_key.is_empty() {
        return Ok(0);
    }
    let values: Vec<TargetValue<'a>> = by_key.into_values().collect();
    let written = tx.upsert_targets(kind, tenant, &values, force, now).await?;
    let pending: BTreeSet<ChannelId> = written
        .iter()
        .filter(|(_, s)| *s == PushState::Pending)
        .map(|(c, _)| *c)
        .collect();
    let jobs = pending
        .into_iter()
        .map(|c| kind.push_job(c, now))
        .collect::<StoreResult<Vec<_>>>()?;
    if !jobs.is_empty() {
        tx.insert_tenant_jobs(tenant, &jobs).await?;
    }
    Ok(u64::try_from(written.len()).unwrap_or(u64::MAX))
}

/// Records push calls and their effect on the targets, under the tenant's lock of
/// `kind`.
pub async fn record_calls<T: TargetTx + ?Sized, C: PushCall<Stored = String>>(
    tx: &mut T,
    kind: PushKind,
    tenant: TenantId,
    pushes: &[C],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    tx.lock_targets(kind, tenant).await?;
    for p in pushes {
        tx.write_call(kind, tenant, &PushRow::new(p)?, now).await?;
    }
    Ok(())
}

/// The rows naming SKUs that are not products (their index and SKU), when any: a
/// bulk write refuses them all.
pub async fn refused_rows<T: TargetTx + ?Sized, R>(
    tx: &mut T,
    tenant: TenantId,
    skus: &BTreeSet<&str>,
    rows: &[R],
    sku: impl Fn(&R) -> &str,
) -> StoreResult<Option<Vec<(usize, String)>>> {
    let unknown = tx.unknown_skus(tenant, skus).await?;
    if unknown.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        rows.iter()
            .enumerate()
            .filter(|(_, r)| unknown.iter().any(|u| u == sku(r)))
            .map(|(i, r)| (i, sku(r).to_owned()))
            .collect(),
    ))
}
