//! "Histórico de Envio de Situação": every status send with its state, attempts and
//! the platform's answer; filters by channel, state, period and order; CSV download.

use crate::pages::orders::unavailable;
use crate::render::{page, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::extract::{OriginalUri, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ponte_core::action::ActionKind;
use ponte_core::{ChannelId, OrderId};
use ponte_store::{Channel, PageRequest, SendFilter, SendState, StatusSend};
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/history", get(list))
        .route("/history.csv", get(csv))
}

/// Sends per page.
const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
struct HistoryQuery {
    channel_id: Option<String>,
    state: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    order_id: Option<String>,
    cursor: Option<String>,
}

impl HistoryQuery {
    /// The store filter; dates are whole days in the tenant's zone (`to` inclusive).
    fn filter(&self, tz: chrono_tz::Tz) -> SendFilter {
        let day = |d: &Option<String>, plus| crate::format::day_start(d.as_deref()?, plus, tz);
        SendFilter {
            channel_id: self.channel_id.as_deref().and_then(|c| c.parse().ok()),
            order_id: self
                .order_id
                .as_deref()
                .and_then(|o| o.parse::<OrderId>().ok()),
            state: self.state.as_deref().and_then(SendState::parse),
            kind: self.kind.as_deref().and_then(ActionKind::parse),
            from: day(&self.from, 0),
            to: day(&self.to, 1),
        }
    }

    /// The query string without the cursor (pager and CSV links).
    fn query_string(&self) -> String {
        [
            ("channel_id", &self.channel_id),
            ("state", &self.state),
            ("kind", &self.kind),
            ("from", &self.from),
            ("to", &self.to),
            ("order_id", &self.order_id),
        ]
        .iter()
        .filter_map(|(k, v)| {
            let v = v.as_deref().filter(|v| !v.is_empty())?;
            Some(format!("{k}={}", crate::format::url_encode(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
    }
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage<'a> {
    chrome: Chrome<'a>,
    channels: Vec<Channel>,
    states: [SendState; 4],
    kinds: [ActionKind; 7],
    q: HistoryQuery,
    query: String,
    sends: Vec<StatusSend>,
    next: Option<String>,
}

impl HistoryPage<'_> {
    fn channel_name(&self, id: &ChannelId) -> String {
        self.channels
            .iter()
            .find(|c| c.id == *id)
            .map_or_else(|| id.to_string(), |c| c.name.clone())
    }

    fn sel(&self, value: &Option<String>, option: &str) -> bool {
        value.as_deref() == Some(option)
    }
}

async fn list(
    State(state): State<Console>,
    s: Session,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<HistoryQuery>,
) -> Response {
    let filter = q.filter(state.time_zone);
    let req = PageRequest {
        cursor: q
            .cursor
            .clone()
            .filter(|c| c.parse::<ponte_core::SendId>().is_ok()),
        limit: PAGE,
    };
    let loaded = async {
        let channels = state
            .engine
            .channels(s.tenant)
            .await
            .map_err(|e| e.to_string())?;
        let p = state
            .engine
            .store()
            .status_sends(s.tenant, &filter, &req)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((channels, p))
    };
    let (channels, found) = match loaded.await {
        Ok(v) => v,
        Err(e) => return unavailable(&e),
    };
    let query = q.query_string();
    let next = found
        .next_cursor
        .map(|c| format!("{query}&cursor={}", crate::format::url_encode(&c)));
    let p = HistoryPage {
        chrome: Chrome::new(&state, &s, "history", &uri.to_string()),
        channels,
        states: [
            SendState::Pending,
            SendState::Succeeded,
            SendState::Failed,
            SendState::Blocked,
        ],
        kinds: ActionKind::ALL,
        q,
        query,
        sends: found.items,
        next,
    };
    page(&p)
}

/// The same filters as a CSV file (up to the export limit).
async fn csv(State(state): State<Console>, s: Session, Query(q): Query<HistoryQuery>) -> Response {
    let filter = q.filter(state.time_zone);
    let req = PageRequest {
        cursor: None,
        limit: 500,
    };
    match state
        .engine
        .status_sends_csv(s.tenant, &filter, req, ponte_engine::CSV_MAX_ROWS)
        .await
    {
        Ok((bytes, _)) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"historico-envios.csv\"",
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => unavailable(&e.to_string()),
    }
}
