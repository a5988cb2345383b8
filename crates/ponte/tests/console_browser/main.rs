//! The console in a real browser (issue 16 item 6): headless Chromium driven through
//! Debian's chromedriver against the real `ponte` binary and the Nuvemshop (and
//! Mercado Livre) simulators.
//! One test binary: add a module per area of the console, reusing `browser` (the
//! session and its steps) and `shop` (ponte with orders and failed sends, or bare).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod automations;
mod browser;
mod channels;
mod keyboard;
mod mercadolivre;
mod operator;
mod shop;
mod stock;
mod tasks;
mod tickets;
mod webhooks;
