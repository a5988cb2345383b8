//! The stock primitives inside a transaction ([`PgTx`], for the sequences of
//! `ponte_store::stock_marks`): the stock locks, reading and writing balances and the
//! ledger, and storing what each channel should show.
//!
//! Balances are read, changed in Rust and written back whole, so every transaction that
//! writes a SKU's stock (levels, ledger, listings, targets) first takes [`lock_stock`]
//! and only then reads what it will change. The global lock order is: orders (imports
//! and actions hold them already), then the tenants' stock keys, then the SKUs, each
//! group in key order and taken once per transaction, so writers never deadlock.

use crate::codec::{col, from_json, sku_lock_key, stock_lock_key};
use crate::db_err;
use crate::stock::{decode_balance, fetch};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::stock::Balance;
use ponte_core::{ChannelId, TenantId};
use ponte_store::stock_marks::{target_upsert, MarksTx};
use ponte_store::stock_plan::{Feed, LedgerEntry, LevelKey, SkuKey};
use ponte_store::stock_push::push_state;
use ponte_store::{NewJob, PushState, StoreResult};
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// A connection inside a transaction, as the store's stock sequences use it.
pub(crate) struct PgTx<'c>(pub(crate) &'c mut PgConnection);

/// SKUs of one tenant above which a transaction locks the tenant's whole stock instead
/// of each SKU: advisory locks live in a shared table of limited size
/// (`max_locks_per_transaction` × connections), and a movement batch may name
/// 100,000 SKUs.
const MAX_SKU_LOCKS: usize = 128;

