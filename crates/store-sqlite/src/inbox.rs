use crate::codec::in_table;
use crate::codec::{col, from_opt_ts, from_ts, id, newest_first, pow2_chunks, ts};
use crate::jobs::insert_jobs;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use ponte_core::TenantId;
use ponte_store::inbox::delivery_jobs;
use ponte_store::rows::parse_stored;
use ponte_store::{
    Delivery, DeliveryFilter, DeliveryState, InboxStore, NewDelivery, Page, PageRequest,
    StoreResult,
};
use sqlx::{QueryBuilder, Sqlite};

#[async_trait]
impl InboxStore for SqliteStore {
    async fn accept_deliveries(&self, batch: &[NewDelivery]) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        for chunk in pow2_chunks(batch) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO deliveries (tenant_id, id, channel_id, received_at, event, resource_id, body, state, error) ",
            );
            q.push_values(chunk, |mut b, d| {
                b.push_bind(d.tenant_id.to_string())
                    .push_bind(d.id.to_string())
                    .push_bind(d.channel_id.to_string())
                    .push_bind(ts(d.received_at))
                    .push_bind(&d.event)
                    .push_bind(&d.resource_id)
                    .push_bind(&d.body)
                    .push_bind(d.state.as_str())
                    .push_bind(&d.note);
            });
            q.build().execute(&mut *tx).await.map_err(db_err)?;
        }
        insert_jobs(&mut tx, &delivery_jobs(batch)).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn deliveries(
        &self,
        tenant: TenantId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, channel_id, received_at, event, resource_id, body, state, error, processed_at \
             FROM deliveries WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string());
        if let Some(c) = filter.channel_id {
            q.push(" AND channel_id = ").push_bind(c.to_string());
        }
        if let Some(s) = filter.state {
            q.push(" AND state = ").push_bind(s.as_str());
        }
        if let Some(r) = &filter.resource_id {
            q.push(" AND resource_id = ").push_bind(r.clone());
        }
        newest_first(
            q,
            page,
            &self.reader,
            |r| {
                let state: String = col(r, "state")?;
                in_table("deliveries", || {
                    Ok(Delivery {
                        id: id(col(r, "id")?)?,
                        channel_id: id(col(r, "channel_id")?)?,
                        received_at: from_ts(col(r, "received_at")?)?,
                        event: col(r, "event")?,
                        resource_id: col(r, "resource_id")?,
                        body: String::from_utf8_lossy(col::<&[u8]>(r, "body")?).into_owned(),
                        state: parse_stored("delivery state", &state, DeliveryState::parse)?,
                        error: col(r, "error")?,
                        processed_at: from_opt_ts(col(r, "processed_at")?)?,
                    })
                })
            },
            |d| d.id.to_string(),
        )
        .await
    }
}
