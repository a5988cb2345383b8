//! Stock: products, warehouses, listings, movements, a SKU's stock, the push history,
//! unmapped SKUs and resyncs.

use crate::access::Tenant;
use crate::channels::channel_id;
use crate::json_body::{present, JsonBody};
use crate::orders::query;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::stock::Change;
use ponte_core::ChannelId;
use ponte_core::ErrorCode;
use ponte_engine::ProductInput;
use ponte_store::{
    Listing, NewMovement, Page, PageRequest, Product, SkuStock, StockPush, UnmappedSku, Warehouse,
};
use serde::{Deserialize, Serialize};

/// Largest movements body (a bulk of tens of thousands of rows).
const MAX_MOVEMENTS_BODY: usize = 32 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/products", get(products).post(create_product))
        .route("/products/{sku}", get(product).patch(update_product))
        .route("/warehouses", get(warehouses).post(create_warehouse))
        .route("/channels/{id}/listings", get(listings).post(set_listings))
        .route(
            "/stock/movements",
            post(movements).layer(DefaultBodyLimit::max(MAX_MOVEMENTS_BODY)),
        )
        .route("/stock/pushes", get(pushes))
        .route("/stock/{sku}", get(sku_stock))
        .route("/channels/{id}/stock", get(channel_stock))
        .route("/channels/{id}/stock/resync", post(resync))
        .route("/unmapped-skus", get(unmapped))
}

/// A product.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ProductView {
    sku: String,
    name: String,
    ean: Option<String>,
    unit: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn product_view(p: Product) -> ProductView {
    ProductView {
        sku: p.sku,
        name: p.name,
        ean: p.ean,
        unit: p.unit,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// A new product.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateProduct {
    /// Unique per tenant: 1 to 60 letters, digits or `- _ . /`.
    sku: String,
    name: String,
    /// GTIN-8/12/13/14; the check digit is validated (`invalid_gtin`).
    ean: Option<String>,
    /// Default `UN`.
    unit: Option<String>,
}

/// Changes to a product.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateProduct {
    name: Option<String>,
    /// Null clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    ean: Option<Option<String>>,
    unit: Option<String>,
}

/// A page of products.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ProductPage {
    items: Vec<ProductView>,
    next_cursor: Option<String>,
}

/// Paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    cursor: Option<String>,
    /// 1 to 500 (default 100).
    limit: Option<u32>,
}

fn page(q: PageQuery) -> PageRequest {
    PageRequest {
        cursor: q.cursor,
        limit: q.limit.unwrap_or(100),
    }
}

/// Adds a product; 409 `sku_exists`.
#[utoipa::path(post, path = "/api/v1/products", tag = "stock", request_body = CreateProduct,
    responses((status = 201, body = ProductView), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn create_product(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    JsonBody(i): JsonBody<CreateProduct>,
) -> ApiResult<(StatusCode, Json<ProductView>)> {
    let p = engine
        .create_product(
            tenant,
            ProductInput {
                sku: i.sku,
                name: Some(i.name),
                ean: Some(i.ean),
                unit: i.unit,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(product_view(p))))
}

/// Products by SKU.
#[utoipa::path(get, path = "/api/v1/products", tag = "stock", params(PageQuery),
    responses((status = 200, body = ProductPage)), security(("bearer" = [])))]
