//! Panics over a real SQLite store: a job whose handling panics is retried, then
//! failed with `panic: ...`, and the claim loop goes on with the next; a loop that
//! panics gives back its jobs and is reported down until it runs again.

use super::*;
use crate::{ChannelInput, Cipher, EngineConfig, MasterKey};
use async_trait::async_trait;
use ponte_channels::{
    CallInfo, ConfigError, Connector, HookTarget, HookWant, Platform, PlatformError,
    PlatformErrorKind, PollCursor, PollResult, RateLimit, SendCheckError, SendReport, StockCall,
    StockItem, SubscriptionReport, WebhookAction, WebhookError, WebhookEvent,
};
use ponte_core::action::{Action, ActionKind};
use ponte_core::automation::NotSent;
use ponte_core::import::ImportPolicy;
use ponte_core::order::MappedOrder;
use ponte_core::retry::RetryPolicy;
use ponte_core::SystemClock;
use ponte_store::{DeliveryFilter, DeliveryState, NewJob, PageRequest, Store};
use serde_json::{json, Value};
use std::time::Instant;

/// A platform whose order fetch panics for order `boom` and finds no other order.
struct Panicky;

impl Platform for Panicky {
    fn name(&self) -> &'static str {
        "panicky"
    }
    fn validate_settings(&self, _: &Value) -> Result<Value, ConfigError> {
        Ok(json!({}))
    }
    fn validate_credentials(&self, _: &Value) -> Result<(), ConfigError> {
        Ok(())
    }
    fn base_url(&self, _: &Value) -> Result<String, ConfigError> {
        Ok("https://panicky.example".into())
    }
    fn connect(
        &self,
        _: &Value,
        _: &Value,
        _: ponte_channels::Outbound,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        Ok(Arc::new(Panicky))
    }
}

#[async_trait]
impl Connector for Panicky {
    fn import_policy(&self) -> ImportPolicy {
        ImportPolicy::All
    }
    fn rate_limit(&self) -> RateLimit {
        RateLimit {
            burst: 1e6,
            per_sec: 1e6,
        }
    }
    fn verify_webhook(
        &self,
        _: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        Ok(WebhookEvent {
            event: "order/created".into(),
            resource_id: Some(String::from_utf8_lossy(body).into_owned()),
            action: WebhookAction::ImportOrder,
        })
    }
    async fn fetch_order(&self, id: &str) -> (CallInfo, Result<MappedOrder, PlatformError>) {
        if id == "boom" {
            panic!("the platform answered nonsense");
        }
        let info = CallInfo {
            request: format!("GET /orders/{id}"),
            status: Some(404),
            duration: Duration::ZERO,
            response: None,
        };
        let err = PlatformError {
            kind: PlatformErrorKind::NotFound,
            status: Some(404),
            message: "HTTP 404: no such order".into(),
        };
        (info, Err(err))
    }
    async fn list_orders(&self, _: &PollCursor) -> (CallInfo, PollResult) {
        unreachable!("not polled")
    }
    async fn reconcile_subscription(&self, _: &HookTarget, _: HookWant) -> SubscriptionReport {
        unreachable!("no public URL")
    }
    fn stock_batch_key(&self, product_id: &str, _: &str) -> String {
        product_id.to_owned()
    }
    fn stock_batch_max(&self) -> usize {
        1
    }
    async fn push_stock(&self, _: &[StockItem]) -> Vec<StockCall> {
        unreachable!("no listings")
    }
    fn send_support(&self, _: ActionKind) -> Result<(), NotSent> {
        Ok(())
    }
    fn check_send(&self, _: &Action) -> Result<(), SendCheckError> {
        Ok(())
    }
    async fn send(&self, _: &str, _: &Action, _: Option<&str>) -> SendReport {
        unreachable!("no actions")
    }
}

