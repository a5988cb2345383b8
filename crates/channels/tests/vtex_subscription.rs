//! The VTEX hook against the simulator: configured once (the ping reaches a local
//! receiver), idempotent, repaired, moved off a stale public URL, removed only when it
//! is ponte's, ping failures and bad credentials reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod vtex_env;

use ponte_channels::vtex::hook::SECRET_HEADER;
use ponte_channels::{Connector, HookTarget, HookWant, PlatformErrorKind, SubscriptionReport};
use ponte_sim::vtex::{Method, ServerHandle, VtexSim};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHANNEL: &str = "0b9c5f3e-2f6a-4c7e-9d1a-3e5f7a9b1c2d";
const SECRET: &str = "channel-hook-secret-0123456789";
const HOOK: &str = "/api/orders/hook/config";

/// A minimal HTTP receiver answering every request with `status`; keeps each
/// request's text (head and body).
struct Receiver {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn receiver(status: u16) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = find(&buf, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf).into_owned());
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Receiver { base, seen }
}

impl Receiver {
    fn target(&self) -> HookTarget {
        target(&self.base)
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn target(base: &str) -> HookTarget {
    HookTarget {
        url: format!("{base}/webhooks/{CHANNEL}"),
        path: format!("/webhooks/{CHANNEL}"),
    }
}

struct Env {
    sim: VtexSim,
    server: ServerHandle,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Env {
        let (sim, server) = vtex_env::start().await;
        Env {
            sim,
            server,
            http: reqwest::Client::new(),
        }
    }

    fn connector_with(&self, settings: Value, token: &str, secret: &str) -> Arc<dyn Connector> {
        vtex_env::connect(&self.sim, &self.server, settings, token, secret)
    }

    fn connector(&self) -> Arc<dyn Connector> {
        let token = self.sim.config().app_token.clone();
        self.connector_with(json!({}), &token, SECRET)
    }

    /// Configures the hook behind ponte's back.
    async fn configure(&self, filter: Value, url: &str, headers: Value) {
        let c = self.sim.config();
        let r = self
            .http
            .post(format!("{}{HOOK}", self.server.base_url()))
            .header("X-VTEX-API-AppKey", &c.app_key)
            .header("X-VTEX-API-AppToken", &c.app_token)
            .json(&json!({"filter": filter, "hook": {"url": url, "headers": headers}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    }

    fn hook(&self) -> Option<Value> {
        self.sim.hook_config()
    }

    fn hook_writes(&self) -> usize {
        self.sim.request_count(&Method::POST, HOOK) + self.sim.request_count(&Method::DELETE, HOOK)
    }

    async fn stop(self) {
        self.server.shutdown().await;
    }
}

fn every_status() -> Vec<String> {
    let mut v: Vec<String> = ponte_channels::vtex::STATUSES
        .iter()
        .map(|(s, _)| (*s).to_owned())
        .collect();
    v.sort();
    v
}

fn status_of(hook: &Value) -> Vec<String> {
    let mut v: Vec<String> = hook["filter"]["status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

fn changes(r: &SubscriptionReport) -> Vec<String> {
    r.result.as_ref().unwrap().changes.clone()
}

fn only_reads(r: &SubscriptionReport) -> bool {
    !r.calls.is_empty() && r.calls.iter().all(|c| c.request == format!("GET {HOOK}"))
}

#[tokio::test]
async fn first_reconcile_configures_the_hook_then_changes_nothing() {
    let env = Env::start().await;
    let rx = receiver(200).await;
    let t = rx.target();
    let c = env.connector();

    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    let s = r.result.as_ref().unwrap();
    assert_eq!(s.changes, ["configured hook"]);
    assert_eq!(s.registered, every_status());
    let labels: Vec<&str> = r.calls.iter().map(|c| c.request.as_str()).collect();
    assert_eq!(labels, [format!("GET {HOOK}"), format!("POST {HOOK}")]);
    assert_eq!(r.calls[0].status, Some(404));

    let hook = env.hook().unwrap();
    assert_eq!(hook["hook"]["url"], t.url);
    assert_eq!(hook["hook"]["headers"][SECRET_HEADER], SECRET);
    assert_eq!(hook["filter"]["type"], "FromWorkflow");
    assert_eq!(status_of(&hook), every_status());
    let ping = rx.requests();
    assert_eq!(ping.len(), 1);
    assert!(ping[0].contains(&format!("/webhooks/{CHANNEL}")));
    assert!(ping[0]
        .to_ascii_lowercase()
        .contains(&format!("{SECRET_HEADER}: {}", SECRET.to_ascii_lowercase())));
    assert!(ping[0].contains("hookConfig"));

    let writes = env.hook_writes();
    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    assert!(changes(&r).is_empty());
    assert_eq!(r.result.as_ref().unwrap().registered, every_status());
    assert!(only_reads(&r), "{:?}", r.calls);
    assert_eq!(env.hook_writes(), writes);
    env.stop().await;
}

#[tokio::test]
async fn a_hook_deleted_or_altered_behind_pontes_back_is_repaired() {
    let env = Env::start().await;
    let rx = receiver(200).await;
    let t = rx.target();
    let c = env.connector();
    c.reconcile_subscription(&t, HookWant::Registered)
        .await
        .result
        .unwrap();

    // Deleted.
    env.http
        .delete(format!("{}{HOOK}", env.server.base_url()))
        .header("X-VTEX-API-AppKey", &env.sim.config().app_key)
        .header("X-VTEX-API-AppToken", &env.sim.config().app_token)
        .send()
        .await
        .unwrap();
    assert!(env.hook().is_none());
    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    assert_eq!(changes(&r), ["configured hook"]);
    assert_eq!(env.hook().unwrap()["hook"]["url"], t.url);

    // Same URL, another secret.
    env.configure(
        json!({"type": "FromWorkflow", "status": every_status()}),
        &t.url,
        json!({SECRET_HEADER: "someone-elses-secret"}),
    )
    .await;
    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    assert_eq!(
        changes(&r),
        ["reconfigured hook (filter or secret header out of date)"]
    );
    assert_eq!(
        env.hook().unwrap()["hook"]["headers"][SECRET_HEADER],
        SECRET
    );

    // Same URL and secret, a narrower filter.
    env.configure(
        json!({"type": "FromWorkflow", "status": ["payment-approved"]}),
        &t.url,
        json!({SECRET_HEADER: SECRET}),
    )
    .await;
    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    assert_eq!(changes(&r).len(), 1);
    assert_eq!(status_of(&env.hook().unwrap()), every_status());

    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    assert!(changes(&r).is_empty());
    assert!(only_reads(&r));
    env.stop().await;
}

#[tokio::test]
async fn a_stale_public_url_is_replaced() {
    let env = Env::start().await;
    let old = receiver(200).await;
    let new = receiver(200).await;
    let c = env.connector();
    c.reconcile_subscription(&old.target(), HookWant::Registered)
        .await
        .result
        .unwrap();

    let r = c
        .reconcile_subscription(&new.target(), HookWant::Registered)
        .await;
    assert_eq!(changes(&r), ["replaced stale hook (older public URL)"]);
    assert_eq!(env.hook().unwrap()["hook"]["url"], new.target().url);
    assert_eq!(new.requests().len(), 1, "the new URL was pinged");
    env.stop().await;
}

#[tokio::test]
async fn a_sales_channel_uses_an_orders_filter() {
    let env = Env::start().await;
    let rx = receiver(200).await;
    let t = rx.target();
    let token = env.sim.config().app_token.clone();
    let c = env.connector_with(json!({"sales_channel": "2"}), &token, SECRET);

    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    let s = r.result.as_ref().unwrap();
    assert_eq!(s.changes, ["configured hook"]);
    assert_eq!(s.registered, ["FromOrders: salesChannel = \"2\""]);
    assert_eq!(
        env.hook().unwrap()["filter"],
        json!({"type": "FromOrders", "expression": "salesChannel = \"2\"", "disableSingleFire": true})
    );

    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    assert!(changes(&r).is_empty());
    assert!(only_reads(&r));

    // The channel drops its sales channel: back to every status.
    let all = env.connector();
    let r = all.reconcile_subscription(&t, HookWant::Registered).await;
    assert_eq!(changes(&r).len(), 1);
    assert_eq!(status_of(&env.hook().unwrap()), every_status());
    env.stop().await;
}

#[tokio::test]
async fn another_hook_of_the_app_key_is_replaced_when_ponte_wants_one() {
    let env = Env::start().await;
    let rx = receiver(200).await;
    env.configure(
        json!({"type": "FromWorkflow", "status": ["invoiced"]}),
        &format!("{}/erp/orders", rx.base),
        json!({"key": "value"}),
    )
    .await;
    let c = env.connector();
    let r = c
        .reconcile_subscription(&rx.target(), HookWant::Registered)
        .await;
    assert_eq!(
        changes(&r),
        ["configured hook (replaced another hook of this appKey)"]
    );
    assert_eq!(env.hook().unwrap()["hook"]["url"], rx.target().url);
    env.stop().await;
}

#[tokio::test]
async fn removing_removes_this_channels_hook_only() {
    let env = Env::start().await;
    let rx = receiver(200).await;
    let t = rx.target();
    let c = env.connector();

    // Nothing configured: one read, nothing changed.
    let r = c.reconcile_subscription(&t, HookWant::Removed).await;
    assert!(changes(&r).is_empty());
    assert!(only_reads(&r));

    // Someone else's hook, and another channel's ponte hook (another secret).
    let every = json!({"type": "FromWorkflow", "status": every_status()});
    for (url, headers) in [
        (
            format!("{}/erp/orders", rx.base),
            json!({SECRET_HEADER: SECRET}),
        ),
        (
            format!("{}/webhooks/11111111-2222-3333-4444-555555555555", rx.base),
            json!({SECRET_HEADER: "another-channels-secret"}),
        ),
        (rx.target().url, json!({})),
    ] {
        env.configure(every.clone(), &url, headers).await;
        let r = c.reconcile_subscription(&t, HookWant::Removed).await;
        assert!(changes(&r).is_empty(), "{url}");
        assert!(only_reads(&r));
        assert_eq!(env.hook().unwrap()["hook"]["url"], url);
    }

    // Ours, at whatever public URL it was configured.
    let old = receiver(200).await;
    c.reconcile_subscription(&old.target(), HookWant::Registered)
        .await
        .result
        .unwrap();
    let r = c.reconcile_subscription(&t, HookWant::Removed).await;
    let s = r.result.as_ref().unwrap();
    assert_eq!(s.changes, ["removed hook"]);
    assert!(s.registered.is_empty());
    assert!(env.hook().is_none());
    assert_eq!(
        r.calls.last().map(|c| c.request.clone()),
        Some(format!("DELETE {HOOK}"))
    );

    let r = c.reconcile_subscription(&t, HookWant::Removed).await;
    assert!(changes(&r).is_empty());
    assert!(only_reads(&r));
    env.stop().await;
}

#[tokio::test]
async fn a_failed_ping_is_the_error() {
    let env = Env::start().await;
    let rx = receiver(500).await;
    let c = env.connector();
    let r = c
        .reconcile_subscription(&rx.target(), HookWant::Registered)
        .await;
    let e = r.result.as_ref().unwrap_err();
    assert_eq!(e.kind, PlatformErrorKind::Permanent);
    assert_eq!(e.status, Some(400));
    assert_eq!(rx.requests().len(), 1, "pinged once");
    assert!(env.hook().is_none());
    assert_eq!(r.calls.len(), 2);
    for call in &r.calls {
        assert!(!call.request.contains(SECRET));
        assert!(!call.response.as_deref().unwrap_or("").contains(SECRET));
    }
    env.stop().await;
}

#[tokio::test]
async fn a_wrong_token_is_an_auth_error() {
    let env = Env::start().await;
    let rx = receiver(200).await;
    let c = env.connector_with(json!({}), "wrong-token", SECRET);
    let r = c
        .reconcile_subscription(&rx.target(), HookWant::Registered)
        .await;
    assert_eq!(r.result.unwrap_err().kind, PlatformErrorKind::Auth);
    assert_eq!(r.calls.len(), 1);
    assert!(rx.requests().is_empty());
    assert!(env.hook().is_none());
    env.stop().await;
}
