use crate::codec::{col, fetch_opt, fetch_rows, id, in_table, json, to_json, ts};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::{MappingKind, MappingStore, OrderGroup, OrderValueGroup, StoreResult};

/// The JSON paths of `data` a group reads.
fn group_fields(group: OrderGroup) -> &'static [&'static str] {
    match group {
        OrderGroup::PlatformStatus => &[
            "data->'platform_status'->>'status'",
            "data->'platform_status'->>'payment_status'",
            "data->'platform_status'->>'shipping_status'",
        ],
        OrderGroup::PaymentMethod => &["data->'payment'->>'method'", "data->'payment'->>'gateway'"],
    }
}

#[async_trait]
impl MappingStore for SqliteStore {
    async fn mapping(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        kind: MappingKind,
    ) -> StoreResult<Option<serde_json::Value>> {
        fetch_opt(
            sqlx::query(
                "SELECT body FROM channel_mappings WHERE tenant_id = ? AND channel_id = ? AND kind = ?",
            )
            .bind(tenant.to_string())
            .bind(channel.to_string())
            .bind(kind.as_str()),
            &self.reader,
            |r| in_table("channel_mappings", || json(col(r, "body")?)),
        )
        .await
    }

    async fn set_mapping(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        kind: MappingKind,
        rows: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO channel_mappings (tenant_id, channel_id, kind, body, updated_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, channel_id, kind) \
             DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(kind.as_str())
        .bind(to_json(rows)?)
        .bind(ts(at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn order_groups(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        group: OrderGroup,
    ) -> StoreResult<Vec<OrderValueGroup>> {
        let fields = group_fields(group);
        let select: Vec<String> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{f} AS v{i}"))
            .collect();
        let by: Vec<String> = (1..=fields.len()).map(|i| i.to_string()).collect();
        let sql = format!(
            "SELECT {}, COUNT(*) AS n, MIN(id) AS example FROM orders \
             WHERE tenant_id = ? AND channel_id = ? GROUP BY {} ORDER BY n DESC, example",
            select.join(", "),
            by.join(", ")
        );
        fetch_rows(
            sqlx::query(&sql)
                .bind(tenant.to_string())
                .bind(channel.to_string()),
            &self.reader,
            |r| {
                in_table("orders", || {
                    let values = (0..fields.len())
                        .map(|i| col::<Option<String>>(r, &format!("v{i}")))
                        .collect::<StoreResult<_>>()?;
                    Ok(OrderValueGroup {
                        values,
                        count: u64::try_from(col::<i64>(r, "n")?).unwrap_or(0),
                        example: id(col(r, "example")?)?,
                    })
                })
            },
        )
        .await
    }
}
