//! The statements every kind of target push shares (stock, prices, product data: the
//! same shape, the tables [`PushKind`] names): claiming a channel's pending targets,
//! writing desired values and recording push calls, with the primitives of
//! `ponte_store::target_marks` over [`PgTx`].

use crate::codec::{col, in_table, tenant_lock_key};
use crate::stock::fetch;
use crate::stock_marks::PgTx;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::stock_marks::target_upsert;
use ponte_store::stock_push::push_state;
use ponte_store::target_marks::{TargetListing, TargetTx, TargetValue};
use ponte_store::target_push::{PushKind, PushRow};
use ponte_store::target_row::{target_columns, PushTarget, TargetRow};
use ponte_store::{JobLease, NewJob, PushState, StoreResult};
use sqlx::postgres::{PgHasArrayType, PgRow};
use sqlx::{PgConnection, Postgres};
use std::collections::BTreeSet;
use uuid::Uuid;

/// The listing of a feed's row (`channel_id`, `sku`, `product_id`, `variant_id`).
pub(crate) fn decode_listing(r: &PgRow) -> StoreResult<TargetListing> {
    Ok(TargetListing {
        channel: ChannelId(col(r, "channel_id")?),
        sku: col(r, "sku")?,
        product_id: col(r, "product_id")?,
        variant_id: col(r, "variant_id")?,
    })
}

/// The feeds of these SKUs' listings (only `channel`'s when given): `columns` of
/// `joins` (`l` names the listing), each row made a feed of its listing by `decode`.
pub(crate) async fn load_feeds<F>(
    conn: &mut PgConnection,
    columns: &str,
    joins: &str,
    tenant: TenantId,
    skus: &BTreeSet<&str>,
    channel: Option<ChannelId>,
    decode: impl Fn(TargetListing, &PgRow) -> StoreResult<F>,
) -> StoreResult<Vec<F>> {
    let q = format!(
        "SELECT l.channel_id, l.sku, l.product_id, l.variant_id, {columns} \
         FROM UNNEST($2::text[]) AS k (sku) \
         JOIN listings l ON l.tenant_id = $1 AND l.sku = k.sku {joins} \
         WHERE $3::uuid IS NULL OR l.channel_id = $3"
    );
    let q = sqlx::query(&q)
        .bind(tenant.0)
        .bind(skus.iter().copied().collect::<Vec<_>>())
        .bind(channel.map(|c| c.0));
    fetch(q, conn, |r| decode(decode_listing(r)?, r)).await
}

/// A target of kind `T` from its row ([`target_columns`]).
pub(crate) fn decode_target<T: PushTarget>(r: &PgRow) -> StoreResult<T>
where
    T::Stored: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    let stamped = T::KIND.stamps_attempts;
    in_table(T::KIND.targets, || {
        T::from_row(TargetRow {
            channel_id: ChannelId(col(r, "channel_id")?),
            sku: col(r, "sku")?,
            product_id: col(r, "product_id")?,
            variant_id: col(r, "variant_id")?,
            desired: col(r, "desired")?,
            changed_at: col(r, "changed_at")?,
            pushed: col(r, "pushed")?,
            pushed_at: col(r, "pushed_at")?,
            state: push_state(&col::<String>(r, "state")?)?,
            attempts: u32::try_from(col::<i32>(r, "attempts")?).unwrap_or(0),
            last_error: col(r, "last_error")?,
            attempted_at: if stamped {
                col(r, "attempted_at")?
            } else {
                None
            },
        })
    })
}

/// Every target of kind `T` of a SKU, by channel.
pub(crate) async fn sku_targets<T: PushTarget>(
    store: &PgStore,
    tenant: TenantId,
    sku: &str,
) -> StoreResult<Vec<T>>
where
    T::Stored: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    let q = format!(
        "SELECT {} FROM {} WHERE tenant_id = $1 AND sku = $2 ORDER BY channel_id",
        target_columns::<T>(),
        T::KIND.targets
    );
    let q = sqlx::query(&q).bind(tenant.0).bind(sku);
    fetch(q, &store.pool, decode_target::<T>).await
}

