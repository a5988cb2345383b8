//! Status tables (DE-PARA): platform status fields to ponte's status.

use crate::order::PlatformStatus;
use crate::status::OrderStatus;
use serde::{Deserialize, Serialize};

/// One row of a status table: every field that is set must match exactly
/// (`None` matches anything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusRule {
    /// Platform order status to match.
    #[serde(default)]
    pub status: Option<String>,
    /// Platform payment status to match.
    #[serde(default)]
    pub payment_status: Option<String>,
    /// Platform shipping status to match.
    #[serde(default)]
    pub shipping_status: Option<String>,
    /// The ponte status this row yields.
    pub to: OrderStatus,
}

impl StatusRule {
    fn matches(&self, p: &PlatformStatus) -> bool {
        fn ok(want: &Option<String>, got: &Option<String>) -> bool {
            want.as_ref()
                .is_none_or(|w| got.as_deref() == Some(w.as_str()))
        }
        ok(&self.status, &p.status)
            && ok(&self.payment_status, &p.payment_status)
            && ok(&self.shipping_status, &p.shipping_status)
    }
}

/// An ordered status table; the first matching row wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusTable {
    /// Rows, tried in order.
    pub rules: Vec<StatusRule>,
}

impl StatusTable {
    /// The ponte status for these platform fields: the channel's overrides first,
    /// then this table; `None` when no row matches.
    pub fn resolve(&self, overrides: &[StatusRule], p: &PlatformStatus) -> Option<OrderStatus> {
        overrides
            .iter()
            .chain(self.rules.iter())
            .find(|r| r.matches(p))
            .map(|r| r.to)
    }
}

impl StatusTable {
    /// The ponte status for these platform fields, as an import sets it: the first
    /// matching row (overrides first), else `awaiting_payment` (an unmapped status).
    pub fn status_of(&self, overrides: &[StatusRule], p: &PlatformStatus) -> OrderStatus {
        self.resolve(overrides, p)
            .unwrap_or(OrderStatus::AwaitingPayment)
    }
}

/// Shorthand for building a rule in a default table.
pub fn rule(
    status: Option<&str>,
    payment_status: Option<&str>,
    shipping_status: Option<&str>,
    to: OrderStatus,
) -> StatusRule {
    StatusRule {
        status: status.map(str::to_owned),
        payment_status: payment_status.map(str::to_owned),
        shipping_status: shipping_status.map(str::to_owned),
        to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_match_wins_and_overrides_come_first() {
        let table = StatusTable {
            rules: vec![
                rule(Some("cancelled"), None, None, OrderStatus::Cancelled),
                rule(None, Some("paid"), None, OrderStatus::Approved),
                rule(None, None, None, OrderStatus::AwaitingPayment),
            ],
        };
        let p = |s: &str, pay: &str| PlatformStatus {
            status: Some(s.into()),
            payment_status: Some(pay.into()),
            shipping_status: None,
        };
        assert_eq!(
            table.resolve(&[], &p("cancelled", "paid")),
            Some(OrderStatus::Cancelled)
        );
        assert_eq!(
            table.resolve(&[], &p("open", "paid")),
            Some(OrderStatus::Approved)
        );
        assert_eq!(
            table.resolve(&[], &p("open", "x")),
            Some(OrderStatus::AwaitingPayment)
        );
        let ov = [rule(None, Some("x"), None, OrderStatus::PaymentInReview)];
        assert_eq!(
            table.resolve(&ov, &p("open", "x")),
            Some(OrderStatus::PaymentInReview)
        );
        assert_eq!(StatusTable::default().resolve(&[], &p("a", "b")), None);
    }
}