pub(crate) async fn products(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult<Json<ProductPage>> {
    let p = engine.products(tenant, &page(query(q)?)).await?;
    Ok(Json(ProductPage {
        items: p.items.into_iter().map(product_view).collect(),
        next_cursor: p.next_cursor,
    }))
}

/// One product.
#[utoipa::path(get, path = "/api/v1/products/{sku}", tag = "stock", params(("sku" = String, Path)),
    responses((status = 200, body = ProductView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn product(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(sku): Path<String>,
) -> ApiResult<Json<ProductView>> {
    Ok(Json(product_view(engine.product(tenant, &sku).await?)))
}

/// Changes a product's name, EAN or unit.
#[utoipa::path(patch, path = "/api/v1/products/{sku}", tag = "stock", params(("sku" = String, Path)),
    request_body = UpdateProduct,
    responses((status = 200, body = ProductView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn update_product(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(sku): Path<String>,
    JsonBody(i): JsonBody<UpdateProduct>,
) -> ApiResult<Json<ProductView>> {
    let p = engine
        .update_product(
            tenant,
            ProductInput {
                sku,
                name: i.name,
                ean: i.ean,
                unit: i.unit,
            },
        )
        .await?;
    Ok(Json(product_view(p)))
}

/// A warehouse.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WarehouseView {
    /// Referenced by channels and movements.
    code: String,
    name: String,
}

fn warehouse_view(w: Warehouse) -> WarehouseView {
    WarehouseView {
        code: w.code,
        name: w.name,
    }
}

/// Warehouses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct WarehouseList {
    items: Vec<WarehouseView>,
}

/// Adds a warehouse; 409 `warehouse_exists`.
#[utoipa::path(post, path = "/api/v1/warehouses", tag = "stock", request_body = WarehouseView,
    responses((status = 201, body = WarehouseView), (status = 409, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn create_warehouse(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    JsonBody(i): JsonBody<WarehouseView>,
) -> ApiResult<(StatusCode, Json<WarehouseView>)> {
    let w = engine.create_warehouse(tenant, &i.code, &i.name).await?;
    Ok((StatusCode::CREATED, Json(warehouse_view(w))))
}

/// A tenant's warehouses.
#[utoipa::path(get, path = "/api/v1/warehouses", tag = "stock",
    responses((status = 200, body = WarehouseList)), security(("bearer" = [])))]
pub(crate) async fn warehouses(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
) -> ApiResult<Json<WarehouseList>> {
    let items = engine.warehouses(tenant).await?;
    Ok(Json(WarehouseList {
        items: items.into_iter().map(warehouse_view).collect(),
    }))
}

/// A SKU's product and variant on the channel.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListingInput {
    sku: String,
    product_id: String,
    variant_id: String,
}

/// One listing, or `{"listings": [...]}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum ListingsBody {
    /// Several.
    Many {
        /// The listings.
        listings: Vec<ListingInput>,
    },
    /// One.
    One(ListingInput),
}

/// A listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ListingView {
    sku: String,
    product_id: String,
    variant_id: String,
    /// `manual` (this API) or `order` (revealed by an imported order line).
    source: String,
    created_at: DateTime<Utc>,
}

fn listing_view(l: Listing) -> ListingView {
    ListingView {
        sku: l.sku,
        product_id: l.product_id,
        variant_id: l.variant_id,
        source: l.source.as_str().to_owned(),
        created_at: l.created_at,
    }
}

/// A page of listings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ListingPage {
    items: Vec<ListingView>,
    next_cursor: Option<String>,
}

/// Links SKUs to the channel's products and variants (one per SKU: replaces).
#[utoipa::path(post, path = "/api/v1/channels/{id}/listings", tag = "stock", params(("id" = String, Path)),
    request_body = ListingsBody,
    responses((status = 200, body = ListingPage), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn set_listings(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ListingsBody>,
) -> ApiResult<Json<ListingPage>> {
    let items = match input {
        ListingsBody::Many { listings } => listings,
        ListingsBody::One(l) => vec![l],
    };
    let set = engine
        .set_listings(
            tenant,
            channel_id(&id)?,
            items
                .into_iter()
                .map(|l| (l.sku, l.product_id, l.variant_id))
                .collect(),
        )
        .await?;
    Ok(Json(ListingPage {
        items: set.into_iter().map(listing_view).collect(),
        next_cursor: None,
    }))
}

/// A channel's listings by SKU.
#[utoipa::path(get, path = "/api/v1/channels/{id}/listings", tag = "stock",
    params(("id" = String, Path), PageQuery),
    responses((status = 200, body = ListingPage), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn listings(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult<Json<ListingPage>> {
    let p = engine
        .listings(tenant, channel_id(&id)?, &page(query(q)?))
        .await?;
    Ok(Json(ListingPage {
        items: p.items.into_iter().map(listing_view).collect(),
        next_cursor: p.next_cursor,
    }))
}

/// One movement: exactly one of `set` (inventory count) and `delta` (adjustment).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MovementInput {
    sku: String,
    /// Warehouse code.
    warehouse: String,
    set: Option<i64>,
    delta: Option<i64>,
    reason: Option<String>,
}

/// One movement, or `{"movements": [...]}` (up to 100,000, one transaction).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum MovementsBody {
    /// Several.
    Many {
        /// The movements, applied in order.
        movements: Vec<MovementInput>,
    },
    /// One.
    One(MovementInput),
}

/// How many movements were recorded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Recorded {
    recorded: u64,
}

