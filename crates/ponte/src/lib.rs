//! The composition root of the `ponte` binary: configuration and the running
//! application (also used by the end-to-end tests and benchmarks).

pub mod admin_cli;
pub mod app;
pub mod backend;
pub mod config;
pub mod resync_cli;
pub mod runtime;
pub mod sync_cli;
