//! Product data (issue 21): a bulk of product data (all or nothing), a SKU's data with
//! every channel's value and push state, and the push history.

use crate::access::Tenant;
use crate::json_body::JsonBody;
use crate::orders::query;
use crate::problem::{ApiResult, Problem};
use crate::stock::{PushPage, PushQuery};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::catalog::ProductData;
use ponte_store::catalog::{CatalogTarget, SkuCatalog};
use serde::{Deserialize, Serialize};

/// Largest product data body (up to 10,000 rows with descriptions).
const MAX_PRODUCT_DATA_BODY: usize = 32 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/product-data",
            post(write).layer(DefaultBodyLimit::max(MAX_PRODUCT_DATA_BODY)),
        )
        .route("/product-data/pushes", get(pushes))
        .route("/product-data/{sku}", get(sku_data))
}

/// One product's data: the whole of it (absent optional fields are cleared). Sizes in
/// grams and millimetres.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductDataInput {
    /// An existing product's SKU (`unknown_sku` otherwise).
    sku: String,
    /// Not empty.
    name: String,
    description: Option<String>,
    brand: Option<String>,
    /// GTIN-8/12/13/14 with a valid check digit (`invalid_gtin`).
    ean: Option<String>,
    /// 8 digits (`invalid_ncm`).
    ncm: Option<String>,
    /// Not negative (`invalid_measure`), as the dimensions.
    weight_g: Option<i64>,
    height_mm: Option<i64>,
    width_mm: Option<i64>,
    length_mm: Option<i64>,
    /// For sale (default true).
    active: Option<bool>,
}

impl ProductDataInput {
    fn split(self) -> (String, ProductData) {
        (
            self.sku,
            ProductData {
                name: self.name,
                description: self.description,
                brand: self.brand,
                ean: self.ean,
                ncm: self.ncm,
                weight_g: self.weight_g,
                height_mm: self.height_mm,
                width_mm: self.width_mm,
                length_mm: self.length_mm,
                active: self.active.unwrap_or(true),
            },
        )
    }
}

/// One product's data, or `{"products": [...]}` (up to 10,000, all or nothing).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum ProductDataBody {
    /// Several.
    Many {
        /// The rows, in order (the last row of a SKU wins).
        products: Vec<ProductDataInput>,
    },
    /// One.
    One(ProductDataInput),
}

/// What a product data write did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DataWritten {
    /// Rows written.
    written: u64,
    /// Channel values recomputed (the changed ones are pushed).
    channel_values: u64,
}

/// Sets products' data, all or none, and marks every channel carrying a changed field
/// for a push. 422 `unknown_sku`, `invalid_gtin`, `invalid_ncm`, `invalid_measure`,
/// `validation_failed` (empty name) name the rows.
#[utoipa::path(post, path = "/api/v1/product-data", tag = "stock", request_body = ProductDataBody,
    responses((status = 200, body = DataWritten), (status = 422, body = Problem), (status = 413, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn write(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    JsonBody(input): JsonBody<ProductDataBody>,
) -> ApiResult<Json<DataWritten>> {
    let rows: Vec<(String, ProductData)> = match input {
        ProductDataBody::Many { products } => products,
        ProductDataBody::One(p) => vec![p],
    }
    .into_iter()
    .map(ProductDataInput::split)
    .collect();
    let written = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    let channel_values = engine.write_product_data(tenant, rows).await?;
    Ok(Json(DataWritten {
        written,
        channel_values,
    }))
}

/// One channel's product data for the SKU.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ChannelDataView {
    #[schema(value_type = String, format = Uuid)]
    channel_id: ponte_core::ChannelId,
    product_id: String,
    variant_id: String,
    /// The fields the channel carries, as it should show them.
    #[schema(value_type = Object)]
    should_show: serde_json::Value,
    changed_at: DateTime<Utc>,
    /// What it last took, when known: null from the moment a push call takes the
    /// SKU until that call's success is recorded (after a failure or a crash the next
    /// call sends every field).
    #[schema(value_type = Option<Object>)]
    last_pushed: Option<serde_json::Value>,
    pushed_at: Option<DateTime<Utc>>,
    /// `pending`, `pushed` or `failed`.
    state: String,
    /// Failed attempts since the last success.
    attempts: u32,
    /// The last failure.
    last_error: Option<String>,
}

fn channel_view(t: &CatalogTarget) -> ChannelDataView {
    ChannelDataView {
        channel_id: t.channel_id,
        product_id: t.product_id.clone(),
        variant_id: t.variant_id.clone(),
        should_show: serde_json::json!(t.desired),
        changed_at: t.changed_at,
        last_pushed: t.pushed.as_ref().map(|p| serde_json::json!(p)),
        pushed_at: t.pushed_at,
        state: t.state.as_str().to_owned(),
        attempts: t.attempts,
        last_error: t.last_error.clone(),
    }
}

/// A SKU's product data.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SkuDataView {
    #[serde(flatten)]
    data: ProductDataInput,
    /// Per channel carrying product data.
    channels: Vec<ChannelDataView>,
}

fn sku_view(c: &SkuCatalog) -> SkuDataView {
    let d = &c.data;
    SkuDataView {
        data: ProductDataInput {
            sku: c.sku.clone(),
            name: d.name.clone(),
            description: d.description.clone(),
            brand: d.brand.clone(),
            ean: d.ean.clone(),
            ncm: d.ncm.clone(),
            weight_g: d.weight_g,
            height_mm: d.height_mm,
            width_mm: d.width_mm,
            length_mm: d.length_mm,
            active: Some(d.active),
        },
        channels: c.channels.iter().map(channel_view).collect(),
    }
}

/// A SKU's product data and, per channel carrying it, the fields it should show, what
/// it last took and the push state.
#[utoipa::path(get, path = "/api/v1/product-data/{sku}", tag = "stock", params(("sku" = String, Path)),
    responses((status = 200, body = SkuDataView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn sku_data(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(sku): Path<String>,
) -> ApiResult<Json<SkuDataView>> {
    Ok(Json(sku_view(&engine.sku_catalog(tenant, &sku).await?)))
}

/// Every product data push call, newest first (of one channel, carrying one SKU).
#[utoipa::path(get, path = "/api/v1/product-data/pushes", tag = "stock", params(PushQuery),
    responses((status = 200, body = PushPage)), security(("bearer" = [])))]
pub(crate) async fn pushes(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<PushQuery>, QueryRejection>,
) -> ApiResult<Json<PushPage>> {
    let (channel, sku, page) = query(q)?.filter()?;
    let p = engine
        .catalog_pushes(tenant, channel, sku.as_deref(), &page)
        .await?;
    Ok(Json(p.into()))
}
