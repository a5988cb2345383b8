use crate::codec::{col, fetch_opt, fetch_rows, in_table};
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, OrderId, TenantId};
use ponte_store::{
    MappingKind, MappingStore, OrderGroup, OrderValueGroup, StoreError, StoreResult,
};

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
impl MappingStore for PgStore {
    async fn mapping(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        kind: MappingKind,
    ) -> StoreResult<Option<serde_json::Value>> {
        fetch_opt(
            sqlx::query(
                "SELECT body FROM channel_mappings WHERE tenant_id = $1 AND channel_id = $2 AND kind = $3",
            )
            .bind(tenant.0)
            .bind(channel.0)
            .bind(kind.as_str()),
            &self.pool,
            |r| in_table("channel_mappings", || col(r, "body")),
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
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, channel_id, kind) \
             DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(channel.0)
        .bind(kind.as_str())
        .bind(rows)
        .bind(at)
        .execute(&self.pool)
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
            "SELECT {}, COUNT(*) AS n, MIN(id::text) AS example FROM orders \
             WHERE tenant_id = $1 AND channel_id = $2 GROUP BY {} ORDER BY n DESC, example",
            select.join(", "),
            by.join(", ")
        );
        fetch_rows(
            sqlx::query(&sql).bind(tenant.0).bind(channel.0),
            &self.pool,
            |r| {
                in_table("orders", || {
                    let values = (0..fields.len())
                        .map(|i| col::<Option<String>>(r, &format!("v{i}")))
                        .collect::<StoreResult<_>>()?;
                    let example: String = col(r, "example")?;
                    Ok(OrderValueGroup {
                        values,
                        count: u64::try_from(col::<i64>(r, "n")?).unwrap_or(0),
                        example: example
                            .parse::<OrderId>()
                            .map_err(|_| StoreError::Corrupt(format!("order id {example}")))?,
                    })
                })
            },
        )
        .await
    }
}
