//! Price pushes: what a channel should show per variant (its markup applied), in the
//! platform's batch shape. A platform without a connector method for prices answers
//! every item as not supported, without a call.

use crate::{CallInfo, PlatformError, PlatformErrorKind};
use ponte_core::price::PriceValue;
use std::time::Duration;

/// One listing's new price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceItem {
    /// ponte's SKU (for the record only; platforms address variants by their ids).
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
    /// The price the channel should show (markup applied).
    pub price: PriceValue,
}

/// How one push call went, for the items it carried.
#[derive(Debug, Clone)]
pub struct PriceCall {
    /// The items the call carried.
    pub items: Vec<PriceItem>,
    /// The call.
    pub info: CallInfo,
    /// `Ok` when the platform took every item of the call.
    pub result: Result<(), PlatformError>,
}

/// The answer of a platform that takes no prices (yet): one refused call per item,
/// none made.
pub fn unsupported(items: &[PriceItem], platform: &str) -> Vec<PriceCall> {
    items
        .iter()
        .map(|i| PriceCall {
            items: vec![i.clone()],
            info: CallInfo {
                request: format!("price of {} (not sent)", i.sku),
                status: None,
                duration: Duration::ZERO,
                response: None,
            },
            result: Err(PlatformError {
                kind: PlatformErrorKind::Permanent,
                status: None,
                message: format!("{platform}: ponte does not push prices to this platform yet"),
            }),
        })
        .collect()
}

/// A refusal without a call (a bad id, a value the platform cannot take).
pub(crate) fn not_sent(item: &PriceItem, request: String, message: String) -> PriceCall {
    PriceCall {
        items: vec![item.clone()],
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

/// Centavos as the decimal text platforms take (`1990` → `"19.90"`).
pub(crate) fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_decimals_and_unsupported_makes_no_call() {
        assert_eq!(decimal(1990), "19.90");
        assert_eq!(decimal(5), "0.05");
        assert_eq!(decimal(-150), "-1.50");
        let item = PriceItem {
            sku: "S".into(),
            product_id: "1".into(),
            variant_id: "2".into(),
            price: PriceValue {
                price: 100,
                promotional_price: None,
                promotional_from: None,
                promotional_until: None,
            },
        };
        let calls = unsupported(&[item], "mercadolivre");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].info.status, None);
        assert!(calls[0].result.is_err());
    }
}
