use crate::codec::in_table;
use crate::codec::{col, from_json, newest_first, order_lock_key, push_period};
use crate::jobs::finish_in;
use crate::timeline::write_notes;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::import::SkipReason;
use ponte_core::order::{MappedOrder, OrderData};
use ponte_core::{ChannelId, OrderId, OrderStatus, TenantId};
use ponte_store::import_apply::{apply_imports, ExistingOrder, ImportTx};
use ponte_store::{
    ImportApplied, ImportCommit, JobLease, JobOutcome, OrderFilter, OrderRef, OrderSearch,
    OrderStore, Page, PageRequest, PolledApplied, StoreResult, StoredOrder, TimelineEntry,
    TimelineNote,
};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

/// The columns [`decode`] reads.
pub(crate) const COLUMNS: &str =
    "tenant_id, id, channel_id, data, raw, fulfilment, created_at, updated_at";

/// [`COLUMNS`] but the platform payload: writers that never change it (ERP actions)
/// select these and `'null'::jsonb AS raw`, not to read it back out of line.
pub(crate) const COLUMNS_BUT_RAW: &str =
    "tenant_id, id, channel_id, data, fulfilment, created_at, updated_at";

/// Decodes an order row selected with [`COLUMNS`].
pub(crate) fn decode(r: &PgRow) -> StoreResult<StoredOrder> {
    in_table("orders", || {
        Ok(StoredOrder {
            tenant_id: TenantId(col(r, "tenant_id")?),
            id: OrderId(col(r, "id")?),
            channel_id: ChannelId(col(r, "channel_id")?),
            data: from_json(col(r, "data")?)?,
            raw: col::<&serde_json::value::RawValue>(r, "raw")?.to_owned(),
            fulfilment: from_json(col(r, "fulfilment")?)?,
            created_at: col(r, "created_at")?,
            updated_at: col(r, "updated_at")?,
        })
    })
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

/// The import reads and writes on an open transaction, under [`lock_orders`]'s locks.
struct Import<'c>(&'c mut PgConnection);

/// Whether `sql` (binding the job and its owner, returning a row while `lease` holds
/// the job) found it.
async fn leased(conn: &mut PgConnection, sql: &'static str, lease: &JobLease) -> StoreResult<bool> {
    let row = sqlx::query(sql)
        .bind(lease.job_id.0)
        .bind(&lease.owner)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(row.is_some())
}

