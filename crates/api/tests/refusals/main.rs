//! Every refusal the HTTP API can answer, in process: the real router over a real
//! engine on a temporary SQLite store (and, for the
//! tenant isolation walk, PostgreSQL too). Each test sends the request that triggers a
//! code and checks the status, the problem document's `code`, and that nothing the API
//! shows changed. One test binary (its modules by area) so the suite links once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod actions;
mod admin;
mod auth;
mod bodies;
mod carriers;
mod channels;
mod coverage;
mod events;
mod fixtures;
mod harness;
mod invoices;
mod lists;
mod mappings;
mod missing;
mod people;
mod prices;
mod product_data;
mod scratch_pg;
mod stock;
mod tasks;
mod tickets;
mod webhooks;
