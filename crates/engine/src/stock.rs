//! Stock as the API sees it: products, warehouses, listings, movements, reading a
//! SKU's stock, unmapped SKUs, the push history and resyncs.

use crate::bulk_rows::named_rows_text;
use crate::{Engine, EngineError};
use ponte_core::stock::{validate_gtin, Change};
use ponte_core::ErrorCode;
use ponte_core::{ChannelId, TenantId};
use ponte_store::{
    Listing, ListingSource, MovementsRefused, NewMovement, Page, PageRequest, Product, SkuStock,
    StockPush, StoreError, UnmappedSku, Warehouse,
};

/// Most movements one request may carry.
pub const MAX_MOVEMENTS: usize = 100_000;

/// Why a stock request was refused. Each has a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StockError {
    /// A SKU that is not a product (rows or listings naming it).
    #[error("unknown SKU: {0}")]
    UnknownSku(String),
    /// A warehouse code that does not exist.
    #[error("unknown warehouse: {0}")]
    UnknownWarehouse(String),
    /// The SKU exists.
    #[error("SKU `{0}` already exists")]
    SkuExists(String),
    /// The warehouse code exists.
    #[error("warehouse `{0}` already exists")]
    WarehouseExists(String),
    /// A bad EAN.
    #[error(transparent)]
    InvalidGtin(#[from] ponte_core::stock::InvalidGtin),
}

impl StockError {
    /// Stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UnknownSku(_) => ErrorCode::UnknownSku,
            Self::UnknownWarehouse(_) => ErrorCode::UnknownWarehouse,
            Self::SkuExists(_) => ErrorCode::SkuExists,
            Self::WarehouseExists(_) => ErrorCode::WarehouseExists,
            Self::InvalidGtin(_) => ErrorCode::InvalidGtin,
        }
    }
}

/// A product's fields as given.
#[derive(Debug, Clone, Default)]
pub struct ProductInput {
    /// SKU (required on create).
    pub sku: String,
    /// Name.
    pub name: Option<String>,
    /// GTIN / EAN; `Some(None)` clears it.
    pub ean: Option<Option<String>>,
    /// Unit.
    pub unit: Option<String>,
}

fn code_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 60
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

