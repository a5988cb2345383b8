//! A channel's push subscription at its platform: shown in `GET /api/v1/channels/{id}`,
//! re-verified and repaired by `POST /api/v1/channels/{id}/subscription/check`.

use crate::access::Tenant;
use crate::channels::channel_id;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_store::{Subscription, SubscriptionState};
use serde::Serialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/channels/{id}/subscription/check", post(check))
}

/// Where the channel's webhook registration at its platform stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SubscriptionView {
    /// `active` (the platform pushes to ponte), `failed` (see `reason`; polling still
    /// imports), `polling_only` (no public URL), `removed` (channel disabled).
    state: &'static str,
    /// The URL registered at the platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// What the platform has for ponte (Nuvemshop events, VTEX hook statuses).
    registered: Vec<String>,
    /// What the last check changed (empty: it was already right).
    changes: Vec<String>,
    /// Why it failed, or why the channel is polling-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    checked_at: DateTime<Utc>,
}

impl From<Subscription> for SubscriptionView {
    fn from(s: Subscription) -> Self {
        Self {
            state: match s.state {
                SubscriptionState::Active => "active",
                SubscriptionState::Failed => "failed",
                SubscriptionState::PollingOnly => "polling_only",
                SubscriptionState::Removed => "removed",
            },
            url: s.url,
            registered: s.registered,
            changes: s.changes,
            reason: s.reason,
            checked_at: s.checked_at,
        }
    }
}

/// Re-verifies the channel's webhook registration at its platform and repairs it
/// (registers what is missing, replaces what is stale; removes it when the channel is
/// disabled). A platform refusal is the `failed` state, not an error.
#[utoipa::path(post, path = "/api/v1/channels/{id}/subscription/check", tag = "channels",
    params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn check(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<SubscriptionView>> {
    let s = engine
        .reconcile_subscription(tenant, channel_id(&id)?)
        .await?;
    Ok(Json(s.into()))
}
