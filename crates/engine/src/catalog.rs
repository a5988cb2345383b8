//! Product data as the API sees it (issue 21): a bulk of product data (checked row by
//! row, all or nothing), a SKU's data with every channel's value, and the push history.

use crate::bulk_rows::{check_rows, written};
use crate::{Engine, EngineError};
use ponte_core::catalog::{ProductData, ProductProblem};
use ponte_core::{ChannelId, ErrorCode, TenantId};
use ponte_store::catalog::SkuCatalog;
use ponte_store::{Page, PageRequest, StockPush};

/// Most product data rows one request may carry.
pub const MAX_PRODUCT_ROWS: usize = 10_000;

impl Engine {
    /// Writes a bulk of product data (each row the whole data of an existing product),
    /// all or nothing: every row is checked (empty name, EAN/GTIN check digit, NCM of
    /// 8 digits, negative weight or dimensions) and its SKU must be a product; a
    /// refusal names the rows with the first problem found. The channels carrying a
    /// changed field are marked for a push in the same transaction; how many targets.
    pub async fn write_product_data(
        &self,
        tenant: TenantId,
        rows: Vec<(String, ProductData)>,
    ) -> Result<u64, EngineError> {
        if rows.is_empty() || rows.len() > MAX_PRODUCT_ROWS {
            return Err(EngineError::Invalid(format!(
                "1 to {MAX_PRODUCT_ROWS} products per request"
            )));
        }
        check_rows(
            rows.iter()
                .enumerate()
                .map(|(i, (sku, d))| (i, sku.as_str(), d.check())),
            |p: &ProductProblem| p.code(),
        )?;
        let rows: Vec<(String, ProductData)> = rows
            .into_iter()
            .map(|(sku, mut d)| {
                d.name = d.name.trim().to_owned();
                (sku, d)
            })
            .collect();
        self.gate.background_turn().await;
        let n = written(
            self.store
                .write_product_data(tenant, &rows, self.clock.now())
                .await?,
        )?;
        self.wake_workers();
        Ok(n)
    }

    /// A SKU's product data and every channel's value and push state.
    pub async fn sku_catalog(
        &self,
        tenant: TenantId,
        sku: &str,
    ) -> Result<SkuCatalog, EngineError> {
        self.store
            .sku_catalog(tenant, sku)
            .await?
            .ok_or(EngineError::NotFound(ErrorCode::ProductNotFound))
    }

    /// The product data push history.
    pub async fn catalog_pushes(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
        sku: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<StockPush>, EngineError> {
        Ok(self
            .store
            .catalog_pushes(tenant, channel, sku, page)
            .await?)
    }
}
