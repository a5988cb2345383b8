//! `/api/v1/carrier-accounts`: a tenant's accounts at carriers (Correios, Melhor
//! Envio), whose shipments the `track_shipments` task follows.

use crate::access::Tenant;
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::{CarrierAccountId, ErrorCode};
use ponte_engine::CarrierAccountInput;
use ponte_store::CarrierAccount;
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/carrier-accounts", get(list).post(create))
        .route("/carrier-accounts/{id}", get(show).delete(remove))
}

/// A carrier account as the API shows it: never its credentials.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CarrierAccountView {
    #[schema(value_type = String)]
    id: CarrierAccountId,
    /// `correios` or `melhor_envio`.
    carrier: String,
    name: String,
    /// Tracks the shipments whose carrier name matches no account.
    is_default: bool,
    /// Settings with defaults filled in.
    #[schema(value_type = Object)]
    settings: serde_json::Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn view(a: CarrierAccount) -> CarrierAccountView {
    CarrierAccountView {
        id: a.id,
        carrier: a.carrier,
        name: a.name,
        is_default: a.is_default,
        settings: a.settings,
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

/// A new carrier account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateCarrierAccount {
    /// `correios` or `melhor_envio`.
    carrier: String,
    /// The tenant's name for it (1 to 100 characters, unique in the tenant). A
    /// shipment whose carrier name is this name is tracked with this account.
    name: String,
    /// Tracks the shipments whose carrier name matches no account (one default per
    /// tenant: a new default replaces the previous one).
    #[serde(default)]
    is_default: bool,
    /// Both carriers: `api_base_url` (Correios `https://api.correios.com.br`, Melhor Envio
    /// `https://melhorenvio.com.br`), `rate_limit_per_sec` (Correios 5, Melhor Envio 2:
    /// assumed, not published), `rate_limit_burst` (1). Melhor Envio: `user_agent`.
    #[serde(default)]
    #[schema(value_type = Object)]
    settings: serde_json::Value,
    /// Correios: `user` (idCorreios), `access_code`, `postage_card`. Melhor Envio:
    /// `access_token`. Stored encrypted, never returned.
    #[schema(value_type = Object)]
    credentials: serde_json::Value,
}

/// Carrier account list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CarrierAccountList {
    items: Vec<CarrierAccountView>,
}

fn account_id(s: &str) -> ApiResult<CarrierAccountId> {
    s.parse().map_err(|_| {
        Problem::new(
            ErrorCode::CarrierAccountNotFound,
            "carrier account not found",
        )
    })
}

/// Creates a carrier account (its first creates the tenant's `track_shipments` task).
#[utoipa::path(post, path = "/api/v1/carrier-accounts", tag = "carriers", request_body = CreateCarrierAccount,
    responses((status = 201, body = CarrierAccountView), (status = 422, body = Problem),
        (status = 409, description = "Another account has this name (`carrier_account_name_taken`)", body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    JsonBody(input): JsonBody<CreateCarrierAccount>,
) -> ApiResult<(StatusCode, Json<CarrierAccountView>)> {
    let a = engine
        .create_carrier_account(
            tenant,
            CarrierAccountInput {
                carrier: input.carrier,
                name: input.name,
                is_default: input.is_default,
                settings: input.settings,
                credentials: input.credentials,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(a))))
}

/// Lists carrier accounts.
#[utoipa::path(get, path = "/api/v1/carrier-accounts", tag = "carriers",
    responses((status = 200, body = CarrierAccountList)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
) -> ApiResult<Json<CarrierAccountList>> {
    let items = engine
        .carrier_accounts(tenant)
        .await?
        .into_iter()
        .map(view)
        .collect();
    Ok(Json(CarrierAccountList { items }))
}

/// Shows a carrier account.
#[utoipa::path(get, path = "/api/v1/carrier-accounts/{id}", tag = "carriers", params(("id" = String, Path)),
    responses((status = 200, body = CarrierAccountView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<CarrierAccountView>> {
    Ok(Json(view(
        engine.carrier_account(tenant, account_id(&id)?).await?,
    )))
}

/// Deletes a carrier account (its credentials with it); its shipments are tracked by
/// the default account, if another is, or not at all.
#[utoipa::path(delete, path = "/api/v1/carrier-accounts/{id}", tag = "carriers", params(("id" = String, Path)),
    responses((status = 200, body = CarrierAccountView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn remove(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<CarrierAccountView>> {
    Ok(Json(view(
        engine
            .delete_carrier_account(tenant, account_id(&id)?)
            .await?,
    )))
}
