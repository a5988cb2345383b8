use crate::codec::in_table;
use crate::codec::{
    col, from_opt_ts, from_ts, id, json, newest_first, push_period, raw_json, to_json, ts,
};
use crate::jobs::finish_in;
use crate::timeline::write_notes;
use crate::{db_err, SqliteStore};
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
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

pub(crate) const COLUMNS: &str =
    "tenant_id, id, channel_id, data, raw, fulfilment, created_at, updated_at";

/// [`COLUMNS`] but the platform payload: writers that never change it (ERP actions)
/// select these and `'null' AS raw`, not to read it back.
pub(crate) const COLUMNS_BUT_RAW: &str =
    "tenant_id, id, channel_id, data, fulfilment, created_at, updated_at";

pub(crate) fn decode(r: &SqliteRow) -> StoreResult<StoredOrder> {
    in_table("orders", || {
        Ok(StoredOrder {
            tenant_id: id(col(r, "tenant_id")?)?,
            id: id(col(r, "id")?)?,
            channel_id: id(col(r, "channel_id")?)?,
            data: json(col(r, "data")?)?,
            raw: raw_json(col(r, "raw")?)?,
            fulfilment: json(col(r, "fulfilment")?)?,
            created_at: from_ts(col(r, "created_at")?)?,
            updated_at: from_ts(col(r, "updated_at")?)?,
        })
    })
}

/// The import reads and writes on the writer's open transaction.
struct Import<'c>(&'c mut SqliteConnection);

/// Whether `sql` (binding the job and its owner, returning a row while `lease` holds
/// the job) found it.
async fn leased(
    conn: &mut SqliteConnection,
    sql: &'static str,
    lease: &JobLease,
) -> StoreResult<bool> {
    let row = sqlx::query(sql)
        .bind(lease.job_id.to_string())
        .bind(&lease.owner)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(row.is_some())
}

#[async_trait]
impl ImportTx for Import<'_> {
    async fn job_held(&mut self, lease: &JobLease) -> StoreResult<bool> {
        let sql = "SELECT 1 FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?";
        leased(self.0, sql, lease).await
    }

    async fn take_job(&mut self, lease: &JobLease) -> StoreResult<bool> {
        let sql = "DELETE FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ? \
                   RETURNING 1";
        leased(self.0, sql, lease).await
    }

    async fn finish_job(&mut self, lease: &JobLease, outcome: &JobOutcome) -> StoreResult<()> {
        finish_in(self.0, lease, outcome).await?;
        Ok(())
    }

    async fn existing(&mut self, c: &ImportCommit) -> StoreResult<ExistingOrder> {
        let row = sqlx::query(
            "SELECT o.id AS id, o.data AS data, o.fulfilment AS fulfilment, o.created_at AS created_at, \
               s.platform_updated_at AS skipped_at, s.reason AS reason \
             FROM (SELECT ?1 AS t, ?2 AS ch, ?3 AS ext) k \
             LEFT JOIN orders o ON o.tenant_id = k.t AND o.channel_id = k.ch AND o.external_id = k.ext \
             LEFT JOIN order_skips s ON s.tenant_id = k.t AND s.channel_id = k.ch AND s.external_id = k.ext",
        )
        .bind(c.tenant_id.to_string())
        .bind(c.channel_id.to_string())
        .bind(&c.external_id)
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_err)?;
        let (order, recorded) = match col::<Option<&str>>(&row, "id")? {
            Some(oid) => (
                Some((id(oid)?, json(col(&row, "data")?)?)),
                Some((
                    json(col(&row, "fulfilment")?)?,
                    from_ts(col(&row, "created_at")?)?,
                )),
            ),
            None => (None, None),
        };
        let skipped = match col::<Option<&str>>(&row, "reason")? {
            Some(_) => Some(from_opt_ts(col(&row, "skipped_at")?)?),
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.tenant_id.to_string())
        .bind(oid.to_string())
        .bind(c.channel_id.to_string())
        .bind(&c.external_id)
        .bind(order.data.status.as_str())
        .bind(order.data.platform_updated_at.map(ts))
        .bind(to_json(&order.data)?)
        .bind(to_json(&order.raw)?)
        .bind(ts(now))
        .bind(ts(now))
        .bind(ts(order.data.placed_at.unwrap_or(now)))
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
            "UPDATE orders SET status = ?, platform_updated_at = ?, data = ?, raw = ?, updated_at = ?, \
               placed_at = COALESCE(?, placed_at) \
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(data.status.as_str())
        .bind(data.platform_updated_at.map(ts))
        .bind(to_json(data)?)
        .bind(to_json(raw)?)
        .bind(ts(now))
        .bind(data.placed_at.map(ts))
        .bind(tenant.to_string())
        .bind(oid.to_string())
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn clear_skip(&mut self, c: &ImportCommit) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM order_skips WHERE tenant_id = ? AND channel_id = ? AND external_id = ?",
        )
        .bind(c.tenant_id.to_string())
        .bind(c.channel_id.to_string())
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
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, channel_id, external_id) \
             DO UPDATE SET reason = excluded.reason, platform_updated_at = excluded.platform_updated_at, at = excluded.at",
        )
        .bind(c.tenant_id.to_string())
        .bind(c.channel_id.to_string())
        .bind(&c.external_id)
        .bind(reason.as_str())
        .bind(platform_updated_at.map(ts))
        .bind(ts(now))
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
            "UPDATE deliveries SET state = ?, error = ?, processed_at = ? \
             WHERE tenant_id = ? AND channel_id = ? AND resource_id = ? AND state = 'received' AND received_at <= ?",
        )
        .bind(state)
        .bind(message)
        .bind(ts(now))
        .bind(c.tenant_id.to_string())
        .bind(c.channel_id.to_string())
        .bind(&c.external_id)
        .bind(ts(started_at))
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

    async fn order_effects(
        &mut self,
        orders: &[(TenantId, OrderId)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        crate::stock_orders::apply_order_effects(self.0, orders, now).await
    }
}

