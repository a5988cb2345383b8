//! Status sends over a real SQLite store, a fake platform that answers each send as
//! scripted and a clock the test moves: how a platform error is classified, how a
//! channel's budget defers claimed sends, and that an order's sends go out in order.

use super::HELD_RECHECK;
use crate::{ChannelInput, Cipher, Engine, EngineConfig, MasterKey};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_channels::{
    CallInfo, ConfigError, Connector, HookTarget, HookWant, Platform, PlatformError,
    PlatformErrorKind, PollCursor, PollResult, RateLimit, SendCheckError, SendReport, StockCall,
    StockItem, SubscriptionReport, WebhookError, WebhookEvent,
};
use ponte_core::action::{Action, ActionKind};
use ponte_core::automation::NotSent;
use ponte_core::import::ImportPolicy;
use ponte_core::order::MappedOrder;
use ponte_core::retry::RetryPolicy;
use ponte_core::{ChannelId, Clock, OrderId, OrderStatus, TenantId};
use ponte_store::claim::ClaimRequest;
use ponte_store::conformance::sends::invoice;
use ponte_store::conformance::{commit, delivery, fetched, mapped};
use ponte_store::{
    AttemptOutcome, ImportApplied, PageRequest, SendFilter, SendState, StatusSend, Store,
    SEND_JOB_KIND,
};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A clock that stands still until the test moves it.
struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    fn advance(&self, d: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now = ponte_core::wait::after(*now, d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A platform whose sends are answered from a script (`None`: success; an empty
/// script succeeds) and recorded.
struct Fake {
    limit: RateLimit,
    answers: Mutex<VecDeque<Option<PlatformErrorKind>>>,
    sent: Mutex<Vec<(String, ActionKind)>>,
    /// Sends wait while the test holds it.
    hold: tokio::sync::RwLock<()>,
    /// Calls each send makes beyond its first.
    extra_calls: std::sync::atomic::AtomicUsize,
}

impl Fake {
    fn sent(&self) -> Vec<(String, ActionKind)> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    fn answer(&self, kinds: impl IntoIterator<Item = Option<PlatformErrorKind>>) {
        let mut a = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        a.extend(kinds);
    }
}

/// The platform handing out the shared [`Fake`] connector.
struct FakePlatform(Arc<Fake>);

impl Platform for FakePlatform {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn validate_settings(&self, _: &Value) -> Result<Value, ConfigError> {
        Ok(json!({}))
    }
    fn validate_credentials(&self, _: &Value) -> Result<(), ConfigError> {
        Ok(())
    }
    fn base_url(&self, _: &Value) -> Result<String, ConfigError> {
        Ok("https://fake.example".into())
    }
    fn connect(
        &self,
        _: &Value,
        _: &Value,
        _: ponte_channels::Outbound,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        Ok(self.0.clone())
    }
}

#[async_trait]
impl Connector for Fake {
    fn import_policy(&self) -> ImportPolicy {
        ImportPolicy::All
    }
    fn rate_limit(&self) -> RateLimit {
        self.limit
    }
    fn verify_webhook(&self, _: &http::HeaderMap, _: &[u8]) -> Result<WebhookEvent, WebhookError> {
        unreachable!("no webhooks")
    }
    async fn fetch_order(&self, _: &str) -> (CallInfo, Result<MappedOrder, PlatformError>) {
        unreachable!("orders are imported by the test")
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
    async fn send(&self, external_id: &str, action: &Action, _: Option<&str>) -> SendReport {
        drop(self.hold.read().await);
        let sent = (external_id.to_owned(), action.kind());
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sent);
        let answer = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let answer = { answer }.pop_front().flatten();
        let status = match &answer {
            None => 200,
            Some(PlatformErrorKind::RateLimited(_)) => 429,
            Some(PlatformErrorKind::Auth) => 401,
            Some(PlatformErrorKind::Transient) => 503,
            Some(_) => 422,
        };
        let call = CallInfo {
            request: format!("PUT /orders/{external_id}"),
            status: Some(status),
            duration: Duration::ZERO,
            response: None,
        };
        let extra = self.extra_calls.load(std::sync::atomic::Ordering::Relaxed);
        SendReport {
            request: call.request.clone(),
            calls: vec![call; 1 + extra],
            result: match answer {
                None => Ok(()),
                Some(kind) => Err(PlatformError {
                    kind,
                    status: Some(status),
                    message: format!("HTTP {status}"),
                }),
            },
        }
    }
}

/// Backoff of a send retry: between 4 s and 8 s.
const BACKOFF: Duration = Duration::from_secs(8);

/// An engine over a fresh SQLite database, its clock, fake connector and channel.
struct Harness {
    engine: Arc<Engine>,
    clock: Arc<ManualClock>,
    fake: Arc<Fake>,
    tenant: TenantId,
    channel: ChannelId,
    /// Claims know no channel's budget (as a loop that has not loaded the channel):
    /// the engine budgets the claimed jobs itself.
    unbudgeted: bool,
    _dir: tempfile::TempDir,
}

async fn harness(limit: RateLimit) -> Harness {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = ponte_store_sqlite::SqliteStore::open(&dir.path().join("ponte.db"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let store: Arc<dyn Store> = Arc::new(store);
    let key = MasterKey::parse(&"11".repeat(32)).unwrap_or_else(|e| panic!("{e}"));
    let clock = Arc::new(ManualClock(Mutex::new(ponte_store::conformance::t0())));
    let config = EngineConfig {
        send_retry: RetryPolicy {
            base: BACKOFF,
            max: BACKOFF,
            max_attempts: 10,
        },
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(store, clock.clone(), Cipher::new(&key), config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let fake = Arc::new(Fake {
        limit,
        answers: Mutex::default(),
        sent: Mutex::default(),
        hold: tokio::sync::RwLock::default(),
        extra_calls: Default::default(),
    });
    let Some(e) = Arc::get_mut(&mut engine) else {
        panic!("the engine is shared before the workers start")
    };
    e.platforms
        .insert("fake", Arc::new(FakePlatform(fake.clone())));
    let tenant = engine.default_tenant();
    let input = ChannelInput {
        platform: "fake".into(),
        name: "Fake".into(),
        settings: json!({}),
        credentials: json!({}),
    };
    let channel = engine
        .create_channel(tenant, input)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    Harness {
        engine,
        clock,
        fake,
        tenant,
        channel,
        unbudgeted: false,
        _dir: dir,
    }
}

/// No rate limit to speak of.
const UNLIMITED: RateLimit = RateLimit {
    burst: 1e6,
    per_sec: 1e6,
};

impl Harness {
    /// Imports order `ext` (approved) and returns its id.
    async fn order(&self, ext: &str) -> OrderId {
        let (s, now) = (&self.engine.store, self.clock.now());
        let (t, c) = (self.tenant, self.channel);
        s.accept_deliveries(&[delivery(t, c, ext, now)])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let jobs = s
            .claim_jobs(
                "test/import",
                &["import_order"],
                10,
                now,
                Duration::from_secs(60),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        let o = mapped(ext, OrderStatus::Approved, now);
        let c = commit(&jobs[0], t, c, ext, now, fetched(o, ImportPolicy::All));
        match s.apply_imports(vec![c], now).await.as_deref() {
            Ok([ImportApplied::Created(id)]) => *id,
            other => panic!("{other:?}"),
        }
    }

    /// Applies an ERP action whose status send is queued.
    async fn act(&self, order: OrderId, action: Action) {
        let r = self
            .engine
            .order_action(self.tenant, order, action, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(r.send, crate::SendPlan::Queued(_)), "{:?}", r.send);
    }

    /// One pass of a claim loop at the clock's now (claim, budget, send, record);
    /// returns how many jobs the claim deferred for want of tokens.
    async fn round(&self) -> u32 {
        let e = &self.engine;
        let req = ClaimRequest {
            owner: "test/claim-0",
            kinds: &[SEND_JOB_KIND],
            limit: 32,
            now: self.clock.now(),
            lease: Duration::from_secs(60),
        };
        let budgets = if self.unbudgeted {
            std::collections::HashMap::new()
        } else {
            e.channel_cache.budgets()
        };
        let claimed = e
            .store
            .claim_work(&req, &budgets)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut jobs = claimed.jobs;
        jobs.extend(e.within_budget(claimed.unbudgeted).await);
        if !jobs.is_empty() {
            e.run_sends(jobs).await;
        }
        e.run_started(claimed.sends).await;
        claimed.deferred
    }

    /// The order's sends, by `seq`.
    async fn sends(&self, order: OrderId) -> Vec<StatusSend> {
        let filter = SendFilter {
            order_id: Some(order),
            ..SendFilter::default()
        };
        let page = PageRequest {
            cursor: None,
            limit: 50,
        };
        let mut s = (self.engine.store)
            .status_sends(self.tenant, &filter, &page)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .items;
        s.sort_by_key(|s| s.seq);
        s
    }

    /// When the next pending job is due.
    async fn next_run_at(&self) -> Option<DateTime<Utc>> {
        (self.engine.store.next_run_at(&[]).await).unwrap_or_else(|e| panic!("{e}"))
    }
}

fn outcomes(s: &StatusSend) -> Vec<AttemptOutcome> {
    s.attempts.iter().map(|a| a.outcome).collect()
}

fn at(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    ponte_core::wait::after(now, d)
}

/// A single send (an invoice) on a new order, answered once with `kind`.
async fn one_answer(kind: PlatformErrorKind) -> (Harness, OrderId, DateTime<Utc>) {
    let h = harness(UNLIMITED).await;
    let o = h.order("1").await;
    h.act(o, invoice()).await;
    h.fake.answer([Some(kind)]);
    let now = h.clock.now();
    assert_eq!(h.round().await, 0);
    (h, o, now)
}

#[tokio::test]
async fn a_transient_error_with_attempts_left_is_retried_after_a_backoff_and_counted() {
    let (h, o, now) = one_answer(PlatformErrorKind::Transient).await;
    let s = &h.sends(o).await[0];
    assert_eq!(s.state, SendState::Pending);
    assert_eq!(s.attempts_used, 1, "counted");
    assert_eq!(outcomes(s), [AttemptOutcome::Retrying]);
    let due = h.next_run_at().await.unwrap_or_else(|| panic!("no job"));
    assert!(
        due >= at(now, BACKOFF / 2) && due <= at(now, BACKOFF),
        "{due}"
    );
}

#[tokio::test]
async fn a_transient_error_on_the_last_attempt_fails_the_send() {
    let (h, o, _) = one_answer(PlatformErrorKind::Transient).await;
    // Default automations: three attempts.
    h.fake.answer([
        Some(PlatformErrorKind::Transient),
        Some(PlatformErrorKind::Transient),
    ]);
    for _ in 0..2 {
        h.clock.advance(BACKOFF);
        assert_eq!(h.round().await, 0);
    }
    let s = &h.sends(o).await[0];
    assert_eq!(s.state, SendState::Failed);
    assert_eq!(s.attempts_used, 3);
    use AttemptOutcome::{Failed, Retrying};
    assert_eq!(outcomes(s), [Retrying, Retrying, Failed]);
    assert_eq!(h.next_run_at().await, None, "no job left");
    assert_eq!(h.fake.sent().len(), 3);
}

#[tokio::test]
async fn rate_limited_waits_as_told_without_using_an_attempt() {
    let wait = Duration::from_secs(42);
    let (h, o, now) = one_answer(PlatformErrorKind::RateLimited(wait)).await;
    let s = &h.sends(o).await[0];
    assert_eq!(s.state, SendState::Pending);
    assert_eq!(s.attempts_used, 0, "not counted");
    assert_eq!(outcomes(s), [AttemptOutcome::RateLimited]);
    assert_eq!(h.next_run_at().await, Some(at(now, wait)));
}

#[tokio::test]
async fn an_auth_failure_holds_the_send_for_the_recheck_period() {
    let (h, o, now) = one_answer(PlatformErrorKind::Auth).await;
    let s = &h.sends(o).await[0];
    assert_eq!(s.state, SendState::Pending);
    assert_eq!(s.attempts_used, 0, "not counted");
    assert_eq!(outcomes(s), [AttemptOutcome::Held]);
    assert_eq!(h.next_run_at().await, Some(at(now, HELD_RECHECK)));
}

#[tokio::test]
async fn a_permanent_error_fails_the_send_at_once() {
    let (h, o, _) = one_answer(PlatformErrorKind::Permanent).await;
    let s = &h.sends(o).await[0];
    assert_eq!(s.state, SendState::Failed);
    assert_eq!(s.attempts_used, 1);
    assert_eq!(outcomes(s), [AttemptOutcome::Failed]);
    assert_eq!(h.next_run_at().await, None);
}

mod budget;
mod direct;
mod ordering;