/// Records stock movements in the ledger, all or none; 422 `unknown_sku` /
/// `unknown_warehouse` name the rows.
#[utoipa::path(post, path = "/api/v1/stock/movements", tag = "stock", request_body = MovementsBody,
    responses((status = 201, body = Recorded), (status = 422, body = Problem), (status = 413, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn movements(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    JsonBody(input): JsonBody<MovementsBody>,
) -> ApiResult<(StatusCode, Json<Recorded>)> {
    let rows = match input {
        MovementsBody::Many { movements } => movements,
        MovementsBody::One(m) => vec![m],
    };
    let batch = rows
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let change = match (m.set, m.delta) {
                (Some(n), None) => Change::Set(n),
                (None, Some(d)) => Change::Delta(d),
                _ => {
                    return Err(Problem::new(
                        ErrorCode::ValidationFailed,
                        format!("row {i}: give exactly one of `set` and `delta`"),
                    ))
                }
            };
            Ok(NewMovement {
                sku: m.sku,
                warehouse: m.warehouse,
                change,
                reason: m.reason.unwrap_or_else(|| "api".into()),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let recorded = engine.record_movements(tenant, batch).await?;
    Ok((StatusCode::CREATED, Json(Recorded { recorded })))
}

/// A SKU's stock: per warehouse physical, reserved and available (which may be
/// negative: oversold); per channel the value it should show, the last value pushed,
/// when, and the push state.
#[utoipa::path(get, path = "/api/v1/stock/{sku}", tag = "stock", params(("sku" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn sku_stock(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(sku): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(stock_json(engine.sku_stock(tenant, &sku).await?)))
}

fn stock_json(s: SkuStock) -> serde_json::Value {
    let warehouses: Vec<_> = s
        .levels
        .iter()
        .map(|l| {
            serde_json::json!({
                "warehouse": l.warehouse,
                "physical": l.balance.physical,
                "reserved": l.balance.reserved,
                "available": l.balance.available(),
                "updated_at": l.updated_at,
            })
        })
        .collect();
    let channels: Vec<_> = s
        .channels
        .iter()
        .map(|t| {
            serde_json::json!({
                "channel_id": t.channel_id,
                "product_id": t.product_id,
                "variant_id": t.variant_id,
                "should_show": t.desired,
                "changed_at": t.changed_at,
                "last_pushed": t.pushed,
                "pushed_at": t.pushed_at,
                "state": t.state.as_str(),
                "attempts": t.attempts,
                "last_error": t.last_error,
            })
        })
        .collect();
    serde_json::json!({
        "sku": s.product.sku,
        "name": s.product.name,
        "physical": s.levels.iter().map(|l| l.balance.physical).sum::<i64>(),
        "reserved": s.levels.iter().map(|l| l.balance.reserved).sum::<i64>(),
        "available": s.levels.iter().map(|l| l.balance.available()).sum::<i64>(),
        "warehouses": warehouses,
        "channels": channels,
    })
}

/// Push history filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PushQuery {
    channel_id: Option<ChannelId>,
    sku: Option<String>,
    cursor: Option<String>,
    /// 1 to 500 (default 100).
    limit: Option<u32>,
}

/// A push history's filter (channel, SKU) and page, the cursor checked.
pub(crate) type PushFilter = (Option<ChannelId>, Option<String>, PageRequest);

impl PushQuery {
    /// The filter and page (`invalid_cursor` for a cursor the API did not hand out).
    pub(crate) fn filter(self) -> Result<PushFilter, Problem> {
        if self
            .cursor
            .as_deref()
            .is_some_and(|c| c.parse::<i64>().is_err())
        {
            return Err(Problem::new(
                ErrorCode::InvalidCursor,
                "cursor is not one this API returned",
            ));
        }
        let page = PageRequest {
            cursor: self.cursor,
            limit: self.limit.unwrap_or(100),
        };
        Ok((self.channel_id, self.sku, page))
    }
}

/// A page of pushes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PushPage {
    #[schema(value_type = Vec<Object>)]
    items: Vec<StockPush>,
    next_cursor: Option<String>,
}

impl From<Page<StockPush>> for PushPage {
    fn from(p: Page<StockPush>) -> Self {
        PushPage {
            items: p.items,
            next_cursor: p.next_cursor,
        }
    }
}

/// Every stock push call, newest first: what was sent, the answer, the outcome.
#[utoipa::path(get, path = "/api/v1/stock/pushes", tag = "stock", params(PushQuery),
    responses((status = 200, body = PushPage)), security(("bearer" = [])))]
