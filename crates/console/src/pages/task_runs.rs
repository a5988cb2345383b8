//! Task runs: a task's run history, one run's page, and its progress as a fragment
//! htmx polls every second while the run is queued or running (without JavaScript,
//! the run's page is reloaded by hand).

use crate::format::url_encode;
use crate::pages::orders::unavailable;
use crate::render::{page, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ponte_core::{ChannelId, RunId, TaskId};
use ponte_engine::EngineError;
use ponte_store::{PageRequest, RunState, ScheduledTask, TaskRun};
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/tasks/{id}/runs", get(history))
        .route("/task-runs/{id}", get(show))
        .route("/task-runs/{id}/progress", get(progress))
}

/// Runs per history page.
const PAGE: u32 = 50;

/// A run as the pages show it.
pub(crate) struct RunView {
    pub r: TaskRun,
    /// (`run_count.<key>`, count) of what it did, zeros left out.
    pub counts: Vec<(&'static str, u64)>,
    /// How far it is, when the platform said how many orders it reads.
    pub percent: Option<u64>,
    /// Queued or running: its progress keeps changing.
    pub live: bool,
}

impl From<TaskRun> for RunView {
    fn from(r: TaskRun) -> Self {
        let c = &r.counts;
        let counts = [
            ("seen", c.seen),
            ("created", c.created),
            ("updated", c.updated),
            ("unchanged", c.unchanged),
            ("skipped", c.skipped),
            ("unreadable", c.unreadable),
            ("gaps", c.gaps),
            ("enqueued", c.enqueued),
            ("cancelled", c.cancelled),
            ("calls", c.calls),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
        let percent = c.expected.map(|n| match n {
            0 => 100,
            n => (c.seen.saturating_mul(100) / n).min(100),
        });
        RunView {
            counts,
            percent,
            live: matches!(r.state, RunState::Queued | RunState::Running),
            r,
        }
    }
}

/// A channel's name for a task or run (empty for the tenant's own tasks).
pub(crate) async fn channel_name(
    state: &Console,
    s: &Session,
    id: Option<ChannelId>,
) -> Result<String, EngineError> {
    match id {
        Some(id) => Ok(state.engine.channel(s.tenant, id).await?.name),
        None => Ok(String::new()),
    }
}

#[derive(Template)]
#[template(path = "run_progress.html")]
struct Progress<'a> {
    chrome: Chrome<'a>,
    v: RunView,
}

#[derive(Template)]
#[template(path = "task_run.html")]
struct RunPage<'a> {
    chrome: Chrome<'a>,
    v: RunView,
    channel: String,
}

#[derive(Template)]
#[template(path = "task_runs.html")]
struct HistoryPage<'a> {
    chrome: Chrome<'a>,
    task: ScheduledTask,
    channel: String,
    runs: Vec<RunView>,
    next: Option<String>,
}

async fn load_run(state: &Console, s: &Session, id: &str) -> Result<TaskRun, Response> {
    let Ok(id) = id.parse::<RunId>() else {
        return Err(StatusCode::NOT_FOUND.into_response());
    };
    match state.engine.task_run(s.tenant, id).await {
        Ok(r) => Ok(r),
        Err(EngineError::NotFound(_)) => Err(StatusCode::NOT_FOUND.into_response()),
        Err(e) => Err(unavailable(&e.to_string())),
    }
}

