//! Balance changes inside a transaction: the stock locks, writing levels and the
//! ledger, and marking what each channel should show (computed by
//! `ponte_core::stock`), with the channels' push jobs enqueued in the same transaction.
//!
//! Balances are read, changed in Rust and written back whole, so every transaction that
//! writes a SKU's stock (levels, ledger, listings, targets) first takes [`lock_stock`]
//! and only then reads what it will change. The global lock order is: orders (imports
//! and actions hold them already), then the tenants' stock keys, then the SKUs, each
//! group in key order and taken once per transaction, so writers never deadlock.

use crate::codec::{col, sku_lock_key, stock_lock_key};
use crate::db_err;
use crate::jobs::insert_jobs;
use chrono::{DateTime, Utc};
use ponte_core::stock::Balance;
use ponte_core::{ChannelId, TenantId};
use ponte_store::stock_plan::{
    desired_values, entry_level_keys, entry_skus, feed_level_keys, fold_entries, push_jobs, Feed,
    LedgerEntry, LevelKey, SkuKey,
};
use ponte_store::{NewJob, StoreResult};
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

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

/// Current balances of (tenant, SKU, warehouse) triples.
pub(crate) async fn load_levels(
    conn: &mut PgConnection,
    keys: &BTreeSet<LevelKey>,
) -> StoreResult<HashMap<LevelKey, Balance>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let tenants: Vec<Uuid> = keys.iter().map(|k| k.0 .0).collect();
    let skus: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let warehouses: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
    let rows = sqlx::query(
        "SELECT s.tenant_id, s.sku, s.warehouse, s.physical, s.reserved \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[]) AS k (t, sku, wh) \
         JOIN stock_levels s ON s.tenant_id = k.t AND s.sku = k.sku AND s.warehouse = k.wh",
    )
    .bind(tenants)
    .bind(skus)
    .bind(warehouses)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok((
                (
                    TenantId(col(r, "tenant_id")?),
                    col(r, "sku")?,
                    col(r, "warehouse")?,
                ),
                Balance {
                    physical: col(r, "physical")?,
                    reserved: col(r, "reserved")?,
                },
            ))
        })
        .collect()
}

/// Applies ledger entries in order: writes them and the resulting balances, then
/// marks the targets of every SKU they touched, and of `also_mark` (in one pass, so
/// that the transaction enqueues its push jobs once, in key order). The caller holds
/// the SKUs' locks ([`lock_stock`]).
pub(crate) async fn apply_entries(
    conn: &mut PgConnection,
    entries: &[LedgerEntry],
    also_mark: &BTreeSet<SkuKey>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut skus: BTreeSet<SkuKey> = also_mark.clone();
    if !entries.is_empty() {
        let levels = load_levels(conn, &entry_level_keys(entries)).await?;
        // In key order: concurrent writers of other SKUs never wait on each other.
        let levels = fold_entries(levels, entries);
        write_ledger(conn, entries, now).await?;
        write_levels(conn, &levels, now).await?;
        skus.extend(entry_skus(entries));
    }
    mark_targets(conn, &skus, None, false, now).await
}