/// Applies a batch in one transaction.
async fn apply_batch(
    store: &SqliteStore,
    batch: Vec<ImportCommit>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<PolledApplied>> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    let out = apply_imports(&mut Import(&mut tx), batch, now).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(out)
}

#[async_trait]
impl OrderStore for SqliteStore {
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, channel_id, external_id, json_extract(data, '$.placed_at') AS placed_at \
             FROM orders WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string());
        if let Some(c) = channel {
            q.push(" AND channel_id = ").push_bind(c.to_string());
        }
        q.push(" AND status IN (");
        let mut list = q.separated(", ");
        for st in statuses {
            list.push_bind(st.as_str());
        }
        q.push(")");
        if let Some(a) = after {
            q.push(" AND id > ").push_bind(a.to_string());
        }
        q.push(" ORDER BY id LIMIT ").push_bind(i64::from(n));
        q.build()
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| {
                Ok(OrderRef {
                    id: id(col(r, "id")?)?,
                    channel_id: id(col(r, "channel_id")?)?,
                    external_id: col(r, "external_id")?,
                    placed_at: col::<Option<&str>>(r, "placed_at")?
                        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                        .map(|t| t.with_timezone(&Utc)),
                })
            })
            .collect()
    }

    async fn order(&self, tenant: TenantId, oid: OrderId) -> StoreResult<Option<StoredOrder>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM orders WHERE tenant_id = ? AND id = ?"
        ))
        .bind(tenant.to_string())
        .bind(oid.to_string())
        .fetch_optional(&self.reader)
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
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {COLUMNS} FROM orders WHERE tenant_id = "));
        q.push_bind(tenant.to_string());
        if let Some(c) = f.channel_id {
            q.push(" AND channel_id = ").push_bind(c.to_string());
        }
        if let Some(s) = f.status {
            q.push(" AND status = ").push_bind(s.as_str());
        }
        if let Some(e) = &f.external_id {
            q.push(" AND external_id = ").push_bind(e.clone());
        }
        if let Some(t) = f.updated_since {
            q.push(" AND updated_at >= ").push_bind(ts(t));
        }
        push_period(
            &mut q,
            "orders",
            "placed_at",
            &tenant.to_string(),
            f.placed_from,
            f.placed_to,
        );
        // Each branch is one of migration 0009's expression indexes, written the same.
        const NUMBER: &str = "json_extract(data, '$.number')";
        match &f.search {
            None => {}
            Some(OrderSearch::Document { normalized, text }) => {
                q.push(" AND (json_extract(data, '$.customer.document.normalized') = ")
                    .push_bind(normalized.clone())
                    .push(format!(" OR {NUMBER} = "))
                    .push_bind(text.clone())
                    .push(")");
            }
            Some(OrderSearch::Email(e)) => {
                q.push(" AND lower(json_extract(data, '$.customer.email')) = lower(")
                    .push_bind(e.clone())
                    .push(")");
            }
            Some(OrderSearch::Text(t)) => {
                const NAME: &str = "lower(json_extract(data, '$.customer.name'))";
                q.push(format!(" AND ({NUMBER} = "))
                    .push_bind(t.clone())
                    .push(format!(" OR ({NAME} >= lower("))
                    .push_bind(t.clone())
                    .push(format!(") AND {NAME} < lower("))
                    .push_bind(t.clone())
                    .push(") || char(1114111)))");
            }
        }
        newest_first(q, page, &self.reader, decode, |o| o.id.to_string()).await
    }

    async fn timeline(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        external_id: &str,
    ) -> StoreResult<Vec<TimelineEntry>> {
        let rows = sqlx::query(
            "SELECT at, kind, detail FROM ( \
               SELECT received_at AS at, 'delivery_received' AS kind, \
                      json_object('delivery_id', id, 'event', event, 'state', state) AS detail \
               FROM deliveries WHERE tenant_id = ?1 AND channel_id = ?2 AND resource_id = ?3 \
               UNION ALL \
               SELECT at, kind, detail FROM timeline WHERE tenant_id = ?1 AND channel_id = ?2 AND external_id = ?3 \
             ) ORDER BY at, kind <> 'delivery_received'",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(external_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(TimelineEntry {
                    at: from_ts(col(r, "at")?)?,
                    kind: col(r, "kind")?,
                    detail: json(col(r, "detail")?)?,
                })
            })
            .collect()
    }
}
