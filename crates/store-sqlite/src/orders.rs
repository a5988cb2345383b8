use crate::codec::{col, from_opt_ts, from_ts, id, json, newest_first, pow2_chunks, to_json, ts};
use crate::jobs::finish_in;
use crate::{db_err, SqliteStore};
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
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

pub(crate) const COLUMNS: &str =
    "tenant_id, id, channel_id, data, raw, fulfilment, created_at, updated_at";

pub(crate) fn decode(r: &SqliteRow) -> StoreResult<StoredOrder> {
    Ok(StoredOrder {
        tenant_id: id(col(r, "tenant_id")?)?,
        id: id(col(r, "id")?)?,
        channel_id: id(col(r, "channel_id")?)?,
        data: json(col(r, "data")?)?,
        raw: json(col(r, "raw")?)?,
        fulfilment: json(col(r, "fulfilment")?)?,
        created_at: from_ts(col(r, "created_at")?)?,
        updated_at: from_ts(col(r, "updated_at")?)?,
    })
}

/// Timeline entries collected during a batch, written in one statement.
#[derive(Default)]
struct Notes(Vec<(String, String, String, i64, &'static str, String)>);

impl Notes {
    fn add(
        &mut self,
        c: &ImportCommit,
        at: DateTime<Utc>,
        kind: &'static str,
        detail: serde_json::Value,
    ) {
        self.0.push((
            c.tenant_id.to_string(),
            c.channel_id.to_string(),
            c.external_id.clone(),
            ts(at),
            kind,
            detail.to_string(),
        ));
    }

    async fn write(self, conn: &mut SqliteConnection) -> StoreResult<()> {
        for chunk in pow2_chunks(&self.0) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO timeline (tenant_id, channel_id, external_id, at, kind, detail) ",
            );
            q.push_values(chunk, |mut b, n| {
                b.push_bind(&n.0)
                    .push_bind(&n.1)
                    .push_bind(&n.2)
                    .push_bind(n.3)
                    .push_bind(n.4)
                    .push_bind(&n.5);
            });
            q.build().execute(&mut *conn).await.map_err(db_err)?;
        }
        Ok(())
    }
}

/// Marks the deliveries this job run covered (received before it started).
async fn settle_deliveries(
    conn: &mut SqliteConnection,
    c: &ImportCommit,
    started_at: i64,
    state: &str,
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
    .bind(started_at)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(r.rows_affected())
}

/// What is stored of an order: the order itself or a skip record.
struct Existing {
    order: Option<(OrderId, OrderData)>,
    skipped: Option<Option<i64>>,
}

async fn existing(conn: &mut SqliteConnection, c: &ImportCommit) -> StoreResult<Existing> {
    let row = sqlx::query(
        "SELECT o.id AS id, o.data AS data, s.platform_updated_at AS skipped_at, s.reason AS reason \
         FROM (SELECT ?1 AS t, ?2 AS ch, ?3 AS ext) k \
         LEFT JOIN orders o ON o.tenant_id = k.t AND o.channel_id = k.ch AND o.external_id = k.ext \
         LEFT JOIN order_skips s ON s.tenant_id = k.t AND s.channel_id = k.ch AND s.external_id = k.ext",
    )
    .bind(c.tenant_id.to_string())
    .bind(c.channel_id.to_string())
    .bind(&c.external_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let order = match col::<Option<&str>>(&row, "id")? {
        Some(oid) => Some((id(oid)?, json(col(&row, "data")?)?)),
        None => None,
    };
    let skipped = match col::<Option<&str>>(&row, "reason")? {
        Some(_) => Some(col::<Option<i64>>(&row, "skipped_at")?),
        None => None,
    };
    Ok(Existing { order, skipped })
}

async fn apply_one(
    conn: &mut SqliteConnection,
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
            let started: Option<Option<i64>> = sqlx::query_scalar(
                "SELECT started_at FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?",
            )
            .bind(lease.job_id.to_string())
            .bind(&lease.owner)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            let Some(started_at) = started else {
                return Ok((ImportApplied::LeaseLost, 0));
            };
            notes.add(
                &c,
                now,
                "fetched",
                serde_json::to_value(&c.call).unwrap_or_default(),
            );
            if let JobOutcome::Failed { error } = outcome {
                settle_deliveries(
                    conn,
                    &c,
                    started_at.unwrap_or(ts(now)),
                    "failed",
                    Some(error.clone()),
                    now,
                )
                .await?;
            }
            finish_in(conn, lease, outcome).await?;
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
            let started: Option<Option<i64>> = sqlx::query_scalar(
                "DELETE FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ? RETURNING started_at",
            )
            .bind(lease.job_id.to_string())
            .bind(&lease.owner)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            let Some(started_at) = started else {
                return Ok((ImportApplied::LeaseLost, 0));
            };
            started_at.unwrap_or(ts(now))
        }
        None => ts(now),
    };
    notes.add(
        &c,
        now,
        "fetched",
        serde_json::to_value(&c.call).unwrap_or_default(),
    );
    let ex = existing(conn, &c).await?;
    let known = match (&ex.order, ex.skipped) {
        (Some((_, d)), _) => Some(Known::Order(d)),
        (None, Some(at)) => Some(Known::Skipped(from_opt_ts(at)?)),
        (None, None) => None,
    };
    let applied = match decide(known, order, policy) {
        ImportDecision::Create => {
            let oid = OrderId::new();
            sqlx::query(
                "INSERT INTO orders (tenant_id, id, channel_id, external_id, status, platform_updated_at, data, raw, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            if ex.skipped.is_some() {
                sqlx::query("DELETE FROM order_skips WHERE tenant_id = ? AND channel_id = ? AND external_id = ?")
                    .bind(c.tenant_id.to_string())
                    .bind(c.channel_id.to_string())
                    .bind(&c.external_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            notes.add(
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
                "UPDATE orders SET status = ?, platform_updated_at = ?, data = ?, raw = ?, updated_at = ? \
                 WHERE tenant_id = ? AND id = ?",
            )
            .bind(data.status.as_str())
            .bind(data.platform_updated_at.map(ts))
            .bind(to_json(&*data)?)
            .bind(to_json(&order.raw)?)
            .bind(ts(now))
            .bind(c.tenant_id.to_string())
            .bind(oid.to_string())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            match status_from {
                Some(from) => notes.add(
                    &c,
                    now,
                    "status_changed",
                    json!({ "from": from, "to": data.status, "by": "platform" }),
                ),
                None => notes.add(&c, now, "updated", json!({ "status": data.status })),
            }
            ImportApplied::Updated(oid)
        }
        ImportDecision::Unchanged => match ex.order {
            Some((oid, _)) => ImportApplied::Unchanged(oid),
            None => ImportApplied::Stale,
        },
        ImportDecision::Stale => {
            notes.add(
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
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, channel_id, external_id) \
                 DO UPDATE SET reason = excluded.reason, platform_updated_at = excluded.platform_updated_at, at = excluded.at",
            )
            .bind(c.tenant_id.to_string())
            .bind(c.channel_id.to_string())
            .bind(&c.external_id)
            .bind(reason.as_str())
            .bind(order.data.platform_updated_at.map(ts))
            .bind(ts(now))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            notes.add(&c, now, "skipped", json!({ "reason": reason.as_str() }));
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
    store: &SqliteStore,
    batch: Vec<ImportCommit>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<(ImportApplied, u64)>> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
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
    crate::stock_orders::apply_order_effects(&mut tx, &touched, now).await?;
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
