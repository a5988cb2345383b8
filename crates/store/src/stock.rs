//! Records of stock: products, warehouses, listings, the movement ledger, balances,
//! what each channel should show, and the pushes that told it.

use chrono::{DateTime, Utc};
use ponte_core::stock::{Balance, Change};
use ponte_core::{ChannelId, OrderId, TenantId};
use serde::{Deserialize, Serialize};

/// The job kind that pushes a channel's pending stock values.
pub const STOCK_JOB_KIND: &str = "stock_push";

/// The coalescing key of a channel's stock push job.
pub fn stock_job_key(channel: ChannelId) -> String {
    format!("stock:{channel}")
}

/// The payload of a stock push job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockJob {
    /// The channel whose pending values to push.
    pub channel_id: ChannelId,
}

/// A product (a SKU), unique per tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    /// Owner.
    pub tenant_id: TenantId,
    /// The SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// GTIN (EAN), check digit validated.
    pub ean: Option<String>,
    /// Unit (`UN`, `KG`, ...).
    pub unit: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A warehouse, referenced by its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warehouse {
    /// Owner.
    pub tenant_id: TenantId,
    /// Code (unique per tenant).
    pub code: String,
    /// Name.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Where a listing came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingSource {
    /// Posted through the API.
    Manual,
    /// Revealed by an imported order line (its SKU, product and variant ids).
    Order,
}

impl ListingSource {
    /// Storage / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Order => "order",
        }
    }
}

/// A SKU's product and variant on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// Owner.
    pub tenant_id: TenantId,
    /// Channel.
    pub channel_id: ChannelId,
    /// ponte's SKU.
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
    /// Where it came from.
    pub source: ListingSource,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl Listing {
    /// The listings' SKUs, per tenant.
    pub fn skus_by_tenant(
        listings: &[Listing],
    ) -> std::collections::BTreeMap<TenantId, std::collections::BTreeSet<&str>> {
        let mut by_tenant: std::collections::BTreeMap<_, std::collections::BTreeSet<&str>> =
            std::collections::BTreeMap::new();
        for l in listings {
            by_tenant.entry(l.tenant_id).or_default().insert(&l.sku);
        }
        by_tenant
    }
}

/// A channel's stock settings as the store uses them (validated by the engine).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelStock {
    /// Push stock to the channel.
    pub send_stock: bool,
    /// Warehouses whose available stock the channel shows.
    pub warehouses: Vec<String>,
    /// Warehouse the channel's orders reserve and debit (`None`: its orders move no stock).
    pub debit_warehouse: Option<String>,
    /// Units held back.
    pub buffer: i64,
}

/// One movement to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMovement {
    /// The SKU (must be a product).
    pub sku: String,
    /// The warehouse code (must exist).
    pub warehouse: String,
    /// `Set` or `Delta` (order effects are recorded by imports and actions).
    pub change: Change,
    /// Why (free text, kept in the ledger).
    pub reason: String,
}

/// Why a batch of movements was refused (nothing was recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MovementsRefused {
    /// Rows whose SKU is not a product (row index, SKU).
    UnknownSku(Vec<(usize, String)>),
    /// Rows whose warehouse does not exist (row index, code).
    UnknownWarehouse(Vec<(usize, String)>),
}

/// A SKU's balance in one warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockLevel {
    /// Warehouse code.
    pub warehouse: String,
    /// Physical and reserved units.
    pub balance: Balance,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Where a channel's value for a SKU is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    /// Not pushed yet (or changed since).
    Pending,
    /// The channel shows the value.
    Pushed,
    /// Out of attempts or refused; pushed again on the next change or a resync.
    Failed,
}

impl PushState {
    /// Storage / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Pushed => "pushed",
            Self::Failed => "failed",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Pushed, Self::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What one channel should show for a SKU, and what it was last told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockTarget {
    /// Channel.
    pub channel_id: ChannelId,
    /// SKU.
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
    /// The value the channel should show (core `channel_value`).
    pub desired: i64,
    /// When `desired` last changed.
    pub changed_at: DateTime<Utc>,
    /// The last value the channel took.
    pub pushed: Option<i64>,
    /// When.
    pub pushed_at: Option<DateTime<Utc>>,
    /// Where it is.
    pub state: PushState,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
}

/// A SKU's stock: balances per warehouse and every channel's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkuStock {
    /// The product.
    pub product: Product,
    /// Per warehouse (only warehouses it has moved in).
    pub levels: Vec<StockLevel>,
    /// Per listed channel.
    pub channels: Vec<StockTarget>,
}

/// How one push call ended, with the values it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRecord {
    /// Channel.
    pub channel_id: ChannelId,
    /// What was sent: (SKU, variant id, quantity).
    pub items: Vec<(String, String, i64)>,
    /// Method and path.
    pub request: String,
    /// HTTP status, when an answer came.
    pub http_status: Option<u16>,
    /// Duration.
    pub duration_ms: u64,
    /// Succeeded, or the failure.
    pub outcome: PushOutcome,
}

/// How a push call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The platform took the values.
    Succeeded,
    /// Failed; tried again later (counts an attempt).
    Retrying {
        /// Code and message.
        error: String,
    },
    /// Failed for good (or out of attempts): the targets become `failed`.
    Failed {
        /// Code and message.
        error: String,
    },
    /// Not counted (429, held credentials): tried again later.
    Waiting {
        /// Code and message.
        error: String,
    },
}

/// One recorded push call (stock, or prices: then the items carry the price).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockPush {
    /// Channel.
    pub channel_id: ChannelId,
    /// When it ended.
    pub at: DateTime<Utc>,
    /// Method and path.
    pub request: String,
    /// What was sent: SKU, variant id and quantity (or price) of each item.
    pub items: serde_json::Value,
    /// HTTP status.
    pub http_status: Option<u16>,
    /// Duration.
    pub duration_ms: u64,
    /// `succeeded`, `retrying`, `failed` or `waiting`.
    pub outcome: String,
    /// The failure.
    pub error: Option<String>,
    /// Position in the history (the cursor).
    pub seq: i64,
}

/// An order line whose SKU ponte does not know (its stock is not moved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmappedSku {
    /// Channel.
    pub channel_id: ChannelId,
    /// The SKU the platform sent (`None`: the line had none).
    pub sku: Option<String>,
    /// The platform's product id.
    pub product_id: Option<String>,
    /// The platform's variant id.
    pub variant_id: Option<String>,
    /// Orders with such a line.
    pub orders: i64,
    /// Units over those orders.
    pub units: i64,
    /// Last seen.
    pub last_seen: DateTime<Utc>,
    /// An order with it (the latest).
    pub example_order: OrderId,
}
