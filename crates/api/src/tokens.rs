//! `/api/v1/tokens`: a tenant's API tokens (admin).

use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::{ErrorCode, Role, TokenId};
use ponte_engine::{Caller, TokenInput};
use ponte_store::ApiToken;
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", delete(revoke))
}

/// A token as listed: never the token itself.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TokenView {
    id: TokenId,
    name: String,
    role: Role,
    /// Provisioned at start (`PONTE_API_TOKEN` or the generated one).
    bootstrap: bool,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    /// Last accepted (to the minute).
    last_used_at: Option<DateTime<Utc>>,
}

pub(crate) fn token_view(t: ApiToken) -> TokenView {
    TokenView {
        id: t.id,
        name: t.name,
        role: t.role,
        bootstrap: t.bootstrap,
        created_at: t.created_at,
        expires_at: t.expires_at,
        last_used_at: t.last_used_at,
    }
}

/// A token just created: the only time the token is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedToken {
    #[serde(flatten)]
    view: TokenView,
    /// The bearer token. Shown once: only its hash is stored.
    token: String,
}

pub(crate) fn created(t: ApiToken, token: String) -> CreatedToken {
    CreatedToken {
        view: token_view(t),
        token,
    }
}

/// A new token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// What it is for.
    name: String,
    /// `viewer`, `operator` or `admin`.
    role: Role,
    /// Refused from then on.
    expires_at: Option<DateTime<Utc>>,
}

/// Token list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TokenList {
    items: Vec<TokenView>,
}

/// Creates a token; the answer is the only time it is shown.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 422, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(engine): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(input): JsonBody<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let input = TokenInput {
        name: input.name,
        role: input.role,
        expires_at: input.expires_at,
    };
    let (t, token) = engine.create_token(&caller, input).await?;
    Ok((StatusCode::CREATED, Json(created(t, token))))
}

/// Lists the tenant's tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList), (status = 403, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(engine): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<TokenList>> {
    let items = engine.tokens(caller.tenant).await?;
    Ok(Json(TokenList {
        items: items.into_iter().map(token_view).collect(),
    }))
}

/// Revokes a token: every instance refuses it within a second.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 403, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn revoke(
    State(engine): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = id
        .parse()
        .map_err(|_| Problem::new(ErrorCode::TokenNotFound, "token not found"))?;
    engine.revoke_token(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
