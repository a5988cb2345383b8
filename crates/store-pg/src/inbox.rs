use crate::codec::in_table;
use crate::codec::{col, newest_first};
use crate::jobs::insert_jobs;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, DeliveryId, TenantId};
use ponte_store::inbox::delivery_jobs;
use ponte_store::rows::parse_stored;
use ponte_store::{
    Delivery, DeliveryFilter, DeliveryState, InboxStore, NewDelivery, Page, PageRequest,
    StoreResult,
};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

#[async_trait]
impl InboxStore for PgStore {
    async fn accept_deliveries(&self, batch: &[NewDelivery]) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let tenants: Vec<Uuid> = batch.iter().map(|d| d.tenant_id.0).collect();
        let ids: Vec<Uuid> = batch.iter().map(|d| d.id.0).collect();
        let channels: Vec<Uuid> = batch.iter().map(|d| d.channel_id.0).collect();
        let received: Vec<DateTime<Utc>> = batch.iter().map(|d| d.received_at).collect();
        let events: Vec<&str> = batch.iter().map(|d| d.event.as_str()).collect();
        let resources: Vec<Option<&str>> = batch.iter().map(|d| d.resource_id.as_deref()).collect();
        let bodies: Vec<&[u8]> = batch.iter().map(|d| d.body.as_slice()).collect();
        let states: Vec<&str> = batch.iter().map(|d| d.state.as_str()).collect();
        let notes: Vec<Option<&str>> = batch.iter().map(|d| d.note.as_deref()).collect();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO deliveries (tenant_id, id, channel_id, received_at, event, resource_id, body, state, error) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::text[], \
                                  $6::text[], $7::bytea[], $8::text[], $9::text[])",
        )
        .bind(tenants)
        .bind(ids)
        .bind(channels)
        .bind(received)
        .bind(events)
        .bind(resources)
        .bind(bodies)
        .bind(states)
        .bind(notes)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_jobs(&mut tx, &delivery_jobs(batch)).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn deliveries(
        &self,
        tenant: TenantId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT id, channel_id, received_at, event, resource_id, body, state, error, processed_at \
             FROM deliveries WHERE tenant_id = ",
        );
        q.push_bind(tenant.0);
        if let Some(c) = filter.channel_id {
            q.push(" AND channel_id = ").push_bind(c.0);
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
            &self.pool,
            |r| {
                let state: String = col(r, "state")?;
                in_table("deliveries", || {
                    Ok(Delivery {
                        id: DeliveryId(col(r, "id")?),
                        channel_id: ChannelId(col(r, "channel_id")?),
                        received_at: col(r, "received_at")?,
                        event: col(r, "event")?,
                        resource_id: col(r, "resource_id")?,
                        body: String::from_utf8_lossy(col::<&[u8]>(r, "body")?).into_owned(),
                        state: parse_stored("delivery state", &state, DeliveryState::parse)?,
                        error: col(r, "error")?,
                        processed_at: col(r, "processed_at")?,
                    })
                })
            },
            |d| d.id.to_string(),
        )
        .await
    }
}
