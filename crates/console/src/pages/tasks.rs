//! Tarefas agendadas: every scheduled task with its last and next run, its interval
//! and switch (editable), "Executar agora", its run history; and the manual sync of a
//! channel's orders since a date, which opens the run's live progress.

use crate::form::Fields;
use crate::format::parse_date_time;
use crate::pages::orders::unavailable;
use crate::pages::task_runs::RunView;
use crate::refusal::Refusal;
use crate::render::{page_with, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use ponte_core::{ChannelId, ErrorCode, RunId, TaskId};
use ponte_engine::EngineError;
use ponte_store::{Channel, ScheduledTask, TaskPatch};
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/tasks", get(list))
        .route("/tasks/sync", post(sync))
        .route("/tasks/{id}", post(update))
        .route("/tasks/{id}/run", post(run_now))
}

/// A task as the list shows it.
struct Row {
    t: ScheduledTask,
    channel: String,
    last: Option<RunView>,
    /// The interval in minutes, as shown in its field.
    interval: String,
    enabled: bool,
    error: Option<Refusal>,
}

/// What the last request did or why it was refused.
#[derive(Default)]
struct Outcome {
    /// A catalogue key ("Salvo").
    notice: Option<&'static str>,
    /// A refusal no field is concerned by.
    top: Option<Refusal>,
    /// The run that made "Executar agora" or the sync busy.
    busy: Option<RunId>,
    /// A task's form as submitted, with its refusal.
    row: Option<(TaskId, String, bool, Refusal)>,
    /// The sync form as submitted.
    sync: SyncForm,
}

/// The manual sync's form as submitted.
#[derive(Default)]
struct SyncForm {
    channel_id: String,
    since: String,
    /// The refused field and why.
    error: Option<(&'static str, Refusal)>,
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage<'a> {
    chrome: Chrome<'a>,
    rows: Vec<Row>,
    channels: Vec<Channel>,
    o: Outcome,
}

impl TasksPage<'_> {
    /// The sync form's refusal of a field.
    fn sync_error(&self, field: &str) -> Option<&Refusal> {
        match &self.o.sync.error {
            Some((f, r)) if *f == field => Some(r),
            _ => None,
        }
    }
}

/// Seconds as the minutes a person reads (`600` as `10`, `90` as `1.5`).
fn minutes(secs: i64) -> String {
    if secs % 60 == 0 {
        (secs / 60).to_string()
    } else {
        format!("{:.2}", secs as f64 / 60.0)
            .trim_end_matches('0')
            .to_owned()
    }
}

/// Minutes typed by a person (`10`, `1,5`) as seconds.
fn seconds(v: &str) -> Option<i64> {
    let m: f64 = v.trim().replace(',', ".").parse().ok()?;
    (m.is_finite() && m > 0.0 && m < 1e9).then(|| (m * 60.0).round() as i64)
}

#[derive(Deserialize, Default)]
struct Saved {
    saved: Option<String>,
}

async fn list(State(state): State<Console>, s: Session, Query(q): Query<Saved>) -> Response {
    let o = Outcome {
        notice: q.saved.map(|_| "tasks.saved"),
        ..Outcome::default()
    };
    render(&state, &s, o, StatusCode::OK).await
}

async fn render(state: &Console, s: &Session, o: Outcome, status: StatusCode) -> Response {
    let loaded = async {
        Ok::<_, EngineError>((
            state.engine.scheduled_tasks(s.tenant, None).await?,
            state.engine.channels(s.tenant).await?,
        ))
    };
    let (tasks, channels) = match loaded.await {
        Ok(v) => v,
        Err(e) => return unavailable(&e.to_string()),
    };
    let name = |id: Option<ChannelId>| {
        id.map(|id| {
            channels
                .iter()
                .find(|c| c.id == id)
                .map_or_else(|| id.to_string(), |c| c.name.clone())
        })
        .unwrap_or_default()
    };
    let rows = tasks
        .into_iter()
        .map(|mut t| {
            let submitted = o.row.as_ref().filter(|(id, ..)| *id == t.id);
            Row {
                channel: name(t.channel_id),
                last: t.last_run.take().map(RunView::from),
                interval: submitted.map_or_else(|| minutes(t.interval_secs), |r| r.1.clone()),
                enabled: submitted.map_or(t.enabled, |r| r.2),
                error: submitted.map(|r| r.3.clone()),
                t,
            }
        })
        .collect();
    let p = TasksPage {
        chrome: Chrome::new(state, s, "tasks", "/console/tasks"),
        rows,
        channels,
        o,
    };
    page_with(status, &p)
}