impl Engine {
    /// Adds a product.
    pub async fn create_product(
        &self,
        tenant: TenantId,
        input: ProductInput,
    ) -> Result<Product, EngineError> {
        let sku = input.sku.trim().to_owned();
        if !code_ok(&sku) {
            return Err(EngineError::Invalid(
                "sku: 1 to 60 letters, digits or - _ . /".into(),
            ));
        }
        let name = input.name.unwrap_or_default().trim().to_owned();
        if name.is_empty() {
            return Err(EngineError::Invalid("name must not be empty".into()));
        }
        let ean = input.ean.flatten();
        if let Some(e) = &ean {
            validate_gtin(e).map_err(StockError::from)?;
        }
        let now = self.clock.now();
        let p = Product {
            tenant_id: tenant,
            sku: sku.clone(),
            name,
            ean,
            unit: input.unit.unwrap_or_else(|| "UN".into()),
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_product(&p).await {
            Err(StoreError::Conflict(_)) => Err(StockError::SkuExists(sku).into()),
            r => {
                r?;
                self.wake_workers();
                Ok(p)
            }
        }
    }

    /// Changes a product's name, EAN or unit.
    pub async fn update_product(
        &self,
        tenant: TenantId,
        input: ProductInput,
    ) -> Result<Product, EngineError> {
        let mut p = self.product(tenant, &input.sku).await?;
        let carried = input.name.is_some() || input.ean.is_some();
        if let Some(n) = input.name {
            if n.trim().is_empty() {
                return Err(EngineError::Invalid("name must not be empty".into()));
            }
            n.trim().clone_into(&mut p.name);
        }
        if let Some(e) = input.ean {
            if let Some(e) = &e {
                validate_gtin(e).map_err(StockError::from)?;
            }
            p.ean = e;
        }
        if let Some(u) = input.unit {
            p.unit = u;
        }
        p.updated_at = self.clock.now();
        if carried {
            // The name and EAN are product data: a change marks the channels carrying
            // them, in the transaction that writes them.
            let mut data = self.sku_catalog(tenant, &p.sku).await?.data;
            data.name.clone_from(&p.name);
            data.ean.clone_from(&p.ean);
            self.store
                .write_product_data(tenant, &[(p.sku.clone(), data)], p.updated_at)
                .await?
                .map_err(|_| EngineError::NotFound(ErrorCode::ProductNotFound))?;
            self.wake_workers();
        }
        self.store.update_product(&p).await?;
        Ok(p)
    }

    /// One product.
    pub async fn product(&self, tenant: TenantId, sku: &str) -> Result<Product, EngineError> {
        self.store
            .product(tenant, sku)
            .await?
            .ok_or(EngineError::NotFound(ErrorCode::ProductNotFound))
    }

    /// Products by SKU.
    pub async fn products(
        &self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> Result<Page<Product>, EngineError> {
        Ok(self.store.products(tenant, page).await?)
    }

    /// Adds a warehouse.
    pub async fn create_warehouse(
        &self,
        tenant: TenantId,
        code: &str,
        name: &str,
    ) -> Result<Warehouse, EngineError> {
        let code = code.trim();
        if !code_ok(code) {
            return Err(EngineError::Invalid(
                "code: 1 to 60 letters, digits or - _ . /".into(),
            ));
        }
        let w = Warehouse {
            tenant_id: tenant,
            code: code.to_owned(),
            name: name.trim().to_owned(),
            created_at: self.clock.now(),
        };
        match self.store.insert_warehouse(&w).await {
            Err(StoreError::Conflict(_)) => Err(StockError::WarehouseExists(w.code).into()),
            r => r.map(|_| w).map_err(Into::into),
        }
    }

    /// A tenant's warehouses.
    pub async fn warehouses(&self, tenant: TenantId) -> Result<Vec<Warehouse>, EngineError> {
        Ok(self.store.warehouses(tenant).await?)
    }

    /// Links SKUs to the channel's products and variants.
    pub async fn set_listings(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        items: Vec<(String, String, String)>,
    ) -> Result<Vec<Listing>, EngineError> {
        self.channel(tenant, channel).await?;
        let now = self.clock.now();
        let listings: Vec<Listing> = items
            .into_iter()
            .map(|(sku, product_id, variant_id)| Listing {
                tenant_id: tenant,
                channel_id: channel,
                sku,
                product_id,
                variant_id,
                source: ListingSource::Manual,
                created_at: now,
            })
            .collect();
        if let Some(l) = listings
            .iter()
            .find(|l| l.product_id.trim().is_empty() || l.variant_id.trim().is_empty())
        {
            return Err(EngineError::Invalid(format!(
                "listing for `{}`: product_id and variant_id are required",
                l.sku
            )));
        }
        match self.store.upsert_listings(&listings, now).await? {
            Ok(()) => {
                self.wake_workers();
                Ok(listings)
            }
            Err(skus) => Err(StockError::UnknownSku(skus.join(", ")).into()),
        }
    }

    /// A channel's listings.
    pub async fn listings(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        page: &PageRequest,
    ) -> Result<Page<Listing>, EngineError> {
        self.channel(tenant, channel).await?;
        Ok(self.store.listings(tenant, channel, page).await?)
    }

    /// Records movements (`Set` or `Delta` only) in one transaction; how many.
    pub async fn record_movements(
        &self,
        tenant: TenantId,
        batch: Vec<NewMovement>,
    ) -> Result<u64, EngineError> {
        if batch.is_empty() || batch.len() > MAX_MOVEMENTS {
            return Err(EngineError::Invalid(format!(
                "1 to {MAX_MOVEMENTS} movements per request"
            )));
        }
        if let Some((i, _)) = batch
            .iter()
            .enumerate()
            .find(|(_, m)| !matches!(m.change, Change::Set(_) | Change::Delta(_)))
        {
            return Err(EngineError::Invalid(format!(
                "row {i}: a movement sets or adds to physical stock"
            )));
        }
        self.gate.background_turn().await;
        match self
            .store
            .record_movements(tenant, &batch, self.clock.now())
            .await?
        {
            Ok(n) => {
                self.wake_workers();
                Ok(n)
            }
            Err(MovementsRefused::UnknownSku(rows)) => {
                Err(StockError::UnknownSku(named_rows_text(&rows)).into())
            }
            Err(MovementsRefused::UnknownWarehouse(rows)) => {
                Err(StockError::UnknownWarehouse(named_rows_text(&rows)).into())
            }
        }
    }

    /// A SKU's balances and channel values.
    pub async fn sku_stock(&self, tenant: TenantId, sku: &str) -> Result<SkuStock, EngineError> {
        self.store
            .sku_stock(tenant, sku)
            .await?
            .ok_or(EngineError::NotFound(ErrorCode::ProductNotFound))
    }

    /// Order lines whose SKU ponte does not know.
    pub async fn unmapped_skus(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
    ) -> Result<Vec<UnmappedSku>, EngineError> {
        Ok(self.store.unmapped_skus(tenant, channel).await?)
    }

    /// The push history.
    pub async fn stock_pushes(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
        sku: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<StockPush>, EngineError> {
        Ok(self.store.stock_pushes(tenant, channel, sku, page).await?)
    }

    /// Pushes every listing of the channel again; how many.
    pub async fn resync_stock(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<u64, EngineError> {
        self.channel(tenant, channel).await?;
        let n = self
            .store
            .resync_stock(tenant, channel, self.clock.now())
            .await?;
        self.wake_workers();
        Ok(n)
    }

    /// A channel's values per state: (pending, pushed, failed).
    pub async fn stock_summary(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<(u64, u64, u64), EngineError> {
        self.channel(tenant, channel).await?;
        Ok(self.store.stock_summary(tenant, channel).await?)
    }
}
