//! The statements every kind of target push shares (stock, prices, product data: the
//! same shape, the tables [`PushKind`] names): claiming a channel's pending targets,
//! writing desired values and recording push calls, with the primitives of
//! `ponte_store::target_marks` over [`SqliteTx`].

use crate::codec::{col, from_opt_ts, from_ts, id, in_table, pow2_chunks, to_json, ts};
use crate::stock::fetch;
use crate::stock_marks::SqliteTx;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::stock_marks::target_upsert;
use ponte_store::stock_push::push_state;
use ponte_store::target_marks::{TargetListing, TargetTx, TargetValue};
use ponte_store::target_push::{PushKind, PushRow};
use ponte_store::target_row::{target_columns, PushTarget, TargetRow};
use ponte_store::{JobLease, NewJob, PushState, StoreResult};
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::BTreeSet;

/// SKUs as the JSON array `json_each` reads.
fn skus_json(skus: &BTreeSet<&str>) -> StoreResult<String> {
    to_json(&skus.iter().collect::<Vec<_>>())
}

/// The listing of a feed's row (`channel_id`, `sku`, `product_id`, `variant_id`).
pub(crate) fn decode_listing(r: &SqliteRow) -> StoreResult<TargetListing> {
    Ok(TargetListing {
        channel: id(col(r, "channel_id")?)?,
        sku: col(r, "sku")?,
        product_id: col(r, "product_id")?,
        variant_id: col(r, "variant_id")?,
    })
}

/// The feeds of these SKUs' listings (only `channel`'s when given): `columns` of
/// `joins` (`l` names the listing), each row made a feed of its listing by `decode`.
pub(crate) async fn load_feeds<F>(
    conn: &mut SqliteConnection,
    columns: &str,
    joins: &str,
    tenant: TenantId,
    skus: &BTreeSet<&str>,
    channel: Option<ChannelId>,
    decode: impl Fn(TargetListing, &SqliteRow) -> StoreResult<F>,
) -> StoreResult<Vec<F>> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "SELECT l.channel_id, l.sku, l.product_id, l.variant_id, {columns} FROM json_each("
    ));
    q.push_bind(skus_json(skus)?)
        .push(") j JOIN listings l ON l.tenant_id = ")
        .push_bind(tenant.to_string())
        .push(" AND l.sku = j.value ")
        .push(joins);
    if let Some(c) = channel {
        q.push(" WHERE l.channel_id = ").push_bind(c.to_string());
    }
    fetch(q.build(), conn, |r| decode(decode_listing(r)?, r)).await
}

/// A target of kind `T` from its row ([`target_columns`]).
pub(crate) fn decode_target<T: PushTarget>(r: &SqliteRow) -> StoreResult<T>
where
    T::Stored: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    let stamped = T::KIND.stamps_attempts;
    in_table(T::KIND.targets, || {
        T::from_row(TargetRow {
            channel_id: id(col(r, "channel_id")?)?,
            sku: col(r, "sku")?,
            product_id: col(r, "product_id")?,
            variant_id: col(r, "variant_id")?,
            desired: col(r, "desired")?,
            changed_at: from_ts(col(r, "changed_at")?)?,
            pushed: col(r, "pushed")?,
            pushed_at: from_opt_ts(col(r, "pushed_at")?)?,
            state: push_state(col(r, "state")?)?,
            attempts: u32::try_from(col::<i64>(r, "attempts")?).unwrap_or(0),
            last_error: col(r, "last_error")?,
            attempted_at: if stamped {
                from_opt_ts(col(r, "attempted_at")?)?
            } else {
                None
            },
        })
    })
}

/// Every target of kind `T` of a SKU, by channel.
pub(crate) async fn sku_targets<T: PushTarget>(
    store: &SqliteStore,
    tenant: TenantId,
    sku: &str,
) -> StoreResult<Vec<T>>
where
    T::Stored: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    let q = format!(
        "SELECT {} FROM {} WHERE tenant_id = ? AND sku = ? ORDER BY channel_id",
        target_columns::<T>(),
        T::KIND.targets
    );
    let q = sqlx::query(&q).bind(tenant.to_string()).bind(sku);
    fetch(q, &store.reader, decode_target::<T>).await
}

/// The pending targets of kind `T` of a channel (of up to `n` products) for a push
/// job, `None` when the job lost its lease or an older push job of the channel runs.
pub(crate) async fn claim<T: PushTarget>(
    store: &SqliteStore,
    lease: &JobLease,
    channel: ChannelId,
    n: u32,
) -> StoreResult<Option<Vec<T>>>
where
    T::Stored: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    let kind = T::KIND;
    let mut conn = store.writer.acquire().await.map_err(db_err)?;
    // This job must hold its lease, and no older push job of the channel may be running.
    let (mine, others): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(id = ?1 AND lease_owner = ?2), 0), COALESCE(SUM(id < ?1), 0) \
         FROM jobs WHERE unique_key = ?3 AND state = 'running'",
    )
    .bind(lease.job_id.to_string())
    .bind(&lease.owner)
    .bind((kind.job_key)(channel))
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if mine != 1 || others > 0 {
        return Ok(None);
    }
    let (columns, t) = (target_columns::<T>(), kind.targets);
    let cond = format!(
        "channel_id = ?1 AND state = 'pending' \
         AND product_id IN (SELECT DISTINCT product_id FROM {t} \
           WHERE channel_id = ?1 AND state = 'pending' ORDER BY product_id LIMIT ?2)"
    );
    let q = format!("SELECT {columns} FROM {t} WHERE {cond} ORDER BY product_id, sku");
    let q = sqlx::query(&q).bind(channel.to_string()).bind(i64::from(n));
    let targets = fetch(q, &mut *conn, decode_target::<T>).await?;
    if kind.claim_forgets_pushed && !targets.is_empty() {
        // The same rows: this connection is the only writer.
        sqlx::query(&format!("UPDATE {t} SET pushed = NULL WHERE {cond}"))
            .bind(channel.to_string())
            .bind(i64::from(n))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(Some(targets))
}

