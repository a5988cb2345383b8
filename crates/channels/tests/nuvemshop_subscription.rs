//! Nuvemshop webhook registrations against the simulator: created once, idempotent,
//! repaired, moved off a stale public URL, other webhooks untouched, removed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ponte_channels::{Connector, HookTarget, HookWant, PlatformErrorKind, SubscriptionReport};
use ponte_sim::nuvemshop::{Method, NuvemshopSim, ServerHandle, SimConfig};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const CHANNEL: &str = "0b9c5f3e-2f6a-4c7e-9d1a-3e5f7a9b1c2d";
const EVENTS: [&str; 6] = [
    "order/created",
    "order/updated",
    "order/paid",
    "order/packed",
    "order/fulfilled",
    "order/cancelled",
];

struct Env {
    sim: NuvemshopSim,
    server: ServerHandle,
    http: reqwest::Client,
}

fn target(base: &str) -> HookTarget {
    HookTarget {
        url: format!("{base}/webhooks/{CHANNEL}"),
        path: format!("/webhooks/{CHANNEL}"),
    }
}

impl Env {
    async fn start() -> Env {
        let sim = NuvemshopSim::new(SimConfig {
            bucket_size: 0,
            ..SimConfig::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = sim.serve(listener).await;
        Env {
            sim,
            server,
            http: reqwest::Client::new(),
        }
    }

    fn connector_with_token(&self, token: &str) -> Arc<dyn Connector> {
        let platform = ponte_channels::platforms()
            .into_iter()
            .find(|p| p.name() == "nuvemshop")
            .unwrap();
        let settings = json!({
            "store_id": self.sim.config().store_id,
            "api_base_url": self.server.base_url(),
        });
        let credentials = json!({"access_token": token, "app_secret": "s"});
        let http = ponte_channels::Outbound::new(Duration::from_secs(5), true).unwrap();
        platform.connect(&settings, &credentials, http).unwrap()
    }

    fn connector(&self) -> Arc<dyn Connector> {
        let token = self.sim.config().access_token.clone();
        self.connector_with_token(&token)
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}{path}",
            self.server.base_url(),
            self.sim.config().store_id
        )
    }

    fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header(
                "Authentication",
                format!("bearer {}", self.sim.config().access_token),
            )
            .header("User-Agent", "test (test@example.com)")
    }

    /// Registers a webhook behind ponte's back; its id.
    async fn add(&self, event: &str, url: &str) -> u64 {
        let r = self
            .api(reqwest::Method::POST, "/webhooks")
            .json(&json!({"event": event, "url": url}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        r.json::<Value>().await.unwrap()["id"].as_u64().unwrap()
    }

    async fn remove(&self, id: u64) {
        let r = self
            .api(reqwest::Method::DELETE, &format!("/webhooks/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }

    /// `(event, url)` of every webhook, sorted.
    fn hooks(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .sim
            .webhooks()
            .iter()
            .map(|w| {
                (
                    w["event"].as_str().unwrap().to_owned(),
                    w["url"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Events registered at exactly `url`, sorted.
    fn events_at(&self, url: &str) -> Vec<String> {
        self.hooks()
            .into_iter()
            .filter(|(_, u)| u == url)
            .map(|(e, _)| e)
            .collect()
    }

    fn writes(&self) -> usize {
        let p = format!("/v1/{}/webhooks", self.sim.config().store_id);
        [Method::POST, Method::PUT, Method::DELETE]
            .iter()
            .map(|m| self.sim.request_count(m, &p))
            .sum()
    }

    async fn stop(self) {
        self.server.shutdown().await;
    }
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

fn changes(r: &SubscriptionReport) -> Vec<String> {
    r.result.as_ref().unwrap().changes.clone()
}

fn only_reads(r: &SubscriptionReport) -> bool {
    r.calls.iter().all(|c| c.request.starts_with("GET "))
}

#[tokio::test]
async fn first_reconcile_creates_every_event_then_changes_nothing() {
    let env = Env::start().await;
    let c = env.connector();
    let t = target("https://ponte.example");

    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    let s = r.result.as_ref().unwrap();
    assert_eq!(s.registered, EVENTS);
    let mut want: Vec<String> = EVENTS.iter().map(|e| format!("created {e}")).collect();
    want.sort();
    let mut got = s.changes.clone();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(r.calls.len(), 7, "one listing and six POSTs");
    assert!(r
        .calls
        .iter()
        .all(|c| c.request.starts_with("GET /webhooks") || c.request == "POST /webhooks"));
    assert_eq!(env.events_at(&t.url), sorted(&EVENTS));

    let writes = env.writes();
    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    let s = r.result.as_ref().unwrap();
    assert_eq!(s.registered, EVENTS);
    assert!(s.changes.is_empty(), "{:?}", s.changes);
    assert!(only_reads(&r), "{:?}", r.calls);
    assert_eq!(env.writes(), writes);
    env.stop().await;
}

#[tokio::test]
async fn a_webhook_deleted_behind_pontes_back_is_recreated() {
    let env = Env::start().await;
    let c = env.connector();
    let t = target("https://ponte.example");
    c.reconcile_subscription(&t, HookWant::Registered)
        .await
        .result
        .unwrap();
    let paid = env
        .sim
        .webhooks()
        .into_iter()
        .find(|w| w["event"] == "order/paid")
        .unwrap();
    env.remove(paid["id"].as_u64().unwrap()).await;

    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    assert_eq!(changes(&r), ["created order/paid"]);
    assert_eq!(env.events_at(&t.url), sorted(&EVENTS));
    env.stop().await;
}

#[tokio::test]
async fn a_stale_public_url_is_replaced_and_others_are_untouched() {
    let env = Env::start().await;
    let old = target("https://old.example/ponte");
    let new = target("https://new.example");
    let paid = env.add("order/paid", &old.url).await;
    env.add("order/created", &old.url).await;
    // A ponte webhook for an event no longer imported, and someone else's webhooks
    // (another system; another ponte channel of the same store).
    let edited = env.add("order/edited", &old.url).await;
    let other_channel = "https://new.example/webhooks/11111111-2222-3333-4444-555555555555";
    let foreign = [
        ("order/paid", "https://erp.example/hooks/orders"),
        ("order/created", "https://erp.example/webhooks/orders"),
        ("order/paid", other_channel),
    ];
    for (e, u) in foreign {
        env.add(e, u).await;
    }
    // Already right for one event.
    env.add("order/cancelled", &new.url).await;

    let c = env.connector();
    let r = c.reconcile_subscription(&new, HookWant::Registered).await;
    let s = r.result.as_ref().unwrap();
    assert_eq!(s.registered, EVENTS);
    assert!(
        s.changes.contains(&format!(
            "moved webhook {paid} (order/paid) to the current URL"
        )),
        "{:?}",
        s.changes
    );
    assert!(s.changes.contains(&format!(
        "deleted webhook {edited} (order/edited: not imported)"
    )));
    assert_eq!(
        s.changes
            .iter()
            .filter(|c| c.starts_with("created "))
            .count(),
        3,
        "{:?}",
        s.changes
    );
    assert_eq!(env.events_at(&new.url), sorted(&EVENTS));
    assert!(env.events_at(&old.url).is_empty());
    let hooks = env.hooks();
    for (e, u) in foreign {
        assert!(
            hooks.contains(&(e.to_owned(), u.to_owned())),
            "{u} was touched"
        );
    }
    assert_eq!(hooks.len(), 6 + foreign.len());

    let r = c.reconcile_subscription(&new, HookWant::Registered).await;
    assert!(changes(&r).is_empty());
    assert!(only_reads(&r));
    env.stop().await;
}

#[tokio::test]
async fn a_duplicate_is_deleted() {
    let env = Env::start().await;
    let t = target("https://ponte.example");
    let stale = target("https://older.example");
    let c = env.connector();
    c.reconcile_subscription(&t, HookWant::Registered)
        .await
        .result
        .unwrap();
    let dup = env.add("order/paid", &stale.url).await;

    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    assert_eq!(
        changes(&r),
        [format!("deleted stale webhook {dup} (order/paid)")]
    );
    assert_eq!(env.hooks().len(), 6);
    env.stop().await;
}

#[tokio::test]
async fn removing_removes_this_channels_webhooks_only() {
    let env = Env::start().await;
    let t = target("https://ponte.example");
    let c = env.connector();
    let foreign = [
        ("order/paid", "https://erp.example/hooks/orders".to_owned()),
        (
            "order/paid",
            "https://erp.example/webhooks/orders".to_owned(),
        ),
        (
            "order/paid",
            "https://ponte.example/webhooks/11111111-2222-3333-4444-555555555555".to_owned(),
        ),
    ];
    for (e, u) in &foreign {
        env.add(e, u).await;
    }
    c.reconcile_subscription(&t, HookWant::Registered)
        .await
        .result
        .unwrap();
    assert_eq!(env.hooks().len(), 6 + foreign.len());
    // Left over under an older public URL: this channel's too.
    env.add(
        "order/created",
        &format!("https://old.example/webhooks/{CHANNEL}"),
    )
    .await;

    let r = c.reconcile_subscription(&t, HookWant::Removed).await;
    let s = r.result.as_ref().unwrap();
    assert!(s.registered.is_empty());
    assert_eq!(s.changes.len(), 7, "{:?}", s.changes);
    assert!(s.changes.iter().all(|c| c.starts_with("deleted webhook ")));
    let mut left: Vec<(String, String)> = foreign
        .iter()
        .map(|(e, u)| ((*e).to_owned(), u.clone()))
        .collect();
    left.sort();
    assert_eq!(env.hooks(), left);

    let r = c.reconcile_subscription(&t, HookWant::Removed).await;
    assert!(changes(&r).is_empty());
    assert!(only_reads(&r));
    env.stop().await;
}

#[tokio::test]
async fn a_long_listing_is_walked() {
    let env = Env::start().await;
    for i in 0..205 {
        env.add("order/paid", &format!("https://erp.example/hooks/{i}"))
            .await;
    }
    let t = target("https://ponte.example");
    let c = env.connector();
    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    assert_eq!(r.result.as_ref().unwrap().changes.len(), 6);
    let gets: Vec<&str> = r
        .calls
        .iter()
        .map(|c| c.request.as_str())
        .filter(|c| c.starts_with("GET "))
        .collect();
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(gets[1].contains("since_id="), "{gets:?}");

    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    assert!(changes(&r).is_empty());
    assert!(only_reads(&r));
    assert_eq!(env.hooks().len(), 205 + 6);
    env.stop().await;
}

#[tokio::test]
async fn a_wrong_token_is_an_auth_error() {
    let env = Env::start().await;
    let c = env.connector_with_token("wrong");
    let r = c
        .reconcile_subscription(&target("https://ponte.example"), HookWant::Registered)
        .await;
    let e = r.result.unwrap_err();
    assert_eq!(e.kind, PlatformErrorKind::Auth);
    assert_eq!(r.calls.len(), 1);
    assert!(env.hooks().is_empty());
    for call in &r.calls {
        assert!(!call.request.contains("wrong"), "no token in labels");
    }
    env.stop().await;
}

#[tokio::test]
async fn a_url_outside_its_path_is_refused_before_any_call() {
    let env = Env::start().await;
    let c = env.connector();
    let t = HookTarget {
        url: "https://ponte.example/hooks/x".into(),
        path: format!("/webhooks/{CHANNEL}"),
    };
    let r = c.reconcile_subscription(&t, HookWant::Registered).await;
    assert_eq!(r.result.unwrap_err().kind, PlatformErrorKind::Permanent);
    assert!(r.calls.is_empty());
    env.stop().await;
}
