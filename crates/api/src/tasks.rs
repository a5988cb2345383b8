//! Scheduled tasks ("Tarefas agendadas"), their runs, manual syncs and tenant settings.

use crate::access::Tenant;
use crate::channels::channel_id;
use crate::json_body::{present, JsonBody};
use crate::orders::query;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::ErrorCode;
use ponte_core::{ChannelId, RunId, TaskId};
use ponte_engine::TenantSettings;
use ponte_store::{RunCounts, ScheduledTask, TaskPatch, TaskRun};
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/scheduled-tasks", get(list))
        .route("/scheduled-tasks/{id}", get(show).patch(update))
        .route("/scheduled-tasks/{id}/run", post(run_now))
        .route("/scheduled-tasks/{id}/runs", get(runs))
        .route("/task-runs/{id}", get(show_run))
        .route("/channels/{id}/sync", post(sync))
        .route("/settings", get(settings).patch(update_settings))
}

/// One run of a task.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RunView {
    id: RunId,
    task_id: TaskId,
    /// `import_orders`, `refresh_payment_status`, `auto_cancel` or `remap_orders`.
    kind: String,
    channel_id: Option<ChannelId>,
    /// `schedule`, `run_now` or `manual` (a sync).
    trigger: String,
    /// Manual syncs: orders updated since (remaps: placed since).
    since: Option<DateTime<Utc>>,
    /// Remaps: orders placed before (absent: up to when it ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<DateTime<Utc>>,
    /// `queued`, `running`, `succeeded` or `failed`.
    state: String,
    /// Scheduled runs: the due time that fired it (`started_at` minus this is how late
    /// it started).
    due_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    /// Progress: calls, seen, created, updated, unchanged, skipped, unreadable, gaps,
    /// enqueued, cancelled, delivered, flagged, and `expected` (what the platform said the
    /// run would read). `track_shipments`: `seen` shipments asked about, `updated` new
    /// tracking events, `delivered` and `flagged` orders, `skipped` shipments no carrier
    /// account takes. `price_check`: `seen` prices read back, `unchanged` matching,
    /// `flagged` drifted, `enqueued` pushed again, `unreadable` reads that failed.
    #[schema(value_type = Object)]
    counts: RunCounts,
    error: Option<String>,
    /// Orders read per second so far (imports).
    rate_per_sec: Option<f64>,
}

/// A run as the API shows it.
pub(crate) fn run_view(r: TaskRun) -> RunView {
    let end = r.finished_at.unwrap_or_else(Utc::now);
    let rate_per_sec = r.started_at.and_then(|s| {
        let secs = (end - s).num_milliseconds() as f64 / 1000.0;
        (secs > 0.0 && r.counts.seen > 0).then(|| r.counts.seen as f64 / secs)
    });
    RunView {
        id: r.id,
        task_id: r.task_id,
        kind: r.kind.as_str().to_owned(),
        channel_id: r.channel_id,
        trigger: r.trigger.as_str().to_owned(),
        since: r.since,
        until: r.until,
        state: r.state.as_str().to_owned(),
        due_at: r.due_at,
        created_at: r.created_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        counts: r.counts,
        error: r.error,
        rate_per_sec,
    }
}

/// A scheduled task with its latest run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TaskView {
    id: TaskId,
    /// `import_orders`, `refresh_payment_status`, `remap_orders`, `price_check` (per
    /// channel; the last once it sends prices), `auto_cancel` or `track_shipments`
    /// (tenant; with its first carrier account).
    kind: String,
    channel_id: Option<ChannelId>,
    interval_seconds: i64,
    enabled: bool,
    next_run_at: DateTime<Utc>,
    /// `import_orders`: orders updated since this were not all seen yet.
    cursor: Option<DateTime<Utc>>,
    last_run: Option<RunView>,
}

fn task_view(t: ScheduledTask) -> TaskView {
    TaskView {
        id: t.id,
        kind: t.kind.as_str().to_owned(),
        channel_id: t.channel_id,
        interval_seconds: t.interval_secs,
        enabled: t.enabled,
        next_run_at: t.next_run_at,
        cursor: t.cursor,
        last_run: t.last_run.map(run_view),
    }
}

/// The tasks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TaskList {
    items: Vec<TaskView>,
}

/// Task filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskQuery {
    channel_id: Option<ChannelId>,
}

fn task_id(s: &str) -> ApiResult<TaskId> {
    s.parse()
        .map_err(|_| Problem::new(ErrorCode::TaskNotFound, "scheduled task not found"))
}

/// Lists scheduled tasks (of one channel with `channel_id`).
#[utoipa::path(get, path = "/api/v1/scheduled-tasks", tag = "scheduled tasks", params(TaskQuery),
    responses((status = 200, body = TaskList)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<TaskQuery>, QueryRejection>,
) -> ApiResult<Json<TaskList>> {
    let q = query(q)?;
    let items = engine.scheduled_tasks(tenant, q.channel_id).await?;
    Ok(Json(TaskList {
        items: items.into_iter().map(task_view).collect(),
    }))
}

