//! A channel's DE-PARA tables as stored: the rows a merchant saved for each kind,
//! checked by the engine before they are written, and the orders grouped by the
//! platform values those tables map (what is still unmapped).

use ponte_core::OrderId;

/// Which of a channel's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MappingKind {
    /// Platform status fields -> ponte status.
    Status,
    /// Platform payment method / gateway / installments -> ERP payment type.
    Payment,
    /// Default customer fields set on every imported order's customer.
    CustomerFields,
}

impl MappingKind {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Payment => "payment",
            Self::CustomerFields => "customer_fields",
        }
    }
}

/// Platform values the orders of a channel are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderGroup {
    /// `platform_status`: status, payment status, shipping status.
    PlatformStatus,
    /// `payment`: method, gateway.
    PaymentMethod,
}

/// The orders of a channel sharing the same platform values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderValueGroup {
    /// The values, in the group's field order (`None`: not given).
    pub values: Vec<Option<String>>,
    /// Orders with these values.
    pub count: u64,
    /// One of them.
    pub example: OrderId,
}
