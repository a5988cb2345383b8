//! DE-PARA: the channel's status table, rows of platform status, payment status and
//! shipping status to ponte's status, first match wins (the connector's documented
//! table until one is saved). Edited as a table: change a row, fill a blank one, or
//! tick "Remover". Below it, the platform statuses of the channel's orders that no row
//! maps, and "Remapear" to apply the table to the orders already imported.

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
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use ponte_core::customer_fields::FieldRule;
use ponte_core::payment_map::PaymentRule;
use ponte_core::status_rules::StatusRule;
use ponte_core::{ErrorCode, OrderStatus};
use ponte_engine::{UnmappedPayment, UnmappedStatus};
use serde_json::{Map, Value};

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/channels/{id}/status-map", get(show).post(save))
        .route("/channels/{id}/remap", post(remap))
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
    /// The connector's documented table (nothing saved yet).
    default: bool,
    /// Platform statuses of the channel's orders no row maps.
    unmapped: Vec<UnmappedStatus>,
    /// The payment table that applies (read here, edited through the API).
    payments: Vec<PaymentRule>,
    /// Payment methods of the channel's orders no row maps.
    unmapped_payments: Vec<UnmappedPayment>,
    /// Default customer field rules, each as one line.
    fields: Vec<String>,
}

/// A customer field rule as one line: `field = value` and its conditions as JSON.
fn field_line(r: &FieldRule) -> String {
    let when = if r.when.is_empty() {
        String::new()
    } else {
        format!(" {}", serde_json::to_string(&r.when).unwrap_or_default())
    };
    format!("{} = {}{when}", r.field, r.value)
}

fn with_blanks(mut rows: Vec<Row>) -> Vec<Row> {
    rows.extend((0..BLANK_ROWS).map(|_| Row::default()));
    rows
}

fn shown_rows(rules: Vec<StatusRule>) -> Vec<Row> {
    rules
        .into_iter()
        .map(|r| Row {
            matches: [r.status, r.payment_status, r.shipping_status].map(Option::unwrap_or_default),
            to: r.to.as_str().to_owned(),
            error: None,
        })
        .collect()
}

async fn render(
    state: &Console,
    s: &Session,
    head: Head,
    rows: Vec<Row>,
    status: StatusCode,
) -> Response {
    let here = format!("/console/channels/{}/{}", head.c.id, Tab::StatusMap.slug());
    let (e, t, c) = (&state.engine, s.tenant, head.c.id);
    let read = async {
        Ok::<_, ponte_engine::EngineError>((
            !e.status_map(t, c).await?.saved,
            e.unmapped_statuses(t, c).await?,
            e.payment_map(t, c).await?.rows,
            e.unmapped_payments(t, c).await?,
            e.customer_fields(t, c).await?,
        ))
    };
    let (default, unmapped, payments, unmapped_payments, fields) = match read.await {
        Ok(all) => all,
        Err(e) => return unavailable(&e.to_string()),
    };
    let p = StatusMapTab {
        chrome: Chrome::new(state, s, "channels", &here),
        head,
        columns: MATCHES,
        rows: with_blanks(rows),
        statuses: &OrderStatus::ALL,
        default,
        unmapped,
        payments,
        unmapped_payments,
        fields: fields.iter().map(field_line).collect(),
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
    let rows = match state.engine.status_map(s.tenant, c.id).await {
        Ok(m) => shown_rows(m.rows),
        Err(e) => return unavailable(&e.to_string()),
    };
    render(
        &state,
        &s,
        Head::new(c, Tab::StatusMap, &q),
        rows,
        StatusCode::OK,
    )
    .await
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
        return render(&state, &s, head, rows, status).await;
    }
    match state
        .engine
        .set_status_map(s.tenant, c.id, &Value::Array(rules))
        .await
    {
        Ok(_) => saved(c.id, Tab::StatusMap, "saved"),
        Err(e) => match Refusal::of(&e) {
            Some(why) => {
                let head = Head {
                    top: Some(why),
                    ..head
                };
                render(&state, &s, head, rows, status).await
            }
            None => unavailable(&e.to_string()),
        },
    }
}

/// Starts a remap of every order of the channel with its current tables and shows
/// the run's progress.
async fn remap(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = Fields::checked(&s, &body) {
        return r.into_response();
    }
    let c = match load(&state, &s, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let since = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    match state.engine.remap_orders(s.tenant, c.id, since, None).await {
        Ok(run) => Redirect::to(&format!("/console/task-runs/{}", run.id)).into_response(),
        Err(e) => match Refusal::of(&e) {
            Some(why) => {
                let rows = match state.engine.status_map(s.tenant, c.id).await {
                    Ok(m) => shown_rows(m.rows),
                    Err(e) => return unavailable(&e.to_string()),
                };
                let head = Head {
                    top: Some(why),
                    ..Head::new(c, Tab::StatusMap, &Notice::default())
                };
                render(&state, &s, head, rows, StatusCode::CONFLICT).await
            }
            None => unavailable(&e.to_string()),
        },
    }
}
