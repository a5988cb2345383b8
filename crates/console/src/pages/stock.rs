//! Estoque: every product with its balance per warehouse, what each channel shows
//! (and whether that value reached it) and a link to its prices, a movement form (in,
//! out or an inventory count), the order lines whose SKU is not a product, and a
//! resync of every channel's stock whose progress the page follows (htmx polls a
//! fragment; without JavaScript the page reloads).

use crate::form::{Fields, Form};
use crate::format::url_encode;
use crate::i18n::Catalogue;
use crate::pages::orders::unavailable;
use crate::refusal::Refusal;
use crate::render::{page, page_with, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use ponte_core::stock::{Balance, Change};
use ponte_core::{ChannelId, ErrorCode};
use ponte_engine::{EngineError, StockError};
use ponte_store::{Channel, NewMovement, PageRequest, PushState, SkuStock, UnmappedSku, Warehouse};
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/stock", get(show))
        .route("/stock/movements", post(movement))
        .route("/stock/resync", post(resync))
        .route("/stock/progress", get(progress))
}

/// Products per page.
const PAGE: u32 = 50;

/// The movement form's operations: (value, catalogue key).
const OPERATIONS: [(&str, &str); 3] = [
    ("in", "stock.op_in"),
    ("out", "stock.op_out"),
    ("set", "stock.op_set"),
];

#[derive(Deserialize, Default)]
struct StockQuery {
    sku: Option<String>,
    cursor: Option<String>,
    /// A movement was just recorded.
    recorded: Option<String>,
    /// A resync just started (how many values go out again).
    resynced: Option<u64>,
}

/// What one channel should show for a SKU and what it was last told.
struct Shown {
    channel: String,
    desired: i64,
    pushed: Option<i64>,
    state: PushState,
    error: Option<String>,
}

impl Shown {
    /// Whether the channel took the value it should show.
    fn in_step(&self) -> bool {
        self.pushed == Some(self.desired)
    }
}

/// A product with its balances (one per warehouse of the header, `None` where it
/// never moved) and its channels' values.
struct Row {
    sku: String,
    /// The SKU as a query value (the link to its prices).
    sku_query: String,
    name: String,
    levels: Vec<Option<Balance>>,
    available: i64,
    shown: Vec<Shown>,
}

/// A channel's stock values per push state.
pub(crate) struct Progress {
    name: String,
    pending: u64,
    pushed: u64,
    failed: u64,
}

impl Progress {
    fn total(&self) -> u64 {
        self.pending + self.pushed + self.failed
    }

    fn done(&self) -> u64 {
        self.pushed + self.failed
    }
}

#[derive(Template)]
#[template(path = "stock_progress.html")]
struct ProgressFragment<'a> {
    t: &'a Catalogue,
    progress: Vec<Progress>,
}

impl ProgressFragment<'_> {
    /// Whether values are still going out (the fragment keeps polling).
    fn running(&self) -> bool {
        self.progress.iter().any(|p| p.pending > 0)
    }
}

#[derive(Template)]
#[template(path = "stock.html")]
struct StockPage<'a> {
    chrome: Chrome<'a>,
    warehouses: Vec<Warehouse>,
    rows: Vec<Row>,
    sku: String,
    not_found: bool,
    next: Option<String>,
    unmapped: Vec<(String, UnmappedSku)>,
    progress: ProgressFragment<'a>,
    operations: &'static [(&'static str, &'static str)],
    form: Form,
    recorded: bool,
    resynced: Option<u64>,
}

/// A channel's name.
fn name_of(channels: &[Channel], id: ChannelId) -> String {
    channels
        .iter()
        .find(|c| c.id == id)
        .map_or_else(|| id.to_string(), |c| c.name.clone())
}

fn row(s: SkuStock, warehouses: &[Warehouse], channels: &[Channel]) -> Row {
    Row {
        levels: warehouses
            .iter()
            .map(|w| {
                s.levels
                    .iter()
                    .find(|l| l.warehouse == w.code)
                    .map(|l| l.balance)
            })
            .collect(),
        available: s.levels.iter().map(|l| l.balance.available()).sum(),
        shown: s
            .channels
            .into_iter()
            .map(|t| Shown {
                channel: name_of(channels, t.channel_id),
                desired: t.desired,
                pushed: t.pushed,
                state: t.state,
                error: t.last_error,
            })
            .collect(),
        sku_query: url_encode(&s.product.sku),
        sku: s.product.sku,
        name: s.product.name,
    }
}

/// Every channel's values per push state.
async fn load_progress(state: &Console, s: &Session) -> Result<Vec<Progress>, EngineError> {
    let mut out = vec![];
    for c in state.engine.channels(s.tenant).await? {
        let (pending, pushed, failed) = state.engine.stock_summary(s.tenant, c.id).await?;
        out.push(Progress {
            name: c.name,
            pending,
            pushed,
            failed,
        });
    }
    Ok(out)
}

async fn show(State(state): State<Console>, s: Session, Query(q): Query<StockQuery>) -> Response {
    render(&state, &s, q, Form::default(), StatusCode::OK).await
}

