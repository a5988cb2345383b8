//! ERP actions: `POST /api/v1/orders/{id}/{separation|invoice|collection-order|shipment|shipment-exception|delivery|cancel}`.
//!
//! Each is idempotent (the same call twice is one event: `changed: false`); an
//! impossible transition is refused with 409 and a stable `code` (rules in
//! `ponte_core::action`). When the channel's automation is on, the status send is
//! enqueued in the same transaction as the order change.

use crate::access::Tenant;
use crate::json_body::JsonBody;
use crate::orders::view;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::action::*;
use ponte_core::order_view::OrderView;
use ponte_core::ErrorCode;
use ponte_core::{OrderId, SendId};
use ponte_engine::{EngineError, SendPlan};
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders/{id}/separation", post(separation))
        .route("/orders/{id}/invoice", post(invoice))
        .route("/orders/{id}/collection-order", post(collection_order))
        .route("/orders/{id}/shipment", post(shipment))
        .route("/orders/{id}/shipment-exception", post(shipment_exception))
        .route("/orders/{id}/delivery", post(delivery))
        .route("/orders/{id}/cancel", post(cancel))
}

/// Picking (or production) started.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeparationBody {
    /// `separation` (default) or `production`.
    #[serde(default)]
    kind: SeparationKind,
}

/// A carrier pickup order was created; the order stays `invoiced`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CollectionOrderBody {
    code: String,
    created_at: DateTime<Utc>,
}

/// The order was handed to the carrier.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShipmentBody {
    tracking_code: Option<String>,
    /// http(s) URL of the tracking page.
    tracking_url: Option<String>,
    carrier: Option<String>,
    shipped_at: DateTime<Utc>,
}

/// The carrier could not deliver (yet).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShipmentExceptionBody {
    /// What happened (1 to 500 characters).
    observation: String,
    occurred_at: DateTime<Utc>,
}

/// The customer received the order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryBody {
    delivered_at: DateTime<Utc>,
}

/// The order was cancelled in the ERP.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelBody {
    reason: CancelReason,
    /// Free text.
    note: Option<String>,
}

/// Whether the platform will be told.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SendPlanView {
    /// `queued`, `not_sent` or `already_recorded`.
    state: &'static str,
    /// The status send, when queued.
    send_id: Option<SendId>,
    /// Why not sent: `automation_off`, `fulfillment_mode`, `channel_disabled`,
    /// `not_supported_by_platform`.
    code: Option<&'static str>,
    reason: Option<String>,
}

/// What an ERP action did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ActionResult {
    order: OrderView,
    /// False when the same action had already been recorded (nothing changed).
    changed: bool,
    send: SendPlanView,
}

fn invalid(detail: &str) -> Problem {
    Problem::new(ErrorCode::ValidationFailed, detail)
}

