use crate::codec::{
    col, fetch_opt, fetch_rows, from_opt_ts, from_ts, id, in_table, json, newest_first, to_json, ts,
};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use ponte_core::{TenantId, UserId};
use ponte_store::rows::{parse_stored, updated};
use ponte_store::{
    Actor, AuditEntry, AuditFilter, Page, PageRequest, PeopleStore, StoreResult, User,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};

const USER_COLS: &str = "tenant_id, id, email, name, role, enabled, password_hash, reset_hash, \
                         reset_expires_at, session_epoch, created_at, updated_at";

fn user_row(r: &SqliteRow) -> StoreResult<User> {
    in_table("users", || {
        Ok(User {
            tenant_id: id(col::<&str>(r, "tenant_id")?)?,
            id: id(col::<&str>(r, "id")?)?,
            email: col(r, "email")?,
            name: col(r, "name")?,
            role: parse_stored("role", col(r, "role")?, |s| s.parse().ok())?,
            enabled: col(r, "enabled")?,
            password_hash: col(r, "password_hash")?,
            reset_hash: col(r, "reset_hash")?,
            reset_expires_at: from_opt_ts(col(r, "reset_expires_at")?)?,
            session_epoch: col(r, "session_epoch")?,
            created_at: from_ts(col(r, "created_at")?)?,
            updated_at: from_ts(col(r, "updated_at")?)?,
        })
    })
}

fn audit_row(r: &SqliteRow) -> StoreResult<AuditEntry> {
    in_table("audit_log", || {
        Ok(AuditEntry {
            tenant_id: id(col::<&str>(r, "tenant_id")?)?,
            id: id(col::<&str>(r, "id")?)?,
            at: from_ts(col(r, "at")?)?,
            actor: Actor {
                kind: col(r, "actor_kind")?,
                id: col(r, "actor_id")?,
                name: col(r, "actor_name")?,
            },
            kind: col(r, "kind")?,
            target: col(r, "target")?,
            detail: json(col(r, "detail")?)?,
        })
    })
}

async fn user_where(s: &SqliteStore, cond: &str, value: String) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {USER_COLS} FROM users WHERE {cond} = ?");
    fetch_opt(sqlx::query(&sql).bind(value), &s.reader, user_row).await
}

#[async_trait]
impl PeopleStore for SqliteStore {
    async fn insert_user(&self, u: &User) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(u.tenant_id.to_string())
        .bind(u.id.to_string())
        .bind(&u.email)
        .bind(&u.name)
        .bind(u.role.as_str())
        .bind(u.enabled)
        .bind(&u.password_hash)
        .bind(&u.reset_hash)
        .bind(u.reset_expires_at.map(ts))
        .bind(u.session_epoch)
        .bind(ts(u.created_at))
        .bind(ts(u.updated_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn user(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id = ? AND id = ?");
        fetch_opt(
            sqlx::query(&sql)
                .bind(tenant.to_string())
                .bind(user.to_string()),
            &self.reader,
            user_row,
        )
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        user_where(self, "email", email.to_owned()).await
    }

    async fn user_by_reset(&self, reset_hash: &str) -> StoreResult<Option<User>> {
        user_where(self, "reset_hash", reset_hash.to_owned()).await
    }

    async fn users(&self, tenant: TenantId) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id = ? ORDER BY id");
        fetch_rows(
            sqlx::query(&sql).bind(tenant.to_string()),
            &self.reader,
            user_row,
        )
        .await
    }

    async fn update_user(&self, u: &User) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE users SET email = ?, name = ?, role = ?, enabled = ?, password_hash = ?, \
             reset_hash = ?, reset_expires_at = ?, session_epoch = ?, updated_at = ? \
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(&u.email)
        .bind(&u.name)
        .bind(u.role.as_str())
        .bind(u.enabled)
        .bind(&u.password_hash)
        .bind(&u.reset_hash)
        .bind(u.reset_expires_at.map(ts))
        .bind(u.session_epoch)
        .bind(ts(u.updated_at))
        .bind(u.tenant_id.to_string())
        .bind(u.id.to_string())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        updated(done.rows_affected())
    }

    async fn delete_user(&self, tenant: TenantId, user: UserId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(user.to_string())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, id, at, actor_kind, actor_id, actor_name, kind, \
             target, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.tenant_id.to_string())
        .bind(e.id.to_string())
        .bind(ts(e.at))
        .bind(&e.actor.kind)
        .bind(&e.actor.id)
        .bind(&e.actor.name)
        .bind(&e.kind)
        .bind(&e.target)
        .bind(to_json(&e.detail)?)
        .execute(&self.writer)
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT tenant_id, id, at, actor_kind, actor_id, actor_name, kind, target, detail \
             FROM audit_log WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string());
        if let Some(a) = &filter.actor {
            q.push(" AND (actor_id = ").push_bind(a.clone());
            q.push(" OR actor_name = ").push_bind(a.clone()).push(")");
        }
        if let Some(k) = &filter.kind {
            q.push(" AND kind = ").push_bind(k.clone());
        }
        if let Some(f) = filter.from {
            q.push(" AND at >= ").push_bind(ts(f));
        }
        if let Some(t) = filter.to {
            q.push(" AND at < ").push_bind(ts(t));
        }
        newest_first(q, page, &self.reader, audit_row, |e| e.id.to_string()).await
    }
}
