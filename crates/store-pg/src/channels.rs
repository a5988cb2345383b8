use crate::codec::in_table;
use crate::codec::{col, fetch_opt, fetch_rows, from_json};
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::rows::updated;
use ponte_store::{
    Channel, ChannelStore, CredentialsProblem, StoreError, StoreResult, Subscription,
};
use sqlx::postgres::PgRow;

const COLUMNS: &str =
    "tenant_id, id, platform, name, settings, credentials, enabled, created_at, updated_at";

fn decode(r: &PgRow) -> StoreResult<Channel> {
    in_table("channels", || {
        Ok(Channel {
            tenant_id: TenantId(col(r, "tenant_id")?),
            id: ChannelId(col(r, "id")?),
            platform: col(r, "platform")?,
            name: col(r, "name")?,
            settings: col(r, "settings")?,
            credentials: col(r, "credentials")?,
            enabled: col(r, "enabled")?,
            created_at: col(r, "created_at")?,
            updated_at: col(r, "updated_at")?,
        })
    })
}

impl PgStore {
    /// A channel's JSON document column (`subscription`, `credentials_problem`).
    async fn channel_doc<T: serde::de::DeserializeOwned>(
        &self,
        cid: ChannelId,
        column: &'static str,
    ) -> StoreResult<Option<T>> {
        let doc: Option<Option<serde_json::Value>> =
            sqlx::query_scalar(&format!("SELECT {column} FROM channels WHERE id = $1"))
                .bind(cid.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        doc.flatten()
            .map(|d| serde_json::from_value(d).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }
}

#[async_trait]
impl ChannelStore for PgStore {
    async fn insert_channel(&self, c: &Channel) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO channels ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(c.tenant_id.0)
        .bind(c.id.0)
        .bind(&c.platform)
        .bind(&c.name)
        .bind(&c.settings)
        .bind(&c.credentials)
        .bind(c.enabled)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn update_channel(&self, c: &Channel) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE channels SET name = $1, settings = $2, credentials = $3, enabled = $4, updated_at = $5, \
             credentials_problem = CASE WHEN credentials = $3 THEN credentials_problem END \
             WHERE tenant_id = $6 AND id = $7",
        )
        .bind(&c.name)
        .bind(&c.settings)
        .bind(&c.credentials)
        .bind(c.enabled)
        .bind(c.updated_at)
        .bind(c.tenant_id.0)
        .bind(c.id.0)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        updated(done.rows_affected())
    }

    async fn swap_channel_credentials(
        &self,
        tenant: TenantId,
        id: ChannelId,
        old: &[u8],
        new: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE channels SET credentials = $1, updated_at = $2, credentials_problem = NULL \
             WHERE tenant_id = $3 AND id = $4 AND credentials = $5",
        )
        .bind(new)
        .bind(at)
        .bind(tenant.0)
        .bind(id.0)
        .bind(old)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn channel(&self, cid: ChannelId) -> StoreResult<Option<Channel>> {
        fetch_opt(
            sqlx::query(&format!("SELECT {COLUMNS} FROM channels WHERE id = $1")).bind(cid.0),
            &self.pool,
            decode,
        )
        .await
    }

    async fn channels(&self, tenant: TenantId) -> StoreResult<Vec<Channel>> {
        fetch_rows(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM channels WHERE tenant_id = $1 ORDER BY id"
            ))
            .bind(tenant.0),
            &self.pool,
            decode,
        )
        .await
    }

    async fn set_subscription(
        &self,
        tenant: TenantId,
        cid: ChannelId,
        sub: &Subscription,
    ) -> StoreResult<()> {
        let doc = serde_json::to_value(sub).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // The replaced value, read under the row's lock: a change into `failed` is an event.
        let old: Option<Option<serde_json::Value>> = sqlx::query_scalar(
            "UPDATE channels c SET subscription = $1 FROM \
               (SELECT subscription AS old FROM channels WHERE tenant_id = $2 AND id = $3 FOR UPDATE) o \
             WHERE c.tenant_id = $2 AND c.id = $3 RETURNING o.old",
        )
        .bind(&doc)
        .bind(tenant.0)
        .bind(cid.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(old) = old else {
            return updated(0);
        };
        let old: Option<Subscription> = old.map(from_json).transpose()?;
        let events = ponte_store::subscription_events(tenant, cid, old.as_ref(), sub);
        crate::events::write_events(&mut tx, events.as_slice()).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn subscription(&self, cid: ChannelId) -> StoreResult<Option<Subscription>> {
        self.channel_doc(cid, "subscription").await
    }

    async fn hold_credentials(
        &self,
        tenant: TenantId,
        cid: ChannelId,
        problem: &CredentialsProblem,
    ) -> StoreResult<()> {
        let doc = serde_json::to_value(problem).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query(
            "UPDATE channels SET credentials_problem = $1 \
             WHERE tenant_id = $2 AND id = $3 AND credentials_problem IS NULL",
        )
        .bind(&doc)
        .bind(tenant.0)
        .bind(cid.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let recorded = done.rows_affected() == 1;
        let events = ponte_store::credentials_events(tenant, cid, problem, recorded);
        crate::events::write_events(&mut tx, events.as_slice()).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn credentials_problem(&self, cid: ChannelId) -> StoreResult<Option<CredentialsProblem>> {
        self.channel_doc(cid, "credentials_problem").await
    }
}
