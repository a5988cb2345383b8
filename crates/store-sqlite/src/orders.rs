use crate::codec::{from_opt_ts, from_ts, id, json, limit, to_json, ts};
use crate::jobs::finish_in;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::import::{decide, ImportDecision, Known};
use ponte_core::order::OrderData;
use ponte_core::{ChannelId, OrderId, TenantId};
use ponte_store::{
    ImportApplied, ImportCommit, ImportResult, JobOutcome, OrderFilter, OrderStore, Page,
    PageRequest, StoreResult, StoredOrder, TimelineEntry,
};
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

const COLUMNS: &str = "tenant_id, id, channel_id, data, raw, created_at, updated_at";

fn decode(r: &SqliteRow) -> StoreResult<StoredOrder> {
    Ok(StoredOrder {
        tenant_id: id(r.get("tenant_id"))?,
        id: id(r.get("id"))?,
        channel_id: id(r.get("channel_id"))?,
        data: json(r.get("data"))?,
        raw: json(r.get("raw"))?,
        created_at: from_ts(r.get("created_at"))?,
        updated_at: from_ts(r.get("updated_at"))?,
    })
}

/// Appends a timeline entry.
async fn note(
    conn: &mut SqliteConnection,
    c: &ImportCommit,
    at: DateTime<Utc>,
    kind: &str,
    detail: serde_json::Value,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO timeline (tenant_id, channel_id, external_id, at, kind, detail) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(c.tenant_id.to_string())
        .bind(c.channel_id.to_string())
        .bind(&c.external_id)
        .bind(ts(at))
        .bind(kind)
        .bind(to_json(&detail)?)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Marks the deliveries this job run covered (received before it started).
async fn settle_deliveries(
    conn: &mut SqliteConnection,
    c: &ImportCommit,
    started_at: i64,
    state: &str,
    message: Option<String>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE deliveries SET state = ?, error = ?, processed_at = ? \
         WHERE tenant_id = ? AND job_key = ? AND state = 'received' AND received_at <= ?",
    )
    .bind(state)
    .bind(message)
    .bind(ts(now))
    .bind(c.tenant_id.to_string())
    .bind(job_key(c))
    .bind(started_at)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// The unique key import jobs use; deliveries point at it.
fn job_key(c: &ImportCommit) -> String {
    ponte_store::import_job_key(c.channel_id, &c.external_id)
}

async fn apply_one(
    conn: &mut SqliteConnection,
    c: ImportCommit,
    now: DateTime<Utc>,
) -> StoreResult<ImportApplied> {
    let started: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT started_at FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?",
    )
    .bind(c.lease.job_id.to_string())
    .bind(&c.lease.owner)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some(started_at) = started else {
        return Ok(ImportApplied::LeaseLost);
    };
    let started_at = started_at.unwrap_or(ts(now));
    note(
        conn,
        &c,
        now,
        "fetched",
        serde_json::to_value(&c.call).unwrap_or_default(),
    )
    .await?;
    let (order, policy) = match &c.result {
        ImportResult::FetchFailed { outcome } => {
            let failed = matches!(outcome, JobOutcome::Failed { .. });
            if failed {
                let msg = match outcome {
                    JobOutcome::Failed { error } => Some(error.clone()),
                    _ => None,
                };
                settle_deliveries(conn, &c, started_at, "failed", msg, now).await?;
            }
            finish_in(conn, &c.lease, outcome).await?;
            return Ok(if failed {
                ImportApplied::Failed
            } else {
                ImportApplied::Retrying
            });
        }
        ImportResult::Fetched { order, policy } => (order, *policy),
    };
    let existing = sqlx::query(
        "SELECT id, data FROM orders WHERE tenant_id = ? AND channel_id = ? AND external_id = ?",
    )
    .bind(c.tenant_id.to_string())
    .bind(c.channel_id.to_string())
    .bind(&c.external_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let known: Option<(OrderId, OrderData)> = match &existing {
        Some(r) => Some((id(r.get("id"))?, json(r.get("data"))?)),
        None => None,
    };
    let skipped_at: Option<Option<i64>> = if known.is_none() {
        sqlx::query_scalar(
            "SELECT platform_updated_at FROM order_skips WHERE tenant_id = ? AND channel_id = ? AND external_id = ?",
        )
        .bind(c.tenant_id.to_string())
        .bind(c.channel_id.to_string())
        .bind(&c.external_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
    } else {
        None
    };
    let k = match (&known, skipped_at) {
        (Some((_, d)), _) => Some(Known::Order(d)),
        (None, Some(at)) => Some(Known::Skipped(from_opt_ts(at)?)),
        (None, None) => None,
    };
    let applied = match decide(k, order, policy) {
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
            sqlx::query("DELETE FROM order_skips WHERE tenant_id = ? AND channel_id = ? AND external_id = ?")
                .bind(c.tenant_id.to_string())
                .bind(c.channel_id.to_string())
                .bind(&c.external_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            note(
                conn,
                &c,
                now,
                "imported",
                json!({ "order_id": oid, "status": order.data.status }),
            )
            .await?;
            ImportApplied::Created(oid)
        }
        ImportDecision::Update { data, status_from } => {
            let Some((oid, _)) = known else {
                return Ok(ImportApplied::Stale);
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
                Some(from) => {
                    note(
                        conn,
                        &c,
                        now,
                        "status_changed",
                        json!({ "from": from, "to": data.status, "by": "platform" }),
                    )
                    .await?
                }
                None => note(conn, &c, now, "updated", json!({ "status": data.status })).await?,
            }
            ImportApplied::Updated(oid)
        }
        ImportDecision::Unchanged => match known {
            Some((oid, _)) => ImportApplied::Unchanged(oid),
            None => ImportApplied::Stale,
        },
        ImportDecision::Stale => {
            note(
                conn,
                &c,
                now,
                "stale_ignored",
                json!({ "platform_updated_at": order.data.platform_updated_at }),
            )
            .await?;
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
            note(
                conn,
                &c,
                now,
                "skipped",
                json!({ "reason": reason.as_str() }),
            )
            .await?;
            ImportApplied::Skipped(reason)
        }
    };
    let message = match &applied {
        ImportApplied::Skipped(r) => Some(format!("skipped: {}", r.as_str())),
        ImportApplied::Stale => Some("stale: a newer version is stored".to_owned()),
        _ => None,
    };
    settle_deliveries(conn, &c, started_at, "processed", message, now).await?;
    finish_in(conn, &c.lease, &JobOutcome::Done).await?;
    Ok(applied)
}

#[async_trait]
impl OrderStore for SqliteStore {
    async fn apply_imports(
        &self,
        batch: Vec<ImportCommit>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ImportApplied>> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let mut out = Vec::with_capacity(batch.len());
        for c in batch {
            out.push(apply_one(&mut tx, c, now).await?);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(out)
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
        if let Some(c) = &page.cursor {
            q.push(" AND id < ").push_bind(c.clone());
        }
        let n = limit(page.limit);
        q.push(" ORDER BY id DESC LIMIT ").push_bind(n);
        let items = q
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?
            .iter()
            .map(decode)
            .collect::<StoreResult<Vec<_>>>()?;
        let next_cursor = (items.len() as i64 == n)
            .then(|| items.last().map(|o| o.id.to_string()))
            .flatten();
        Ok(Page { items, next_cursor })
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
             ) ORDER BY at",
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
                    at: from_ts(r.get("at"))?,
                    kind: r.get("kind"),
                    detail: json(r.get("detail"))?,
                })
            })
            .collect()
    }
}
