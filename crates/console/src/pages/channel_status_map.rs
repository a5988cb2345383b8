//! DE-PARA: the channel's status table (`status_map`), rows of platform status,
//! payment status and shipping status to ponte's status, tried in order before the
//! platform's default table. Edited as a table: change a row, fill a blank one, or
//! tick "Remover".

use crate::form::Fields;
use crate::pages::channel::{load, saved, Head, Notice, Tab};
use crate::pages::orders::unavailable;
use crate::refusal::Refusal;
use crate::render::{page_with, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ponte_core::status_rules::StatusRule;
use ponte_core::{ErrorCode, OrderStatus};
use ponte_engine::ChannelPatch;
use serde_json::{json, Map, Value};

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/channels/{id}/status-map", get(show).post(save))
}

/// Blank rows offered for new rules.
const BLANK_ROWS: usize = 3;

/// Most rows a table may have.
const MAX_ROWS: usize = 200;

/// The platform fields a rule matches, in column order.
const MATCHES: [&str; 3] = ["status", "payment_status", "shipping_status"];

/// A row of the table as shown.
#[derive(Default)]
struct Row {
    /// Status, payment status, shipping status (blank matches anything).
    matches: [String; 3],
    /// Ponte's status (`OrderStatus::as_str`), blank in a new row.
    to: String,
    error: Option<Refusal>,
}

#[derive(Template)]
#[template(path = "channel_status_map.html")]
struct StatusMapTab<'a> {
    chrome: Chrome<'a>,
    head: Head,
    columns: [&'static str; 3],
    rows: Vec<Row>,
    statuses: &'static [OrderStatus],
}

fn with_blanks(mut rows: Vec<Row>) -> Vec<Row> {
    rows.extend((0..BLANK_ROWS).map(|_| Row::default()));
    rows
}

fn stored_rows(settings: &Value) -> Vec<Row> {
    let rules: Vec<StatusRule> = settings
        .get("status_map")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    rules
        .into_iter()
        .map(|r| Row {
            matches: [r.status, r.payment_status, r.shipping_status].map(Option::unwrap_or_default),
            to: r.to.as_str().to_owned(),
            error: None,
        })
        .collect()
}

fn render(
    state: &Console,
    s: &Session,
    head: Head,
    rows: Vec<Row>,
    status: StatusCode,
) -> Response {
    let here = format!("/console/channels/{}/{}", head.c.id, Tab::StatusMap.slug());
    let p = StatusMapTab {
        chrome: Chrome::new(state, s, "channels", &here),
        head,
        columns: MATCHES,
        rows: with_blanks(rows),
        statuses: &OrderStatus::ALL,
    };
    page_with(status, &p)
}

async fn show(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    let c = match load(&state, &s, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rows = stored_rows(&c.settings);
    render(
        &state,
        &s,
        Head::new(c, Tab::StatusMap, &q),
        rows,
        StatusCode::OK,
    )
}

/// The rows submitted (removed and blank ones left out) and the rules they make;
/// a row without a valid ponte status is refused next to it.
fn read(form: &Fields, not_an_option: &str) -> (Vec<Row>, Vec<Value>, bool) {
    let n = form
        .get("rows")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_ROWS + BLANK_ROWS);
    let (mut rows, mut rules, mut refused) = (vec![], vec![], false);
    for i in 0..n {
        if form.get(&format!("remove_{i}")).is_some() {
            continue;
        }
        let matches = MATCHES.map(|m| form.get(&format!("{m}_{i}")).unwrap_or_default().to_owned());
        let to = form.get(&format!("to_{i}")).unwrap_or_default().to_owned();
        if to.is_empty() && matches.iter().all(String::is_empty) {
            continue;
        }
        let mut row = Row {
            matches,
            to,
            error: None,
        };
        match OrderStatus::ALL.iter().find(|s| s.as_str() == row.to) {
            Some(to) => {
                let mut rule = Map::new();
                for (m, v) in MATCHES.iter().zip(&row.matches) {
                    if !v.is_empty() {
                        rule.insert((*m).to_owned(), v.clone().into());
                    }
                }
                rule.insert("to".into(), to.as_str().into());
                rules.push(Value::Object(rule));
            }
            None => {
                row.error = Some(Refusal::console(ErrorCode::ValidationFailed, not_an_option));
                refused = true;
            }
        }
        rows.push(row);
    }
    (rows, rules, refused)
}

async fn save(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let c = match load(&state, &s, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let t = state.catalogues.get(s.lang);
    let (rows, rules, refused) = read(&form, t.s("channel.not_an_option"));
    let head = Head::new(c.clone(), Tab::StatusMap, &Notice::default());
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    if refused {
        return render(&state, &s, head, rows, status);
    }
    let map = if rules.is_empty() {
        Value::Null
    } else {
        Value::Array(rules)
    };
    let patch = ChannelPatch {
        settings: Some(json!({ "status_map": map })),
        ..ChannelPatch::default()
    };
    match state.engine.update_channel(s.tenant, c.id, patch).await {
        Ok(_) => saved(c.id, Tab::StatusMap, "saved"),
        Err(e) => match Refusal::of(&e) {
            Some(why) => render(
                &state,
                &s,
                Head {
                    top: Some(why),
                    ..head
                },
                rows,
                status,
            ),
            None => unavailable(&e.to_string()),
        },
    }
}
