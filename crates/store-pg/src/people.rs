use crate::codec::{col, fetch_opt, fetch_rows, in_table, newest_first};
use crate::{db_err, PgStore};
use async_trait::async_trait;
use ponte_core::{AuditId, TenantId, UserId};
use ponte_store::rows::{parse_stored, updated};
use ponte_store::{
    Actor, AuditEntry, AuditFilter, Page, PageRequest, PeopleStore, StoreResult, User,
};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder};

const USER_COLS: &str = "tenant_id, id, email, name, role, enabled, password_hash, reset_hash, \
                         reset_expires_at, session_epoch, created_at, updated_at";

fn user_row(r: &PgRow) -> StoreResult<User> {
    in_table("users", || {
        Ok(User {
            tenant_id: TenantId(col(r, "tenant_id")?),
            id: UserId(col(r, "id")?),
            email: col(r, "email")?,
            name: col(r, "name")?,
            role: parse_stored("role", col(r, "role")?, |s| s.parse().ok())?,
            enabled: col(r, "enabled")?,
            password_hash: col(r, "password_hash")?,
            reset_hash: col(r, "reset_hash")?,
            reset_expires_at: col(r, "reset_expires_at")?,
            session_epoch: col(r, "session_epoch")?,
            created_at: col(r, "created_at")?,
            updated_at: col(r, "updated_at")?,
        })
    })
}

fn audit_row(r: &PgRow) -> StoreResult<AuditEntry> {
    in_table("audit_log", || {
        Ok(AuditEntry {
            tenant_id: TenantId(col(r, "tenant_id")?),
            id: AuditId(col(r, "id")?),
            at: col(r, "at")?,
            actor: Actor {
                kind: col(r, "actor_kind")?,
                id: col(r, "actor_id")?,
                name: col(r, "actor_name")?,
            },
            kind: col(r, "kind")?,
            target: col(r, "target")?,
            detail: col(r, "detail")?,
        })
    })
}

async fn user_where(s: &PgStore, cond: &str, value: &str) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {USER_COLS} FROM users WHERE {cond} = $1");
    fetch_opt(sqlx::query(&sql).bind(value), &s.pool, user_row).await
}

#[async_trait]
impl PeopleStore for PgStore {
    async fn insert_user(&self, u: &User) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(u.tenant_id.0)
        .bind(u.id.0)
        .bind(&u.email)
        .bind(&u.name)
        .bind(u.role.as_str())
        .bind(u.enabled)
        .bind(&u.password_hash)
        .bind(&u.reset_hash)
        .bind(u.reset_expires_at)
        .bind(u.session_epoch)
        .bind(u.created_at)
        .bind(u.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn user(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND id = $2");
        fetch_opt(
            sqlx::query(&sql).bind(tenant.0).bind(user.0),
            &self.pool,
            user_row,
        )
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        user_where(self, "email", email).await
    }

    async fn user_by_reset(&self, reset_hash: &str) -> StoreResult<Option<User>> {
        user_where(self, "reset_hash", reset_hash).await
    }

    async fn users(&self, tenant: TenantId) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id = $1 ORDER BY id");
        fetch_rows(sqlx::query(&sql).bind(tenant.0), &self.pool, user_row).await
    }

    async fn update_user(&self, u: &User) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE users SET email = $1, name = $2, role = $3, enabled = $4, password_hash = $5, \
             reset_hash = $6, reset_expires_at = $7, session_epoch = $8, updated_at = $9 \
             WHERE tenant_id = $10 AND id = $11",
        )
        .bind(&u.email)
        .bind(&u.name)
        .bind(u.role.as_str())
        .bind(u.enabled)
        .bind(&u.password_hash)
        .bind(&u.reset_hash)
        .bind(u.reset_expires_at)
        .bind(u.session_epoch)
        .bind(u.updated_at)
        .bind(u.tenant_id.0)
        .bind(u.id.0)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        updated(done.rows_affected())
    }

    async fn delete_user(&self, tenant: TenantId, user: UserId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(user.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, id, at, actor_kind, actor_id, actor_name, kind, \
             target, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(e.tenant_id.0)
        .bind(e.id.0)
        .bind(e.at)
        .bind(&e.actor.kind)
        .bind(&e.actor.id)
        .bind(&e.actor.name)
        .bind(&e.kind)
        .bind(&e.target)
        .bind(&e.detail)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn audit(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEntry>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT tenant_id, id, at, actor_kind, actor_id, actor_name, kind, target, detail \
             FROM audit_log WHERE tenant_id = ",
        );
        q.push_bind(tenant.0);
        if let Some(a) = &filter.actor {
            q.push(" AND (actor_id = ").push_bind(a.clone());
            q.push(" OR actor_name = ").push_bind(a.clone()).push(")");
        }
        if let Some(k) = &filter.kind {
            q.push(" AND kind = ").push_bind(k.clone());
        }
        if let Some(f) = filter.from {
            q.push(" AND at >= ").push_bind(f);
        }
        if let Some(t) = filter.to {
            q.push(" AND at < ").push_bind(t);
        }
        newest_first(q, page, &self.pool, audit_row, |e| e.id.to_string()).await
    }
}
