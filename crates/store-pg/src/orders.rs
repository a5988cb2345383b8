use crate::codec::{col, from_json, newest_first, order_lock_key};
use crate::jobs::finish_in;
use crate::timeline::Timeline as Notes;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::import::{decide, ImportDecision, Known};
use ponte_core::order::OrderData;
use ponte_core::{ChannelId, OrderId, OrderStatus, TenantId};
use ponte_store::{
    ImportApplied, ImportCommit, ImportResult, JobOutcome, OrderFilter, OrderRef, OrderStore, Page,
    PageRequest, PolledApplied, StoreResult, StoredOrder, TimelineEntry,
};
use serde_json::json;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

/// The columns [`decode`] reads.
pub(crate) const COLUMNS: &str =
    "tenant_id, id, channel_id, data, raw, fulfilment, created_at, updated_at";

/// Decodes an order row selected with [`COLUMNS`].
pub(crate) fn decode(r: &PgRow) -> StoreResult<StoredOrder> {
    Ok(StoredOrder {
        tenant_id: TenantId(col(r, "tenant_id")?),
        id: OrderId(col(r, "id")?),
        channel_id: ChannelId(col(r, "channel_id")?),
        data: from_json(col(r, "data")?)?,
        raw: col(r, "raw")?,
        fulfilment: from_json(col(r, "fulfilment")?)?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

impl Notes {
    /// Adds an entry to the imported order's timeline.
    fn add_import(
        &mut self,
        c: &ImportCommit,
        at: DateTime<Utc>,
        kind: &'static str,
        detail: serde_json::Value,
    ) {
        self.add(
            c.tenant_id.0,
            c.channel_id.0,
            &c.external_id,
            at,
            kind,
            detail,
        );
    }
}

/// Serialises every import of the same order across instances (a transaction-level
/// advisory lock per order, taken in key order so that batches never deadlock): two
/// jobs of one order can run at once, and each must see the other's result.
async fn lock_orders(conn: &mut PgConnection, batch: &[ImportCommit]) -> StoreResult<()> {
    let mut keys: Vec<i64> = batch
        .iter()
        .map(|c| order_lock_key(c.tenant_id.0, c.channel_id.0, &c.external_id))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    sqlx::query("SELECT pg_advisory_xact_lock(k) FROM UNNEST($1::bigint[]) AS k")
        .bind(keys)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Marks the deliveries this job run covered (received before it started); how many.
async fn settle_deliveries(
    conn: &mut PgConnection,
    c: &ImportCommit,
    started_at: DateTime<Utc>,
    state: &str,
    message: Option<String>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let r = sqlx::query(
        "UPDATE deliveries SET state = $1, error = $2, processed_at = $3 \
         WHERE tenant_id = $4 AND channel_id = $5 AND resource_id = $6 AND state = 'received' AND received_at <= $7",
    )
    .bind(state)
    .bind(message)
    .bind(now)
    .bind(c.tenant_id.0)
    .bind(c.channel_id.0)
    .bind(&c.external_id)
    .bind(started_at)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(r.rows_affected())
}

/// What is stored of an order: the order itself or a skip record.
struct Existing {
    order: Option<(OrderId, OrderData)>,
    /// A skip record, with the platform version it was skipped at.
    skipped: Option<Option<DateTime<Utc>>>,
}

async fn existing(conn: &mut PgConnection, c: &ImportCommit) -> StoreResult<Existing> {
    let row = sqlx::query(
        "SELECT o.id AS id, o.data AS data, s.platform_updated_at AS skipped_at, s.reason AS reason \
         FROM (SELECT $1::uuid AS t, $2::uuid AS ch, $3::text AS ext) k \
         LEFT JOIN orders o ON o.tenant_id = k.t AND o.channel_id = k.ch AND o.external_id = k.ext \
         LEFT JOIN order_skips s ON s.tenant_id = k.t AND s.channel_id = k.ch AND s.external_id = k.ext",
    )
    .bind(c.tenant_id.0)
    .bind(c.channel_id.0)
    .bind(&c.external_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let order = match col::<Option<Uuid>>(&row, "id")? {
        Some(oid) => Some((
            OrderId(oid),
            from_json(col::<serde_json::Value>(&row, "data")?)?,
        )),
        None => None,
    };
    let skipped = match col::<Option<String>>(&row, "reason")? {
        Some(_) => Some(col::<Option<DateTime<Utc>>>(&row, "skipped_at")?),
        None => None,
    };
    Ok(Existing { order, skipped })
}

/// Applies one commit; the result with the number of waiting deliveries it settled.
async fn apply_one(
    conn: &mut PgConnection,
    notes: &mut Notes,
    c: ImportCommit,
    now: DateTime<Utc>,
) -> StoreResult<(ImportApplied, u64)> {
    let (order, policy) = match &c.result {
        ImportResult::FetchFailed { outcome } => {
            // A listing never fails one order: without a job there is nothing to retry.
            let Some(lease) = &c.lease else {
                return Ok((ImportApplied::Failed, 0));
            };
            let started: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
                "SELECT started_at FROM jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2 FOR UPDATE",
            )
            .bind(lease.job_id.0)
            .bind(&lease.owner)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            let Some(started_at) = started else {
                return Ok((ImportApplied::LeaseLost, 0));
            };
            notes.add_import(
                &c,
                now,
                "fetched",
                serde_json::to_value(&c.call).unwrap_or_default(),
            );
            if let JobOutcome::Failed { error } = outcome {
                settle_deliveries(
                    conn,
                    &c,
                    started_at.unwrap_or(now),
                    "failed",
                    Some(error.clone()),
                    now,
                )
                .await?;
            }
            finish_in(conn, lease, outcome, true).await?;
            let applied = if matches!(outcome, JobOutcome::Failed { .. }) {
                ImportApplied::Failed
            } else {
                ImportApplied::Retrying
            };
            return Ok((applied, 0));
        }
        ImportResult::Fetched { order, policy } => (order, *policy),
    };
    // The job is done whatever the order turns out to be: removing it proves the lease.
    // A listed order has no job: it covers every delivery received until now.
    let started_at = match &c.lease {
        Some(lease) => {
            let started: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
                "DELETE FROM jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2 RETURNING started_at",
            )
            .bind(lease.job_id.0)
            .bind(&lease.owner)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            let Some(started_at) = started else {
                return Ok((ImportApplied::LeaseLost, 0));
            };
            started_at.unwrap_or(now)
        }
        None => now,
    };
    notes.add_import(
        &c,
        now,
        "fetched",
        serde_json::to_value(&c.call).unwrap_or_default(),
    );
    let ex = existing(conn, &c).await?;
    let known = match (&ex.order, ex.skipped) {
        (Some((_, d)), _) => Some(Known::Order(d)),
        (None, Some(at)) => Some(Known::Skipped(at)),
        (None, None) => None,
    };
    let applied = match decide(known, order, policy) {
        ImportDecision::Create => {
            let oid = OrderId::new();
            sqlx::query(
                "INSERT INTO orders (tenant_id, id, channel_id, external_id, status, platform_updated_at, data, raw, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            )
            .bind(c.tenant_id.0)
            .bind(oid.0)
            .bind(c.channel_id.0)
            .bind(&c.external_id)
            .bind(order.data.status.as_str())
            .bind(order.data.platform_updated_at)
            .bind(Json(&order.data))
            .bind(&order.raw)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            if ex.skipped.is_some() {
                sqlx::query(
                    "DELETE FROM order_skips WHERE tenant_id = $1 AND channel_id = $2 AND external_id = $3",
                )
                .bind(c.tenant_id.0)
                .bind(c.channel_id.0)
                .bind(&c.external_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            }
            notes.add_import(
                &c,
                now,
                "imported",
                json!({ "order_id": oid, "status": order.data.status }),
            );
            ImportApplied::Created(oid)
        }
        ImportDecision::Update { data, status_from } => {
            let Some((oid, _)) = ex.order else {
                return Ok((ImportApplied::Stale, 0));
            };
            sqlx::query(
                "UPDATE orders SET status = $1, platform_updated_at = $2, data = $3, raw = $4, updated_at = $5 \
                 WHERE tenant_id = $6 AND id = $7",
            )
            .bind(data.status.as_str())
            .bind(data.platform_updated_at)
            .bind(Json(&*data))
            .bind(&order.raw)
            .bind(now)
            .bind(c.tenant_id.0)
            .bind(oid.0)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            match status_from {
                Some(from) => notes.add_import(
                    &c,
                    now,
                    "status_changed",
                    json!({ "from": from, "to": data.status, "by": "platform" }),
                ),
                None => notes.add_import(&c, now, "updated", json!({ "status": data.status })),
            }
            ImportApplied::Updated(oid)
        }
        ImportDecision::Unchanged => match ex.order {
            Some((oid, _)) => ImportApplied::Unchanged(oid),
            None => ImportApplied::Stale,
        },
        ImportDecision::Stale => {
            notes.add_import(
                &c,
                now,
                "stale_ignored",
                json!({ "platform_updated_at": order.data.platform_updated_at }),
            );
            ImportApplied::Stale
        }
        ImportDecision::Skip(reason) => {
            sqlx::query(
                "INSERT INTO order_skips (tenant_id, channel_id, external_id, reason, platform_updated_at, at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, channel_id, external_id) \
                 DO UPDATE SET reason = EXCLUDED.reason, platform_updated_at = EXCLUDED.platform_updated_at, at = EXCLUDED.at",
            )
            .bind(c.tenant_id.0)
            .bind(c.channel_id.0)
            .bind(&c.external_id)
            .bind(reason.as_str())
            .bind(order.data.platform_updated_at)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            notes.add_import(&c, now, "skipped", json!({ "reason": reason.as_str() }));
            ImportApplied::Skipped(reason)
        }
    };
    let settled = settle_deliveries(
        conn,
        &c,
        started_at,
        "processed",
        applied.delivery_note(),
        now,
    )
    .await?;
    Ok((applied, settled))
}

/// Applies a batch in one transaction; each result with the deliveries it settled.
async fn apply_batch(
    store: &PgStore,
    batch: Vec<ImportCommit>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<(ImportApplied, u64)>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = store.pool.begin().await.map_err(db_err)?;
    lock_orders(&mut tx, &batch).await?;
    let mut out = Vec::with_capacity(batch.len());
    let mut notes = Notes::default();
    let mut touched = vec![];
    for c in batch {
        let tenant = c.tenant_id;
        let applied = apply_one(&mut tx, &mut notes, c, now).await?;
        if let ImportApplied::Created(o) | ImportApplied::Updated(o) = applied.0 {
            touched.push((tenant, o));
        }
        out.push(applied);
    }
    notes.write(&mut tx).await?;
    // Under the orders' locks, taken above: the SKUs' locks come after them.
    crate::stock_orders::apply_order_effects(&mut tx, &touched, now).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(out)
}

#[async_trait]
impl OrderStore for PgStore {
    async fn apply_imports(
        &self,
        batch: Vec<ImportCommit>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ImportApplied>> {
        Ok(apply_batch(self, batch, now)
            .await?
            .into_iter()
            .map(|(a, _)| a)
            .collect())
    }

    async fn apply_polled(
        &self,
        batch: Vec<ImportCommit>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<PolledApplied>> {
        Ok(apply_batch(self, batch, now)
            .await?
            .into_iter()
            .map(|(applied, settled)| PolledApplied {
                applied,
                announced: settled > 0,
            })
            .collect())
    }

    async fn orders_in_status(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
        statuses: &[OrderStatus],
        after: Option<OrderId>,
        n: u32,
    ) -> StoreResult<Vec<OrderRef>> {
        let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT id, channel_id, external_id, data->>'placed_at' AS placed_at \
             FROM orders WHERE tenant_id = ",
        );
        q.push_bind(tenant.0);
        if let Some(c) = channel {
            q.push(" AND channel_id = ").push_bind(c.0);
        }
        q.push(" AND status = ANY(")
            .push_bind(statuses)
            .push("::text[])");
        if let Some(a) = after {
            q.push(" AND id > ").push_bind(a.0);
        }
        q.push(" ORDER BY id LIMIT ").push_bind(i64::from(n));
        let rows = q.build().fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(OrderRef {
                    id: OrderId(col(r, "id")?),
                    channel_id: ChannelId(col(r, "channel_id")?),
                    external_id: col(r, "external_id")?,
                    placed_at: col::<Option<String>>(r, "placed_at")?
                        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                        .map(|t| t.with_timezone(&Utc)),
                })
            })
            .collect()
    }

    async fn order(&self, tenant: TenantId, oid: OrderId) -> StoreResult<Option<StoredOrder>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM orders WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.0)
        .bind(oid.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(decode)
        .transpose()
    }

    async fn orders(
        &self,
        tenant: TenantId,
        f: &OrderFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<StoredOrder>> {
        let mut q: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {COLUMNS} FROM orders WHERE tenant_id = "));
        q.push_bind(tenant.0);
        if let Some(c) = f.channel_id {
            q.push(" AND channel_id = ").push_bind(c.0);
        }
        if let Some(s) = f.status {
            q.push(" AND status = ").push_bind(s.as_str());
        }
        if let Some(e) = &f.external_id {
            q.push(" AND external_id = ").push_bind(e.clone());
        }
        if let Some(t) = f.updated_since {
            q.push(" AND updated_at >= ").push_bind(t);
        }
        newest_first(q, page, &self.pool, decode, |o| o.id.to_string()).await
    }

    async fn timeline(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        external_id: &str,
    ) -> StoreResult<Vec<TimelineEntry>> {
        // Ties on time: deliveries first (by id; those the retention sweep moved into
        // the timeline table too), then entries in insertion order.
        let rows = sqlx::query(
            "SELECT at, kind, detail FROM ( \
               SELECT received_at AS at, 'delivery_received' AS kind, \
                      jsonb_build_object('delivery_id', id, 'event', event, 'state', state) AS detail, \
                      0 AS src, id AS delivery_id, 0::bigint AS seq \
               FROM deliveries WHERE tenant_id = $1 AND channel_id = $2 AND resource_id = $3 \
               UNION ALL \
               SELECT at, kind, detail, CASE WHEN kind = 'delivery_received' THEN 0 ELSE 1 END, \
                      CASE WHEN kind = 'delivery_received' THEN (detail->>'delivery_id')::uuid END, id \
               FROM timeline WHERE tenant_id = $1 AND channel_id = $2 AND external_id = $3 \
             ) e ORDER BY at, src, delivery_id, seq",
        )
        .bind(tenant.0)
        .bind(channel.0)
        .bind(external_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(TimelineEntry {
                    at: col(r, "at")?,
                    kind: col(r, "kind")?,
                    detail: col(r, "detail")?,
                })
            })
            .collect()
    }
}
