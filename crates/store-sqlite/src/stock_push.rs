//! Pushing stock: recording push calls and their effect on the targets (the primitive
//! of `ponte_store::stock_push`), and the push history of every kind.

use crate::codec::in_table;
use crate::codec::{col, from_ts, id, limit};
use crate::stock::fetch;
use crate::stock_marks::SqliteTx;
use crate::SqliteStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::stock_plan::keyset_page;
use ponte_store::stock_push::{push_cursor, PushTx};
use ponte_store::target_push::{PushKind, PushRow};
use ponte_store::*;
use sqlx::{QueryBuilder, Sqlite};

#[async_trait]
impl PushTx for SqliteTx<'_> {
    async fn write_push(
        &mut self,
        tenant: TenantId,
        row: &PushRow<'_, i64>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        crate::target_push::write_call(self.0, PushKind::STOCK, tenant, row, now).await
    }

    async fn write_events(&mut self, events: &[ponte_store::NewEvent]) -> StoreResult<()> {
        crate::events::write_events(self.0, events).await
    }
}

/// A page of a push history (of any kind).
pub(crate) async fn list(
    kind: PushKind,
    store: &SqliteStore,
    tenant: TenantId,
    channel: Option<ChannelId>,
    sku: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Page<StockPush>> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT p.seq, p.channel_id, p.at, p.request, p.items, p.http_status, p.duration_ms, p.outcome, p.error FROM ",
    );
    q.push(kind.calls).push(" p WHERE p.tenant_id = ");
    q.push_bind(tenant.to_string());
    if let Some(c) = channel {
        q.push(" AND p.channel_id = ").push_bind(c.to_string());
    }
    if let Some(s) = sku {
        q.push(" AND p.seq IN (SELECT push_seq FROM ")
            .push(kind.call_skus)
            .push(" WHERE tenant_id = ")
            .push_bind(tenant.to_string())
            .push(" AND sku = ")
            .push_bind(s.to_owned())
            .push(")");
    }
    if let Some(c) = &page.cursor {
        q.push(" AND p.seq < ").push_bind(push_cursor(c)?);
    }
    let n = limit(page.limit);
    q.push(" ORDER BY p.seq DESC LIMIT ").push_bind(n);
    let items = fetch(q.build(), &store.reader, |r| {
        in_table(kind.calls, || {
            Ok(StockPush {
                seq: col(r, "seq")?,
                channel_id: id(col(r, "channel_id")?)?,
                at: from_ts(col(r, "at")?)?,
                request: col(r, "request")?,
                items: crate::codec::json(col(r, "items")?)?,
                http_status: col::<Option<i64>>(r, "http_status")?
                    .and_then(|s| u16::try_from(s).ok()),
                duration_ms: u64::try_from(col::<i64>(r, "duration_ms")?).unwrap_or(0),
                outcome: col(r, "outcome")?,
                error: col(r, "error")?,
            })
        })
    })
    .await?;
    Ok(keyset_page(items, n, |p| p.seq.to_string()))
}