async fn show(State(state): State<Console>, s: Session, Path(id): Path<String>) -> Response {
    let run = match load_run(&state, &s, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let channel = match channel_name(&state, &s, run.channel_id).await {
        Ok(c) => c,
        Err(e) => return unavailable(&e.to_string()),
    };
    page(&RunPage {
        chrome: Chrome::new(
            &state,
            &s,
            "tasks",
            &format!("/console/task-runs/{}", run.id),
        ),
        v: run.into(),
        channel,
    })
}

/// The progress fragment alone (htmx swaps it in place).
async fn progress(State(state): State<Console>, s: Session, Path(id): Path<String>) -> Response {
    match load_run(&state, &s, &id).await {
        Ok(run) => page(&Progress {
            chrome: Chrome::new(
                &state,
                &s,
                "tasks",
                &format!("/console/task-runs/{}", run.id),
            ),
            v: run.into(),
        }),
        Err(r) => r,
    }
}

#[derive(Deserialize, Default)]
struct Cursor {
    cursor: Option<String>,
}

async fn history(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<Cursor>,
) -> Response {
    let Ok(id) = id.parse::<TaskId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let task = match state.engine.scheduled_task(s.tenant, id).await {
        Ok(t) => t,
        Err(EngineError::NotFound(_)) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return unavailable(&e.to_string()),
    };
    let req = PageRequest {
        cursor: q.cursor.filter(|c| c.parse::<RunId>().is_ok()),
        limit: PAGE,
    };
    let loaded = async {
        let runs = state
            .engine
            .store()
            .task_runs(s.tenant, task.id, &req)
            .await?;
        let channel = channel_name(&state, &s, task.channel_id).await?;
        Ok::<_, EngineError>((runs, channel))
    };
    let (runs, channel) = match loaded.await {
        Ok(v) => v,
        Err(e) => return unavailable(&e.to_string()),
    };
    page(&HistoryPage {
        chrome: Chrome::new(
            &state,
            &s,
            "tasks",
            &format!("/console/tasks/{}/runs", task.id),
        ),
        next: runs.next_cursor.map(|c| url_encode(&c)),
        runs: runs.items.into_iter().map(RunView::from).collect(),
        task,
        channel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Catalogues, Lang};
    use ponte_store::{RunCounts, RunTrigger, TaskKind};

    fn run(counts: RunCounts, state: RunState) -> TaskRun {
        TaskRun {
            tenant_id: ponte_core::TenantId(uuid::Uuid::nil()),
            id: RunId::new(),
            task_id: TaskId::new(),
            kind: TaskKind::ImportOrders,
            channel_id: None,
            trigger: RunTrigger::RunNow,
            since: None,
            until: None,
            state,
            due_at: None,
            created_at: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
            counts,
            error: None,
        }
    }

    #[test]
    fn every_state_trigger_kind_and_count_is_named() {
        let c = Catalogues::load().unwrap();
        let mut keys: Vec<String> = [
            RunState::Queued,
            RunState::Running,
            RunState::Succeeded,
            RunState::Failed,
        ]
        .map(|s| format!("run_state.{}", s.as_str()))
        .to_vec();
        keys.extend(
            [RunTrigger::Schedule, RunTrigger::RunNow, RunTrigger::Manual]
                .map(|t| format!("run_trigger.{}", t.as_str())),
        );
        keys.extend(
            [
                TaskKind::ImportOrders,
                TaskKind::RefreshPaymentStatus,
                TaskKind::AutoCancel,
                TaskKind::RemapOrders,
                TaskKind::TrackShipments,
                TaskKind::PriceCheck,
            ]
            .map(|k| format!("task_kind.{}", k.as_str())),
        );
        let all = RunCounts {
            calls: 1,
            seen: 1,
            created: 1,
            updated: 1,
            unchanged: 1,
            skipped: 1,
            unreadable: 1,
            gaps: 1,
            enqueued: 1,
            cancelled: 1,
            delivered: 1,
            flagged: 1,
            expected: None,
        };
        let v = RunView::from(run(all, RunState::Running));
        assert_eq!(v.counts.len(), 10);
        assert!(v.live && v.percent.is_none());
        keys.extend(v.counts.iter().map(|(k, _)| format!("run_count.{k}")));
        for lang in [Lang::PtBr, Lang::En] {
            let cat = c.get(lang);
            let missing: Vec<_> = keys.iter().filter(|k| cat.s(k) == k.as_str()).collect();
            assert!(missing.is_empty(), "{lang:?} misses {missing:?}");
        }
    }

    #[test]
    fn progress_is_a_share_of_what_the_platform_announced() {
        let mut counts = RunCounts {
            seen: 30,
            expected: Some(120),
            ..RunCounts::default()
        };
        let v = RunView::from(run(counts.clone(), RunState::Running));
        assert_eq!(v.percent, Some(25));
        counts.seen = 500;
        let done = RunView::from(run(counts.clone(), RunState::Succeeded));
        assert_eq!(done.percent, Some(100));
        assert!(!done.live);
        counts.expected = Some(0);
        assert_eq!(
            RunView::from(run(counts, RunState::Queued)).percent,
            Some(100)
        );
    }
}
