//! Prices: a bulk of prices (current or scheduled), a SKU's prices with every
//! channel's value and push state, the scheduled prices (listed, cancelled), the push
//! history, and a channel's prices per push state and resync.

use crate::access::Tenant;
use crate::channels::channel_id;
use crate::json_body::JsonBody;
use crate::orders::query;
use crate::problem::{ApiResult, Problem};
use crate::stock::{PushPage, PushQuery};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::price::PriceValue;
use ponte_core::{ErrorCode, ScheduledPriceId};
use ponte_store::{NewPrice, PageRequest, PriceTarget, ScheduledPrice, SkuPrices};
use serde::{Deserialize, Serialize};

/// Largest prices body (a bulk of up to 100,000 rows).
const MAX_PRICES_BODY: usize = 32 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/prices",
            post(write).layer(DefaultBodyLimit::max(MAX_PRICES_BODY)),
        )
        .route("/prices/scheduled", get(scheduled))
        .route("/prices/pushes", get(pushes))
        .route("/prices/scheduled/{id}", delete(cancel))
        .route("/prices/{sku}", get(sku_prices))
        .route("/channels/{id}/prices", get(channel_prices))
        .route("/channels/{id}/prices/resync", post(resync))
}

/// One price row. Amounts in centavos.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceInput {
    /// A product's SKU (`unknown_sku` otherwise).
    sku: String,
    /// Regular price (`negative_price` below zero).
    price_cents: i64,
    /// Promotional price, at most the regular one (`promotional_above_regular`).
    promotional_price_cents: Option<i64>,
    /// When the promotion starts (absent: already).
    promotional_from: Option<DateTime<Utc>>,
    /// When it ends, after it starts (`invalid_promotional_window`).
    promotional_until: Option<DateTime<Utc>>,
    /// When the price takes effect: absent or past, now; later, it is scheduled.
    effective_at: Option<DateTime<Utc>>,
}

/// One price, or `{"prices": [...]}` (up to 100,000, all or nothing).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum PricesBody {
    /// Several.
    Many {
        /// The rows, in order (the last row of a SKU wins).
        prices: Vec<PriceInput>,
    },
    /// One.
    One(PriceInput),
}

/// A price as shown (amounts in centavos).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PriceView {
    price_cents: i64,
    promotional_price_cents: Option<i64>,
    promotional_from: Option<DateTime<Utc>>,
    promotional_until: Option<DateTime<Utc>>,
}

fn price_view(v: &PriceValue) -> PriceView {
    PriceView {
        price_cents: v.price,
        promotional_price_cents: v.promotional_price,
        promotional_from: v.promotional_from,
        promotional_until: v.promotional_until,
    }
}

/// A scheduled price.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ScheduledView {
    #[schema(value_type = String, format = Uuid)]
    id: ScheduledPriceId,
    sku: String,
    #[serde(flatten)]
    price: PriceView,
    effective_at: DateTime<Utc>,
    /// `waiting`, `applied` or `cancelled`.
    state: String,
    created_at: DateTime<Utc>,
}

fn scheduled_view(s: &ScheduledPrice) -> ScheduledView {
    ScheduledView {
        id: s.id,
        sku: s.sku.clone(),
        price: price_view(&s.value),
        effective_at: s.effective_at,
        state: s.state.as_str().to_owned(),
        created_at: s.created_at,
    }
}

/// What a price write did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Written {
    /// Rows that took effect now.
    applied: u64,
    /// Rows scheduled for later, in row order.
    scheduled: Vec<ScheduledView>,
}

/// Sets prices, all or none: rows due now change the current price (and mark every
/// channel showing prices for a push), rows in the future are scheduled. 422
/// `unknown_sku`, `negative_price`, `promotional_above_regular`,
/// `invalid_promotional_window` name the rows.
#[utoipa::path(post, path = "/api/v1/prices", tag = "prices", request_body = PricesBody,
    responses((status = 201, body = Written), (status = 422, body = Problem), (status = 413, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn write(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    JsonBody(input): JsonBody<PricesBody>,
) -> ApiResult<(StatusCode, Json<Written>)> {
    let rows = match input {
        PricesBody::Many { prices } => prices,
        PricesBody::One(p) => vec![p],
    };
    let rows = rows
        .into_iter()
        .map(|p| NewPrice {
            sku: p.sku,
            value: PriceValue {
                price: p.price_cents,
                promotional_price: p.promotional_price_cents,
                promotional_from: p.promotional_from,
                promotional_until: p.promotional_until,
            },
            effective_at: p.effective_at,
        })
        .collect();
    let w = engine.write_prices(tenant, rows).await?;
    Ok((
        StatusCode::CREATED,
        Json(Written {
            applied: w.applied,
            scheduled: w.scheduled.iter().map(scheduled_view).collect(),
        }),
    ))
}

/// One channel's price for the SKU.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ChannelPriceView {
    #[schema(value_type = String, format = Uuid)]
    channel_id: ponte_core::ChannelId,
    product_id: String,
    variant_id: String,
    /// What the channel should show (its markup applied).
    should_show: PriceView,
    changed_at: DateTime<Utc>,
    /// What it last took.
    last_pushed: Option<PriceView>,
    pushed_at: Option<DateTime<Utc>>,
    /// `pending`, `pushed` or `failed`.
    state: String,
    /// Failed attempts since the last success.
    attempts: u32,
    /// When a push call last carried it, whatever its outcome.
    last_attempt_at: Option<DateTime<Utc>>,
    /// The last failure.
    last_error: Option<String>,
}

fn channel_view(t: &PriceTarget) -> ChannelPriceView {
    ChannelPriceView {
        channel_id: t.channel_id,
        product_id: t.product_id.clone(),
        variant_id: t.variant_id.clone(),
        should_show: price_view(&t.desired),
        changed_at: t.changed_at,
        last_pushed: t.pushed.as_ref().map(price_view),
        pushed_at: t.pushed_at,
        state: t.state.as_str().to_owned(),
        attempts: t.attempts,
        last_attempt_at: t.attempted_at,
        last_error: t.last_error.clone(),
    }
}

/// A SKU's prices.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SkuPricesView {
    sku: String,
    /// The current price (none until one is set).
    current: Option<PriceView>,
    updated_at: Option<DateTime<Utc>>,
    /// The promotional price in force now, if any.
    promotional_now_cents: Option<i64>,
    /// Scheduled prices still waiting, soonest first.
    scheduled: Vec<ScheduledView>,
    /// Per channel showing prices.
    channels: Vec<ChannelPriceView>,
}

