//! What orders do to stock, inside the transaction that changed them, one sequence for
//! every backend: each order's effect per SKU in its channel's debit warehouse is
//! brought to what its state asks for (`ponte_core::stock::order_effect`), unknown SKUs
//! are recorded as unmapped lines, and lines with platform ids reveal listings.
//!
//! The caller holds the orders' locks (an order's data, effects and unmapped lines
//! only change under them), so those are read first; the stock locks of every SKU the
//! orders name or have moved come next, before anything they protect is read.

use crate::stock_marks::{apply_entries, MarksTx};
use crate::stock_plan::{
    order_lock_skus, order_skus, plan_order_effects, AppliedEffects, OrderStockEffect,
    OrderStockInput, RevealedListing, SkuKey, UnmappedLine,
};
use crate::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{OrderId, TenantId};
use std::collections::{BTreeSet, HashSet};

/// The primitives [`apply_order_effects`] runs. Never called with an empty batch.
#[async_trait]
pub trait OrderStockTx: MarksTx {
    /// The orders of these keys whose channel's sales move stock (orders of other
    /// channels are left as they are).
    async fn read_orders(
        &mut self,
        keys: &BTreeSet<(TenantId, OrderId)>,
    ) -> StoreResult<Vec<OrderStockInput>>;
    /// What these orders do to stock now.
    async fn read_applied(&mut self, orders: &[OrderStockInput]) -> StoreResult<AppliedEffects>;
    /// The SKUs among `skus` that are products.
    async fn read_products(&mut self, skus: &BTreeSet<SkuKey>) -> StoreResult<HashSet<SkuKey>>;
    /// Stores the orders' effects per SKU.
    async fn write_effects(&mut self, effects: &[OrderStockEffect]) -> StoreResult<()>;
    /// Deletes the unmapped lines of these orders.
    async fn delete_unmapped(&mut self, orders: &[OrderStockInput]) -> StoreResult<()>;
    /// Stores unmapped lines, seen at `now`.
    async fn insert_unmapped(
        &mut self,
        lines: &[UnmappedLine],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Adds the listings where the channel has none for the SKU; the SKUs of those
    /// added.
    async fn reveal_listings(
        &mut self,
        rows: &[RevealedListing],
        now: DateTime<Utc>,
    ) -> StoreResult<BTreeSet<SkuKey>>;
}

/// Brings the stock effect of these orders up to date (see the module doc), locking
/// the whole stock of the tenants in `whole` as well (a new product's transaction holds
/// it already).
pub async fn apply_order_effects<T: OrderStockTx + ?Sized>(
    tx: &mut T,
    orders: &[(TenantId, OrderId)],
    whole: &[TenantId],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    // An order twice in a batch (two actions on it) is brought up to date once.
    let keys: BTreeSet<(TenantId, OrderId)> = orders.iter().copied().collect();
    let touched = if keys.is_empty() {
        vec![]
    } else {
        tx.read_orders(&keys).await?
    };
    let applied = if touched.is_empty() {
        AppliedEffects::new()
    } else {
        tx.read_applied(&touched).await?
    };
    tx.lock_stock(&order_lock_skus(&touched, &applied), whole)
        .await?;
    if touched.is_empty() {
        return Ok(());
    }
    let mentioned = order_skus(&touched);
    let products = if mentioned.is_empty() {
        HashSet::new()
    } else {
        tx.read_products(&mentioned).await?
    };
    let plan = plan_order_effects(&touched, &products, &applied);
    if !plan.effects.is_empty() {
        tx.write_effects(&plan.effects).await?;
    }
    tx.delete_unmapped(&touched).await?;
    if !plan.unmapped.is_empty() {
        tx.insert_unmapped(&plan.unmapped, now).await?;
    }
    let marked = if plan.revealed.is_empty() {
        BTreeSet::new()
    } else {
        tx.reveal_listings(&plan.revealed, now).await?
    };
    apply_entries(tx, &plan.entries, &marked, now).await
}
