//! Pedidos: the order list with filters, and one order with everything that happened
//! to it (items, customer, addresses, stock effects, timeline, status sends).

use crate::format::{day_start, document, money_opt, url_encode};
use crate::pages::order_actions::{ActionForms, CANCEL_REASONS};
use crate::render::{page, page_with, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use ponte_core::action::CancelReason;
use ponte_core::{ChannelId, OrderId, OrderStatus};
use ponte_store::{
    Channel, OrderFilter, OrderSearch, PageRequest, SendFilter, StatusSend, StoredOrder,
    TimelineEntry,
};
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/orders", get(list))
        .route("/orders/{id}", get(show))
}

/// Orders per page.
const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
struct OrderQuery {
    channel_id: Option<String>,
    status: Option<String>,
    /// The search box: number, CPF/CNPJ, e-mail or the start of the customer's name.
    q: Option<String>,
    /// First day placed (`YYYY-MM-DD`, the tenant's zone).
    from: Option<String>,
    /// Last day placed, inclusive.
    to: Option<String>,
    cursor: Option<String>,
}

/// A row of the list.
struct Row {
    id: OrderId,
    number: String,
    channel: String,
    customer: String,
    status: OrderStatus,
    total: String,
    placed: String,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage<'a> {
    chrome: Chrome<'a>,
    channels: Vec<Channel>,
    statuses: &'static [OrderStatus],
    channel_id: String,
    status: String,
    q: String,
    from: String,
    to: String,
    rows: Vec<Row>,
    next: Option<String>,
}

