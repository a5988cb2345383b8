//! Typed identifiers. All are UUIDv7, so they sort by creation time.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A merchant account; every record belongs to one.
    TenantId
);
id_type!(
    /// A configured sales channel (one store on one platform).
    ChannelId
);
id_type!(
    /// An order as ponte knows it.
    OrderId
);
id_type!(
    /// One inbound webhook delivery.
    DeliveryId
);
id_type!(
    /// One background job.
    JobId
);
id_type!(
    /// One status send (an ERP event told to a platform).
    SendId
);
id_type!(
    /// One scheduled task (a channel's polling, a tenant's sweep).
    TaskId
);
id_type!(
    /// One run of a scheduled task (scheduled, run now, or a manual sync).
    RunId
);
id_type!(
    /// One API token.
    TokenId
);
id_type!(
    /// One person who signs in to the console.
    UserId
);
id_type!(
    /// One entry of the audit trail.
    AuditId
);
id_type!(
    /// One outbound event (a change ponte recorded), stable across deliveries.
    EventId
);
id_type!(
    /// One webhook endpoint an integrator registered.
    EndpointId
);
id_type!(
    /// One attempt to deliver an event to a webhook endpoint.
    AttemptId
);
id_type!(
    /// One scheduled price (a price taking effect at a given moment).
    ScheduledPriceId
);
id_type!(
    /// One carrier account of a tenant (a contract with a carrier and its credentials).
    CarrierAccountId
);
id_type!(
    /// One SAC ticket (a customer's question, message thread or claim).
    TicketId
);
id_type!(
    /// One message of a ticket.
    TicketMessageId
);
