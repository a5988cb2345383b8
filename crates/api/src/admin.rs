//! `/api/v1/admin`: the installation's tenants, managed with `PONTE_ADMIN_TOKEN`.

use crate::access::{bearer, unauthorized};
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::tokens::{created, CreatedToken};
use crate::AppState;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::{Addon, ErrorCode, Plan, TenantId};
use ponte_engine::{installation_admin, TenantInput, TenantPatch};
use ponte_store::Tenant;
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list).post(create))
        .route("/tenants/{id}", get(show).patch(update))
        .route("/tenants/{id}/tokens", post(create_token))
}

/// Lets only the installation's admin token through: a tenant's token is 403
/// `forbidden_role`, anything else 401.
pub(crate) async fn guard(State(engine): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = bearer(&req) else {
        return unauthorized("missing bearer token");
    };
    if engine.is_installation_admin(token) {
        return next.run(req).await;
    }
    match engine.authenticate(token).await {
        Ok(_) | Err(ponte_engine::EngineError::Refused(ErrorCode::TenantDisabled, _)) => {
            Problem::new(
                ErrorCode::ForbiddenRole,
                "this needs the installation's admin token (PONTE_ADMIN_TOKEN); a tenant's token cannot manage tenants",
            )
            .into_response()
        }
        Err(_) => unauthorized("invalid token"),
    }
}

/// A tenant (merchant, "empresa").
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TenantView {
    id: TenantId,
    name: String,
    /// `basico`, `avancado`, `pro` or `master`.
    plan: Plan,
    /// Add-ons bought on top of the plan (`instant_events`).
    addons: Vec<Addon>,
    /// Everything the tenant has, by plan or add-on.
    entitled: Vec<Addon>,
    /// A disabled tenant's API and webhooks answer 403 `tenant_disabled`.
    enabled: bool,
    /// The tenant created at first start.
    is_default: bool,
    created_at: DateTime<Utc>,
}

fn view(t: Tenant) -> TenantView {
    let e = t.entitlements();
    TenantView {
        entitled: Addon::ALL.into_iter().filter(|a| e.has(*a)).collect(),
        id: t.id,
        name: t.name,
        plan: t.plan,
        addons: t.addons,
        enabled: t.enabled,
        is_default: t.is_default,
        created_at: t.created_at,
    }
}

/// A new tenant.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTenant {
    name: String,
    plan: Plan,
    #[serde(default)]
    addons: Vec<Addon>,
}

/// Changes to a tenant.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateTenant {
    name: Option<String>,
    plan: Option<Plan>,
    /// Replaces the list.
    addons: Option<Vec<Addon>>,
    enabled: Option<bool>,
}

/// A tenant's new admin token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTenantToken {
    /// Default `admin`.
    name: Option<String>,
}

/// Tenant list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TenantList {
    items: Vec<TenantView>,
}

fn tenant_id(s: &str) -> ApiResult<TenantId> {
    s.parse()
        .map_err(|_| Problem::new(ErrorCode::TenantNotFound, "tenant not found"))
}

/// Creates a tenant.
#[utoipa::path(post, path = "/api/v1/admin/tenants", tag = "admin", request_body = CreateTenant,
    responses((status = 201, body = TenantView), (status = 422, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(engine): State<AppState>,
    JsonBody(input): JsonBody<CreateTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    let input = TenantInput {
        name: input.name,
        plan: input.plan,
        addons: input.addons,
    };
    let t = engine.create_tenant(&installation_admin(), input).await?;
    Ok((StatusCode::CREATED, Json(view(t))))
}

/// Lists the installation's tenants.
#[utoipa::path(get, path = "/api/v1/admin/tenants", tag = "admin",
    responses((status = 200, body = TenantList), (status = 403, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn list(State(engine): State<AppState>) -> ApiResult<Json<TenantList>> {
    let items = engine.tenant_list().await?;
    Ok(Json(TenantList {
        items: items.into_iter().map(view).collect(),
    }))
}

/// Shows a tenant.
#[utoipa::path(get, path = "/api/v1/admin/tenants/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = TenantView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TenantView>> {
    Ok(Json(view(engine.tenant(tenant_id(&id)?).await?)))
}

/// Changes a tenant's name, plan, add-ons or state.
#[utoipa::path(patch, path = "/api/v1/admin/tenants/{id}", tag = "admin", params(("id" = String, Path)),
    request_body = UpdateTenant,
    responses((status = 200, body = TenantView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn update(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<UpdateTenant>,
) -> ApiResult<Json<TenantView>> {
    let patch = TenantPatch {
        name: input.name,
        plan: input.plan,
        addons: input.addons,
        enabled: input.enabled,
    };
    let t = engine
        .update_tenant(&installation_admin(), tenant_id(&id)?, patch)
        .await?;
    Ok(Json(view(t)))
}

/// Creates an admin token for a tenant (its first); the answer is the only time it is shown.
#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/tokens", tag = "admin", params(("id" = String, Path)),
    request_body = CreateTenantToken,
    responses((status = 201, body = CreatedToken), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn create_token(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<CreateTenantToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let (t, token) = engine
        .create_tenant_token(tenant_id(&id)?, input.name)
        .await?;
    Ok((StatusCode::CREATED, Json(created(t, token))))
}
