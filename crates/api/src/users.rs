//! `/api/v1/users`: the people of a tenant who sign in to the console (admin).

use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::{ErrorCode, Role, UserId};
use ponte_engine::{Caller, UserInput, UserPatch};
use ponte_store::User;
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{id}", get(show).patch(update).delete(remove))
}

/// A person: never their password or its hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UserView {
    id: UserId,
    email: String,
    name: String,
    role: Role,
    enabled: bool,
    /// Whether a password is set (otherwise only the one-time link signs in).
    has_password: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Only when created without a password: the one-time link to set it (24 h).
    #[serde(skip_serializing_if = "Option::is_none")]
    password_link: Option<String>,
}

fn view(u: User, password_link: Option<String>) -> UserView {
    UserView {
        id: u.id,
        email: u.email,
        name: u.name,
        role: u.role,
        enabled: u.enabled,
        has_password: u.password_hash.is_some(),
        created_at: u.created_at,
        updated_at: u.updated_at,
        password_link,
    }
}

/// A new person.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUser {
    email: String,
    name: String,
    /// `viewer`, `operator` or `admin`.
    role: Role,
    /// At least 10 characters; without it the answer carries a one-time link to set it.
    password: Option<String>,
}

/// Changes to a person.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateUser {
    email: Option<String>,
    name: Option<String>,
    role: Option<Role>,
    /// A disabled person cannot sign in and their sessions end.
    enabled: Option<bool>,
    password: Option<String>,
}

/// People list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UserList {
    items: Vec<UserView>,
}

fn user_id(s: &str) -> ApiResult<UserId> {
    s.parse()
        .map_err(|_| Problem::new(ErrorCode::UserNotFound, "user not found"))
}

/// Adds a person.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 409, body = Problem), (status = 422, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(engine): State<AppState>,
    Extension(caller): Extension<Caller>,
    JsonBody(input): JsonBody<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let input = UserInput {
        email: input.email,
        name: input.name,
        role: input.role,
        password: input.password,
    };
    let (u, link) = engine.create_user(&caller, input).await?;
    Ok((StatusCode::CREATED, Json(view(u, link))))
}

/// Lists the tenant's people.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = UserList), (status = 403, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(engine): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<UserList>> {
    let items = engine.users(caller.tenant).await?;
    Ok(Json(UserList {
        items: items.into_iter().map(|u| view(u, None)).collect(),
    }))
}

/// Shows a person.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(engine): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let u = engine.user(caller.tenant, user_id(&id)?).await?;
    Ok(Json(view(u, None)))
}

/// Changes a person; a new password, role or state ends their sessions.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn update(
    State(engine): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let patch = UserPatch {
        email: input.email,
        name: input.name,
        role: input.role,
        enabled: input.enabled,
        password: input.password,
    };
    let u = engine.update_user(&caller, user_id(&id)?, patch).await?;
    Ok(Json(view(u, None)))
}

/// Removes a person.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn remove(
    State(engine): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    engine.delete_user(&caller, user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
