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

/// A price as the platform shows it, in centavos (what the price check compares).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShownPrice {
    /// The regular price (`None`: the platform shows none).
    pub price: Option<i64>,
    /// The promotional price the platform keeps (`None`: no promotion).
    pub promotional_price: Option<i64>,
}

/// One listing's price read back.
#[derive(Debug, Clone)]
pub struct PriceRead {
    /// The listing (its pushed price as ponte last sent it).
    pub item: PriceItem,
    /// The call.
    pub info: CallInfo,
    /// What the platform shows.
    pub result: Result<ShownPrice, PlatformError>,
}

/// The answer of a platform whose prices ponte cannot read back: one refusal per item,
/// no call.
pub fn unreadable(items: &[PriceItem], platform: &str) -> Vec<PriceRead> {
    items
        .iter()
        .map(|i| {
            let why = format!("{platform}: ponte does not read prices back from this platform yet");
            not_read(i, format!("price of {}", i.sku), why)
        })
        .collect()
}

/// A read refused without a call (ids the platform cannot have).
pub(crate) fn not_read(item: &PriceItem, request: String, message: String) -> PriceRead {
    PriceRead {
        item: item.clone(),
        info: CallInfo {
            request: format!("{request} (not read)"),
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

/// A platform amount (a decimal string like `"19.90"` or a number) in centavos.
pub(crate) fn cents(v: &serde_json::Value) -> Option<i64> {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let f: f64 = text.trim().parse().ok()?;
    f.is_finite().then(|| (f * 100.0).round() as i64)
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
        assert_eq!(cents(&serde_json::json!("19.90")), Some(1990));
        assert_eq!(cents(&serde_json::json!(17.9)), Some(1790));
        assert_eq!(cents(&serde_json::Value::Null), None);
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
