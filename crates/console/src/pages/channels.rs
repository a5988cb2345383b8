//! Canais: every channel with its integration switch state (and "Reconectar" when
//! the platform refused its credentials), push subscription, poll gaps and last
//! import, each leading to its page; and "Novo canal".

use crate::pages::orders::unavailable;
use crate::render::{page, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ponte_store::{Channel, CredentialsProblem, Subscription, TaskKind, TaskRun};

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/channels", get(list))
}

/// A channel with what the list shows of it.
struct Row {
    c: Channel,
    subscription: Option<Subscription>,
    /// The platform refused its credentials: the seller must reconnect.
    refused: Option<CredentialsProblem>,
    poll_gaps: u64,
    /// The latest run of its orders import.
    last_import: Option<TaskRun>,
}

#[derive(Template)]
#[template(path = "channels.html")]
struct ChannelsPage<'a> {
    chrome: Chrome<'a>,
    rows: Vec<Row>,
}

async fn list(State(state): State<Console>, s: Session) -> Response {
    let e = &state.engine;
    let loaded = async {
        let mut tasks = e.scheduled_tasks(s.tenant, None).await?;
        let mut rows = vec![];
        for c in e.channels(s.tenant).await? {
            let import = tasks
                .iter()
                .position(|t| t.kind == TaskKind::ImportOrders && t.channel_id == Some(c.id));
            rows.push(Row {
                subscription: e.subscription(s.tenant, c.id).await?,
                refused: e.credentials_problem(s.tenant, c.id).await?,
                poll_gaps: e.poll_gaps(s.tenant, c.id).await?,
                last_import: import.and_then(|i| tasks.swap_remove(i).last_run),
                c,
            });
        }
        Ok::<_, ponte_engine::EngineError>(rows)
    };
    match loaded.await {
        Ok(rows) => page(&ChannelsPage {
            chrome: Chrome::new(&state, &s, "channels", "/console/channels"),
            rows,
        }),
        Err(e) => unavailable(&e.to_string()),
    }
}
