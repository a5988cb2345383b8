//! Platform API simulators for ponte's tests, benchmarks and demos.
//!
//! Each simulator speaks a platform's *documented* HTTP API on a local port, keeps
//! in-memory state that tests can inspect and manipulate, and can inject faults
//! (errors, rate limiting, delays) so connectors can be exercised end to end.
//!
//! Nuvemshop/Tiendanube ([`nuvemshop`]), VTEX ([`vtex`]), Mercado Livre
//! ([`mercadolivre`]) and Americanas/SkyHub ([`americanas`]); the carriers Correios
//! ([`correios`]) and Melhor Envio ([`melhor_envio`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
#![recursion_limit = "256"]

pub mod americanas;
pub mod bucket;
pub mod clock;
pub mod correios;
pub mod demo;
pub mod demo_americanas;
pub mod demo_ml;
pub mod demo_vtex;
pub mod error;
pub mod faults;
pub mod melhor_envio;
pub mod mercadolivre;
pub mod nuvemshop;
pub mod reqlog;
mod server;
pub mod vtex;

pub use demo::{run_demo, DemoArgs};
pub use demo_americanas::{run_americanas_demo, AmDemoArgs};
pub use demo_ml::{run_ml_demo, MlDemoArgs};
pub use demo_vtex::{run_vtex_demo, VtexDemoArgs};
pub use error::SimError;

/// Locks a simulator's state, whatever a panicking holder left (tests read it after).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
