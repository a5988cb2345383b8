//! End-to-end harness: the real `ponte` binary as a child process, a Nuvemshop
//! simulator in this process, and an HTTP client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod pg;

use pg::{TestDb, MASTER_KEY};
use ponte_sim::nuvemshop::{NuvemshopSim, ServerHandle, SimConfig};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// Runs each scenario `async fn name(backend: Backend)` once per backend, as the tests
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::common::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$scenario($crate::common::Backend::Postgres).await;
            }
        }
    )+};
}

/// The store a scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded file in the data directory.
    Sqlite,
    /// A scratch PostgreSQL database.
    Postgres,
}

/// Where a scenario's ponte keeps its data: a data directory and, on PostgreSQL, a
/// scratch database every instance of the scenario shares (dropped at the end).
pub struct Storage {
    /// The first instance's data directory (where SQLite keeps its file).
    pub dir: tempfile::TempDir,
    /// The database, on PostgreSQL.
    pub db: Option<TestDb>,
}

impl Storage {
    pub async fn new(backend: Backend) -> Storage {
        let db = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDb::create().await),
        };
        Storage {
            dir: tempfile::tempdir().unwrap(),
            db,
        }
    }

    /// The PostgreSQL database (panics on SQLite).
    pub fn pg(&self) -> &TestDb {
        self.db.as_ref().expect("a PostgreSQL scenario")
    }

    /// What an instance needs to run on this storage: nothing on SQLite; on PostgreSQL
    /// the database, the master key, a small pool (the tests share one server) and a
    /// short lease, so a killed instance's jobs come back within seconds (SQLite takes
    /// them back at restart).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match &self.db {
            None => vec![],
            Some(db) => vec![
                ("PONTE_DATABASE_URL", db.url.clone()),
                ("PONTE_MASTER_KEY", MASTER_KEY.to_owned()),
                ("PONTE_DATABASE_MAX_CONNECTIONS", "6".to_owned()),
                ("PONTE_JOB_LEASE_SECS", "5".to_owned()),
            ],
        }
    }

    /// Starts ponte in the data directory; `extra_env` comes last (it may override).
    pub fn start(&self, extra_env: &[(&str, &str)]) -> Ponte {
        self.start_in(self.dir.path(), extra_env)
    }

    /// Starts an instance with data directory `dir` on this storage (on SQLite the data
    /// is the directory's own).
    pub fn start_in(&self, dir: &Path, extra_env: &[(&str, &str)]) -> Ponte {
        let env = self.env();
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(extra_env);
        Ponte::start(dir, &all)
    }

    /// Whether `needle` can be read as it is in the stored data: in the SQLite file and
    /// its write-ahead log, or in any row of the PostgreSQL database.
    pub async fn shows(&self, needle: &str) -> bool {
        match &self.db {
            Some(db) => db.shows(needle).await,
            None => {
                let db = std::fs::read(self.dir.path().join("ponte.db")).unwrap();
                let wal = std::fs::read(self.dir.path().join("ponte.db-wal")).unwrap_or_default();
                [db, wal]
                    .iter()
                    .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            }
        }
    }
}

/// A running ponte process.
pub struct Ponte {
    pub child: Child,
    pub base: String,
    /// Where `/metrics` answers (`base` unless `PONTE_METRICS_LISTEN` is set).
    pub metrics_base: String,
    pub data_dir: PathBuf,
    pub http: reqwest::Client,
}

impl Ponte {
    /// Starts `ponte serve` on a free port with `data_dir`, waiting until it listens.
    pub fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> Ponte {
        Self::try_start(data_dir, "127.0.0.1:0", extra_env).expect("ponte did not start")
    }

