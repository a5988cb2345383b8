//! The catalogue and settings writes of the stock store, one sequence each for every
//! backend: listings, a channel's stock settings, a resync and movements. Each runs in
//! one transaction the backend opens and commits; the backend implements
//! [`StockWritesTx`] (loading and writing SQL). Every one takes the stock locks before
//! it reads what they protect.

use crate::stock_marks::{apply_entries, mark_targets, MarksTx};
use crate::stock_plan::{
    listing_rows, movement_entries, refuse_unknown_skus, refuse_unknown_warehouses, SkuKey,
};
use crate::{ChannelStock, Listing, MovementsRefused, NewMovement, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use std::collections::BTreeSet;

/// The primitives of the catalogue and settings writes. Never called with an empty
/// batch.
#[async_trait]
pub trait StockWritesTx: MarksTx {
    /// The SKUs among `skus` that are not products.
    async fn unknown_skus(&mut self, skus: &BTreeSet<SkuKey>) -> StoreResult<Vec<String>>;
    /// The codes of the tenant's warehouses.
    async fn warehouse_codes(&mut self, tenant: TenantId) -> StoreResult<BTreeSet<String>>;
    /// Adds or replaces listings (at most one per tenant, channel and SKU).
    async fn write_listings(&mut self, rows: &[&Listing]) -> StoreResult<()>;
    /// Stores a channel's stock settings.
    async fn write_channel_stock(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        settings: &ChannelStock,
    ) -> StoreResult<()>;
    /// Every SKU a channel lists.
    async fn channel_skus(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<Vec<String>>;
}

/// The SKUs among `skus` that are not products (none asked, none unknown).
async fn unknown_skus<T: StockWritesTx + ?Sized>(
    tx: &mut T,
    skus: &BTreeSet<SkuKey>,
) -> StoreResult<Vec<String>> {
    if skus.is_empty() {
        return Ok(vec![]);
    }
    tx.unknown_skus(skus).await
}

/// Every SKU the channel lists.
async fn channel_skus<T: StockWritesTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    channel: ChannelId,
) -> StoreResult<BTreeSet<SkuKey>> {
    Ok(tx
        .channel_skus(tenant, channel)
        .await?
        .into_iter()
        .map(|s| (tenant, s))
        .collect())
}

/// Adds or replaces listings (the last one given for a target wins) and marks their
/// SKUs' targets; the SKUs that are not products (nothing written) when there are any.
pub async fn upsert_listings<T: StockWritesTx + ?Sized>(
    tx: &mut T,
    listings: &[Listing],
    now: DateTime<Utc>,
) -> StoreResult<Result<(), Vec<String>>> {
    let skus: BTreeSet<SkuKey> = listings
        .iter()
        .map(|l| (l.tenant_id, l.sku.clone()))
        .collect();
    let unknown = unknown_skus(tx, &skus).await?;
    if !unknown.is_empty() {
        return Ok(Err(unknown));
    }
    tx.lock_stock(&skus, &[]).await?;
    let rows = listing_rows(listings);
    if !rows.is_empty() {
        tx.write_listings(&rows).await?;
    }
    mark_targets(tx, &skus, None, false, now).await?;
    Ok(Ok(()))
}

/// Stores a channel's stock settings and recomputes its targets.
pub async fn set_channel_stock<T: StockWritesTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    channel: ChannelId,
    settings: &ChannelStock,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    // Every target of the channel changes: the tenant's whole stock, so that no
    // listing appears or balance moves while they are recomputed.
    tx.lock_stock(&BTreeSet::new(), &[tenant]).await?;
    tx.write_channel_stock(tenant, channel, settings).await?;
    let skus = channel_skus(tx, tenant, channel).await?;
    mark_targets(tx, &skus, Some(channel), false, now).await
}

/// Makes every target of the channel pending; how many SKUs it lists.
pub async fn resync_stock<T: StockWritesTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    channel: ChannelId,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    // Every listing of the channel: the tenant's whole stock (see set_channel_stock).
    tx.lock_stock(&BTreeSet::new(), &[tenant]).await?;
    let skus = channel_skus(tx, tenant, channel).await?;
    mark_targets(tx, &skus, Some(channel), true, now).await?;
    Ok(skus.len() as u64)
}

/// Records a batch of movements, all or none: refused when a SKU is not a product or
/// a warehouse does not exist; else how many were recorded.
pub async fn record_movements<T: StockWritesTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    batch: &[NewMovement],
    now: DateTime<Utc>,
) -> StoreResult<Result<u64, MovementsRefused>> {
    let skus: BTreeSet<SkuKey> = batch.iter().map(|m| (tenant, m.sku.clone())).collect();
    let unknown: BTreeSet<String> = unknown_skus(tx, &skus).await?.into_iter().collect();
    if let Some(refused) = refuse_unknown_skus(batch, &unknown) {
        return Ok(Err(refused));
    }
    let known = tx.warehouse_codes(tenant).await?;
    if let Some(refused) = refuse_unknown_warehouses(batch, &known) {
        return Ok(Err(refused));
    }
    // Before the balances are read: they are written back whole.
    tx.lock_stock(&skus, &[]).await?;
    let entries = movement_entries(tenant, batch);
    apply_entries(tx, &entries, &BTreeSet::new(), now).await?;
    Ok(Ok(batch.len() as u64))
}
