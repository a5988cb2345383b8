use crate::codec::{col, fetch_opt, fetch_rows, from_json, in_table};
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{TenantId, TokenId};
use ponte_store::rows::{parse_stored, updated};
use ponte_store::{ApiToken, StoreResult, Tenant, TenantStore};
use sqlx::postgres::PgRow;
use uuid::Uuid;

const TENANT_COLS: &str = "id, name, plan, addons, enabled, is_default, created_at";
const TOKEN_COLS: &str =
    "tenant_id, id, name, role, token_hash, bootstrap, created_at, expires_at, last_used_at";

fn tenant_row(r: &PgRow, prefix: &str) -> StoreResult<Tenant> {
    let c = |n: &str| format!("{prefix}{n}");
    in_table("tenants", || {
        Ok(Tenant {
            id: TenantId(col(r, &c("id"))?),
            name: col(r, &c("name"))?,
            plan: parse_stored("plan", col(r, &c("plan"))?, |s| s.parse().ok())?,
            addons: from_json(col(r, &c("addons"))?)?,
            enabled: col(r, &c("enabled"))?,
            is_default: col(r, &c("is_default"))?,
            created_at: col(r, &c("created_at"))?,
        })
    })
}

fn token_row(r: &PgRow) -> StoreResult<ApiToken> {
    in_table("api_tokens", || {
        Ok(ApiToken {
            tenant_id: TenantId(col(r, "tenant_id")?),
            id: TokenId(col(r, "id")?),
            name: col(r, "name")?,
            role: parse_stored("role", col(r, "role")?, |s| s.parse().ok())?,
            token_hash: col(r, "token_hash")?,
            bootstrap: col(r, "bootstrap")?,
            created_at: col(r, "created_at")?,
            expires_at: col(r, "expires_at")?,
            last_used_at: col(r, "last_used_at")?,
        })
    })
}

fn addons(t: &Tenant) -> StoreResult<serde_json::Value> {
    serde_json::to_value(&t.addons).map_err(|e| ponte_store::StoreError::Invalid(e.to_string()))
}

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

    async fn insert_tenant(&self, t: &Tenant) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tenants (id, name, plan, addons, enabled, is_default, created_at) \
             VALUES ($1, $2, $3, $4, $5, false, $6)",
        )
        .bind(t.id.0)
        .bind(&t.name)
        .bind(t.plan.as_str())
        .bind(addons(t)?)
        .bind(t.enabled)
        .bind(t.created_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn tenant(&self, tenant: TenantId) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE id = $1");
        fetch_opt(sqlx::query(&sql).bind(tenant.0), &self.pool, |r| {
            tenant_row(r, "")
        })
        .await
    }

    async fn tenant_list(&self) -> StoreResult<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants ORDER BY created_at, id");
        fetch_rows(sqlx::query(&sql), &self.pool, |r| tenant_row(r, "")).await
    }

    async fn update_tenant(&self, t: &Tenant) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE tenants SET name = $1, plan = $2, addons = $3, enabled = $4 WHERE id = $5",
        )
        .bind(&t.name)
        .bind(t.plan.as_str())
        .bind(addons(t)?)
        .bind(t.enabled)
        .bind(t.id.0)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        updated(done.rows_affected())
    }

    async fn insert_token(&self, t: &ApiToken) -> StoreResult<()> {
        insert_token(&self.pool, t).await
    }

    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, Tenant)>> {
        let sql = "SELECT k.tenant_id, k.id, k.name, k.role, k.token_hash, k.bootstrap, \
                   k.created_at, k.expires_at, k.last_used_at, t.id AS t_id, t.name AS t_name, \
                   t.plan AS t_plan, t.addons AS t_addons, t.enabled AS t_enabled, \
                   t.is_default AS t_is_default, t.created_at AS t_created_at \
                   FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id WHERE k.token_hash = $1";
        fetch_opt(sqlx::query(sql).bind(token_hash), &self.pool, |r| {
            Ok((token_row(r)?, tenant_row(r, "t_")?))
        })
        .await
    }

    async fn tokens(&self, tenant: TenantId) -> StoreResult<Vec<ApiToken>> {
        let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE tenant_id = $1 ORDER BY id");
        fetch_rows(sqlx::query(&sql).bind(tenant.0), &self.pool, token_row).await
    }

    async fn delete_token(&self, tenant: TenantId, token: TokenId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(token.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_token(
        &self,
        tenant: TenantId,
        token: TokenId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(at)
            .bind(tenant.0)
            .bind(token.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn replace_bootstrap_token(&self, t: &ApiToken) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "DELETE FROM api_tokens WHERE tenant_id = $1 AND bootstrap AND token_hash <> $2",
        )
        .bind(t.tenant_id.0)
        .bind(&t.token_hash)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM api_tokens WHERE token_hash = $1")
                .bind(&t.token_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        if exists.is_none() {
            insert_token(&mut *tx, t).await?;
        }
        tx.commit().await.map_err(db_err)
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

async fn insert_token<'e>(on: impl sqlx::PgExecutor<'e>, t: &ApiToken) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (tenant_id, id, name, role, token_hash, bootstrap, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(t.tenant_id.0)
    .bind(t.id.0)
    .bind(&t.name)
    .bind(t.role.as_str())
    .bind(&t.token_hash)
    .bind(t.bootstrap)
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(on)
    .await
    .map_err(db_err)?;
    Ok(())
}
