//! Carrier accounts and shipment tracking.

use crate::codec::{col, fetch_rows, from_json, in_table};
use crate::timeline::write_notes;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{CarrierAccountId, ChannelId, OrderId, TenantId};
use ponte_store::{
    tracking_notes, CarrierAccount, CarrierStore, ShipmentToTrack, StoreResult, TrackingPoll,
};
use sqlx::postgres::PgRow;
use std::collections::HashSet;
use uuid::Uuid;

const COLUMNS: &str =
    "tenant_id, id, carrier, name, is_default, settings, credentials, created_at, updated_at";

fn decode(r: &PgRow) -> StoreResult<CarrierAccount> {
    in_table("carrier_accounts", || {
        Ok(CarrierAccount {
            tenant_id: TenantId(col(r, "tenant_id")?),
            id: CarrierAccountId(col(r, "id")?),
            carrier: col(r, "carrier")?,
            name: col(r, "name")?,
            is_default: col(r, "is_default")?,
            settings: col(r, "settings")?,
            credentials: col(r, "credentials")?,
            created_at: col(r, "created_at")?,
            updated_at: col(r, "updated_at")?,
        })
    })
}

#[async_trait]
impl CarrierStore for PgStore {
    async fn insert_carrier_account(&self, a: &CarrierAccount) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if a.is_default {
            sqlx::query("UPDATE carrier_accounts SET is_default = false WHERE tenant_id = $1")
                .bind(a.tenant_id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query(&format!(
            "INSERT INTO carrier_accounts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(a.tenant_id.0)
        .bind(a.id.0)
        .bind(&a.carrier)
        .bind(&a.name)
        .bind(a.is_default)
        .bind(&a.settings)
        .bind(&a.credentials)
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn carrier_accounts(&self, tenant: TenantId) -> StoreResult<Vec<CarrierAccount>> {
        fetch_rows(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM carrier_accounts WHERE tenant_id = $1 ORDER BY created_at, id"
            ))
            .bind(tenant.0),
            &self.pool,
            decode,
        )
        .await
    }

    async fn delete_carrier_account(
        &self,
        tenant: TenantId,
        account: CarrierAccountId,
    ) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM carrier_accounts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(account.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn shipments_to_track(
        &self,
        tenant: TenantId,
        after: Option<OrderId>,
        limit: u32,
    ) -> StoreResult<(Vec<ShipmentToTrack>, Option<OrderId>)> {
        let rows = sqlx::query(
            "SELECT o.id AS id, o.channel_id AS channel_id, o.external_id AS external_id, \
             o.fulfilment AS fulfilment, p.polled_at AS polled_at \
             FROM orders o LEFT JOIN shipment_polls p ON p.tenant_id = o.tenant_id AND p.order_id = o.id \
             WHERE o.tenant_id = $1 AND o.status = 'shipped' AND ($2::uuid IS NULL OR o.id > $2) \
             ORDER BY o.id LIMIT $3",
        )
        .bind(tenant.0)
        .bind(after.map(|a| a.0))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut last = None;
        for r in &rows {
            let order = OrderId(col::<Uuid>(r, "id")?);
            last = Some(order);
            let fulfilment = from_json(col(r, "fulfilment")?)?;
            out.extend(ShipmentToTrack::of(
                order,
                ChannelId(col(r, "channel_id")?),
                col(r, "external_id")?,
                &fulfilment,
                col(r, "polled_at")?,
            ));
        }
        Ok((out, last))
    }

    async fn record_tracking(
        &self,
        tenant: TenantId,
        polls: &[TrackingPoll],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut orders = vec![];
        let mut keys = vec![];
        let mut at = vec![];
        for p in polls {
            for e in &p.events {
                orders.push(p.order_id.0);
                keys.push(e.key.as_str());
                at.push(e.at);
            }
        }
        let inserted: Vec<(Uuid, String)> = sqlx::query_as(
            "INSERT INTO tracking_events (tenant_id, order_id, event_key, at) \
             SELECT $1, * FROM UNNEST($2::uuid[], $3::text[], $4::timestamptz[]) \
             ON CONFLICT DO NOTHING RETURNING order_id, event_key",
        )
        .bind(tenant.0)
        .bind(&orders)
        .bind(&keys)
        .bind(&at)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let polled: Vec<Uuid> = polls.iter().map(|p| p.order_id.0).collect();
        sqlx::query(
            "INSERT INTO shipment_polls (tenant_id, order_id, polled_at) \
             SELECT $1, o, $3 FROM UNNEST($2::uuid[]) AS o \
             ON CONFLICT (tenant_id, order_id) DO UPDATE SET polled_at = excluded.polled_at",
        )
        .bind(tenant.0)
        .bind(&polled)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut new: HashSet<(Uuid, String)> = inserted.into_iter().collect();
        let notes = tracking_notes(tenant, polls, |o, k| new.remove(&(o.0, k.to_owned())));
        write_notes(&mut tx, notes.as_slice()).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(notes.as_slice().len() as u64)
    }
}