    /// Starts `ponte serve` listening on `listen`; `None` when it exits at start (the
    /// port was taken).
    pub fn try_start(data_dir: &Path, listen: &str, extra_env: &[(&str, &str)]) -> Option<Ponte> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ponte"));
        cmd.args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .env("PONTE_API_TOKEN", TOKEN)
            .env("PONTE_LOG", "warn")
            .env("PONTE_IMPORT_RETRY_BASE_MS", "100")
            .env("PONTE_SEND_RETRY_BASE_MS", "100")
            // The simulators listen on loopback.
            .env("PONTE_ALLOW_PRIVATE_NETWORKS", "true")
            // Job counts in /metrics are read in the background: often, for `settle`.
            .env("PONTE_METRICS_REFRESH_MS", "100")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ponte");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut metrics = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("ponte metrics listening on ") {
                    metrics = Some(url.to_owned());
                }
                if let Some(url) = line.strip_prefix("ponte listening on ") {
                    let _ = tx.send((url.to_owned(), metrics.clone()));
                }
            }
        });
        let started = Instant::now();
        loop {
            if let Ok((base, metrics)) = rx.recv_timeout(Duration::from_millis(100)) {
                return Some(Ponte {
                    child,
                    metrics_base: metrics.unwrap_or_else(|| base.clone()),
                    base,
                    data_dir: data_dir.to_owned(),
                    http: reqwest::Client::new(),
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                eprintln!("ponte exited at start ({status})");
                return None;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "ponte did not start"
            );
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "ponte exited with {status}");
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .patch(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates a Nuvemshop channel pointing at the simulator.
    pub async fn nuvemshop_channel(&self, sim: &Sim, policy: &str) -> (String, String) {
        // The simulators of most tests have no rate limit: neither has the channel.
        self.nuvemshop_channel_limited(sim, policy, 1e6, 1e6).await
    }

    /// A Nuvemshop channel with this request budget.
    pub async fn nuvemshop_channel_limited(
        &self,
        sim: &Sim,
        policy: &str,
        per_sec: f64,
        burst: f64,
    ) -> (String, String) {
        let (status, ch) = self
            .post(
                "/api/v1/channels",
                &json!({
                    "platform": "nuvemshop",
                    "name": "Loja Teste",
                    "settings": {"store_id": sim.sim.config().store_id.to_string(), "api_base_url": sim.base_url,
                                 "import_policy": policy, "rate_limit_per_sec": per_sec, "rate_limit_burst": burst},
                    "credentials": {"access_token": sim.sim.config().access_token, "app_secret": sim.sim.config().app_secret}
                }),
            )
            .await;
        assert_eq!(status, 201, "{ch}");
        (
            ch["id"].as_str().unwrap().to_owned(),
            ch["webhook_url"].as_str().unwrap().to_owned(),
        )
    }

    /// Notifies ponte that the simulator's order `ext` was paid and waits until it is
    /// imported; returns ponte's order id.
    pub async fn imported(&self, sim: &Sim, url: &str, ext: u64) -> String {
        assert_eq!(sim.notify(&self.http, url, "order/paid", ext).await, 200);
        until(
            Duration::from_secs(20),
            &format!("order {ext} imported"),
            || async {
                let page = self.get(&format!("/api/v1/orders?external_id={ext}")).await;
                page["items"][0]["id"].as_str().map(str::to_owned)
            },
        )
        .await
    }

    /// Every order, through the paginated API.
    pub async fn all_orders(&self) -> Vec<Value> {
        let mut out = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/orders?limit=500&cursor={c}"),
                None => "/api/v1/orders?limit=500".to_owned(),
            };
            let page = self.get(&path).await;
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }

    /// Prometheus text whose job counts and database size were read after this call
    /// began (ponte reads them in the background), so they show everything done before.
    pub async fn metrics(&self) -> String {
        let asked = chrono::Utc::now().timestamp_millis();
        let start = Instant::now();
        loop {
            let text = self
                .http
                .get(format!("{}/metrics", self.metrics_base))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let read = value_of(&text, "ponte_database_figures_read_timestamp_seconds");
            if read.is_some_and(|s| (s * 1000.0).round() as i64 >= asked) {
                return text;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "/metrics figures not refreshed in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A metric's value for an exact `name{labels}` key, 0 when absent.
    pub async fn metric(&self, key: &str) -> f64 {
        value_of(&self.metrics().await, key).unwrap_or(0.0)
    }

    /// Waits until no job is pending or running and no delivery is still `received`.
    pub async fn settle(&self, timeout: Duration) {
        let start = Instant::now();
        loop {
            let text = self.metrics().await;
            let pending = value_of(&text, "ponte_jobs{state=\"pending\"}").unwrap_or(0.0);
            let running = value_of(&text, "ponte_jobs{state=\"running\"}").unwrap_or(0.0);
            let waiting = self
                .get("/api/v1/webhook-deliveries?state=received&limit=1")
                .await;
            if pending == 0.0 && running == 0.0 && waiting["items"].as_array().unwrap().is_empty() {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "not settled after {timeout:?}: pending {pending}, running {running}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The value of an exact `name{labels}` key in Prometheus text.
pub fn value_of(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

impl Drop for Ponte {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A simulated Nuvemshop store served on loopback.
pub struct Sim {
    pub sim: NuvemshopSim,
    pub server: Option<ServerHandle>,
    pub base_url: String,
}

impl Sim {
    pub async fn start(config: SimConfig) -> Sim {
        let sim = NuvemshopSim::new(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = sim.serve(listener).await;
        let base_url = server.base_url();
        Sim {
            sim,
            server: Some(server),
            base_url,
        }
    }

    /// No rate limit, so tests measure ponte, not the bucket.
    pub fn unlimited() -> SimConfig {
        SimConfig {
            bucket_size: 0,
            ..SimConfig::default()
        }
    }

    /// Posts a signed notification; returns the HTTP status (0 if no answer).
    pub async fn notify(&self, http: &reqwest::Client, url: &str, event: &str, id: u64) -> u16 {
        self.sim
            .send_webhook(http, url, event, id)
            .await
            .unwrap_or(0)
    }

    /// Posts `body` with an explicit signature header value.
    pub async fn post_raw(
        http: &reqwest::Client,
        url: &str,
        body: Vec<u8>,
        signature: Option<&str>,
    ) -> (u16, Value) {
        let mut req = http
            .post(url)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(s) = signature {
            req = req.header("X-Linkedstore-HMAC-SHA256", s);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// The status ponte should show for a simulator order (the default DE-PARA table).
pub fn expected_status(order: &Value) -> String {
    let s = |k: &str| order[k].as_str().map(str::to_owned);
    let platform = ponte_core::order::PlatformStatus {
        status: s("status"),
        payment_status: s("payment_status"),
        shipping_status: s("shipping_status"),
    };
    ponte_channels::nuvemshop::default_status_table()
        .status_of(&[], &platform)
        .as_str()
        .to_owned()
}

/// Whether ponte imports a simulator order seen for the first time in this state: not
/// cancelled, not already closed or shipped (seed 001).
pub fn importable(o: &Value) -> bool {
    let shipped = matches!(
        o["shipping_status"].as_str(),
        Some("shipped" | "fulfilled" | "delivered")
    );
    expected_status(o) != "cancelled" && o["status"] != "closed" && !shipped
}

pub async fn wait_for<F, Fut>(timeout: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < timeout,
            "condition not met after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `f` every 50 ms until it gives a value; panics after `timeout`.
pub async fn until<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "{what}: not reached after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The channel's task of `kind`.
pub async fn task(p: &Ponte, channel: &str, kind: &str) -> Value {
    let list = p
        .get(&format!("/api/v1/scheduled-tasks?channel_id={channel}"))
        .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} task in {list}"))
}

/// Runs a task now and waits for the run to end; returns the run.
pub async fn run_now(p: &Ponte, task_id: &str) -> Value {
    let (status, run) = p
        .post(
            &format!("/api/v1/scheduled-tasks/{task_id}/run"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    until(Duration::from_secs(30), "task run finished", || async {
        let out = p.get(&format!("/api/v1/task-runs/{run_id}")).await;
        (out["state"] == "succeeded" || out["state"] == "failed").then_some(out)
    })
    .await
}
