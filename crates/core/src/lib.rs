//! ponte's domain. Pure: no IO, no async runtime, no database or HTTP types.

pub mod access;
pub mod action;
pub mod automation;
pub mod catalog;
pub mod clock;
pub mod customer_fields;
pub mod document;
pub mod error_code;
pub mod event;
pub mod ids;
pub mod import;
pub mod money;
pub mod nfe;
pub mod order;
pub mod order_view;
pub mod payment_map;
pub mod price;
pub mod retry;
pub mod status;
pub mod status_rules;
pub mod status_vocab;
pub mod stock;
pub mod ticket;
pub mod wait;
pub mod webhook_schedule;

pub use access::{Addon, Entitlements, Plan, Role};
pub use clock::{Clock, SystemClock};
pub use error_code::ErrorCode;
pub use ids::{
    AttemptId, AuditId, CarrierAccountId, ChannelId, DeliveryId, EndpointId, EventId, JobId,
    OrderId, RunId, ScheduledPriceId, SendId, TaskId, TenantId, TicketId, TicketMessageId, TokenId,
    UserId,
};
pub use status::OrderStatus;