/// The pending targets of kind `T` of a channel (of up to `n` products) for a push
/// job, `None` when the job lost its lease or an older push job of the channel runs.
pub(crate) async fn claim<T: PushTarget>(
    store: &PgStore,
    lease: &JobLease,
    channel: ChannelId,
    n: u32,
) -> StoreResult<Option<Vec<T>>>
where
    T::Stored: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    let kind = T::KIND;
    let mut conn = store.pool.acquire().await.map_err(db_err)?;
    // This job must hold its lease, and no older push job of the channel may be running.
    let me: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT j.tenant_id, EXISTS (SELECT 1 FROM jobs o WHERE o.tenant_id = j.tenant_id \
           AND o.unique_key = j.unique_key AND o.state = 'running' AND o.id < j.id) AS twin \
         FROM jobs j WHERE j.id = $1 AND j.lease_owner = $2 AND j.state = 'running' AND j.unique_key = $3",
    )
    .bind(lease.job_id.0)
    .bind(&lease.owner)
    .bind((kind.job_key)(channel))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let tenant = match me {
        Some((tenant, false)) => tenant,
        _ => return Ok(None),
    };
    let (columns, t) = (target_columns::<T>(), kind.targets);
    let pending = format!(
        "SELECT {columns} FROM {t} \
         WHERE tenant_id = $1 AND channel_id = $2 AND state = 'pending' \
         AND product_id IN (SELECT DISTINCT product_id FROM {t} \
           WHERE tenant_id = $1 AND channel_id = $2 AND state = 'pending' ORDER BY product_id LIMIT $3)"
    );
    // The targets as they were (one snapshot), and forgotten in the same statement.
    let q = if kind.claim_forgets_pushed {
        format!(
            "WITH c AS ({pending}), \
             f AS (UPDATE {t} x SET pushed = NULL FROM c \
                   WHERE x.tenant_id = $1 AND x.channel_id = $2 AND x.sku = c.sku) \
             SELECT * FROM c ORDER BY product_id, sku"
        )
    } else {
        format!("{pending} ORDER BY product_id, sku")
    };
    let q = sqlx::query(&q)
        .bind(tenant)
        .bind(channel.0)
        .bind(i64::from(n));
    fetch(q, &mut *conn, decode_target::<T>).await.map(Some)
}

/// Stores a push call of `kind`, the SKUs it sent and its effect on their targets of
/// its channel, in one statement.
pub(crate) async fn write_call<S>(
    conn: &mut PgConnection,
    kind: PushKind,
    tenant: TenantId,
    row: &PushRow<'_, S>,
    now: DateTime<Utc>,
) -> StoreResult<()>
where
    S: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + PgHasArrayType,
    S: Clone + Send + Sync,
{
    let (calls, skus, targets) = (kind.calls, kind.call_skus, kind.targets);
    let set = row.target_set("t", "s.q", "$5", "$11");
    let stamp = if kind.stamps_attempts {
        ", attempted_at = $5"
    } else {
        ""
    };
    sqlx::query(&format!(
        "WITH p AS ( \
           INSERT INTO {calls} (tenant_id, channel_id, at, request, items, http_status, duration_ms, outcome, error) \
           VALUES ($1, $2, $5, $6, $7, $8, $9, $10, $11) RETURNING seq), \
         k AS ( \
           INSERT INTO {skus} (tenant_id, push_seq, sku) \
           SELECT $1, p.seq, u.sku FROM p, UNNEST($3::text[]) AS u (sku)) \
         UPDATE {targets} t SET {set}{stamp} \
         FROM UNNEST($3::text[], $4) AS s (sku, q) \
         WHERE t.tenant_id = $1 AND t.channel_id = $2 AND t.sku = s.sku"
    ))
    .bind(tenant.0)
    .bind(row.channel_id.0)
    .bind(row.sent.keys().copied().collect::<Vec<_>>())
    .bind(row.sent.values().cloned().collect::<Vec<S>>())
    .bind(now)
    .bind(row.request)
    .bind(&row.items)
    .bind(row.http_status.map(i32::from))
    .bind(row.duration_ms)
    .bind(row.outcome)
    .bind(row.error)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl TargetTx for PgTx<'_> {
    async fn lock_targets(&mut self, kind: PushKind, tenant: TenantId) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(tenant_lock_key(kind.lock, tenant.0))
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn unknown_skus(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
    ) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT k.sku FROM UNNEST($2::text[]) AS k (sku) WHERE NOT EXISTS \
             (SELECT 1 FROM products p WHERE p.tenant_id = $1 AND p.sku = k.sku)",
        )
        .bind(tenant.0)
        .bind(skus.iter().copied().collect::<Vec<_>>())
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
        let q = format!(
            "INSERT INTO {} AS t (tenant_id, channel_id, sku, product_id, variant_id, desired, changed_at, state) \
             SELECT $1, c, sku, p, v, d, $7, 'pending' \
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u (c, sku, p, v, d){}",
            kind.targets,
            target_upsert("t", "$8")
        );
        let q = sqlx::query(&q)
            .bind(tenant.0)
            .bind(
                values
                    .iter()
                    .map(|v| v.listing.channel.0)
                    .collect::<Vec<_>>(),
            )
            .bind(
                values
                    .iter()
                    .map(|v| v.listing.sku.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                values
                    .iter()
                    .map(|v| v.listing.product_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                values
                    .iter()
                    .map(|v| v.listing.variant_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                values
                    .iter()
                    .map(|v| v.desired.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(now)
            .bind(force);
        fetch(q, &mut *self.0, |r| {
            Ok((
                ChannelId(col(r, "channel_id")?),
                push_state(&col::<String>(r, "state")?)?,
            ))
        })
        .await
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
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    channel: ChannelId,
) -> StoreResult<Vec<String>> {
    sqlx::query_scalar("SELECT sku FROM listings WHERE tenant_id = $1 AND channel_id = $2")
        .bind(tenant.0)
        .bind(channel.0)
        .fetch_all(conn)
        .await
        .map_err(db_err)
}