fn sku_view(p: &SkuPrices, now: DateTime<Utc>) -> SkuPricesView {
    SkuPricesView {
        sku: p.sku.clone(),
        current: p.current.as_ref().map(|(v, _)| price_view(v)),
        updated_at: p.current.as_ref().map(|(_, at)| *at),
        promotional_now_cents: p.current.as_ref().and_then(|(v, _)| v.promotion_at(now)),
        scheduled: p.scheduled.iter().map(scheduled_view).collect(),
        channels: p.channels.iter().map(channel_view).collect(),
    }
}

/// A SKU's prices: current, promotional, scheduled, and per channel the value it
/// should show, what it last took and the push state.
#[utoipa::path(get, path = "/api/v1/prices/{sku}", tag = "prices", params(("sku" = String, Path)),
    responses((status = 200, body = SkuPricesView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn sku_prices(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(sku): Path<String>,
) -> ApiResult<Json<SkuPricesView>> {
    let (p, now) = engine.sku_prices(tenant, &sku).await?;
    Ok(Json(sku_view(&p, now)))
}

/// Every price push call, newest first (of one channel, carrying one SKU): what was
/// sent, the answer, the outcome.
#[utoipa::path(get, path = "/api/v1/prices/pushes", tag = "prices", params(PushQuery),
    responses((status = 200, body = PushPage)), security(("bearer" = [])))]
pub(crate) async fn pushes(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<PushQuery>, QueryRejection>,
) -> ApiResult<Json<PushPage>> {
    let (channel, sku, page) = query(q)?.filter()?;
    let p = engine
        .price_pushes(tenant, channel, sku.as_deref(), &page)
        .await?;
    Ok(Json(p.into()))
}

/// Paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    cursor: Option<String>,
    /// 1 to 500 (default 100).
    limit: Option<u32>,
}

/// A page of scheduled prices.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ScheduledPage {
    items: Vec<ScheduledView>,
    next_cursor: Option<String>,
}

/// Scheduled prices still waiting, oldest first.
#[utoipa::path(get, path = "/api/v1/prices/scheduled", tag = "prices", params(PageQuery),
    responses((status = 200, body = ScheduledPage)), security(("bearer" = [])))]
pub(crate) async fn scheduled(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult<Json<ScheduledPage>> {
    let q = query(q)?;
    let page = engine
        .scheduled_prices(
            tenant,
            &PageRequest {
                cursor: q.cursor,
                limit: q.limit.unwrap_or(100),
            },
        )
        .await?;
    Ok(Json(ScheduledPage {
        items: page.items.iter().map(scheduled_view).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Cancels a scheduled price still waiting; 404 `scheduled_price_not_found` otherwise.
#[utoipa::path(delete, path = "/api/v1/prices/scheduled/{id}", tag = "prices", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn cancel(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: ScheduledPriceId = id
        .parse()
        .map_err(|_| Problem::new(ErrorCode::ScheduledPriceNotFound, "no such scheduled price"))?;
    engine.cancel_scheduled_price(tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A channel's prices per push state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ChannelPricesView {
    /// Prices not pushed yet (or changed since).
    pending: u64,
    /// Prices the channel shows.
    pushed: u64,
    /// Prices the platform refused (pushed again on the next change or a resync).
    failed: u64,
    /// Listings a resync marked to be pushed again (resync only).
    #[serde(skip_serializing_if = "Option::is_none")]
    resynced: Option<u64>,
}

/// A channel's prices per push state (follow a resync with it).
#[utoipa::path(get, path = "/api/v1/channels/{id}/prices", tag = "prices", params(("id" = String, Path)),
    responses((status = 200, body = ChannelPricesView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn channel_prices(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<ChannelPricesView>> {
    let (pending, pushed, failed) = engine.price_summary(tenant, channel_id(&id)?).await?;
    Ok(Json(ChannelPricesView {
        pending,
        pushed,
        failed,
        resynced: None,
    }))
}

/// Pushes the price of every listing of the channel again (those whose SKU has a
/// price, when the channel shows prices); `resynced` says how many.
#[utoipa::path(post, path = "/api/v1/channels/{id}/prices/resync", tag = "prices", params(("id" = String, Path)),
    responses((status = 202, body = ChannelPricesView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn resync(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<ChannelPricesView>)> {
    let channel = channel_id(&id)?;
    let n = engine.resync_prices(tenant, channel).await?;
    let (pending, pushed, failed) = engine.price_summary(tenant, channel).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ChannelPricesView {
            pending,
            pushed,
            failed,
            resynced: Some(n),
        }),
    ))
}
