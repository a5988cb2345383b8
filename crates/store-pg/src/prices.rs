//! Prices: writes run the sequences of `ponte_store::price_writes` over [`PgTx`]
//! (primitives in `price_tx.rs`); reading a SKU's prices and the scheduled ones.

use crate::codec::{col, cursor, in_table, limit};
use crate::price_tx::{decode_price, decode_scheduled, SCHEDULED_COLUMNS};
use crate::stock::fetch;
use crate::stock_marks::PgTx;
use crate::target_push::decode_target;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, ScheduledPriceId, TenantId};
use ponte_store::price_push::record_price_pushes;
use ponte_store::price_writes;
use ponte_store::stock_plan::keyset_page;
use ponte_store::stock_push::push_state_counts;
use ponte_store::target_push::PushKind;
use ponte_store::target_row::target_columns;
use ponte_store::*;
use uuid::Uuid;

#[async_trait]
impl PriceStore for PgStore {
    async fn write_prices(
        &self,
        tenant: TenantId,
        rows: &[NewPrice],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<PricesWritten, Vec<(usize, String)>>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let out = price_writes::write_prices(&mut PgTx(&mut tx), tenant, rows, now).await?;
        if out.is_ok() {
            tx.commit().await.map_err(db_err)?;
        }
        Ok(out)
    }

    async fn apply_scheduled_price(
        &self,
        tenant: TenantId,
        id: ScheduledPriceId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ScheduledPrice>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let out = price_writes::apply_scheduled(&mut PgTx(&mut tx), tenant, id, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn cancel_scheduled_price(
        &self,
        tenant: TenantId,
        id: ScheduledPriceId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let out = price_writes::cancel_scheduled(&mut PgTx(&mut tx), tenant, id, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn set_channel_prices(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        settings: &ChannelPrices,
        force: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let n = price_writes::set_channel_prices(
            &mut PgTx(&mut tx),
            tenant,
            channel,
            settings,
            force,
            now,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }

    async fn mark_price_edge(
        &self,
        tenant: TenantId,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let n = price_writes::mark_window_edge(&mut PgTx(&mut tx), tenant, at, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }

    async fn resync_prices(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let n = price_writes::resync_prices(&mut PgTx(&mut tx), tenant, channel, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }

    async fn price_pushes(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
        sku: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Page<StockPush>> {
        crate::stock_push::list(PushKind::PRICES, self, tenant, channel, sku, page).await
    }

    async fn price_summary(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<(u64, u64, u64)> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) AS n FROM price_targets WHERE tenant_id = $1 AND channel_id = $2 GROUP BY state",
        )
        .bind(tenant.0)
        .bind(channel.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(push_state_counts(&rows))
    }

    async fn sku_prices(&self, tenant: TenantId, sku: &str) -> StoreResult<Option<SkuPrices>> {
        if self.product(tenant, sku).await?.is_none() {
            return Ok(None);
        }
        let q = sqlx::query(
            "SELECT price, promotional_price, promotional_from, promotional_until, updated_at \
             FROM prices WHERE tenant_id = $1 AND sku = $2",
        )
        .bind(tenant.0)
        .bind(sku);
        let current = fetch(q, &self.pool, |r| {
            in_table("prices", || Ok((decode_price(r)?, col(r, "updated_at")?)))
        })
        .await?
        .pop();
        let q = format!(
            "SELECT {SCHEDULED_COLUMNS} FROM scheduled_prices WHERE tenant_id = $1 AND sku = $2 \
             AND state = 'waiting' ORDER BY effective_at, id"
        );
        let q = sqlx::query(&q).bind(tenant.0).bind(sku);
        let scheduled = fetch(q, &self.pool, decode_scheduled).await?;
        let channels = crate::target_push::sku_targets(self, tenant, sku).await?;
        Ok(Some(SkuPrices {
            sku: sku.to_owned(),
            current,
            scheduled,
            channels,
        }))
    }

    async fn claim_price_targets(
        &self,
        lease: &JobLease,
        channel: ChannelId,
        limit: u32,
    ) -> StoreResult<Option<Vec<PriceTarget>>> {
        crate::target_push::claim(self, lease, channel, limit).await
    }

    async fn record_price_pushes(
        &self,
        tenant: TenantId,
        pushes: &[PricePushRecord],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if pushes.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        record_price_pushes(&mut PgTx(&mut tx), tenant, pushes, now).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn price_check_sample(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        n: u32,
    ) -> StoreResult<Vec<PriceTarget>> {
        let q = format!(
            "SELECT {} FROM price_targets WHERE tenant_id = $1 AND channel_id = $2 \
             AND state = 'pushed' ORDER BY random() LIMIT $3",
            target_columns::<PriceTarget>()
        );
        let q = sqlx::query(&q)
            .bind(tenant.0)
            .bind(channel.0)
            .bind(i64::from(n));
        fetch(q, &self.pool, decode_target).await
    }

    async fn note_price_drift(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        drifts: &[(String, String)],
        fix: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let n =
            price_writes::note_drift(&mut PgTx(&mut tx), tenant, channel, drifts, fix, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }

    async fn scheduled_prices(
        &self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> StoreResult<Page<ScheduledPrice>> {
        let n = limit(page.limit);
        let after = match &page.cursor {
            Some(c) => cursor(c)?,
            None => Uuid::nil(),
        };
        let q = format!(
            "SELECT {SCHEDULED_COLUMNS} FROM scheduled_prices WHERE tenant_id = $1 \
             AND state = 'waiting' AND id > $2 ORDER BY id LIMIT $3"
        );
        let q = sqlx::query(&q).bind(tenant.0).bind(after).bind(n);
        let items = fetch(q, &self.pool, decode_scheduled).await?;
        Ok(keyset_page(items, n, |s| s.id.to_string()))
    }
}