async fn render(
    state: &Console,
    s: &Session,
    q: StockQuery,
    form: Form,
    status: StatusCode,
) -> Response {
    let e = &state.engine;
    let sku = q.sku.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let loaded = async {
        let warehouses = e.warehouses(s.tenant).await?;
        let channels = e.channels(s.tenant).await?;
        let (stocks, next, not_found) = match &sku {
            Some(sku) => match e.sku_stock(s.tenant, sku).await {
                Ok(st) => (vec![st], None, false),
                Err(EngineError::NotFound(_)) => (vec![], None, true),
                Err(err) => return Err(err),
            },
            None => {
                let req = PageRequest {
                    cursor: q.cursor.filter(|c| !c.is_empty()),
                    limit: PAGE,
                };
                let products = e.products(s.tenant, &req).await?;
                let mut stocks = Vec::with_capacity(products.items.len());
                for p in &products.items {
                    stocks.push(e.sku_stock(s.tenant, &p.sku).await?);
                }
                (stocks, products.next_cursor, false)
            }
        };
        let unmapped = e
            .unmapped_skus(s.tenant, None)
            .await?
            .into_iter()
            .map(|u| (name_of(&channels, u.channel_id), u))
            .collect();
        let rows = stocks
            .into_iter()
            .map(|st| row(st, &warehouses, &channels))
            .collect();
        let progress = load_progress(state, s).await?;
        Ok((warehouses, rows, next, not_found, unmapped, progress))
    };
    let (warehouses, rows, next, not_found, unmapped, progress) = match loaded.await {
        Ok(v) => v,
        Err(err) => return unavailable(&err.to_string()),
    };
    let p = StockPage {
        chrome: Chrome::new(state, s, "stock", "/console/stock"),
        progress: ProgressFragment {
            t: state.catalogues.get(s.lang),
            progress,
        },
        warehouses,
        rows,
        sku: sku.unwrap_or_default(),
        not_found,
        next: next.map(|c| url_encode(&c)),
        unmapped,
        operations: &OPERATIONS,
        form,
        recorded: q.recorded.is_some(),
        resynced: q.resynced,
    };
    page_with(status, &p)
}

/// The resync's progress alone, for htmx to swap in.
async fn progress(State(state): State<Console>, s: Session) -> Response {
    match load_progress(&state, &s).await {
        Ok(progress) => page(&ProgressFragment {
            t: state.catalogues.get(s.lang),
            progress,
        }),
        Err(e) => unavailable(&e.to_string()),
    }
}

/// Pushes every channel's stock again; the page then follows the progress.
async fn resync(State(state): State<Console>, s: Session, body: Bytes) -> Response {
    if let Err(r) = Fields::checked(&s, &body) {
        return r.into_response();
    }
    let started = async {
        let mut n = 0;
        for c in state.engine.channels(s.tenant).await? {
            n += state.engine.resync_stock(s.tenant, c.id).await?;
        }
        Ok::<_, EngineError>(n)
    };
    match started.await {
        Ok(n) => Redirect::to(&format!("/console/stock?resynced={n}#resync")).into_response(),
        Err(e) => unavailable(&e.to_string()),
    }
}

/// Records one movement; refused fields are shown next to themselves (422).
async fn movement(State(state): State<Console>, s: Session, body: Bytes) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let mut form = Form::default();
    for name in ["sku", "warehouse", "operation", "quantity", "reason"] {
        if let Some(v) = f.get(name) {
            form.set(name, v);
        }
    }
    let t = state.catalogues.get(s.lang);
    let invalid = |key| Refusal::console(ErrorCode::ValidationFailed, t.s(key));
    let sku = f.get("sku").unwrap_or_default().to_owned();
    let warehouse = f.get("warehouse").unwrap_or_default().to_owned();
    for (field, v) in [("sku", &sku), ("warehouse", &warehouse)] {
        if v.is_empty() {
            form.refuse(field, invalid("actions.required"));
        }
    }
    let change = match (f.get("operation"), f.get("quantity")) {
        (_, None) => {
            form.refuse("quantity", invalid("actions.required"));
            None
        }
        (op, Some(q)) => match (op, q.parse::<i64>()) {
            (_, Err(_)) => {
                form.refuse("quantity", invalid("stock.invalid_quantity"));
                None
            }
            (Some("set"), Ok(n)) => Some(Change::Set(n)),
            (Some("in" | "out"), Ok(n)) if n <= 0 => {
                form.refuse("quantity", invalid("stock.positive_quantity"));
                None
            }
            (Some("in"), Ok(n)) => Some(Change::Delta(n)),
            (Some("out"), Ok(n)) => Some(Change::Delta(-n)),
            _ => {
                form.refuse("operation", invalid("stock.choose_operation"));
                None
            }
        },
    };
    let Some(change) = change.filter(|_| !form.refused()) else {
        return refused(&state, &s, form).await;
    };
    let m = NewMovement {
        sku: sku.clone(),
        warehouse,
        change,
        reason: f.get("reason").unwrap_or("console").to_owned(),
    };
    match state.engine.record_movements(s.tenant, vec![m]).await {
        Ok(_) => Redirect::to(&format!(
            "/console/stock?sku={}&recorded=1",
            url_encode(&sku)
        ))
        .into_response(),
        Err(e) => {
            let Some(why) = Refusal::of(&e) else {
                return unavailable(&e.to_string());
            };
            let field = match e {
                EngineError::Stock(StockError::UnknownSku(_)) => "sku",
                EngineError::Stock(StockError::UnknownWarehouse(_)) => "warehouse",
                _ => "form",
            };
            form.refuse(field, why);
            refused(&state, &s, form).await
        }
    }
}

/// The page again with the refused movement (422).
async fn refused(state: &Console, s: &Session, form: Form) -> Response {
    let q = StockQuery::default();
    render(state, s, q, form, StatusCode::UNPROCESSABLE_ENTITY).await
}
