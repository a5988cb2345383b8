//! A channel's DE-PARA tables: `GET/PUT /api/v1/channels/{id}/status-map` and the
//! platform statuses its orders have that no row maps
//! (`GET /api/v1/channels/{id}/unmapped-statuses`); the same for payment types
//! (`payment-map`, `unmapped-payments`).

use crate::access::Tenant;
use crate::channels::channel_id;
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use ponte_core::customer_fields::FieldRule;
use ponte_core::order::PlatformStatus;
use ponte_core::payment_map::PaymentRule;
use ponte_core::status_rules::StatusRule;
use ponte_core::OrderId;
use ponte_engine::{PaymentMap, StatusMap};
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/channels/{id}/status-map",
            get(status_map).put(set_status_map),
        )
        .route("/channels/{id}/unmapped-statuses", get(unmapped_statuses))
        .route(
            "/channels/{id}/payment-map",
            get(payment_map).put(set_payment_map),
        )
        .route("/channels/{id}/unmapped-payments", get(unmapped_payments))
        .route(
            "/channels/{id}/customer-fields",
            get(customer_fields).put(set_customer_fields),
        )
}

/// A channel's status table (DE-PARA).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct StatusMapView {
    /// `channel`: saved for this channel; `default`: the connector's documented table
    /// (with the channel's `status_map` setting first), until one is saved.
    source: &'static str,
    /// Rows, first match wins. A set field must equal the platform's value; an absent
    /// one matches anything. A status no row matches is imported as `awaiting_payment`.
    rows: Vec<StatusRule>,
    /// The values each platform field takes: what a row may name (an empty list: the
    /// platform has no such field).
    platform_values: PlatformValues,
}

/// The documented values of a platform's status fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PlatformValues {
    status: Vec<&'static str>,
    payment_status: Vec<&'static str>,
    shipping_status: Vec<&'static str>,
}

impl From<StatusMap> for StatusMapView {
    fn from(m: StatusMap) -> Self {
        Self {
            source: if m.saved { "channel" } else { "default" },
            rows: m.rows,
            platform_values: PlatformValues {
                status: m.vocabulary.status.to_vec(),
                payment_status: m.vocabulary.payment_status.to_vec(),
                shipping_status: m.vocabulary.shipping_status.to_vec(),
            },
        }
    }
}

/// A new status table.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusMapInput {
    /// Rows `{status?, payment_status?, shipping_status?, to}`, first match wins.
    #[schema(value_type = Vec<StatusRule>)]
    rows: serde_json::Value,
}

/// Platform status fields no row of the channel's table maps.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UnmappedStatusView {
    status: PlatformStatus,
    /// The channel's orders with these fields.
    count: u64,
    /// One of them.
    example_order: OrderId,
}

/// Unmapped platform statuses, most orders first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UnmappedStatusList {
    items: Vec<UnmappedStatusView>,
}

