//! `/api/v1/audit`: who changed what and when (admin).

use crate::orders::query;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::{AuditId, ErrorCode};
use ponte_engine::Caller;
use ponte_store::{AuditEntry, AuditFilter, PageRequest};
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(list))
}

/// One change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AuditView {
    id: AuditId,
    at: DateTime<Utc>,
    /// `token`, `user`, `installation_admin` or `cli`.
    actor_kind: String,
    /// The token's or person's id.
    actor_id: String,
    /// The token's name or the person's e-mail.
    actor_name: String,
    /// `channel.created`, `channel.updated`, `channel.disabled`, `settings.updated`,
    /// `task.updated`, `task.run`, `channel.synced`, `status_sends.resent`,
    /// `stock.resynced`, `prices.resynced`, `subscription.checked`, `token.created`, `token.revoked`,
    /// `user.created`, `user.updated`, `user.deleted`, `user.password_reset_link`,
    /// `user.password_set`, `tenant.created`, `tenant.updated`, `tenant.plan_changed`.
    kind: String,
    /// The record changed.
    target: Option<String>,
    /// What changed (secrets are named `[replaced]`, never shown).
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

pub(crate) fn audit_view(e: AuditEntry) -> AuditView {
    AuditView {
        id: e.id,
        at: e.at,
        actor_kind: e.actor.kind,
        actor_id: e.actor.id,
        actor_name: e.actor.name,
        kind: e.kind,
        target: e.target,
        detail: e.detail,
    }
}

/// A page of the trail.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AuditPage {
    items: Vec<AuditView>,
    next_cursor: Option<String>,
}

/// Trail filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// The actor's id or name (a token's name, a person's e-mail).
    actor: Option<String>,
    /// Kind of change.
    kind: Option<String>,
    /// At or after.
    from: Option<DateTime<Utc>>,
    /// Before.
    to: Option<DateTime<Utc>>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// The tenant's audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(engine): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult<Json<AuditPage>> {
    let q = query(q)?;
    if q.cursor
        .as_deref()
        .is_some_and(|c| c.parse::<AuditId>().is_err())
    {
        return Err(Problem::new(
            ErrorCode::InvalidCursor,
            "cursor is not one this API returned",
        ));
    }
    let filter = AuditFilter {
        actor: q.actor,
        kind: q.kind,
        from: q.from,
        to: q.to,
    };
    let page = PageRequest {
        cursor: q.cursor,
        limit: q.limit.unwrap_or(50),
    };
    let p = engine.audit_trail(caller.tenant, &filter, &page).await?;
    Ok(Json(AuditPage {
        items: p.items.into_iter().map(audit_view).collect(),
        next_cursor: p.next_cursor,
    }))
}