/// Serializes stock writers: per tenant, the tenant's stock key shared and each SKU's
/// key exclusive, or the tenant's key exclusive when `whole` names the tenant (work on
/// a whole channel) or the SKUs are too many. Taken once per transaction, after any
/// order locks (see the module doc); asking again for locks the transaction holds is
/// granted at once (a new product's transaction holds its tenant's stock when it
/// brings the waiting orders up to date).
pub(crate) async fn lock_stock(
    conn: &mut PgConnection,
    skus: &BTreeSet<SkuKey>,
    whole: &[TenantId],
) -> StoreResult<()> {
    let mut per_tenant: BTreeMap<TenantId, Vec<&str>> = BTreeMap::new();
    for t in whole {
        per_tenant.entry(*t).or_default();
    }
    for (t, sku) in skus {
        per_tenant.entry(*t).or_default().push(sku);
    }
    if per_tenant.is_empty() {
        return Ok(());
    }
    let mut tenant_keys: Vec<(i64, bool)> = Vec::with_capacity(per_tenant.len());
    let mut sku_keys: Vec<i64> = Vec::new();
    for (t, list) in &per_tenant {
        let exclusive = whole.contains(t) || list.len() > MAX_SKU_LOCKS;
        tenant_keys.push((stock_lock_key(t.0), exclusive));
        if !exclusive {
            sku_keys.extend(list.iter().map(|s| sku_lock_key(t.0, s)));
        }
    }
    // Exclusive first if two keys ever collide (the second request is then granted).
    tenant_keys.sort_unstable_by_key(|(k, x)| (*k, !*x));
    tenant_keys.dedup_by_key(|(k, _)| *k);
    sku_keys.sort_unstable();
    sku_keys.dedup();
    let (keys, exclusive): (Vec<i64>, Vec<bool>) = tenant_keys
        .into_iter()
        .chain(sku_keys.into_iter().map(|k| (k, true)))
        .unzip();
    // Taken in array order.
    sqlx::query(
        "SELECT CASE WHEN x THEN pg_advisory_xact_lock(k) ELSE pg_advisory_xact_lock_shared(k) END \
         FROM UNNEST($1::bigint[], $2::boolean[]) AS u (k, x)",
    )
    .bind(keys)
    .bind(exclusive)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl MarksTx for PgTx<'_> {
    async fn lock_stock(&mut self, skus: &BTreeSet<SkuKey>, whole: &[TenantId]) -> StoreResult<()> {
        lock_stock(self.0, skus, whole).await
    }

    async fn load_levels(
        &mut self,
        keys: &BTreeSet<LevelKey>,
    ) -> StoreResult<HashMap<LevelKey, Balance>> {
        let tenants: Vec<Uuid> = keys.iter().map(|k| k.0 .0).collect();
        let skus: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
        let warehouses: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
        let q = sqlx::query(
            "SELECT s.tenant_id, s.sku, s.warehouse, s.physical, s.reserved \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[]) AS k (t, sku, wh) \
             JOIN stock_levels s ON s.tenant_id = k.t AND s.sku = k.sku AND s.warehouse = k.wh",
        )
        .bind(tenants)
        .bind(skus)
        .bind(warehouses);
        let rows = fetch(q, &mut *self.0, |r| {
            let key = (
                TenantId(col(r, "tenant_id")?),
                col(r, "sku")?,
                col(r, "warehouse")?,
            );
            Ok((key, decode_balance(r)?))
        })
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// In order: their `seq` follows it.
    async fn write_ledger(
        &mut self,
        entries: &[LedgerEntry],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let tenants: Vec<Uuid> = entries.iter().map(|e| e.tenant.0).collect();
        let skus: Vec<&str> = entries.iter().map(|e| e.sku.as_str()).collect();
        let warehouses: Vec<&str> = entries.iter().map(|e| e.warehouse.as_str()).collect();
        let kinds: Vec<&str> = entries.iter().map(|e| e.change.kind()).collect();
        let quantities: Vec<i64> = entries.iter().map(|e| e.change.quantity()).collect();
        let reasons: Vec<&str> = entries.iter().map(|e| e.reason.as_str()).collect();
        let orders: Vec<Option<Uuid>> = entries.iter().map(|e| e.order.map(|o| o.0)).collect();
        sqlx::query(
            "INSERT INTO stock_ledger (tenant_id, sku, warehouse, kind, quantity, reason, order_id, at) \
             SELECT t, sku, wh, kind, q, reason, o, $8 \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::uuid[]) \
               WITH ORDINALITY AS u (t, sku, wh, kind, q, reason, o, n) \
             ORDER BY n",
        )
        .bind(tenants)
        .bind(skus)
        .bind(warehouses)
        .bind(kinds)
        .bind(quantities)
        .bind(reasons)
        .bind(orders)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Read under the SKUs' locks.
    async fn write_levels(
        &mut self,
        rows: &BTreeMap<LevelKey, Balance>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let tenants: Vec<Uuid> = rows.keys().map(|k| k.0 .0).collect();
        let skus: Vec<&str> = rows.keys().map(|k| k.1.as_str()).collect();
        let warehouses: Vec<&str> = rows.keys().map(|k| k.2.as_str()).collect();
        let physical: Vec<i64> = rows.values().map(|b| b.physical).collect();
        let reserved: Vec<i64> = rows.values().map(|b| b.reserved).collect();
        sqlx::query(
            "INSERT INTO stock_levels (tenant_id, sku, warehouse, physical, reserved, updated_at) \
             SELECT t, sku, wh, p, r, $6 \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS u (t, sku, wh, p, r) \
             ON CONFLICT (tenant_id, sku, warehouse) DO UPDATE SET physical = EXCLUDED.physical, \
               reserved = EXCLUDED.reserved, updated_at = EXCLUDED.updated_at",
        )
        .bind(tenants)
        .bind(skus)
        .bind(warehouses)
        .bind(physical)
        .bind(reserved)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn load_feeds(
        &mut self,
        skus: &BTreeSet<SkuKey>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<Feed>> {
        let tenants: Vec<Uuid> = skus.iter().map(|k| k.0 .0).collect();
        let names: Vec<&str> = skus.iter().map(|k| k.1.as_str()).collect();
        let q = sqlx::query(
            "SELECT l.tenant_id, l.channel_id, l.sku, l.product_id, l.variant_id, cs.warehouses, cs.buffer \
             FROM UNNEST($1::uuid[], $2::text[]) AS k (t, sku) \
             JOIN listings l ON l.tenant_id = k.t AND l.sku = k.sku \
             JOIN channel_stock cs ON cs.tenant_id = l.tenant_id AND cs.channel_id = l.channel_id AND cs.send_stock \
             WHERE $3::uuid IS NULL OR l.channel_id = $3",
        )
        .bind(tenants)
        .bind(names)
        .bind(channel.map(|c| c.0));
        fetch(q, &mut *self.0, |r| {
            Ok(Feed {
                tenant: TenantId(col(r, "tenant_id")?),
                channel: ChannelId(col(r, "channel_id")?),
                sku: col(r, "sku")?,
                product_id: col(r, "product_id")?,
                variant_id: col(r, "variant_id")?,
                warehouses: from_json(col(r, "warehouses")?)?,
                buffer: col(r, "buffer")?,
            })
        })
        .await
    }

    async fn write_targets(
        &mut self,
        rows: &[(&Feed, i64)],
        force: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(TenantId, ChannelId, PushState)>> {
        let q = format!(
            "INSERT INTO stock_targets AS st (tenant_id, channel_id, sku, product_id, variant_id, desired, changed_at, state) \
             SELECT t, c, sku, p, v, d, $7, 'pending' \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u (t, c, sku, p, v, d){}",
            target_upsert("st", "$8")
        );
        let q = sqlx::query(&q)
            .bind(rows.iter().map(|(f, _)| f.tenant.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|(f, _)| f.channel.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|(f, _)| f.sku.as_str()).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|(f, _)| f.product_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|(f, _)| f.variant_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|(_, v)| *v).collect::<Vec<_>>())
            .bind(now)
            .bind(force);
        fetch(q, &mut *self.0, |r| {
            Ok((
                TenantId(col(r, "tenant_id")?),
                ChannelId(col(r, "channel_id")?),
                push_state(&col::<String>(r, "state")?)?,
            ))
        })
        .await
    }

    async fn insert_jobs(&mut self, jobs: &[(TenantId, &NewJob)]) -> StoreResult<()> {
        crate::jobs::insert_jobs(self.0, jobs).await
    }
}
