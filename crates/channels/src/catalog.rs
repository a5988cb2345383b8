//! Product data pushes: the fields a channel carries per variant, in the platform's
//! shape. A platform without a connector method for product data answers every item
//! as not supported, without a call.

use crate::{CallInfo, PlatformError, PlatformErrorKind};
use ponte_core::catalog::CatalogValue;
use std::time::Duration;

/// One listing's product data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    /// ponte's SKU (for the record only; platforms address variants by their ids).
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
    /// The fields the channel carries, with the values it should show (what the
    /// record keeps as pushed).
    pub fields: CatalogValue,
    /// The fields to send: those changed since the channel last took the item (all
    /// of them the first time).
    pub send: CatalogValue,
}

/// How one push (one record: maybe several platform calls) went, for its items.
#[derive(Debug, Clone)]
pub struct CatalogCall {
    /// The items it carried.
    pub items: Vec<CatalogItem>,
    /// The call (the calls, joined).
    pub info: CallInfo,
    /// `Ok` when the platform took every item.
    pub result: Result<(), PlatformError>,
}

/// A refusal without a call (a bad id, a value the platform cannot take).
pub(crate) fn not_sent(items: &[CatalogItem], request: String, message: String) -> CatalogCall {
    CatalogCall {
        items: items.to_vec(),
        info: CallInfo {
            request: format!("{request} (not sent)"),
            status: None,
            duration: Duration::ZERO,
            response: None,
        },
        result: Err(PlatformError {
            kind: PlatformErrorKind::Permanent,
            status: None,
            message,
        }),
    }
}

/// The answer of a platform that takes no product data (yet): one refused call per
/// item, none made.
pub fn unsupported(items: &[CatalogItem], platform: &str) -> Vec<CatalogCall> {
    items
        .iter()
        .map(|i| {
            not_sent(
                std::slice::from_ref(i),
                format!("product data of {}", i.sku),
                format!("{platform}: ponte does not push product data to this platform yet"),
            )
        })
        .collect()
}

/// Grams as the kilograms platforms take (`250` → `"0.250"`).
pub(crate) fn kilograms(grams: i64) -> String {
    format!("{}.{:03}", grams / 1000, grams.rem_euclid(1000))
}

/// Millimetres as the centimetres platforms take (`105` → `"10.5"`).
pub(crate) fn centimetres(mm: i64) -> String {
    format!("{}.{}", mm / 10, mm.rem_euclid(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_decimals_and_unsupported_makes_no_call() {
        assert_eq!(kilograms(250), "0.250");
        assert_eq!(kilograms(12_005), "12.005");
        assert_eq!(centimetres(105), "10.5");
        assert_eq!(centimetres(0), "0.0");
        let item = CatalogItem {
            sku: "S".into(),
            product_id: "1".into(),
            variant_id: "2".into(),
            fields: CatalogValue::default(),
            send: CatalogValue::default(),
        };
        let calls = unsupported(&[item], "americanas");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].info.status, None);
        assert!(calls[0].result.is_err());
    }
}
