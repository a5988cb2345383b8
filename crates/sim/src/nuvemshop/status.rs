//! Status enums of the Order and Fulfillment Order resources.

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// The wire value.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
            /// Parses the wire value.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(
    /// `order.status`.
    OrderStatus {
        /// Open.
        Open => "open",
        /// Closed (archived).
        Closed => "closed",
        /// Cancelled.
        Cancelled => "cancelled",
    }
);

str_enum!(
    /// `order.payment_status`.
    PaymentStatus {
        /// Awaiting payment.
        Pending => "pending",
        /// Authorized, not captured.
        Authorized => "authorized",
        /// Paid.
        Paid => "paid",
        /// Voided.
        Voided => "voided",
        /// Refunded.
        Refunded => "refunded",
        /// Abandoned.
        Abandoned => "abandoned",
        /// Partially paid (2025-03 docs).
        PartiallyPaid => "partially_paid",
        /// Partially refunded (2025-03 docs).
        PartiallyRefunded => "partially_refunded",
    }
);

str_enum!(
    /// `order.shipping_status`. With one fulfillment order per order the sim uses
    /// `unpacked` (new) -> `unshipped` (packed, not sent) -> `shipped` ->
    /// `delivered`. Assumption: the legacy docs list only unpacked/shipped/unshipped
    /// without defining them; this order matches the 2025-03 `partially_packed`
    /// / `partially_fulfilled` values and the documented pack response, which
    /// still says `unshipped`.
    ShippingStatus {
        /// Not packed yet.
        Unpacked => "unpacked",
        /// Packed, not shipped.
        Unshipped => "unshipped",
        /// Shipped (fulfilled).
        Shipped => "shipped",
        /// Delivered.
        Delivered => "delivered",
        /// Some fulfillment orders packed.
        PartiallyPacked => "partially_packed",
        /// Some fulfillment orders shipped.
        PartiallyFulfilled => "partially_fulfilled",
    }
);

str_enum!(
    /// `fulfillment_order.status`.
    FoStatus {
        /// Initial.
        Unpacked => "UNPACKED",
        /// Ready for sending.
        Packed => "PACKED",
        /// Sent.
        Dispatched => "DISPATCHED",
        /// Pickup orders only.
        ReadyForPickup => "READY_FOR_PICKUP",
        /// Fully fulfilled.
        Delivered => "DELIVERED",
    }
);

str_enum!(
    /// `cancel_reason`.
    CancelReason {
        /// The customer asked.
        Customer => "customer",
        /// Out of stock.
        Inventory => "inventory",
        /// Fraud.
        Fraud => "fraud",
        /// Anything else.
        Other => "other",
    }
);

impl FoStatus {
    /// The order-level `shipping_status` this fulfillment status implies.
    pub fn shipping_status(self) -> ShippingStatus {
        match self {
            Self::Unpacked => ShippingStatus::Unpacked,
            Self::Packed | Self::ReadyForPickup => ShippingStatus::Unshipped,
            Self::Dispatched => ShippingStatus::Shipped,
            Self::Delivered => ShippingStatus::Delivered,
        }
    }

    /// Inverse used when loading fixture orders. Assumption: a fixture's
    /// `unshipped` is treated as not yet packed (the documented examples show
    /// `unshipped` both before and after `pack`).
    pub fn from_shipping(s: ShippingStatus) -> Self {
        match s {
            ShippingStatus::Unpacked | ShippingStatus::Unshipped => Self::Unpacked,
            ShippingStatus::PartiallyPacked => Self::Packed,
            ShippingStatus::Shipped | ShippingStatus::PartiallyFulfilled => Self::Dispatched,
            ShippingStatus::Delivered => Self::Delivered,
        }
    }
}
