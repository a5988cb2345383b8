//! Shared helpers for the simulator's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use ponte_sim::nuvemshop::{NuvemshopSim, ServerHandle, SimConfig};
use reqwest::{Client, RequestBuilder};

pub const UA: &str = "ponte-tests (dev@example.com)";

pub struct Ctx {
    pub sim: NuvemshopSim,
    pub server: ServerHandle,
    pub client: Client,
    /// `http://addr/v1/{store_id}`
    pub base: String,
    pub token: String,
}

/// A sim with a large bucket so functional tests are not rate limited.
pub fn relaxed() -> SimConfig {
    SimConfig {
        bucket_size: 100_000,
        leak_per_sec: 1000.0,
        ..SimConfig::default()
    }
}

pub async fn start(cfg: SimConfig) -> Ctx {
    let sim = NuvemshopSim::new(cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await;
    let base = format!("{}/{}", server.base_url(), sim.config().store_id);
    Ctx {
        token: sim.config().access_token.clone(),
        sim,
        server,
        client: Client::new(),
        base,
    }
}

impl Ctx {
    pub fn auth(&self, rb: RequestBuilder) -> RequestBuilder {
        rb.header("Authentication", format!("bearer {}", self.token))
            .header("User-Agent", UA)
    }
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.auth(self.client.get(format!("{}{path}", self.base)))
    }
    pub fn post(&self, path: &str, body: serde_json::Value) -> RequestBuilder {
        self.auth(self.client.post(format!("{}{path}", self.base)))
            .json(&body)
    }
    pub fn patch(&self, path: &str, body: serde_json::Value) -> RequestBuilder {
        self.auth(self.client.patch(format!("{}{path}", self.base)))
            .json(&body)
    }
    pub fn path(&self, p: &str) -> String {
        format!("/v1/{}{p}", self.sim.config().store_id)
    }
}

pub fn fixtures_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/nuvemshop");
    assert!(d.is_dir(), "fixtures not found at {}", d.display());
    d
}