#[async_trait]
impl ImportTx for Import<'_> {
    /// Locks the job row: its finish follows in this transaction.
    async fn job_held(&mut self, lease: &JobLease) -> StoreResult<bool> {
        let sql = "SELECT 1 FROM jobs WHERE id = $1 AND state = 'running' \
                   AND lease_owner = $2 FOR UPDATE";
        leased(self.0, sql, lease).await
    }

    async fn take_job(&mut self, lease: &JobLease) -> StoreResult<bool> {
        let sql = "DELETE FROM jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2 \
                   RETURNING 1";
        leased(self.0, sql, lease).await
    }

    async fn finish_job(&mut self, lease: &JobLease, outcome: &JobOutcome) -> StoreResult<()> {
        finish_in(self.0, lease, outcome, true).await?;
        Ok(())
    }

    async fn existing(&mut self, c: &ImportCommit) -> StoreResult<ExistingOrder> {
        let row = sqlx::query(
            "SELECT o.id AS id, o.data AS data, o.fulfilment AS fulfilment, o.created_at AS created_at, \
               s.platform_updated_at AS skipped_at, s.reason AS reason \
             FROM (SELECT $1::uuid AS t, $2::uuid AS ch, $3::text AS ext) k \
             LEFT JOIN orders o ON o.tenant_id = k.t AND o.channel_id = k.ch AND o.external_id = k.ext \
             LEFT JOIN order_skips s ON s.tenant_id = k.t AND s.channel_id = k.ch AND s.external_id = k.ext",
        )
        .bind(c.tenant_id.0)
        .bind(c.channel_id.0)
        .bind(&c.external_id)
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_err)?;
        let (order, recorded) = match col::<Option<Uuid>>(&row, "id")? {
            Some(oid) => (
                Some((
                    OrderId(oid),
                    from_json(col::<serde_json::Value>(&row, "data")?)?,
                )),
                Some((
                    from_json(col::<serde_json::Value>(&row, "fulfilment")?)?,
                    col::<DateTime<Utc>>(&row, "created_at")?,
                )),
            ),
            None => (None, None),
        };
        let skipped = match col::<Option<String>>(&row, "reason")? {
            Some(_) => Some(col::<Option<DateTime<Utc>>>(&row, "skipped_at")?),
            None => None,
        };
        Ok(ExistingOrder {
            order,
            recorded,
            skipped,
        })
    }

    async fn insert_order(
        &mut self,
        c: &ImportCommit,
        oid: OrderId,
        order: &MappedOrder,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO orders (tenant_id, id, channel_id, external_id, status, platform_updated_at, data, raw, created_at, updated_at, placed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, COALESCE($10, $9))",
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
        .bind(order.data.placed_at)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn update_order(
        &mut self,
        tenant: TenantId,
        oid: OrderId,
        data: &OrderData,
        raw: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE orders SET status = $1, platform_updated_at = $2, data = $3, raw = $4, updated_at = $5, \
               placed_at = COALESCE($8, placed_at) \
             WHERE tenant_id = $6 AND id = $7",
        )
        .bind(data.status.as_str())
        .bind(data.platform_updated_at)
        .bind(Json(data))
        .bind(raw)
        .bind(now)
        .bind(tenant.0)
        .bind(oid.0)
        .bind(data.placed_at)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn clear_skip(&mut self, c: &ImportCommit) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM order_skips WHERE tenant_id = $1 AND channel_id = $2 AND external_id = $3",
        )
        .bind(c.tenant_id.0)
        .bind(c.channel_id.0)
        .bind(&c.external_id)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn record_skip(
        &mut self,
        c: &ImportCommit,
        reason: SkipReason,
        platform_updated_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO order_skips (tenant_id, channel_id, external_id, reason, platform_updated_at, at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, channel_id, external_id) \
             DO UPDATE SET reason = EXCLUDED.reason, platform_updated_at = EXCLUDED.platform_updated_at, at = EXCLUDED.at",
        )
        .bind(c.tenant_id.0)
        .bind(c.channel_id.0)
        .bind(&c.external_id)
        .bind(reason.as_str())
        .bind(platform_updated_at)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn settle_deliveries(
        &mut self,
        c: &ImportCommit,
        started_at: DateTime<Utc>,
        state: &'static str,
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
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected())
    }

    async fn write_notes(&mut self, notes: &[TimelineNote]) -> StoreResult<()> {
        write_notes(self.0, notes).await
    }

    async fn write_events(&mut self, events: &[ponte_store::NewEvent]) -> StoreResult<()> {
        crate::events::write_events(self.0, events).await
    }

    /// Under the orders' locks, taken first: the SKUs' locks come after them.
    async fn order_effects(
        &mut self,
        orders: &[(TenantId, OrderId)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        crate::stock_orders::apply_order_effects(self.0, orders, now).await
    }
}

/// Applies a batch in one transaction, under the locks of its orders.
async fn apply_batch(
    store: &PgStore,
    batch: Vec<ImportCommit>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<PolledApplied>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = store.pool.begin().await.map_err(db_err)?;
    lock_orders(&mut tx, &batch).await?;
    let out = apply_imports(&mut Import(&mut tx), batch, now).await?;
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
        let out = apply_batch(self, batch, now).await?;
        Ok(out.into_iter().map(|p| p.applied).collect())
    }

    async fn apply_polled(
        &self,
        batch: Vec<ImportCommit>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<PolledApplied>> {
        apply_batch(self, batch, now).await
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
        push_period(
            &mut q,
            "orders",
            "placed_at",
            tenant.0,
            f.placed_from,
            f.placed_to,
        );
        // Each branch is one of migration 0009's expression indexes, written the same.
        const NUMBER: &str = "(data->>'number')";
        match &f.search {
            None => {}
            Some(OrderSearch::Document { normalized, text }) => {
                q.push(" AND ((data->'customer'->'document'->>'normalized') = ")
                    .push_bind(normalized.clone())
                    .push(format!(" OR {NUMBER} = "))
                    .push_bind(text.clone())
                    .push(")");
            }
            Some(OrderSearch::Email(e)) => {
                q.push(" AND lower(data->'customer'->>'email') = lower(")
                    .push_bind(e.clone())
                    .push(")");
            }
            Some(OrderSearch::Text(t)) => {
                const NAME: &str = "(lower(data->'customer'->>'name') COLLATE \"C\")";
                q.push(format!(" AND ({NUMBER} = "))
                    .push_bind(t.clone())
                    .push(format!(" OR ({NAME} >= lower("))
                    .push_bind(t.clone())
                    .push(format!(") AND {NAME} < lower("))
                    .push_bind(t.clone())
                    .push(") || chr(1114111)))");
            }
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
