//! Storage boundary of ponte: the traits every backend implements, the records they
//! exchange, and (feature `conformance`) one test suite that every backend must pass.

mod access;
mod carriers;
pub mod catalog;
pub mod claim;
mod error;
mod events;
pub mod import_apply;
pub mod inbox;
pub mod job_outcome;
pub mod job_queue;
pub mod lease_release;
mod mappings;
mod order_search;
pub mod price_push;
pub mod price_writes;
mod prices;
pub mod rate;
#[cfg(test)]
mod ready;
mod records;
mod retention;
pub mod rows;
pub mod send_plan;
mod sends;
mod stock;
pub mod stock_marks;
pub mod stock_orders;
pub mod stock_plan;
pub mod stock_push;
#[cfg(test)]
mod stock_sequences_tests;
pub mod stock_writes;
pub mod target_marks;
pub mod target_push;
pub mod target_row;
pub mod task_runs;
mod tasks;
mod tickets;
mod timeline;
mod traits;
pub mod webhooks;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use access::*;
pub use carriers::*;
pub use error::StoreError;
pub use events::*;
pub use mappings::*;
pub use order_search::OrderSearch;
pub use prices::*;
pub use records::*;
pub use retention::*;
pub use sends::*;
pub use stock::*;
pub use tasks::*;
pub use tickets::*;
pub use timeline::*;
pub use traits::*;