pub(crate) async fn pushes(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<PushQuery>, QueryRejection>,
) -> ApiResult<Json<PushPage>> {
    let (channel, sku, page) = query(q)?.filter()?;
    let p = engine
        .stock_pushes(tenant, channel, sku.as_deref(), &page)
        .await?;
    Ok(Json(p.into()))
}

/// A channel's stock values per state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ChannelStockView {
    /// Values not pushed yet (or changed since).
    pending: u64,
    /// Values the channel shows.
    pushed: u64,
    /// Values the platform refused (pushed again on the next change or a resync).
    failed: u64,
    /// Listings a resync pushed again (resync only).
    #[serde(skip_serializing_if = "Option::is_none")]
    resynced: Option<u64>,
}

/// A channel's stock values per state (follow a resync with it).
#[utoipa::path(get, path = "/api/v1/channels/{id}/stock", tag = "stock", params(("id" = String, Path)),
    responses((status = 200, body = ChannelStockView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn channel_stock(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<ChannelStockView>> {
    let (pending, pushed, failed) = engine.stock_summary(tenant, channel_id(&id)?).await?;
    Ok(Json(ChannelStockView {
        pending,
        pushed,
        failed,
        resynced: None,
    }))
}

/// Pushes every listing of the channel again.
#[utoipa::path(post, path = "/api/v1/channels/{id}/stock/resync", tag = "stock", params(("id" = String, Path)),
    responses((status = 202, body = ChannelStockView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn resync(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<ChannelStockView>)> {
    let channel = channel_id(&id)?;
    let n = engine.resync_stock(tenant, channel).await?;
    let (pending, pushed, failed) = engine.stock_summary(tenant, channel).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ChannelStockView {
            pending,
            pushed,
            failed,
            resynced: Some(n),
        }),
    ))
}

/// Filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnmappedQuery {
    channel_id: Option<ChannelId>,
}

/// Unmapped SKUs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UnmappedList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<UnmappedSku>,
}

/// Imported order lines whose SKU is not a product (their stock is not moved until it
/// is created), grouped by channel, SKU and platform ids.
#[utoipa::path(get, path = "/api/v1/unmapped-skus", tag = "stock", params(UnmappedQuery),
    responses((status = 200, body = UnmappedList)), security(("bearer" = [])))]
pub(crate) async fn unmapped(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<UnmappedQuery>, QueryRejection>,
) -> ApiResult<Json<UnmappedList>> {
    let q = query(q)?;
    Ok(Json(UnmappedList {
        items: engine.unmapped_skus(tenant, q.channel_id).await?,
    }))
}