/// The channel's status table: saved rows, or the connector's documented defaults.
#[utoipa::path(get, path = "/api/v1/channels/{id}/status-map", tag = "channels",
    params(("id" = String, Path)),
    responses((status = 200, body = StatusMapView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn status_map(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<StatusMapView>> {
    let m = engine.status_map(tenant, channel_id(&id)?).await?;
    Ok(Json(m.into()))
}

/// Replaces the channel's status table. A row naming a value the platform does not
/// have, or a ponte status that does not exist, is refused with the row named (422
/// `invalid_mapping`) and nothing changes. Orders already imported keep their status
/// until remapped.
#[utoipa::path(put, path = "/api/v1/channels/{id}/status-map", tag = "channels",
    params(("id" = String, Path)), request_body = StatusMapInput,
    responses((status = 200, body = StatusMapView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn set_status_map(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<StatusMapInput>,
) -> ApiResult<Json<StatusMapView>> {
    let m = engine
        .set_status_map(tenant, channel_id(&id)?, &input.rows)
        .await?;
    Ok(Json(m.into()))
}

/// The platform statuses of the channel's orders that no row of its table maps (they
/// were imported as `awaiting_payment`), with how many orders and one of them.
#[utoipa::path(get, path = "/api/v1/channels/{id}/unmapped-statuses", tag = "channels",
    params(("id" = String, Path)),
    responses((status = 200, body = UnmappedStatusList), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn unmapped_statuses(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<UnmappedStatusList>> {
    let items = engine
        .unmapped_statuses(tenant, channel_id(&id)?)
        .await?
        .into_iter()
        .map(|u| UnmappedStatusView {
            status: u.status,
            count: u.count,
            example_order: u.example_order,
        })
        .collect();
    Ok(Json(UnmappedStatusList { items }))
}

/// A channel's payment table (DE-PARA of payment types).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PaymentMapView {
    /// `channel`: saved for this channel; `default`: the connector's documented methods
    /// with NF-e payment type codes, until one is saved.
    source: &'static str,
    /// Rows, first match wins: the platform's `method`, `gateway`, installments
    /// (`min_installments`, `max_installments`) -> the ERP's `code` and `name`.
    rows: Vec<PaymentRule>,
}

impl From<PaymentMap> for PaymentMapView {
    fn from(m: PaymentMap) -> Self {
        Self {
            source: if m.saved { "channel" } else { "default" },
            rows: m.rows,
        }
    }
}

/// A new payment table.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaymentMapInput {
    /// Rows `{method?, gateway?, min_installments?, max_installments?, code, name}`.
    #[schema(value_type = Vec<PaymentRule>)]
    rows: serde_json::Value,
}

/// A platform payment method no row of the channel's table maps.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UnmappedPaymentView {
    method: Option<String>,
    gateway: Option<String>,
    /// The channel's orders paid this way.
    count: u64,
    /// One of them.
    example_order: OrderId,
}

/// Unmapped payment methods, most orders first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UnmappedPaymentList {
    items: Vec<UnmappedPaymentView>,
}

/// The channel's payment table: saved rows, or the connector's documented defaults.
#[utoipa::path(get, path = "/api/v1/channels/{id}/payment-map", tag = "channels",
    params(("id" = String, Path)),
    responses((status = 200, body = PaymentMapView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn payment_map(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<PaymentMapView>> {
    let m = engine.payment_map(tenant, channel_id(&id)?).await?;
    Ok(Json(m.into()))
}

/// Replaces the channel's payment table. A malformed row (no code or name, empty
/// values, installments out of order) is refused with the row named (422
/// `invalid_mapping`) and nothing changes. Orders already imported keep their ERP
/// payment type until remapped.
#[utoipa::path(put, path = "/api/v1/channels/{id}/payment-map", tag = "channels",
    params(("id" = String, Path)), request_body = PaymentMapInput,
    responses((status = 200, body = PaymentMapView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn set_payment_map(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<PaymentMapInput>,
) -> ApiResult<Json<PaymentMapView>> {
    let m = engine
        .set_payment_map(tenant, channel_id(&id)?, &input.rows)
        .await?;
    Ok(Json(m.into()))
}

/// The payment methods (and gateways) of the channel's orders that no row of its
/// table maps, with how many orders and one of them.
#[utoipa::path(get, path = "/api/v1/channels/{id}/unmapped-payments", tag = "channels",
    params(("id" = String, Path)),
    responses((status = 200, body = UnmappedPaymentList), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn unmapped_payments(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<UnmappedPaymentList>> {
    let items = engine
        .unmapped_payments(tenant, channel_id(&id)?)
        .await?
        .into_iter()
        .map(|u| UnmappedPaymentView {
            method: u.method,
            gateway: u.gateway,
            count: u.count,
            example_order: u.example_order,
        })
        .collect();
    Ok(Json(UnmappedPaymentList { items }))
}

/// A channel's default customer field rules.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CustomerFieldsView {
    /// Rules, in order: `field` set to `value` on the customer of every order meeting
    /// all of `when` (a later rule for the same field wins).
    rules: Vec<FieldRule>,
}

/// New default customer field rules.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomerFieldsInput {
    /// Rules `{field, value, when?: [{document: cpf|cnpj} | {state: UF} | {channel: id} |
    /// {shipping_method: name} | {platform_field: {path, equals}}]}`.
    #[schema(value_type = Vec<FieldRule>)]
    rules: serde_json::Value,
}

/// The channel's default customer field rules (none until saved).
#[utoipa::path(get, path = "/api/v1/channels/{id}/customer-fields", tag = "channels",
    params(("id" = String, Path)),
    responses((status = 200, body = CustomerFieldsView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn customer_fields(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<CustomerFieldsView>> {
    let rules = engine.customer_fields(tenant, channel_id(&id)?).await?;
    Ok(Json(CustomerFieldsView { rules }))
}

/// Replaces the channel's default customer field rules. A rule with a value that is
/// not text, a number or true/false, or an unknown or malformed condition, is refused
/// with the rule named (422 `invalid_mapping`) and nothing changes. Orders already
/// imported keep their fields until remapped.
#[utoipa::path(put, path = "/api/v1/channels/{id}/customer-fields", tag = "channels",
    params(("id" = String, Path)), request_body = CustomerFieldsInput,
    responses((status = 200, body = CustomerFieldsView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn set_customer_fields(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<CustomerFieldsInput>,
) -> ApiResult<Json<CustomerFieldsView>> {
    let rules = engine
        .set_customer_fields(tenant, channel_id(&id)?, &input.rules)
        .await?;
    Ok(Json(CustomerFieldsView { rules }))
}