/// One scheduled task.
#[utoipa::path(get, path = "/api/v1/scheduled-tasks/{id}", tag = "scheduled tasks",
    params(("id" = String, Path)), responses((status = 200, body = TaskView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn show(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskView>> {
    let t = engine.scheduled_task(tenant, task_id(&id)?).await?;
    Ok(Json(task_view(t)))
}

/// Changes to a task.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateTask {
    /// Seconds between runs (at least the configured minimum, 60 by default).
    interval_seconds: Option<i64>,
    enabled: Option<bool>,
}

/// Changes a task's interval or turns it on or off (the next run moves to now +
/// interval).
#[utoipa::path(patch, path = "/api/v1/scheduled-tasks/{id}", tag = "scheduled tasks",
    params(("id" = String, Path)), request_body = UpdateTask,
    responses((status = 200, body = TaskView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn update(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<UpdateTask>,
) -> ApiResult<Json<TaskView>> {
    let patch = TaskPatch {
        interval_secs: input.interval_seconds,
        enabled: input.enabled,
    };
    let t = engine
        .update_scheduled_task(tenant, task_id(&id)?, patch)
        .await?;
    Ok(Json(task_view(t)))
}

/// Runs a task now; 409 `task_busy` while a run of it is queued or running.
#[utoipa::path(post, path = "/api/v1/scheduled-tasks/{id}/run", tag = "scheduled tasks",
    params(("id" = String, Path)),
    responses((status = 202, body = RunView), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn run_now(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    let run = engine.run_task_now(tenant, task_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(run_view(run))))
}

/// A page of runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RunPage {
    items: Vec<RunView>,
    next_cursor: Option<String>,
}

/// Paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunQuery {
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<u32>,
}

/// A task's runs, newest first.
#[utoipa::path(get, path = "/api/v1/scheduled-tasks/{id}/runs", tag = "scheduled tasks",
    params(("id" = String, Path), RunQuery),
    responses((status = 200, body = RunPage), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn runs(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    q: Result<Query<RunQuery>, QueryRejection>,
) -> ApiResult<Json<RunPage>> {
    let q = query(q)?;
    let task = engine.scheduled_task(tenant, task_id(&id)?).await?;
    if q.cursor
        .as_deref()
        .is_some_and(|c| c.parse::<RunId>().is_err())
    {
        return Err(Problem::new(
            ErrorCode::InvalidCursor,
            "cursor is not one this API returned",
        ));
    }
    let page = ponte_store::PageRequest {
        cursor: q.cursor,
        limit: q.limit.unwrap_or(50),
    };
    let p = engine
        .store()
        .task_runs(tenant, task.id, &page)
        .await
        .map_err(ponte_engine::EngineError::from)?;
    Ok(Json(RunPage {
        items: p.items.into_iter().map(run_view).collect(),
        next_cursor: p.next_cursor,
    }))
}

/// One run, with its progress while it runs.
#[utoipa::path(get, path = "/api/v1/task-runs/{id}", tag = "scheduled tasks",
    params(("id" = String, Path)), responses((status = 200, body = RunView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn show_run(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    let id: RunId = id
        .parse()
        .map_err(|_| Problem::new(ErrorCode::TaskRunNotFound, "task run not found"))?;
    Ok(Json(run_view(engine.task_run(tenant, id).await?)))
}

/// A manual sync.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SyncRequest {
    /// `orders`.
    kind: String,
    /// Orders updated since (RFC 3339); default: the channel's polling cursor.
    since: Option<DateTime<Utc>>,
}

/// Starts a manual sync of a channel's orders; follow it at `/api/v1/task-runs/{id}`.
/// 409 `task_busy` while the channel's polling or another sync runs.
#[utoipa::path(post, path = "/api/v1/channels/{id}/sync", tag = "scheduled tasks",
    params(("id" = String, Path)), request_body = SyncRequest,
    responses((status = 202, body = RunView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn sync(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<SyncRequest>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    if input.kind != "orders" {
        return Err(Problem::new(
            ErrorCode::ValidationFailed,
            format!("unknown sync kind `{}` (known: orders)", input.kind),
        ));
    }
    let run = engine
        .sync_orders(tenant, channel_id(&id)?, input.since)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(run_view(run))))
}

/// Tenant settings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SettingsView {
    /// Orders awaiting payment this many days after they were placed are cancelled by
    /// the `auto_cancel` task (and the cancellation sent to the platform when the
    /// channel sends cancellations); null: never.
    auto_cancel_awaiting_payment_after_days: Option<u32>,
}

fn settings_view(s: TenantSettings) -> SettingsView {
    SettingsView {
        auto_cancel_awaiting_payment_after_days: s.auto_cancel_awaiting_payment_after_days,
    }
}

/// The tenant's settings.
#[utoipa::path(get, path = "/api/v1/settings", tag = "settings",
    responses((status = 200, body = SettingsView)), security(("bearer" = [])))]
pub(crate) async fn settings(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
) -> ApiResult<Json<SettingsView>> {
    Ok(Json(settings_view(engine.tenant_settings(tenant).await?)))
}

/// Changes to the tenant's settings: a key given is set (null clears it), a key
/// absent is kept.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateSettings {
    #[serde(default, deserialize_with = "present")]
    auto_cancel_awaiting_payment_after_days: Option<Option<u32>>,
}

/// Changes tenant settings (keys merge; null clears).
#[utoipa::path(patch, path = "/api/v1/settings", tag = "settings",
    request_body(content = Object, description = "`{\"auto_cancel_awaiting_payment_after_days\": 1..365 | null}`"),
    responses((status = 200, body = SettingsView), (status = 422, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn update_settings(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    JsonBody(input): JsonBody<UpdateSettings>,
) -> ApiResult<Json<SettingsView>> {
    let mut changes = serde_json::Map::new();
    if let Some(days) = input.auto_cancel_awaiting_payment_after_days {
        changes.insert(
            "auto_cancel_awaiting_payment_after_days".into(),
            days.into(),
        );
    }
    let settings = engine
        .update_tenant_settings(tenant, serde_json::Value::Object(changes))
        .await?;
    Ok(Json(settings_view(settings)))
}
