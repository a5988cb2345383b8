//! A simulated VTEX account on loopback and connectors to it (shared by the VTEX tests).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ponte_channels::Connector;
use ponte_sim::vtex::{ServerHandle, VtexConfig, VtexSim};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The hook secret of the connectors (at least 16 characters).
pub const SECRET: &str = "0123456789abcdef";

/// Starts a simulated account with the default configuration.
pub async fn start() -> (VtexSim, ServerHandle) {
    let sim = VtexSim::new(VtexConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await;
    (sim, server)
}

/// A connector to the account: `settings` plus the account and base URL, the
/// account's app key with `token` and hook `secret`.
pub fn connect(
    sim: &VtexSim,
    server: &ServerHandle,
    settings: Value,
    token: &str,
    secret: &str,
) -> Arc<dyn Connector> {
    let mut settings = settings;
    settings["account"] = json!(sim.config().account);
    settings["api_base_url"] = json!(server.base_url());
    let credentials = json!({
        "app_key": sim.config().app_key,
        "app_token": token,
        "hook_secret": secret,
    });
    let http = ponte_channels::Outbound::new(Duration::from_secs(10), true).unwrap();
    ponte_channels::platforms()
        .into_iter()
        .find(|p| p.name() == "vtex")
        .unwrap()
        .connect(&settings, &credentials, http)
        .unwrap()
}

/// A connector with `settings` and the account's own credentials.
pub fn connector(sim: &VtexSim, server: &ServerHandle, settings: Value) -> Arc<dyn Connector> {
    let token = sim.config().app_token.clone();
    connect(sim, server, settings, &token, SECRET)
}
