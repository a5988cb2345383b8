//! Preços, reached from Estoque: a SKU's current price (and its promotion), the
//! prices scheduled for it (an operator cancels one), and per channel the value it
//! should show, what it last took and the push state. The engine calls are the API's
//! (`GET /api/v1/prices/{sku}`, `DELETE /api/v1/prices/scheduled/{id}`).

use crate::form::Fields;
use crate::format::{money, url_encode};
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
use chrono::{DateTime, Utc};
use ponte_core::price::PriceValue;
use ponte_core::{ChannelId, ErrorCode, ScheduledPriceId};
use ponte_engine::EngineError;
use ponte_store::{Channel, PriceTarget, PushState, ScheduledPrice, SkuPrices};
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/prices", get(show))
        .route("/prices/scheduled/{id}/cancel", post(cancel))
}

#[derive(Deserialize, Default)]
struct PricesQuery {
    sku: Option<String>,
    /// A scheduled price was just cancelled.
    cancelled: Option<String>,
}

/// A price as read: amounts as `R$ 1.234,56`, the promotional window as dates.
struct Amounts {
    price: String,
    promotional: Option<String>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

fn amounts(v: &PriceValue) -> Amounts {
    Amounts {
        price: money(v.price),
        promotional: v.promotional_price.map(money),
        from: v.promotional_from,
        until: v.promotional_until,
    }
}

/// A scheduled price still waiting.
struct Scheduled {
    id: ScheduledPriceId,
    value: Amounts,
    effective_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

fn scheduled(s: &ScheduledPrice) -> Scheduled {
    Scheduled {
        id: s.id,
        value: amounts(&s.value),
        effective_at: s.effective_at,
        created_at: s.created_at,
    }
}

/// One channel's price for the SKU.
struct Shown {
    channel: String,
    product_id: String,
    variant_id: String,
    should_show: Amounts,
    pushed: Option<Amounts>,
    pushed_at: Option<DateTime<Utc>>,
    state: PushState,
    attempts: u32,
    attempted_at: Option<DateTime<Utc>>,
    error: Option<String>,
}

fn shown(t: &PriceTarget, channels: &[Channel]) -> Shown {
    Shown {
        channel: name_of(channels, t.channel_id),
        product_id: t.product_id.clone(),
        variant_id: t.variant_id.clone(),
        should_show: amounts(&t.desired),
        pushed: t.pushed.as_ref().map(amounts),
        pushed_at: t.pushed_at,
        state: t.state,
        attempts: t.attempts,
        attempted_at: t.attempted_at,
        error: t.last_error.clone(),
    }
}

/// A channel's name.
fn name_of(channels: &[Channel], id: ChannelId) -> String {
    channels
        .iter()
        .find(|c| c.id == id)
        .map_or_else(|| id.to_string(), |c| c.name.clone())
}

/// The SKU's prices as shown.
struct Prices {
    current: Option<Amounts>,
    updated_at: Option<DateTime<Utc>>,
    /// The promotional price in force now.
    promotional_now: Option<String>,
    scheduled: Vec<Scheduled>,
    channels: Vec<Shown>,
}

fn prices(p: &SkuPrices, now: DateTime<Utc>, channels: &[Channel]) -> Prices {
    Prices {
        current: p.current.as_ref().map(|(v, _)| amounts(v)),
        updated_at: p.current.as_ref().map(|(_, at)| *at),
        promotional_now: p
            .current
            .as_ref()
            .and_then(|(v, _)| v.promotion_at(now))
            .map(money),
        scheduled: p.scheduled.iter().map(scheduled).collect(),
        channels: p.channels.iter().map(|t| shown(t, channels)).collect(),
    }
}

#[derive(Template)]
#[template(path = "prices.html")]
struct PricesPage<'a> {
    chrome: Chrome<'a>,
    sku: String,
    /// The SKU as a query value.
    sku_query: String,
    prices: Option<Prices>,
    not_found: bool,
    cancelled: bool,
    refused: Option<Refusal>,
}

async fn show(State(state): State<Console>, s: Session, Query(q): Query<PricesQuery>) -> Response {
    let sku = q.sku.map(|v| v.trim().to_owned()).unwrap_or_default();
    render(&state, &s, sku, q.cancelled.is_some(), None, StatusCode::OK).await
}

async fn render(
    state: &Console,
    s: &Session,
    sku: String,
    cancelled: bool,
    refused: Option<Refusal>,
    status: StatusCode,
) -> Response {
    let e = &state.engine;
    let (prices, not_found) = if sku.is_empty() {
        (None, false)
    } else {
        let loaded = async {
            let channels = e.channels(s.tenant).await?;
            let (p, now) = e.sku_prices(s.tenant, &sku).await?;
            Ok::<_, EngineError>(prices(&p, now, &channels))
        };
        match loaded.await {
            Ok(p) => (Some(p), false),
            Err(EngineError::NotFound(_)) => (None, true),
            Err(err) => return unavailable(&err.to_string()),
        }
    };
    let sku_query = url_encode(&sku);
    let here = format!("/console/prices?sku={sku_query}");
    let p = PricesPage {
        chrome: Chrome::new(state, s, "stock", &here),
        sku,
        sku_query,
        prices,
        not_found,
        cancelled,
        refused,
    };
    page_with(status, &p)
}

/// Cancels a scheduled price still waiting, then shows the SKU's prices again; one
/// already applied or cancelled is refused (404) on the page.
async fn cancel(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let sku = f.get("sku").unwrap_or_default().to_owned();
    let result = match id.parse::<ScheduledPriceId>() {
        Ok(id) => state.engine.cancel_scheduled_price(s.tenant, id).await,
        Err(_) => Err(EngineError::NotFound(ErrorCode::ScheduledPriceNotFound)),
    };
    match result {
        Ok(()) => Redirect::to(&format!(
            "/console/prices?sku={}&cancelled=1",
            url_encode(&sku)
        ))
        .into_response(),
        Err(e) => match Refusal::of(&e) {
            Some(why) => {
                let status = StatusCode::from_u16(e.code().http_status().unwrap_or(422))
                    .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                render(&state, &s, sku, false, Some(why), status).await
            }
            None => unavailable(&e.to_string()),
        },
    }
}
