//! A target of any kind as the backends read it ([`TargetRow`]), and each kind's target
//! made of one ([`PushTarget`]).

use crate::catalog::{catalog_from_text, CatalogTarget};
use crate::target_push::PushKind;
use crate::{price_from_text, PriceTarget, PushState, StockTarget, StoreResult};
use chrono::{DateTime, Utc};
use ponte_core::ChannelId;

/// The columns of a target, whatever its kind, its values as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRow<S> {
    /// Channel.
    pub channel_id: ChannelId,
    /// SKU.
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
    /// The value the channel should show.
    pub desired: S,
    /// When `desired` last changed.
    pub changed_at: DateTime<Utc>,
    /// The last value the channel took.
    pub pushed: Option<S>,
    /// When.
    pub pushed_at: Option<DateTime<Utc>>,
    /// Where it is.
    pub state: PushState,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// When a push call last carried it (read for a kind whose calls stamp it).
    pub attempted_at: Option<DateTime<Utc>>,
}

/// The target of one kind.
pub trait PushTarget: Sized {
    /// A value as stored (a quantity, or text).
    type Stored;
    /// The kind.
    const KIND: PushKind;
    /// The target of a row.
    fn from_row(row: TargetRow<Self::Stored>) -> StoreResult<Self>;
}

/// The columns a backend reads for a target of kind `T`.
pub fn target_columns<T: PushTarget>() -> &'static str {
    if T::KIND.stamps_attempts {
        "channel_id, sku, product_id, variant_id, desired, changed_at, pushed, pushed_at, \
         state, attempts, last_error, attempted_at"
    } else {
        "channel_id, sku, product_id, variant_id, desired, changed_at, pushed, pushed_at, \
         state, attempts, last_error"
    }
}

/// Implements [`PushTarget`] for a target with the fields of a [`TargetRow`] (but
/// `attempted_at` unless named), its values read by `value`.
macro_rules! push_target {
    ($target:ty, $kind:expr, $stored:ty, $value:expr $(, $attempted_at:ident)?) => {
        impl PushTarget for $target {
            type Stored = $stored;
            const KIND: PushKind = $kind;
            fn from_row(r: TargetRow<$stored>) -> StoreResult<Self> {
                Ok(Self {
                    desired: $value(&r.desired)?,
                    pushed: r.pushed.as_ref().map($value).transpose()?,
                    $($attempted_at: r.attempted_at,)?
                    channel_id: r.channel_id,
                    sku: r.sku,
                    product_id: r.product_id,
                    variant_id: r.variant_id,
                    changed_at: r.changed_at,
                    pushed_at: r.pushed_at,
                    state: r.state,
                    attempts: r.attempts,
                    last_error: r.last_error,
                })
            }
        }
    };
}

push_target!(
    StockTarget,
    PushKind::STOCK,
    i64,
    |v: &i64| StoreResult::Ok(*v)
);
push_target!(
    PriceTarget,
    PushKind::PRICES,
    String,
    |s: &String| price_from_text(s),
    attempted_at
);
push_target!(CatalogTarget, PushKind::CATALOG, String, |s: &String| {
    catalog_from_text(s)
});

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn row(desired: &str) -> TargetRow<String> {
        TargetRow {
            channel_id: ChannelId(Uuid::from_u128(2)),
            sku: "S".into(),
            product_id: "p".into(),
            variant_id: "v".into(),
            desired: desired.into(),
            changed_at: DateTime::UNIX_EPOCH,
            pushed: None,
            pushed_at: None,
            state: PushState::Pending,
            attempts: 1,
            last_error: None,
            attempted_at: Some(DateTime::UNIX_EPOCH),
        }
    }

    #[test]
    fn a_row_makes_its_kinds_target_or_says_why_not() {
        let t = PriceTarget::from_row(row(r#"{"price":100}"#)).unwrap();
        assert_eq!((t.desired.price, t.attempts), (100, 1));
        assert_eq!(t.attempted_at, Some(DateTime::UNIX_EPOCH));
        assert!(PriceTarget::from_row(row("x")).is_err());
        assert!(CatalogTarget::from_row(row("{}")).is_ok());
        assert!(target_columns::<PriceTarget>().ends_with("attempted_at"));
        assert!(!target_columns::<StockTarget>().contains("attempted_at"));
    }
}