/// Appends the entries to the ledger, in order (their `seq` follows it).
async fn write_ledger(
    conn: &mut PgConnection,
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
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Writes balances whole (they were read under the SKUs' locks).
async fn write_levels(
    conn: &mut PgConnection,
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
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Recomputes what every stock-showing channel listing these SKUs (or only `channel`)
/// should show; a changed value becomes pending (or `pushed` again if it is what the
/// channel last took), `force` makes every one pending. Enqueues the push job of each
/// channel left with a pending value. The caller holds the SKUs' locks.
pub(crate) async fn mark_targets(
    conn: &mut PgConnection,
    skus: &BTreeSet<SkuKey>,
    channel: Option<ChannelId>,
    force: bool,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if skus.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = skus.iter().map(|k| k.0 .0).collect();
    let names: Vec<&str> = skus.iter().map(|k| k.1.as_str()).collect();
    let feeds = sqlx::query(
        "SELECT l.tenant_id, l.channel_id, l.sku, l.product_id, l.variant_id, cs.warehouses, cs.buffer \
         FROM UNNEST($1::uuid[], $2::text[]) AS k (t, sku) \
         JOIN listings l ON l.tenant_id = k.t AND l.sku = k.sku \
         JOIN channel_stock cs ON cs.tenant_id = l.tenant_id AND cs.channel_id = l.channel_id AND cs.send_stock \
         WHERE $3::uuid IS NULL OR l.channel_id = $3",
    )
    .bind(tenants)
    .bind(names)
    .bind(channel.map(|c| c.0))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        Ok(Feed {
            tenant: TenantId(col(r, "tenant_id")?),
            channel: ChannelId(col(r, "channel_id")?),
            sku: col(r, "sku")?,
            product_id: col(r, "product_id")?,
            variant_id: col(r, "variant_id")?,
            warehouses: crate::codec::from_json(col(r, "warehouses")?)?,
            buffer: col(r, "buffer")?,
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    if feeds.is_empty() {
        return Ok(());
    }
    let levels = load_levels(conn, &feed_level_keys(&feeds)).await?;
    // One row per target (an upsert cannot touch a row twice), in key order.
    let rows = desired_values(&feeds, &levels);
    let same = "st.product_id = EXCLUDED.product_id AND st.variant_id = EXCLUDED.variant_id";
    let changed = sqlx::query(&format!(
        "INSERT INTO stock_targets AS st (tenant_id, channel_id, sku, product_id, variant_id, desired, changed_at, state) \
         SELECT t, c, sku, p, v, d, $7, 'pending' \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u (t, c, sku, p, v, d) \
         ON CONFLICT (tenant_id, channel_id, sku) DO UPDATE SET \
           state = CASE WHEN $8 THEN 'pending' \
             WHEN NOT ({same}) THEN 'pending' \
             WHEN st.desired = EXCLUDED.desired THEN st.state \
             WHEN st.pushed = EXCLUDED.desired THEN 'pushed' ELSE 'pending' END, \
           attempts = CASE WHEN $8 OR st.desired <> EXCLUDED.desired OR NOT ({same}) THEN 0 ELSE st.attempts END, \
           pushed = CASE WHEN {same} THEN st.pushed ELSE NULL END, \
           changed_at = CASE WHEN st.desired = EXCLUDED.desired THEN st.changed_at ELSE EXCLUDED.changed_at END, \
           desired = EXCLUDED.desired, product_id = EXCLUDED.product_id, variant_id = EXCLUDED.variant_id \
         RETURNING tenant_id, channel_id, state"
    ))
    .bind(rows.iter().map(|(f, _)| f.tenant.0).collect::<Vec<_>>())
    .bind(rows.iter().map(|(f, _)| f.channel.0).collect::<Vec<_>>())
    .bind(rows.iter().map(|(f, _)| f.sku.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|(f, _)| f.product_id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|(f, _)| f.variant_id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, v)| *v).collect::<Vec<_>>())
    .bind(now)
    .bind(force)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut pending: BTreeSet<(TenantId, ChannelId)> = BTreeSet::new();
    for r in &changed {
        if col::<String>(r, "state")? == "pending" {
            pending.insert((
                TenantId(col(r, "tenant_id")?),
                ChannelId(col(r, "channel_id")?),
            ));
        }
    }
    enqueue_pushes(conn, pending.into_iter(), now).await
}

/// Enqueues (coalesced) the push job of each channel.
pub(crate) async fn enqueue_pushes(
    conn: &mut PgConnection,
    channels: impl Iterator<Item = (TenantId, ChannelId)>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let jobs = push_jobs(channels, now)?;
    let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|(t, j)| (*t, j)).collect();
    insert_jobs(conn, &refs).await
}