/// Stores a push call of `kind`, the SKUs it sent and its effect on their targets of
/// its channel.
pub(crate) async fn write_call<S: Serialize>(
    conn: &mut SqliteConnection,
    kind: PushKind,
    tenant: TenantId,
    row: &PushRow<'_, S>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let seq: i64 = sqlx::query_scalar(&format!(
        "INSERT INTO {} (tenant_id, channel_id, at, request, items, http_status, duration_ms, outcome, error) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
        kind.calls
    ))
    .bind(tenant.to_string())
    .bind(row.channel_id.to_string())
    .bind(ts(now))
    .bind(row.request)
    .bind(to_json(&row.items)?)
    .bind(row.http_status.map(i64::from))
    .bind(row.duration_ms)
    .bind(row.outcome)
    .bind(row.error)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if row.sent.is_empty() {
        return Ok(());
    }
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "INSERT OR IGNORE INTO {} (tenant_id, push_seq, sku) ",
        kind.call_skus
    ));
    q.push_values(row.sent.keys(), |mut b, sku| {
        b.push_bind(tenant.to_string())
            .push_bind(seq)
            .push_bind(*sku);
    });
    q.build().execute(&mut *conn).await.map_err(db_err)?;
    let t = kind.targets;
    let set = row.target_set(t, "s.q", "?", "?");
    let stamp = if kind.stamps_attempts {
        ", attempted_at = ?"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE {t} SET {set}{stamp} FROM (SELECT json_extract(value, '$[0]') AS sku, \
         json_extract(value, '$[1]') AS q FROM json_each(?)) s \
         WHERE {t}.tenant_id = ? AND {t}.channel_id = ? AND {t}.sku = s.sku"
    );
    let q = sqlx::query(&sql);
    let q = match row.error {
        None => q.bind(ts(now)),
        Some(e) => q.bind(e.to_owned()),
    };
    let q = if kind.stamps_attempts {
        q.bind(ts(now))
    } else {
        q
    };
    q.bind(to_json(&row.sent.iter().collect::<Vec<_>>())?)
        .bind(tenant.to_string())
        .bind(row.channel_id.to_string())
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl TargetTx for SqliteTx<'_> {
    /// Nothing to take: the one writer connection runs its transactions one at a time.
    async fn lock_targets(&mut self, _: PushKind, _: TenantId) -> StoreResult<()> {
        Ok(())
    }

    async fn unknown_skus(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
    ) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT j.value FROM json_each(?) j WHERE NOT EXISTS \
             (SELECT 1 FROM products p WHERE p.tenant_id = ? AND p.sku = j.value)",
        )
        .bind(skus_json(skus)?)
        .bind(tenant.to_string())
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_err)
    }

    async fn listed_skus(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<Vec<String>> {
        listed_skus(&mut *self.0, tenant, channel).await
    }

    async fn upsert_targets(
        &mut self,
        kind: PushKind,
        tenant: TenantId,
        values: &[TargetValue<'_>],
        force: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(ChannelId, PushState)>> {
        let upsert = target_upsert(kind.targets, if force { "1" } else { "0" });
        let mut written = Vec::with_capacity(values.len());
        for chunk in pow2_chunks(values) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
                "INSERT INTO {} (tenant_id, channel_id, sku, product_id, variant_id, desired, changed_at, state) ",
                kind.targets
            ));
            q.push_values(chunk, |mut b, v| {
                b.push_bind(tenant.to_string())
                    .push_bind(v.listing.channel.to_string())
                    .push_bind(&v.listing.sku)
                    .push_bind(&v.listing.product_id)
                    .push_bind(&v.listing.variant_id)
                    .push_bind(&v.desired)
                    .push_bind(ts(now))
                    .push_bind("pending");
            });
            q.push(&upsert);
            let rows = fetch(q.build(), &mut *self.0, |r| {
                Ok((id(col(r, "channel_id")?)?, push_state(col(r, "state")?)?))
            })
            .await?;
            written.extend(rows);
        }
        Ok(written)
    }

    async fn insert_tenant_jobs(&mut self, tenant: TenantId, jobs: &[NewJob]) -> StoreResult<()> {
        let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|j| (tenant, j)).collect();
        crate::jobs::insert_jobs(self.0, &refs).await
    }

    async fn write_call(
        &mut self,
        kind: PushKind,
        tenant: TenantId,
        row: &PushRow<'_, String>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        write_call(self.0, kind, tenant, row, now).await
    }
}

/// The SKUs listed on a channel.
pub(crate) async fn listed_skus(
    conn: &mut sqlx::SqliteConnection,
    tenant: TenantId,
    channel: ChannelId,
) -> StoreResult<Vec<String>> {
    sqlx::query_scalar("SELECT sku FROM listings WHERE tenant_id = ? AND channel_id = ?")
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .fetch_all(conn)
        .await
        .map_err(db_err)
}
