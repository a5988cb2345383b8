//! The stock primitives inside a transaction ([`SqliteTx`], for the sequences of
//! `ponte_store::stock_marks`): reading and writing balances and the ledger, and
//! storing what each channel should show.

use crate::codec::{col, id, json, pow2_chunks, to_json, ts};
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
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A connection inside a write transaction, as the store's stock sequences use it.
pub(crate) struct SqliteTx<'c>(pub(crate) &'c mut SqliteConnection);

/// Pairs as a JSON array of two-element arrays of their text (for `json_each`).
pub(crate) fn pairs_json<A: ToString, B: ToString>(
    v: impl Iterator<Item = (A, B)>,
) -> StoreResult<String> {
    to_json(
        &v.map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>(),
    )
}

#[async_trait]
impl MarksTx for SqliteTx<'_> {
    /// Nothing to take: the one writer connection runs its transactions one at a time.
    async fn lock_stock(&mut self, _: &BTreeSet<SkuKey>, _: &[TenantId]) -> StoreResult<()> {
        Ok(())
    }

    async fn load_levels(
        &mut self,
        keys: &BTreeSet<LevelKey>,
    ) -> StoreResult<HashMap<LevelKey, Balance>> {
        let keys = to_json(
            &keys
                .iter()
                .map(|(t, s, w)| (t.to_string(), s, w))
                .collect::<Vec<_>>(),
        )?;
        let q = sqlx::query(
            "SELECT s.tenant_id, s.sku, s.warehouse, s.physical, s.reserved FROM json_each(?) j \
             JOIN stock_levels s ON s.tenant_id = json_extract(j.value, '$[0]') \
             AND s.sku = json_extract(j.value, '$[1]') AND s.warehouse = json_extract(j.value, '$[2]')",
        );
        let rows = fetch(q.bind(keys), &mut *self.0, |r| {
            let key = (
                id(col(r, "tenant_id")?)?,
                col(r, "sku")?,
                col(r, "warehouse")?,
            );
            Ok((key, decode_balance(r)?))
        })
        .await?;
        Ok(rows.into_iter().collect())
    }

    async fn write_ledger(
        &mut self,
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
            q.build().execute(&mut *self.0).await.map_err(db_err)?;
        }
        Ok(())
    }

    async fn write_levels(
        &mut self,
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
            q.build().execute(&mut *self.0).await.map_err(db_err)?;
        }
        Ok(())
    }

    async fn load_feeds(
        &mut self,
        skus: &BTreeSet<SkuKey>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<Feed>> {
        let skus = pairs_json(skus.iter().map(|(t, s)| (t, s)))?;
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT l.tenant_id, l.channel_id, l.sku, l.product_id, l.variant_id, cs.warehouses, cs.buffer \
             FROM json_each(",
        );
        q.push_bind(&skus).push(
            ") j JOIN listings l ON l.tenant_id = json_extract(j.value, '$[0]') AND l.sku = json_extract(j.value, '$[1]') \
             JOIN channel_stock cs ON cs.tenant_id = l.tenant_id AND cs.channel_id = l.channel_id AND cs.send_stock = 1",
        );
        if let Some(c) = channel {
            q.push(" WHERE l.channel_id = ").push_bind(c.to_string());
        }
        fetch(q.build(), &mut *self.0, |r| {
            Ok(Feed {
                tenant: id(col(r, "tenant_id")?)?,
                channel: id(col(r, "channel_id")?)?,
                sku: col(r, "sku")?,
                product_id: col(r, "product_id")?,
                variant_id: col(r, "variant_id")?,
                warehouses: json(col(r, "warehouses")?)?,
                buffer: col(r, "buffer")?,
            })
        })
        .await
    }

    async fn write_targets(
        &mut self,
        values: &[(&Feed, i64)],
        force: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(TenantId, ChannelId, PushState)>> {
        let upsert = target_upsert("stock_targets", if force { "1" } else { "0" });
        let mut written = Vec::with_capacity(values.len());
        for chunk in pow2_chunks(values) {
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
            q.push(&upsert);
            let rows = fetch(q.build(), &mut *self.0, |r| {
                Ok((
                    id(col(r, "tenant_id")?)?,
                    id(col(r, "channel_id")?)?,
                    push_state(col(r, "state")?)?,
                ))
            })
            .await?;
            written.extend(rows);
        }
        Ok(written)
    }

    async fn insert_jobs(&mut self, jobs: &[(TenantId, &NewJob)]) -> StoreResult<()> {
        crate::jobs::insert_jobs(self.0, jobs).await
    }
}
