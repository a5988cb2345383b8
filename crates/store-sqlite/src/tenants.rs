use crate::codec::{
    col, fetch_opt, fetch_rows, from_opt_ts, from_ts, id, in_table, json, to_json, ts,
};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{TenantId, TokenId};
use ponte_store::rows::{parse_stored, updated};
use ponte_store::{ApiToken, StoreResult, Tenant, TenantStore};
use sqlx::sqlite::SqliteRow;

const TENANT_COLS: &str = "id, name, plan, addons, enabled, is_default, created_at";
const TOKEN_COLS: &str =
    "tenant_id, id, name, role, token_hash, bootstrap, created_at, expires_at, last_used_at";

fn tenant_row(r: &SqliteRow, prefix: &str) -> StoreResult<Tenant> {
    let c = |n: &str| format!("{prefix}{n}");
    in_table("tenants", || {
        Ok(Tenant {
            id: id(col::<&str>(r, &c("id"))?)?,
            name: col(r, &c("name"))?,
            plan: parse_stored("plan", col(r, &c("plan"))?, |s| s.parse().ok())?,
            addons: json(col(r, &c("addons"))?)?,
            enabled: col(r, &c("enabled"))?,
            is_default: col(r, &c("is_default"))?,
            created_at: from_ts(col(r, &c("created_at"))?)?,
        })
    })
}

fn token_row(r: &SqliteRow) -> StoreResult<ApiToken> {
    in_table("api_tokens", || {
        Ok(ApiToken {
            tenant_id: id(col::<&str>(r, "tenant_id")?)?,
            id: id(col::<&str>(r, "id")?)?,
            name: col(r, "name")?,
            role: parse_stored("role", col(r, "role")?, |s| s.parse().ok())?,
            token_hash: col(r, "token_hash")?,
            bootstrap: col(r, "bootstrap")?,
            created_at: from_ts(col(r, "created_at")?)?,
            expires_at: from_opt_ts(col(r, "expires_at")?)?,
            last_used_at: from_opt_ts(col(r, "last_used_at")?)?,
        })
    })
}

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

    async fn insert_tenant(&self, t: &Tenant) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tenants (id, name, plan, addons, enabled, is_default, created_at) \
             VALUES (?, ?, ?, ?, ?, 0, ?)",
        )
        .bind(t.id.to_string())
        .bind(&t.name)
        .bind(t.plan.as_str())
        .bind(to_json(&t.addons)?)
        .bind(t.enabled)
        .bind(ts(t.created_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn tenant(&self, tenant: TenantId) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants WHERE id = ?");
        fetch_opt(
            sqlx::query(&sql).bind(tenant.to_string()),
            &self.reader,
            |r| tenant_row(r, ""),
        )
        .await
    }

    async fn tenant_list(&self) -> StoreResult<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLS} FROM tenants ORDER BY created_at, id");
        fetch_rows(sqlx::query(&sql), &self.reader, |r| tenant_row(r, "")).await
    }

    async fn update_tenant(&self, t: &Tenant) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE tenants SET name = ?, plan = ?, addons = ?, enabled = ? WHERE id = ?",
        )
        .bind(&t.name)
        .bind(t.plan.as_str())
        .bind(to_json(&t.addons)?)
        .bind(t.enabled)
        .bind(t.id.to_string())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        updated(done.rows_affected())
    }

    async fn insert_token(&self, t: &ApiToken) -> StoreResult<()> {
        insert_token(&self.writer, t).await
    }

    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, Tenant)>> {
        let sql =
            "SELECT k.tenant_id, k.id, k.name, k.role, k.token_hash, k.bootstrap, k.created_at, \
             k.expires_at, k.last_used_at, t.id AS t_id, t.name AS t_name, t.plan AS t_plan, \
             t.addons AS t_addons, t.enabled AS t_enabled, t.is_default AS t_is_default, \
             t.created_at AS t_created_at \
             FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id WHERE k.token_hash = ?";
        fetch_opt(sqlx::query(sql).bind(token_hash), &self.reader, |r| {
            Ok((token_row(r)?, tenant_row(r, "t_")?))
        })
        .await
    }

    async fn tokens(&self, tenant: TenantId) -> StoreResult<Vec<ApiToken>> {
        let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE tenant_id = ? ORDER BY id");
        fetch_rows(
            sqlx::query(&sql).bind(tenant.to_string()),
            &self.reader,
            token_row,
        )
        .await
    }

    async fn delete_token(&self, tenant: TenantId, token: TokenId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(token.to_string())
            .execute(&self.writer)
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
        sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE tenant_id = ? AND id = ?")
            .bind(ts(at))
            .bind(tenant.to_string())
            .bind(token.to_string())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn replace_bootstrap_token(&self, t: &ApiToken) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        sqlx::query(
            "DELETE FROM api_tokens WHERE tenant_id = ? AND bootstrap = 1 AND token_hash <> ?",
        )
        .bind(t.tenant_id.to_string())
        .bind(&t.token_hash)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM api_tokens WHERE token_hash = ?")
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

async fn insert_token<'e>(on: impl sqlx::SqliteExecutor<'e>, t: &ApiToken) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (tenant_id, id, name, role, token_hash, bootstrap, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(t.tenant_id.to_string())
    .bind(t.id.to_string())
    .bind(&t.name)
    .bind(t.role.as_str())
    .bind(&t.token_hash)
    .bind(t.bootstrap)
    .bind(ts(t.created_at))
    .bind(t.expires_at.map(ts))
    .execute(on)
    .await
    .map_err(db_err)?;
    Ok(())
}
