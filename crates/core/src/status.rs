//! ponte's order lifecycle and the rule that status only moves forward.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where an order is in its life. The order of the variants is the lifecycle order;
/// `Cancelled` is terminal and reachable from any other state.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, payment not confirmed.
    AwaitingPayment,
    /// Payment under analysis (card authorised, anti-fraud).
    PaymentInReview,
    /// Paid; ready to be handled.
    Approved,
    /// Being picked (or produced).
    InSeparation,
    /// NF-e issued.
    Invoiced,
    /// Handed to the carrier.
    Shipped,
    /// Received by the customer.
    Delivered,
    /// Cancelled; final.
    Cancelled,
}

impl OrderStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [OrderStatus; 8] = [
        Self::AwaitingPayment,
        Self::PaymentInReview,
        Self::Approved,
        Self::InSeparation,
        Self::Invoiced,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    /// The snake_case name used in the API and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::PaymentInReview => "payment_in_review",
            Self::Approved => "approved",
            Self::InSeparation => "in_separation",
            Self::Invoiced => "invoiced",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    /// True once payment is confirmed (or the order went further).
    pub fn is_paid(self) -> bool {
        self >= Self::Approved && self != Self::Cancelled
    }

    /// Whether moving from `self` to `next` is a move forward. Cancelled is final;
    /// anything else may be cancelled; otherwise only later states are accepted.
    pub fn can_advance_to(self, next: OrderStatus) -> bool {
        match (self, next) {
            (Self::Cancelled, _) => false,
            (_, Self::Cancelled) => true,
            (a, b) => b > a,
        }
    }

    /// The status after seeing `incoming`: `incoming` when it is a move forward,
    /// otherwise `self` (a stale or backward report never undoes progress).
    pub fn advance(self, incoming: OrderStatus) -> OrderStatus {
        if self.can_advance_to(incoming) {
            incoming
        } else {
            self
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown status name.
#[derive(Debug, thiserror::Error)]
#[error("unknown order status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for OrderStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status() -> impl Strategy<Value = OrderStatus> {
        proptest::sample::select(OrderStatus::ALL.to_vec())
    }

    #[test]
    fn names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(s.as_str().parse::<OrderStatus>().ok(), Some(s));
        }
        assert!("paid".parse::<OrderStatus>().is_err());
    }

    proptest! {
        /// Whatever order events arrive in, the result is the furthest state seen,
        /// or cancelled if a cancellation was seen.
        #[test]
        fn any_arrival_order_converges(events in proptest::collection::vec(status(), 1..20)) {
            let mut cur = events[0];
            for e in &events[1..] {
                cur = cur.advance(*e);
            }
            let expected = if events.contains(&OrderStatus::Cancelled) {
                OrderStatus::Cancelled
            } else {
                *events.iter().max().unwrap_or(&events[0])
            };
            prop_assert_eq!(cur, expected);
        }

        #[test]
        fn never_moves_backwards(a in status(), b in status()) {
            let next = a.advance(b);
            prop_assert!(next >= a || next == OrderStatus::Cancelled);
            if a == OrderStatus::Cancelled {
                prop_assert_eq!(next, OrderStatus::Cancelled);
            }
        }

        #[test]
        fn advancing_is_idempotent(a in status(), b in status()) {
            prop_assert_eq!(a.advance(b).advance(b), a.advance(b));
        }
    }
}