fn text(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

async fn run(
    engine: &AppState,
    tenant: ponte_core::TenantId,
    id: &str,
    action: Action,
    xml: Option<String>,
) -> ApiResult<Json<ActionResult>> {
    let not_found = || Problem::new(ErrorCode::OrderNotFound, "order not found");
    let id: OrderId = id.parse().map_err(|_| not_found())?;
    let r = engine.order_action(tenant, id, action, xml).await?;
    let send = match r.send {
        SendPlan::Queued(id) => SendPlanView {
            state: "queued",
            send_id: Some(id),
            code: None,
            reason: None,
        },
        SendPlan::NotSent(why) => SendPlanView {
            state: "not_sent",
            send_id: None,
            code: Some(why.code().as_str()),
            reason: Some(why.to_string()),
        },
        SendPlan::AlreadyRecorded => SendPlanView {
            state: "already_recorded",
            send_id: None,
            code: None,
            reason: None,
        },
    };
    Ok(Json(ActionResult {
        order: view(r.order),
        changed: r.changed,
        send,
    }))
}

/// Separation (or production) started -> `in_separation`.
#[utoipa::path(post, path = "/api/v1/orders/{id}/separation", tag = "order actions",
    params(("id" = String, Path)), request_body = SeparationBody,
    responses((status = 200, body = ActionResult), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn separation(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<SeparationBody>,
) -> ApiResult<Json<ActionResult>> {
    let action = Action::Separation(Separation { kind: b.kind });
    run(&engine, tenant, &id, action, None).await
}

/// NF-e authorized -> `invoiced`. The access key's check digit is verified; with `xml`
/// (the authorized `nfeProc`), its key, number, series and total must match the fields.
#[utoipa::path(post, path = "/api/v1/orders/{id}/invoice", tag = "order actions",
    params(("id" = String, Path)), request_body = InvoiceInput,
    responses((status = 200, body = ActionResult), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn invoice(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<InvoiceInput>,
) -> ApiResult<Json<ActionResult>> {
    let (invoice, xml) = input.validate().map_err(EngineError::from)?;
    run(&engine, tenant, &id, Action::Invoice(invoice), xml).await
}

/// Carrier pickup order created: the order stays `invoiced`, with the pickup info.
#[utoipa::path(post, path = "/api/v1/orders/{id}/collection-order", tag = "order actions",
    params(("id" = String, Path)), request_body = CollectionOrderBody,
    responses((status = 200, body = ActionResult), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn collection_order(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CollectionOrderBody>,
) -> ApiResult<Json<ActionResult>> {
    let code = text(Some(b.code)).ok_or_else(|| invalid("code must not be empty"))?;
    let action = Action::CollectionOrder(CollectionOrder {
        code,
        created_at: b.created_at,
    });
    run(&engine, tenant, &id, action, None).await
}

/// Handed to the carrier -> `shipped`. Platforms that need a tracking code get a
/// send that fails with `missing_tracking_code` (no call is made).
#[utoipa::path(post, path = "/api/v1/orders/{id}/shipment", tag = "order actions",
    params(("id" = String, Path)), request_body = ShipmentBody,
    responses((status = 200, body = ActionResult), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn shipment(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ShipmentBody>,
) -> ApiResult<Json<ActionResult>> {
    let tracking_url = text(b.tracking_url);
    if tracking_url.as_deref().is_some_and(|u| !is_http_url(u)) {
        return Err(invalid("tracking_url must be an http(s) URL"));
    }
    let action = Action::Shipment(Shipment {
        tracking_code: text(b.tracking_code),
        tracking_url,
        carrier: text(b.carrier),
        shipped_at: b.shipped_at,
    });
    run(&engine, tenant, &id, action, None).await
}

/// Longest shipping-exception observation.
const MAX_OBSERVATION: usize = 500;

/// A shipping exception: the order stays `shipped` (needs a shipped order not yet
/// delivered); platforms with a call for it are told.
#[utoipa::path(post, path = "/api/v1/orders/{id}/shipment-exception", tag = "order actions",
    params(("id" = String, Path)), request_body = ShipmentExceptionBody,
    responses((status = 200, body = ActionResult), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn shipment_exception(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ShipmentExceptionBody>,
) -> ApiResult<Json<ActionResult>> {
    let observation = b.observation.trim();
    if observation.is_empty() || observation.chars().count() > MAX_OBSERVATION {
        return Err(invalid("observation must have 1 to 500 characters"));
    }
    let action = Action::ShipmentException(ShipmentException {
        observation: observation.to_owned(),
        occurred_at: b.occurred_at,
    });
    run(&engine, tenant, &id, action, None).await
}

/// Received by the customer -> `delivered` (needs a shipped order).
#[utoipa::path(post, path = "/api/v1/orders/{id}/delivery", tag = "order actions",
    params(("id" = String, Path)), request_body = DeliveryBody,
    responses((status = 200, body = ActionResult), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn delivery(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<DeliveryBody>,
) -> ApiResult<Json<ActionResult>> {
    let action = Action::Delivery(Delivery {
        delivered_at: b.delivered_at,
    });
    run(&engine, tenant, &id, action, None).await
}

/// Cancelled -> `cancelled`. Allowed up to `invoiced` (the ERP cancels the NF-e at
/// SEFAZ itself); refused with `already_shipped` once shipped (that is a return).
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "order actions",
    params(("id" = String, Path)), request_body = CancelBody,
    responses((status = 200, body = ActionResult), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn cancel(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CancelBody>,
) -> ApiResult<Json<ActionResult>> {
    let action = Action::Cancel(Cancellation {
        reason: b.reason,
        note: text(b.note),
    });
    run(&engine, tenant, &id, action, None).await
}
