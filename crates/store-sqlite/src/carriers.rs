//! Carrier accounts and shipment tracking.

use crate::codec::{col, fetch_rows, from_ts, id, in_table, json, to_json, ts};
use crate::timeline::write_notes;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{CarrierAccountId, OrderId, TenantId};
use ponte_store::{
    tracking_notes, CarrierAccount, CarrierStore, ShipmentToTrack, StoreResult, TrackingPoll,
};
use sqlx::sqlite::SqliteRow;
use std::collections::HashSet;

const COLUMNS: &str =
    "tenant_id, id, carrier, name, is_default, settings, credentials, created_at, updated_at";

fn decode(r: &SqliteRow) -> StoreResult<CarrierAccount> {
    in_table("carrier_accounts", || {
        Ok(CarrierAccount {
            tenant_id: id(col(r, "tenant_id")?)?,
            id: id(col(r, "id")?)?,
            carrier: col(r, "carrier")?,
            name: col(r, "name")?,
            is_default: col::<i64>(r, "is_default")? != 0,
            settings: json(col(r, "settings")?)?,
            credentials: col(r, "credentials")?,
            created_at: from_ts(col(r, "created_at")?)?,
            updated_at: from_ts(col(r, "updated_at")?)?,
        })
    })
}

#[async_trait]
impl CarrierStore for SqliteStore {
    async fn insert_carrier_account(&self, a: &CarrierAccount) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        if a.is_default {
            sqlx::query("UPDATE carrier_accounts SET is_default = 0 WHERE tenant_id = ?")
                .bind(a.tenant_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query(&format!(
            "INSERT INTO carrier_accounts ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(a.tenant_id.to_string())
        .bind(a.id.to_string())
        .bind(&a.carrier)
        .bind(&a.name)
        .bind(i64::from(a.is_default))
        .bind(to_json(&a.settings)?)
        .bind(&a.credentials)
        .bind(ts(a.created_at))
        .bind(ts(a.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn carrier_accounts(&self, tenant: TenantId) -> StoreResult<Vec<CarrierAccount>> {
        fetch_rows(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM carrier_accounts WHERE tenant_id = ? ORDER BY created_at, id"
            ))
            .bind(tenant.to_string()),
            &self.reader,
            decode,
        )
        .await
    }

    async fn delete_carrier_account(
        &self,
        tenant: TenantId,
        account: CarrierAccountId,
    ) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM carrier_accounts WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(account.to_string())
            .execute(&self.writer)
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
             WHERE o.tenant_id = ? AND o.status = 'shipped' AND o.id > ? ORDER BY o.id LIMIT ?",
        )
        .bind(tenant.to_string())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut last = None;
        for r in &rows {
            let order: OrderId = id(col(r, "id")?)?;
            last = Some(order);
            let fulfilment = json(col(r, "fulfilment")?)?;
            let polled = col::<Option<i64>>(r, "polled_at")?
                .map(from_ts)
                .transpose()?;
            out.extend(ShipmentToTrack::of(
                order,
                id(col(r, "channel_id")?)?,
                col(r, "external_id")?,
                &fulfilment,
                polled,
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
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let mut new = HashSet::new();
        for p in polls {
            for e in &p.events {
                let done = sqlx::query(
                    "INSERT INTO tracking_events (tenant_id, order_id, event_key, at) \
                     VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                )
                .bind(tenant.to_string())
                .bind(p.order_id.to_string())
                .bind(&e.key)
                .bind(ts(e.at))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() > 0 {
                    new.insert((p.order_id, e.key.clone()));
                }
            }
            sqlx::query(
                "INSERT INTO shipment_polls (tenant_id, order_id, polled_at) VALUES (?, ?, ?) \
                 ON CONFLICT (tenant_id, order_id) DO UPDATE SET polled_at = excluded.polled_at",
            )
            .bind(tenant.to_string())
            .bind(p.order_id.to_string())
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let notes = tracking_notes(tenant, polls, |o, k| new.remove(&(o, k.to_owned())));
        write_notes(&mut tx, notes.as_slice()).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(notes.as_slice().len() as u64)
    }
}
