use crate::codec::in_table;
use crate::codec::{col, fetch_opt, fetch_rows, from_ts, id, json, to_json, ts};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::rows::updated;
use ponte_store::{Channel, ChannelStore, CredentialsProblem, StoreResult, Subscription};
use sqlx::sqlite::SqliteRow;

const COLUMNS: &str =
    "tenant_id, id, platform, name, settings, credentials, enabled, created_at, updated_at";

fn decode(r: &SqliteRow) -> StoreResult<Channel> {
    in_table("channels", || {
        Ok(Channel {
            tenant_id: id(col(r, "tenant_id")?)?,
            id: id(col(r, "id")?)?,
            platform: col(r, "platform")?,
            name: col(r, "name")?,
            settings: json(col(r, "settings")?)?,
            credentials: col(r, "credentials")?,
            enabled: col::<i64>(r, "enabled")? != 0,
            created_at: from_ts(col(r, "created_at")?)?,
            updated_at: from_ts(col(r, "updated_at")?)?,
        })
    })
}

impl SqliteStore {
    /// A channel's JSON document column (`subscription`, `credentials_problem`).
    async fn channel_doc<T: serde::de::DeserializeOwned>(
        &self,
        cid: ChannelId,
        column: &'static str,
    ) -> StoreResult<Option<T>> {
        let doc: Option<Option<String>> =
            sqlx::query_scalar(&format!("SELECT {column} FROM channels WHERE id = ?"))
                .bind(cid.to_string())
                .fetch_optional(&self.reader)
                .await
                .map_err(db_err)?;
        doc.flatten().map(|d| json(&d)).transpose()
    }
}

#[async_trait]
impl ChannelStore for SqliteStore {
    async fn insert_channel(&self, c: &Channel) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO channels ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(c.tenant_id.to_string())
        .bind(c.id.to_string())
        .bind(&c.platform)
        .bind(&c.name)
        .bind(to_json(&c.settings)?)
        .bind(&c.credentials)
        .bind(i64::from(c.enabled))
        .bind(ts(c.created_at))
        .bind(ts(c.updated_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn update_channel(&self, c: &Channel) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE channels SET name = ?, settings = ?, enabled = ?, updated_at = ?, \
             credentials_problem = CASE WHEN credentials = ? THEN credentials_problem END, \
             credentials = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(&c.name)
        .bind(to_json(&c.settings)?)
        .bind(i64::from(c.enabled))
        .bind(ts(c.updated_at))
        .bind(&c.credentials)
        .bind(&c.credentials)
        .bind(c.tenant_id.to_string())
        .bind(c.id.to_string())
        .execute(&self.writer)
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
            "UPDATE channels SET credentials = ?, updated_at = ?, credentials_problem = NULL \
             WHERE tenant_id = ? AND id = ? AND credentials = ?",
        )
        .bind(new)
        .bind(ts(at))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(old)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn channel(&self, cid: ChannelId) -> StoreResult<Option<Channel>> {
        fetch_opt(
            sqlx::query(&format!("SELECT {COLUMNS} FROM channels WHERE id = ?"))
                .bind(cid.to_string()),
            &self.reader,
            decode,
        )
        .await
    }

    async fn channels(&self, tenant: TenantId) -> StoreResult<Vec<Channel>> {
        fetch_rows(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM channels WHERE tenant_id = ? ORDER BY id"
            ))
            .bind(tenant.to_string()),
            &self.reader,
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
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let old: Option<Option<String>> =
            sqlx::query_scalar("SELECT subscription FROM channels WHERE tenant_id = ? AND id = ?")
                .bind(tenant.to_string())
                .bind(cid.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let Some(old) = old else {
            return updated(0);
        };
        let old: Option<Subscription> = old.map(|d| json(&d)).transpose()?;
        sqlx::query("UPDATE channels SET subscription = ? WHERE tenant_id = ? AND id = ?")
            .bind(to_json(sub)?)
            .bind(tenant.to_string())
            .bind(cid.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
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
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let done = sqlx::query(
            "UPDATE channels SET credentials_problem = ? \
             WHERE tenant_id = ? AND id = ? AND credentials_problem IS NULL",
        )
        .bind(to_json(problem)?)
        .bind(tenant.to_string())
        .bind(cid.to_string())
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
