use crate::codec::{id, json, to_json, ts};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::TenantId;
use ponte_store::{StoreResult, TenantStore};

#[async_trait]
impl TenantStore for SqliteStore {
    async fn default_tenant(&self, now: DateTime<Utc>) -> StoreResult<TenantId> {
        let new = TenantId::new();
        sqlx::query("INSERT INTO tenants (id, name, is_default, created_at) VALUES (?, 'default', 1, ?) ON CONFLICT DO NOTHING")
            .bind(new.to_string())
            .bind(ts(now))
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        let got: String = sqlx::query_scalar("SELECT id FROM tenants WHERE is_default = 1")
            .fetch_one(&self.writer)
            .await
            .map_err(db_err)?;
        id(&got)
    }

    async fn add_api_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO api_tokens (tenant_id, token_hash, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .bind(tenant.to_string())
            .bind(token_hash)
            .bind(ts(now))
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn tenant_for_token(&self, token_hash: &str) -> StoreResult<Option<TenantId>> {
        let got: Option<String> =
            sqlx::query_scalar("SELECT tenant_id FROM api_tokens WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(&self.reader)
                .await
                .map_err(db_err)?;
        got.map(|s| id(&s)).transpose()
    }

    async fn count_api_tokens(&self, tenant: TenantId) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE tenant_id = ?")
            .bind(tenant.to_string())
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)
    }

    async fn tenants(&self) -> StoreResult<Vec<TenantId>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        ids.iter().map(|s| id(s)).collect()
    }

    async fn tenant_settings(&self, tenant: TenantId) -> StoreResult<serde_json::Value> {
        let got: Option<String> = sqlx::query_scalar("SELECT settings FROM tenants WHERE id = ?")
            .bind(tenant.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        match got {
            Some(s) => json(&s),
            None => Ok(serde_json::json!({})),
        }
    }

    async fn set_tenant_settings(
        &self,
        tenant: TenantId,
        settings: &serde_json::Value,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE tenants SET settings = ? WHERE id = ?")
            .bind(to_json(settings)?)
            .bind(tenant.to_string())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn key_check(&self) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM deployment WHERE name = 'master_key_check'")
            .fetch_optional(&self.writer)
            .await
            .map_err(db_err)
    }

    async fn claim_key_check(&self, check: &str) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO deployment (name, value) VALUES ('master_key_check', ?) ON CONFLICT DO NOTHING",
        )
        .bind(check)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        sqlx::query_scalar("SELECT value FROM deployment WHERE name = 'master_key_check'")
            .fetch_one(&self.writer)
            .await
            .map_err(db_err)
    }
}