/// A refusal of the engine on the list: `task_busy` (409, with the busy run) or
/// another refusal at the top (422); anything else is a 503.
async fn refused(state: &Console, s: &Session, e: EngineError, mut o: Outcome) -> Response {
    let Some(why) = Refusal::of(&e) else {
        return unavailable(&e.to_string());
    };
    let status = match e {
        EngineError::Busy(run) => {
            o.busy = Some(run);
            StatusCode::CONFLICT
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    o.top = Some(why);
    render(state, s, o, status).await
}

/// Changes a task's interval and switch.
async fn update(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Ok(id) = id.parse::<TaskId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let typed = form.get("interval").unwrap_or_default().to_owned();
    let enabled = form.get("enabled") == Some("true");
    let t = state.catalogues.get(s.lang);
    let refuse = |why: Refusal| Outcome {
        row: Some((id, typed.clone(), enabled, why)),
        ..Outcome::default()
    };
    let Some(secs) = seconds(&typed) else {
        let why = Refusal::console(ErrorCode::ValidationFailed, t.s("tasks.not_minutes"));
        return render(&state, &s, refuse(why), StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let patch = TaskPatch {
        interval_secs: Some(secs),
        enabled: Some(enabled),
    };
    match state
        .engine
        .update_scheduled_task(s.tenant, id, patch)
        .await
    {
        Ok(_) => Redirect::to("/console/tasks?saved=1").into_response(),
        Err(EngineError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => match Refusal::of(&e) {
            Some(why) => render(&state, &s, refuse(why), StatusCode::UNPROCESSABLE_ENTITY).await,
            None => unavailable(&e.to_string()),
        },
    }
}

/// "Executar agora": starts a run and opens its progress.
async fn run_now(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = Fields::checked(&s, &body) {
        return r.into_response();
    }
    let Ok(id) = id.parse::<TaskId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match state.engine.run_task_now(s.tenant, id).await {
        Ok(run) => Redirect::to(&format!("/console/task-runs/{}", run.id)).into_response(),
        Err(EngineError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => refused(&state, &s, e, Outcome::default()).await,
    }
}

/// A manual sync of a channel's orders updated since a date (blank: since its
/// polling cursor); opens the run's progress.
async fn sync(State(state): State<Console>, s: Session, body: Bytes) -> Response {
    let form = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let typed = |error| SyncForm {
        channel_id: form.get("channel_id").unwrap_or_default().to_owned(),
        since: form.get("since").unwrap_or_default().to_owned(),
        error,
    };
    let t = state.catalogues.get(s.lang);
    let refuse = |field: &'static str, why: Refusal| Outcome {
        sync: typed(Some((field, why))),
        ..Outcome::default()
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let Some(channel_id) = form
        .get("channel_id")
        .and_then(|c| c.parse::<ChannelId>().ok())
    else {
        let why = Refusal::console(ErrorCode::ValidationFailed, t.s("tasks.choose_channel"));
        return render(&state, &s, refuse("channel_id", why), unprocessable).await;
    };
    let since = match form.get("since") {
        None => None,
        Some(v) => match parse_date_time(v, state.time_zone) {
            Some(at) => Some(at),
            None => {
                let why = Refusal::console(ErrorCode::ValidationFailed, t.s("tasks.not_a_date"));
                return render(&state, &s, refuse("since", why), unprocessable).await;
            }
        },
    };
    match state.engine.sync_orders(s.tenant, channel_id, since).await {
        Ok(run) => Redirect::to(&format!("/console/task-runs/{}", run.id)).into_response(),
        Err(e) => {
            let o = Outcome {
                sync: typed(None),
                ..Outcome::default()
            };
            refused(&state, &s, e, o).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_in_minutes() {
        assert_eq!(minutes(600), "10");
        assert_eq!(minutes(90), "1.5");
        assert_eq!(minutes(100), "1.67");
        assert_eq!(seconds("10"), Some(600));
        assert_eq!(seconds("1,5"), Some(90));
        assert_eq!(seconds(" 0.5 "), Some(30));
        for bad in ["", "dez", "-1", "0", "NaN", "inf", "1e30"] {
            assert_eq!(seconds(bad), None, "{bad}");
        }
    }
}
