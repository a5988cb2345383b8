use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::TenantId;
use ponte_store::{StoreResult, TenantStore};
use uuid::Uuid;

#[async_trait]
impl TenantStore for PgStore {
    async fn default_tenant(&self, now: DateTime<Utc>) -> StoreResult<TenantId> {
        sqlx::query(
            "INSERT INTO tenants (id, name, is_default, created_at) VALUES ($1, 'default', true, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(TenantId::new().0)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        // A second statement: it sees a default tenant another instance just committed.
        let id: Uuid = sqlx::query_scalar("SELECT id FROM tenants WHERE is_default")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(TenantId(id))
    }

    async fn add_api_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_tokens (tenant_id, token_hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant.0)
        .bind(token_hash)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn tenant_for_token(&self, token_hash: &str) -> StoreResult<Option<TenantId>> {
        let got: Option<Uuid> =
            sqlx::query_scalar("SELECT tenant_id FROM api_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(got.map(TenantId))
    }

    async fn count_api_tokens(&self, tenant: TenantId) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn tenants(&self) -> StoreResult<Vec<TenantId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(TenantId).collect())
    }

    async fn tenant_settings(&self, tenant: TenantId) -> StoreResult<serde_json::Value> {
        let got: Option<serde_json::Value> =
            sqlx::query_scalar("SELECT settings FROM tenants WHERE id = $1")
                .bind(tenant.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(got.unwrap_or_else(|| serde_json::json!({})))
    }

    async fn set_tenant_settings(
        &self,
        tenant: TenantId,
        settings: &serde_json::Value,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE tenants SET settings = $1 WHERE id = $2")
            .bind(settings)
            .bind(tenant.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn key_check(&self) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM deployment WHERE name = 'master_key_check'")
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn claim_key_check(&self, check: &str) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO deployment (name, value) VALUES ('master_key_check', $1) ON CONFLICT DO NOTHING",
        )
        .bind(check)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        sqlx::query_scalar("SELECT value FROM deployment WHERE name = 'master_key_check'")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }
}
