//! Stock pushes: absolute quantities per variant, in the platform's batch shape.

use crate::{CallInfo, PlatformError};

/// One listing's new quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockItem {
    /// ponte's SKU (for the record only; platforms address variants by their ids).
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
    /// The quantity the channel should show (never negative).
    pub quantity: i64,
}

/// How one push call went, for the items it carried.
#[derive(Debug, Clone)]
pub struct StockCall {
    /// The items the call carried.
    pub items: Vec<StockItem>,
    /// The call.
    pub info: CallInfo,
    /// `Ok` when the platform took every item of the call.
    pub result: Result<(), PlatformError>,
}