fn blank(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

async fn list(
    State(state): State<Console>,
    s: Session,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<OrderQuery>,
) -> Response {
    let engine = &state.engine;
    let channels = match engine.channels(s.tenant).await {
        Ok(c) => c,
        Err(e) => return unavailable(&e.to_string()),
    };
    let channel_id = blank(q.channel_id);
    let status = blank(q.status);
    let search = blank(q.q);
    let (from, to) = (blank(q.from), blank(q.to));
    let filter = OrderFilter {
        channel_id: channel_id
            .as_deref()
            .and_then(|c| c.parse::<ChannelId>().ok()),
        status: status
            .as_deref()
            .and_then(|x| OrderStatus::ALL.into_iter().find(|s| s.as_str() == x)),
        search: search.as_deref().and_then(OrderSearch::parse),
        placed_from: from
            .as_deref()
            .and_then(|d| day_start(d, 0, state.time_zone)),
        placed_to: to.as_deref().and_then(|d| day_start(d, 1, state.time_zone)),
        ..OrderFilter::default()
    };
    let req = PageRequest {
        cursor: blank(q.cursor).filter(|c| c.parse::<OrderId>().is_ok()),
        limit: PAGE,
    };
    let found = match engine.store().orders(s.tenant, &filter, &req).await {
        Ok(p) => p,
        Err(e) => return unavailable(&e.to_string()),
    };
    let chrome = Chrome::new(&state, &s, "orders", &uri.to_string());
    let name = |id: ChannelId| {
        channels
            .iter()
            .find(|c| c.id == id)
            .map_or_else(|| id.to_string(), |c| c.name.clone())
    };
    let rows = found
        .items
        .iter()
        .map(|o| Row {
            id: o.id,
            number: o
                .data
                .number
                .clone()
                .unwrap_or_else(|| o.data.external_id.clone()),
            channel: name(o.channel_id),
            customer: o.data.customer.name.clone().unwrap_or_default(),
            status: o.data.status,
            total: money_opt(o.data.totals.total_cents),
            placed: chrome.dt(&o.data.placed_at.unwrap_or(o.created_at)),
        })
        .collect();
    let next = found.next_cursor.map(|c| {
        let mut q = format!("cursor={}", url_encode(&c));
        for (k, v) in [
            ("channel_id", &channel_id),
            ("status", &status),
            ("q", &search),
            ("from", &from),
            ("to", &to),
        ] {
            if let Some(v) = v {
                q.push_str(&format!("&{k}={}", url_encode(v)));
            }
        }
        q
    });
    let p = OrdersPage {
        chrome,
        channels,
        statuses: &OrderStatus::ALL,
        channel_id: channel_id.unwrap_or_default(),
        status: status.unwrap_or_default(),
        q: search.unwrap_or_default(),
        from: from.unwrap_or_default(),
        to: to.unwrap_or_default(),
        rows,
        next,
    };
    page(&p)
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage<'a> {
    chrome: Chrome<'a>,
    o: StoredOrder,
    channel: String,
    document: String,
    document_valid: bool,
    items: Vec<(String, String, i64, String)>,
    totals: Vec<(&'static str, String)>,
    effects: Vec<(String, String, i64, i64)>,
    unmapped: Vec<(String, i64)>,
    timeline: Vec<TimelineEntry>,
    sends: Vec<StatusSend>,
    actions: ActionForms,
    reasons: &'static [CancelReason],
}

impl OrderPage<'_> {
    fn nfe_key(&self, key: &str) -> String {
        crate::format::nfe_key(key)
    }

    /// The carriers' tracking events of the order, oldest first, as (time, event,
    /// description, place, outcome).
    fn tracking(&self) -> Vec<(chrono::DateTime<Utc>, String, String, String, String)> {
        let field = |e: &TimelineEntry, k: &str| {
            e.detail
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        self.timeline
            .iter()
            .filter(|e| e.kind == ponte_store::TRACKING_EVENT)
            .map(|e| {
                (
                    e.at,
                    field(e, "event"),
                    field(e, "description"),
                    field(e, "location"),
                    field(e, "outcome"),
                )
            })
            .collect()
    }
}

async fn show(State(state): State<Console>, s: Session, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<OrderId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let forms = ActionForms::new(Utc::now(), state.time_zone);
    order_page(&state, &s, id, forms, StatusCode::OK).await
}

/// One order's page with its action forms, answered with `status`.
pub(crate) async fn order_page(
    state: &Console,
    s: &Session,
    id: OrderId,
    actions: ActionForms,
    status: StatusCode,
) -> Response {
    let store = state.engine.store();
    let o = match store.order(s.tenant, id).await {
        Ok(Some(o)) => o,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return unavailable(&e.to_string()),
    };
    let loaded = async {
        let channel = state.engine.channel(s.tenant, o.channel_id).await.ok();
        let timeline = store
            .timeline(s.tenant, o.channel_id, &o.data.external_id)
            .await?;
        let stock = store.order_stock(s.tenant, o.id).await?;
        let filter = SendFilter {
            order_id: Some(o.id),
            ..SendFilter::default()
        };
        let req = PageRequest {
            cursor: None,
            limit: 500,
        };
        let mut sends = store.status_sends(s.tenant, &filter, &req).await?.items;
        sends.reverse();
        Ok::<_, ponte_store::StoreError>((channel, timeline, stock, sends))
    };
    let (channel, timeline, (effects, unmapped), sends) = match loaded.await {
        Ok(v) => v,
        Err(e) => return unavailable(&e.to_string()),
    };
    let d = &o.data;
    let items = d
        .items
        .iter()
        .map(|i| {
            (
                i.sku.clone().unwrap_or_default(),
                i.name.clone().unwrap_or_default(),
                i.quantity,
                money_opt(i.unit_price_cents),
            )
        })
        .collect();
    let t = &d.totals;
    let totals = [
        ("order.subtotal", t.subtotal_cents),
        ("order.discount", t.discount_cents),
        ("order.shipping_cost", t.shipping_cents),
        ("order.total", t.total_cents),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, money_opt(Some(v?)))))
    .collect();
    let p = OrderPage {
        chrome: Chrome::new(state, s, "orders", &format!("/console/orders/{id}")),
        actions,
        reasons: &CANCEL_REASONS,
        channel: channel.map_or_else(|| o.channel_id.to_string(), |c| c.name),
        document: d
            .customer
            .document
            .as_ref()
            .map(document)
            .unwrap_or_default(),
        document_valid: d.customer.document.as_ref().is_none_or(|d| d.valid),
        items,
        totals,
        effects: effects
            .iter()
            .map(|e| {
                (
                    e.sku.clone(),
                    e.warehouse.clone(),
                    e.effect.reserved,
                    e.effect.debited,
                )
            })
            .collect(),
        unmapped: unmapped
            .iter()
            .map(|l| (l.sku.clone().unwrap_or_default(), l.quantity))
            .collect(),
        timeline,
        sends,
        o,
    };
    page_with(status, &p)
}

/// The store could not answer: a plain 503 (logged).
pub(crate) fn unavailable(error: &str) -> Response {
    tracing::error!(error, "console: a page could not be loaded");
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}
