//! The import rule: what a freshly fetched platform order does to what ponte has.

use crate::order::{MappedOrder, OrderData};
use crate::status::OrderStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which orders a channel imports (seed 001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportPolicy {
    /// Only once payment is confirmed.
    #[default]
    PaidOnly,
    /// Also orders awaiting payment or in review; they are updated later.
    All,
}

/// Why an order was not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Already closed or fulfilled at the platform when first seen (seed 001).
    ClosedAtPlatform,
    /// Already cancelled when first seen: nothing to do for the ERP.
    CancelledBeforeImport,
    /// Not paid yet and the channel imports paid orders only; a later event imports it.
    AwaitingPaymentPaidOnly,
}

impl SkipReason {
    /// Stable code for the API and timeline.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClosedAtPlatform => "closed_at_platform",
            Self::CancelledBeforeImport => "cancelled_before_import",
            Self::AwaitingPaymentPaidOnly => "awaiting_payment_paid_only",
        }
    }
}

/// What applying a fetched order does.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportDecision {
    /// A new order: store it.
    Create,
    /// A known order changed: store `data` with `status` (never backwards).
    Update {
        /// The merged order to store.
        data: Box<OrderData>,
        /// Status before, when it changes.
        status_from: Option<OrderStatus>,
    },
    /// Same as what is stored: nothing to write.
    Unchanged,
    /// Older than what is stored (a late fetch): nothing changes.
    Stale,
    /// Not imported.
    Skip(SkipReason),
}

/// What ponte already has of an order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Known<'a> {
    /// Imported.
    Order(&'a OrderData),
    /// Seen and skipped, at this platform version; an older snapshot is stale.
    Skipped(Option<DateTime<Utc>>),
}

/// Decides what a fetched order does, given what ponte already has of it.
pub fn decide(
    known: Option<Known<'_>>,
    incoming: &MappedOrder,
    policy: ImportPolicy,
) -> ImportDecision {
    let incoming_at = incoming.data.platform_updated_at;
    let known = match known {
        Some(Known::Order(o)) => Some(o),
        Some(Known::Skipped(at)) => {
            if let (Some(k), Some(i)) = (at, incoming_at) {
                if i <= k {
                    return ImportDecision::Stale;
                }
            }
            None
        }
        None => None,
    };
    let Some(known) = known else {
        let status = incoming.data.status;
        if status == OrderStatus::Cancelled {
            return ImportDecision::Skip(SkipReason::CancelledBeforeImport);
        }
        if incoming.closed_at_platform {
            return ImportDecision::Skip(SkipReason::ClosedAtPlatform);
        }
        if policy == ImportPolicy::PaidOnly && !status.is_paid() {
            return ImportDecision::Skip(SkipReason::AwaitingPaymentPaidOnly);
        }
        return ImportDecision::Create;
    };
    if let (Some(k), Some(i)) = (known.platform_updated_at, incoming.data.platform_updated_at) {
        if i < k {
            return ImportDecision::Stale;
        }
    }
    let mut data = incoming.data.clone();
    data.status = known.status.advance(incoming.data.status);
    if data == *known {
        return ImportDecision::Unchanged;
    }
    let status_from = (data.status != known.status).then_some(known.status);
    ImportDecision::Update {
        data: Box::new(data),
        status_from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::*;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    fn order(status: OrderStatus, updated_secs: i64) -> MappedOrder {
        MappedOrder {
            data: OrderData {
                external_id: "1".into(),
                number: Some("1".into()),
                status,
                payment: Payment::default(),
                items: vec![],
                customer: Customer::default(),
                billing_address: None,
                shipping_address: None,
                shipping: Shipping::default(),
                totals: Totals::default(),
                currency: None,
                placed_at: None,
                platform_updated_at: Utc.timestamp_opt(updated_secs, 0).single(),
                paid_at: None,
                cancelled_at: None,
                platform_status: PlatformStatus::default(),
                platform_flags: vec![],
            },
            closed_at_platform: false,
            raw: serde_json::Value::Null,
        }
    }

    #[test]
    fn first_sight_rules() {
        use OrderStatus::*;
        assert_eq!(
            decide(None, &order(Approved, 1), ImportPolicy::PaidOnly),
            ImportDecision::Create
        );
        assert_eq!(
            decide(None, &order(AwaitingPayment, 1), ImportPolicy::PaidOnly),
            ImportDecision::Skip(SkipReason::AwaitingPaymentPaidOnly)
        );
        assert_eq!(
            decide(None, &order(PaymentInReview, 1), ImportPolicy::All),
            ImportDecision::Create
        );
        assert_eq!(
            decide(None, &order(Cancelled, 1), ImportPolicy::All),
            ImportDecision::Skip(SkipReason::CancelledBeforeImport)
        );
        let mut closed = order(Shipped, 1);
        closed.closed_at_platform = true;
        assert_eq!(
            decide(None, &closed, ImportPolicy::All),
            ImportDecision::Skip(SkipReason::ClosedAtPlatform)
        );
    }

    #[test]
    fn known_order_rules() {
        use OrderStatus::*;
        let known_data = order(Approved, 10).data;
        let known = Known::Order(&known_data);
        assert_eq!(
            decide(Some(known), &order(Approved, 10), ImportPolicy::All),
            ImportDecision::Unchanged
        );
        assert_eq!(
            decide(Some(known), &order(Shipped, 5), ImportPolicy::All),
            ImportDecision::Stale
        );
        match decide(Some(known), &order(AwaitingPayment, 11), ImportPolicy::All) {
            ImportDecision::Update { data, status_from } => {
                assert_eq!(data.status, Approved);
                assert_eq!(status_from, None);
            }
            other => panic!("unexpected {other:?}"),
        }
        match decide(Some(known), &order(Cancelled, 12), ImportPolicy::All) {
            ImportDecision::Update { data, status_from } => {
                assert_eq!(data.status, Cancelled);
                assert_eq!(status_from, Some(Approved));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    proptest! {
        /// Applying fetched snapshots in any order ends at the newest snapshot's fields
        /// and the furthest status (cancelled wins).
        #[test]
        fn snapshots_in_any_order_converge(
            mut snaps in proptest::collection::vec((proptest::sample::select(OrderStatus::ALL.to_vec()), 0i64..50), 1..12)
        ) {
            // Platform truth moves forward with time: sort by time to derive each snapshot's status.
            snaps.sort_by_key(|s| s.1);
            let mut best = snaps[0].0;
            let truth: Vec<(OrderStatus, i64)> = snaps.iter().map(|(s, t)| { best = best.advance(*s); (best, *t) }).collect();
            let mut shuffled = truth.clone();
            shuffled.reverse();
            let mut stored: Option<OrderData> = None;
            let mut skipped_at = None;
            for (s, t) in &shuffled {
                let inc = order(*s, *t);
                let known = match (&stored, skipped_at) {
                    (Some(o), _) => Some(Known::Order(o)),
                    (None, Some(at)) => Some(Known::Skipped(at)),
                    (None, None) => None,
                };
                match decide(known, &inc, ImportPolicy::All) {
                    ImportDecision::Create => stored = Some(inc.data),
                    ImportDecision::Update { data, .. } => stored = Some(*data),
                    ImportDecision::Skip(_) => skipped_at = Some(inc.data.platform_updated_at),
                    _ => {}
                }
            }
            if let Some(st) = stored {
                let last = truth[truth.len() - 1];
                prop_assert_eq!(st.status, last.0);
                prop_assert_eq!(st.platform_updated_at, Utc.timestamp_opt(last.1, 0).single());
            }
        }
    }
}