/// An engine over a fresh SQLite database that knows the `panicky` platform; one
/// claim loop, imports tried twice.
async fn engine(dir: &tempfile::TempDir) -> Arc<Engine> {
    let store = ponte_store_sqlite::SqliteStore::open(&dir.path().join("ponte.db"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let store: Arc<dyn Store> = Arc::new(store);
    let key = MasterKey::parse(&"11".repeat(32)).unwrap_or_else(|e| panic!("{e}"));
    let config = EngineConfig {
        workers: 1,
        import_retry: RetryPolicy {
            base: Duration::from_millis(1),
            max: Duration::from_millis(1),
            max_attempts: 2,
        },
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(store, Arc::new(SystemClock), Cipher::new(&key), config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let Some(e) = Arc::get_mut(&mut engine) else {
        panic!("the engine is shared before the workers start")
    };
    e.platforms.insert("panicky", Arc::new(Panicky));
    engine
}

#[tokio::test]
async fn a_panicking_import_fails_that_job_and_the_loop_goes_on() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let engine = engine(&dir).await;
    let tenant = engine.default_tenant();
    let input = ChannelInput {
        platform: "panicky".into(),
        name: "Panicky".into(),
        settings: json!({}),
        credentials: json!({}),
    };
    let ch = engine
        .create_channel(tenant, input)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let workers = Workers::start(engine.clone());

    let headers = http::HeaderMap::new();
    for body in [&b"boom"[..], b"404"] {
        engine
            .receive_webhook(ch.id, &headers, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let page = PageRequest {
        cursor: None,
        limit: 10,
    };
    let started = Instant::now();
    let deliveries = loop {
        let d = engine
            .store
            .deliveries(tenant, &DeliveryFilter::default(), &page)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .items;
        if d.iter().all(|d| d.state != DeliveryState::Received) {
            break d;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{d:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let error_of = |id: &str| {
        let d = deliveries
            .iter()
            .find(|d| d.resource_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no delivery for {id}"));
        assert_eq!(d.state, DeliveryState::Failed, "{d:?}");
        d.error.clone().unwrap_or_default()
    };
    assert_eq!(error_of("boom"), "panic: the platform answered nonsense");
    assert!(
        error_of("404").contains("no such order"),
        "the next job ran"
    );
    let metrics = engine.render_metrics();
    assert!(
        metrics.contains("ponte_panics_total{kind=\"import_order\"} 2"),
        "tried twice: {metrics}"
    );
    assert_eq!(engine.ready(), Ok(()), "no worker loop went down");
    workers.stop().await;
}

/// How many due import jobs `owner` leases now.
async fn claimed(engine: &Engine, owner: &str) -> usize {
    let now = engine.clock.now();
    let jobs = engine
        .store
        .claim_jobs(owner, &[IMPORT_ORDER], 10, now, Duration::from_secs(60));
    jobs.await.unwrap_or_else(|e| panic!("{e}")).len()
}

#[tokio::test]
async fn a_panicked_loop_gives_back_its_jobs_and_is_not_ready_until_restarted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let engine = engine(&dir).await;
    let job = NewJob {
        kind: IMPORT_ORDER.into(),
        payload: json!({}),
        unique_key: None,
        run_at: engine.clock.now(),
    };
    let store = &engine.store;
    let l = engine
        .loops
        .add("claim-0".into(), Some("me/claim-0".into()));
    let (_stop, rx) = watch::channel(false);
    let mut runs = 0;
    let start = || {
        runs += 1;
        let first = runs == 1;
        let (engine, store, job) = (&engine, store, job.clone());
        async move {
            assert_eq!(engine.ready(), Ok(()), "running");
            if first {
                store
                    .enqueue(&[(engine.default_tenant(), job)])
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(claimed(engine, "me/claim-0").await, 1);
                panic!("the loop itself broke");
            }
        }
    };
    let after_panic = |panic: String| {
        let (engine, l) = (&engine, &l);
        async move {
            assert_eq!(panic, "the loop itself broke");
            assert_eq!(
                engine.ready().map_err(|e| e.to_string()),
                Err("worker loop not running: claim-0".to_owned())
            );
            engine.release_loop_leases(l).await;
            assert_eq!(
                claimed(engine, "another/claim-0").await,
                1,
                "its job was given back"
            );
        }
    };
    supervise(&l, rx, start, after_panic).await;
    assert_eq!(runs, 2, "restarted once");
    assert_eq!(engine.ready(), Ok(()));
}
