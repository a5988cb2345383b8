//! Balance changes inside a transaction: writing levels and the ledger, and marking
//! what each channel should show (computed by `ponte_core::stock`), with the
//! channels' push jobs enqueued in the same transaction.

use crate::codec::{col, pow2_chunks, ts};
use crate::db_err;
use crate::jobs::insert_jobs;
use chrono::{DateTime, Utc};
use ponte_core::stock::Balance;
use ponte_core::{ChannelId, TenantId};
use ponte_store::stock_plan::{
    desired_values, entry_level_keys, entry_skus, feed_level_keys, fold_entries, push_jobs, Feed,
    LedgerEntry, LevelKey, SkuKey,
};
use ponte_store::{NewJob, StoreError, StoreResult};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Current balances of (tenant, SKU, warehouse) triples.
pub(crate) async fn load_levels(
    conn: &mut SqliteConnection,
    keys: &BTreeSet<LevelKey>,
) -> StoreResult<HashMap<LevelKey, Balance>> {
    let json = serde_json::to_string(
        &keys
            .iter()
            .map(|(t, s, w)| (t.to_string(), s, w))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let rows = sqlx::query(
        "SELECT s.tenant_id, s.sku, s.warehouse, s.physical, s.reserved FROM json_each(?) j \
         JOIN stock_levels s ON s.tenant_id = json_extract(j.value, '$[0]') \
         AND s.sku = json_extract(j.value, '$[1]') AND s.warehouse = json_extract(j.value, '$[2]')",
    )
    .bind(json)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok((
                (
                    crate::codec::id(col(r, "tenant_id")?)?,
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
/// marks the targets of every SKU they touched, and of `also_mark` (in one pass).
pub(crate) async fn apply_entries(
    conn: &mut SqliteConnection,
    entries: &[LedgerEntry],
    also_mark: &BTreeSet<SkuKey>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut skus: BTreeSet<SkuKey> = also_mark.clone();
    if !entries.is_empty() {
        let levels = load_levels(conn, &entry_level_keys(entries)).await?;
        let levels = fold_entries(levels, entries);
        write_ledger(conn, entries, now).await?;
        write_levels(conn, &levels, now).await?;
        skus.extend(entry_skus(entries));
    }
    mark_targets(conn, &skus, None, false, now).await
}

/// Appends the entries to the ledger, in order.
async fn write_ledger(
    conn: &mut SqliteConnection,
    entries: &[LedgerEntry],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for chunk in pow2_chunks(entries) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO stock_ledger (tenant_id, sku, warehouse, kind, quantity, reason, order_id, at) ",
        );
        q.push_values(chunk, |mut b, e| {
            b.push_bind(e.tenant.to_string())
                .push_bind(&e.sku)
                .push_bind(&e.warehouse)
                .push_bind(e.change.kind())
                .push_bind(e.change.quantity())
                .push_bind(&e.reason)
                .push_bind(e.order.map(|o| o.to_string()))
                .push_bind(ts(now));
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// Writes balances whole.
async fn write_levels(
    conn: &mut SqliteConnection,
    levels: &BTreeMap<LevelKey, Balance>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let rows: Vec<_> = levels.iter().collect();
    for chunk in pow2_chunks(&rows) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO stock_levels (tenant_id, sku, warehouse, physical, reserved, updated_at) ",
        );
        q.push_values(chunk, |mut b, ((t, sku, wh), bal)| {
            b.push_bind(t.to_string())
                .push_bind(sku)
                .push_bind(wh)
                .push_bind(bal.physical)
                .push_bind(bal.reserved)
                .push_bind(ts(now));
        });
        q.push(
            " ON CONFLICT (tenant_id, sku, warehouse) DO UPDATE SET physical = excluded.physical, \
             reserved = excluded.reserved, updated_at = excluded.updated_at",
        );
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// Recomputes what every stock-showing channel listing these SKUs (or only `channel`)
/// should show; a changed value becomes pending (or `pushed` again if it is what the
/// channel last took), `force` makes every one pending. Enqueues the push job of each
/// channel left with a pending value.
pub(crate) async fn mark_targets(
    conn: &mut SqliteConnection,
    skus: &BTreeSet<SkuKey>,
    channel: Option<ChannelId>,
    force: bool,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if skus.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_string(
        &skus
            .iter()
            .map(|(t, s)| (t.to_string(), s))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT l.tenant_id, l.channel_id, l.sku, l.product_id, l.variant_id, cs.warehouses, cs.buffer \
         FROM json_each(",
    );
    q.push_bind(&json).push(
        ") j JOIN listings l ON l.tenant_id = json_extract(j.value, '$[0]') AND l.sku = json_extract(j.value, '$[1]') \
         JOIN channel_stock cs ON cs.tenant_id = l.tenant_id AND cs.channel_id = l.channel_id AND cs.send_stock = 1",
    );
    if let Some(c) = channel {
        q.push(" WHERE l.channel_id = ").push_bind(c.to_string());
    }
    let feeds = q
        .build()
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            Ok(Feed {
                tenant: crate::codec::id(col(r, "tenant_id")?)?,
                channel: crate::codec::id(col(r, "channel_id")?)?,
                sku: col(r, "sku")?,
                product_id: col(r, "product_id")?,
                variant_id: col(r, "variant_id")?,
                warehouses: crate::codec::json(col(r, "warehouses")?)?,
                buffer: col(r, "buffer")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    if feeds.is_empty() {
        return Ok(());
    }
    let levels = load_levels(conn, &feed_level_keys(&feeds)).await?;
    let values = desired_values(&feeds, &levels);
    let mut pending: BTreeMap<(TenantId, ChannelId), ()> = BTreeMap::new();
    for chunk in pow2_chunks(&values) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO stock_targets (tenant_id, channel_id, sku, product_id, variant_id, desired, changed_at, state) ",
        );
        q.push_values(chunk, |mut b, (f, v)| {
            b.push_bind(f.tenant.to_string())
                .push_bind(f.channel.to_string())
                .push_bind(&f.sku)
                .push_bind(&f.product_id)
                .push_bind(&f.variant_id)
                .push_bind(*v)
                .push_bind(ts(now))
                .push_bind("pending");
        });
        let same = "stock_targets.product_id = excluded.product_id AND stock_targets.variant_id = excluded.variant_id";
        q.push(format!(
            " ON CONFLICT (tenant_id, channel_id, sku) DO UPDATE SET \
             state = CASE WHEN {force} THEN 'pending' \
               WHEN NOT ({same}) THEN 'pending' \
               WHEN stock_targets.desired = excluded.desired THEN stock_targets.state \
               WHEN stock_targets.pushed = excluded.desired THEN 'pushed' ELSE 'pending' END, \
             attempts = CASE WHEN {force} OR stock_targets.desired <> excluded.desired OR NOT ({same}) THEN 0 ELSE stock_targets.attempts END, \
             pushed = CASE WHEN {same} THEN stock_targets.pushed ELSE NULL END, \
             changed_at = CASE WHEN stock_targets.desired = excluded.desired THEN stock_targets.changed_at ELSE excluded.changed_at END, \
             desired = excluded.desired, product_id = excluded.product_id, variant_id = excluded.variant_id \
             RETURNING tenant_id, channel_id, state",
            force = i32::from(force)
        ));
        for r in q.build().fetch_all(&mut *conn).await.map_err(db_err)? {
            if col::<&str>(&r, "state")? == "pending" {
                pending.insert(
                    (
                        crate::codec::id(col(&r, "tenant_id")?)?,
                        crate::codec::id(col(&r, "channel_id")?)?,
                    ),
                    (),
                );
            }
        }
    }
    enqueue_pushes(conn, pending.keys().copied(), now).await
}

/// Enqueues (coalesced) the push job of each channel.
pub(crate) async fn enqueue_pushes(
    conn: &mut SqliteConnection,
    channels: impl Iterator<Item = (TenantId, ChannelId)>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let jobs = push_jobs(channels, now)?;
    let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|(t, j)| (*t, j)).collect();
    insert_jobs(conn, &refs).await
}
