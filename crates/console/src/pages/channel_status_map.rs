//! DE-PARA: the channel's status table, rows of platform status, payment status and
//! shipping status to ponte's status, first match wins (the connector's documented
//! table until one is saved). Edited as a table: change a row, fill a blank one, or
//! tick "Remover". Below it, the platform statuses of the channel's orders that no row
//! maps, the payment table and the customer field rules (each its own form, in their
//! modules), and "Remapear" to apply the tables to the orders already imported.

use crate::form::Fields;
use crate::pages::channel::{load, saved, Head, Notice, Tab};
use crate::pages::channel_customer_fields::{self as fields, FieldRow};
use crate::pages::channel_payment_map::{self as payments, PayRow};
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
use ponte_core::status_rules::StatusRule;
use ponte_core::{ChannelId, ErrorCode, OrderStatus};
use ponte_engine::{UnmappedPayment, UnmappedStatus};
use serde_json::{Map, Value};

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/channels/{id}/status-map", get(show).post(save))
        .route("/channels/{id}/remap", post(remap))
        .merge(payments::routes())
        .merge(fields::routes())
}

/// Blank rows offered for new rules.
const BLANK_ROWS: usize = 3;

/// Most rows a table may have.
const MAX_ROWS: usize = 200;

/// The platform fields a rule matches, in column order.
const MATCHES: [&str; 3] = ["status", "payment_status", "shipping_status"];

/// A row of the table as shown.
#[derive(Default)]
pub(crate) struct Row {
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
    /// The payment table that applies, with blank rows.
    payments: Vec<PayRow>,
    /// Payment methods of the channel's orders no row maps.
    unmapped_payments: Vec<UnmappedPayment>,
    /// Default customer field rules, with blank rows.
    fields: Vec<FieldRow>,
    /// The states (UF) a rule may name.
    ufs: Vec<&'static str>,
}

/// What a refused post sent, shown instead of the stored table it was refused for.
#[derive(Default)]
pub(crate) struct Sent {
    pub status: Option<Vec<Row>>,
    pub payments: Option<Vec<PayRow>>,
    pub fields: Option<Vec<FieldRow>>,
}

/// `rows` followed by the blank rows offered for new rules.
pub(crate) fn blank_rows<T: Default>(mut rows: Vec<T>) -> Vec<T> {
    rows.extend((0..BLANK_ROWS).map(|_| T::default()));
    rows
}

/// The indexes of a table's submitted rows (its row count in `count`, capped), those
/// ticked `{remove}_{i}` left out.
pub(crate) fn rows_sent<'a>(
    form: &'a Fields,
    count: &str,
    remove: &'a str,
) -> impl Iterator<Item = usize> + 'a {
    let n = form
        .get(count)
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_ROWS + BLANK_ROWS);
    (0..n).filter(move |i| form.get(&format!("{remove}_{i}")).is_none())
}

/// Back to the tab after a save, at the saved table's heading.
fn saved_at(id: ChannelId, anchor: &str) -> Response {
    Redirect::to(&format!(
        "/console/channels/{id}/{}?saved=1#{anchor}",
        Tab::StatusMap.slug()
    ))
    .into_response()
}

/// The tab again with a refused table as sent (422), and the refusal no row is
/// concerned by, if any, at the top.
async fn refused(
    state: &Console,
    s: &Session,
    head: Head,
    sent: Sent,
    top: Option<Refusal>,
) -> Response {
    let head = Head {
        top: top.or(head.top),
        ..head
    };
    render(state, s, head, sent, StatusCode::UNPROCESSABLE_ENTITY).await
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
    sent: Sent,
    status: StatusCode,
) -> Response {
    let here = format!("/console/channels/{}/{}", head.c.id, Tab::StatusMap.slug());
    let (e, t, c) = (&state.engine, s.tenant, head.c.id);
    let read = async {
        Ok::<_, ponte_engine::EngineError>((
            e.status_map(t, c).await?,
            e.unmapped_statuses(t, c).await?,
            e.payment_map(t, c).await?.rows,
            e.unmapped_payments(t, c).await?,
            e.customer_fields(t, c).await?,
        ))
    };
    let (map, unmapped, payment_rules, unmapped_payments, field_rules) = match read.await {
        Ok(all) => all,
        Err(e) => return unavailable(&e.to_string()),
    };
    let p = StatusMapTab {
        chrome: Chrome::new(state, s, "channels", &here),
        head,
        columns: MATCHES,
        rows: sent
            .status
            .unwrap_or_else(|| blank_rows(shown_rows(map.rows))),
        statuses: &OrderStatus::ALL,
        default: !map.saved,
        unmapped,
        payments: sent
            .payments
            .unwrap_or_else(|| payments::shown(payment_rules)),
        unmapped_payments,
        fields: sent.fields.unwrap_or_else(|| fields::shown(field_rules)),
        ufs: ponte_core::customer_fields::UFS
            .iter()
            .map(|(uf, _)| *uf)
            .collect(),
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
    let head = Head::new(c, Tab::StatusMap, &q);
    render(&state, &s, head, Sent::default(), StatusCode::OK).await
}

/// The rows submitted (removed and blank ones left out) and the rules they make;
/// a row without a valid ponte status is refused next to it.
fn read(form: &Fields, not_an_option: &str) -> (Sent, Vec<Value>, bool) {
    let (mut rows, mut rules, mut refused) = (vec![], vec![], false);
    for i in rows_sent(form, "rows", "remove") {
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
    let sent = Sent {
        status: Some(blank_rows(rows)),
        ..Sent::default()
    };
    (sent, rules, refused)
}

async fn save(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    save_table(state, s, id, body, Table::Status).await
}

/// The DE-PARA tab's tables, each saved by its own form.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Table {
    Status,
    Payments,
    CustomerFields,
}

/// Reads a submitted table and saves it through the engine; a refusal shows the tab
/// again with the table as sent, next to its rows or at the top (422).
pub(crate) async fn save_table(
    state: Console,
    s: Session,
    id: String,
    body: Bytes,
    table: Table,
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
    let (sent, rules, bad) = match table {
        Table::Status => read(&form, t.s("channel.not_an_option")),
        Table::Payments => payments::read(&form, t.s("status_map.not_a_number")),
        Table::CustomerFields => fields::read(&form, t.s("status_map.bad_extra")),
    };
    let head = Head::new(c.clone(), Tab::StatusMap, &Notice::default());
    if bad {
        return refused(&state, &s, head, sent, None).await;
    }
    let (e, tenant, rules) = (&state.engine, s.tenant, Value::Array(rules));
    let stored = match table {
        Table::Status => e.set_status_map(tenant, c.id, &rules).await.map(drop),
        Table::Payments => e.set_payment_map(tenant, c.id, &rules).await.map(drop),
        Table::CustomerFields => e.set_customer_fields(tenant, c.id, &rules).await.map(drop),
    };
    match (stored, table) {
        (Ok(()), Table::Status) => saved(c.id, Tab::StatusMap, "saved"),
        (Ok(()), Table::Payments) => saved_at(c.id, "payments"),
        (Ok(()), Table::CustomerFields) => saved_at(c.id, "customer-fields"),
        (Err(e), _) => match Refusal::of(&e) {
            Some(why) => refused(&state, &s, head, sent, Some(why)).await,
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
                let head = Head {
                    top: Some(why),
                    ..Head::new(c, Tab::StatusMap, &Notice::default())
                };
                render(&state, &s, head, Sent::default(), StatusCode::CONFLICT).await
            }
            None => unavailable(&e.to_string()),
        },
    }
}
