//! What the `stock` phases stand on: simulated stores (one per channel) and a fresh
//! ponte with the warehouse, the products, the channels and their listings, every
//! initial value pushed.

use crate::pg::TestDb;
use crate::scenarios::Target;
use crate::sends::probe::CpuProbe;
use crate::server::{Server, TOKEN};
use anyhow::{bail, Context};
use futures::{StreamExt, TryStreamExt};
use ponte_sim::nuvemshop::{Method, NuvemshopSim, RequestRecord, ServerHandle, SimConfig};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The warehouse every channel shows.
pub const WAREHOUSE: &str = "SP";
/// Nuvemshop's documented leaky bucket: size.
pub const BUCKET: u32 = 40;
/// Nuvemshop's documented leaky bucket: requests leaked per second.
pub const LEAK_PER_SEC: f64 = 2.0;
/// The time Nuvemshop's documented limit allows at best for `calls` per store: the
/// calls beyond the bucket at the leak rate, the stores in parallel.
pub fn limit_floor(calls: usize) -> Duration {
    let beyond = calls.saturating_sub(BUCKET as usize);
    Duration::from_secs_f64(beyond as f64 / LEAK_PER_SEC)
}

/// Store id of the first simulated store (the next ones count up).
const FIRST_STORE: u64 = 123_456;
/// Products created at once.
const PRODUCT_CLIENTS: usize = 8;
/// Listings per request.
const LISTINGS_PER_REQUEST: usize = 10_000;

/// A catalogue entry: (platform product id, platform variant id, SKU).
pub type Item = (u64, u64, String);

/// A simulated Nuvemshop store on loopback (in this process, so its request log's
/// clock is ours).
pub struct Shop {
    /// The store.
    pub sim: NuvemshopSim,
    _server: ServerHandle,
    base_url: String,
}

impl Shop {
    /// Store number `n`, with Nuvemshop's documented rate limit or none.
    pub async fn start(n: usize, limited: bool) -> anyhow::Result<Shop> {
        let sim = NuvemshopSim::new(SimConfig {
            store_id: FIRST_STORE + n as u64,
            bucket_size: if limited { BUCKET } else { 0 },
            leak_per_sec: LEAK_PER_SEC,
            request_log_capacity: 500_000,
            ..SimConfig::default()
        });
        let server = sim
            .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
            .await;
        let base_url = server.base_url();
        Ok(Shop {
            sim,
            _server: server,
            base_url,
        })
    }

    /// `products` products of `variants` variants each, stock 0.
    pub fn catalogue(&self, products: usize, variants: usize) -> Vec<Item> {
        self.sim.add_catalogue(products, variants)
    }

    /// The stock push calls in the request log: (product id, arrival, status).
    pub fn pushes(&self) -> (Vec<(u64, Instant, u16)>, usize) {
        pushes(&self.sim.requests())
    }
}

/// Sorts a request log: the stock pushes (`PATCH /v1/{store}/products/{id}/variants`)
/// as (product id, arrival, status), and how many other requests there were.
fn pushes(log: &[RequestRecord]) -> (Vec<(u64, Instant, u16)>, usize) {
    let mut out = vec![];
    let mut other = 0;
    for r in log {
        let product = (r.method == Method::PATCH)
            .then(|| {
                let (_, rest) = r.path.strip_prefix("/v1/")?.split_once("/products/")?;
                let (id, tail) = rest.split_once('/')?;
                (tail == "variants").then(|| id.parse::<u64>().ok())?
            })
            .flatten();
        match product {
            Some(p) => out.push((p, r.at, r.status)),
            None => other += 1,
        }
    }
    (out, other)
}

/// A channel's stock values per state.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Not pushed yet.
    pub pending: u64,
    /// Shown by the platform.
    pub pushed: u64,
    /// Refused for good.
    pub failed: u64,
}

/// A fresh ponte (its own process, data directory and, for PostgreSQL, database).
pub struct Hub {
    server: Server,
    db: Option<TestDb>,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Hub {
    /// Starts ponte on `target` (one instance).
    pub async fn start(target: &Target) -> anyhow::Result<Hub> {
        let db = match target.backend.as_str() {
            "postgres" => Some(TestDb::create().await?),
            "sqlite" => None,
            other => bail!("unknown backend `{other}`"),
        };
        let mut env = vec![];
        if let Some(db) = &db {
            env.push(("PONTE_DATABASE_URL", db.url.clone()));
            env.push(("PONTE_MASTER_KEY", "42".repeat(32)));
        }
        let dir = tempfile::tempdir()?;
        let server = match Server::start(dir.path(), &env) {
            Ok(s) => s,
            Err(e) => {
                if let Some(db) = db {
                    db.drop_db().await;
                }
                return Err(e);
            }
        };
        Ok(Hub {
            server,
            db,
            _dir: dir,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
        })
    }

    /// Stops ponte and drops the scratch database.
    pub async fn finish(self) {
        drop(self.server);
        if let Some(db) = self.db {
            db.drop_db().await;
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let resp = req.bearer_auth(TOKEN).send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("{status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    /// `GET` an API path.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path))).await
    }

    /// `POST` a JSON body to an API path.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path)).json(body))
            .await
            .with_context(|| format!("POST {path}"))
    }

    /// `PATCH` a JSON body to an API path.
    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.patch(self.url(path)).json(body))
            .await
            .with_context(|| format!("PATCH {path}"))
    }

    /// The warehouse and one product per SKU.
    pub async fn catalogue(&self, items: &[Item]) -> anyhow::Result<()> {
        self.post(
            "/api/v1/warehouses",
            &json!({"code": WAREHOUSE, "name": "Depósito"}),
        )
        .await?;
        futures::stream::iter(items.iter().map(|(_, _, sku)| async move {
            self.post("/api/v1/products", &json!({"sku": sku, "name": sku}))
                .await
        }))
        .buffer_unordered(PRODUCT_CLIENTS)
        .try_collect::<Vec<_>>()
        .await?;
        Ok(())
    }

    /// A Nuvemshop channel to `shop` that shows the warehouse's stock, with no request
    /// budget of its own; its id.
    pub async fn channel(&self, shop: &Shop) -> anyhow::Result<String> {
        let cfg = shop.sim.config();
        let ch = self
            .post(
                "/api/v1/channels",
                &json!({
                    "platform": "nuvemshop", "name": format!("loja {}", cfg.store_id),
                    "settings": {
                        "store_id": cfg.store_id.to_string(), "api_base_url": shop.base_url,
                        "import_policy": "all", "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6,
                        "send_stock": true, "stock_warehouses": [WAREHOUSE],
                        "debit_warehouse": WAREHOUSE, "stock_buffer": 0
                    },
                    "credentials": {"access_token": cfg.access_token, "app_secret": cfg.app_secret}
                }),
            )
            .await?;
        Ok(ch["id"].as_str().context("channel: no id")?.to_owned())
    }

    /// Points a channel at `shop` (with its credentials: another host) with
    /// Nuvemshop's documented request budget.
    pub async fn limit(&self, channel: &str, shop: &Shop) -> anyhow::Result<()> {
        let cfg = shop.sim.config();
        self.patch(
            &format!("/api/v1/channels/{channel}"),
            &json!({"settings": {"api_base_url": shop.base_url,
                                 "rate_limit_per_sec": LEAK_PER_SEC,
                                 "rate_limit_burst": f64::from(BUCKET)},
                    "credentials": {"access_token": cfg.access_token, "app_secret": cfg.app_secret}}),
        )
        .await?;
        Ok(())
    }

    /// Links every SKU to its platform product and variant on the channel.
    pub async fn list(&self, channel: &str, items: &[Item]) -> anyhow::Result<()> {
        for chunk in items.chunks(LISTINGS_PER_REQUEST) {
            let listings: Vec<Value> = chunk
                .iter()
                .map(|(p, v, sku)| {
                    json!({"sku": sku, "product_id": p.to_string(), "variant_id": v.to_string()})
                })
                .collect();
            self.post(
                &format!("/api/v1/channels/{channel}/listings"),
                &json!({ "listings": listings }),
            )
            .await?;
        }
        Ok(())
    }

    /// Every order: (platform id, status).
    pub async fn orders(&self) -> anyhow::Result<Vec<(String, String)>> {
        crate::held::orders(&self.http, &self.server.base).await
    }

    /// A channel's stock values per state.
    pub async fn summary(&self, channel: &str) -> anyhow::Result<Summary> {
        let s = self
            .get(&format!("/api/v1/channels/{channel}/stock"))
            .await?;
        let n = |k: &str| s[k].as_u64().with_context(|| format!("stock summary: {k}"));
        Ok(Summary {
            pending: n("pending")?,
            pushed: n("pushed")?,
            failed: n("failed")?,
        })
    }

    /// Waits until no job is pending or running.
    pub async fn jobs_idle(&self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let (pending, running) =
                crate::scenarios::Setup::jobs_of(&self.http, &self.server.base).await?;
            if pending == 0.0 && running == 0.0 {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!("job queue not idle after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until no value of these channels is pending and the job queue is idle;
    /// fails if a value failed.
    pub async fn settled(&self, channels: &[String], timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        'wait: loop {
            for ch in channels {
                let s = self.summary(ch).await?;
                if s.failed > 0 {
                    bail!("channel {ch}: {} values failed", s.failed);
                }
                if s.pending > 0 {
                    if start.elapsed() > timeout {
                        bail!(
                            "channel {ch}: {} values pending after {timeout:?}",
                            s.pending
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue 'wait;
                }
            }
            break;
        }
        self.jobs_idle(timeout.saturating_sub(start.elapsed()))
            .await
    }

    /// CPU used so far by ponte, this process and PostgreSQL.
    pub fn cpu(&self) -> CpuProbe {
        let database = self.db.as_ref().and_then(|d| d.url.rsplit('/').next());
        CpuProbe::of(&[self.server.pid()], database)
    }

    /// ponte's base URL (`http://127.0.0.1:port`).
    pub fn base(&self) -> &str {
        &self.server.base
    }

    /// Peak RSS of ponte, MiB.
    pub fn rss_mb(&self) -> Option<u64> {
        self.server.rss_bytes().map(|b| b / 1_048_576)
    }
}

/// A fresh ponte whose channels (one per shop) list `items` (the same platform ids in
/// every shop) and show what ponte holds (0 everywhere): every initial value pushed.
/// With `twins`, each channel is set up against its twin (same store id, same
/// catalogue, no rate limit), then pointed at its shop with Nuvemshop's request budget:
/// the initial pushes do not eat the measured bucket.
pub async fn prepare(
    target: &Target,
    shops: &[Shop],
    twins: Option<&[Shop]>,
    items: &[Item],
) -> anyhow::Result<(Hub, Vec<String>)> {
    let hub = Hub::start(target).await?;
    match setup(&hub, shops, twins, items).await {
        Ok(channels) => Ok((hub, channels)),
        Err(e) => {
            hub.finish().await;
            Err(e)
        }
    }
}

async fn setup(
    hub: &Hub,
    shops: &[Shop],
    twins: Option<&[Shop]>,
    items: &[Item],
) -> anyhow::Result<Vec<String>> {
    hub.catalogue(items).await?;
    let first = twins.unwrap_or(shops);
    let mut channels = vec![];
    for shop in first {
        let ch = hub.channel(shop).await?;
        hub.list(&ch, items).await?;
        channels.push(ch);
    }
    let timeout = Duration::from_secs(600);
    hub.settled(&channels, timeout).await?;
    if twins.is_some() {
        for (ch, shop) in channels.iter().zip(shops) {
            hub.limit(ch, shop).await?;
        }
        hub.settled(&channels, timeout).await?;
        for ch in &channels {
            let s = hub.summary(ch).await?;
            if s.pushed != items.len() as u64 {
                bail!(
                    "channel {ch}: {} of {} values pushed after the switch",
                    s.pushed,
                    items.len()
                );
            }
        }
    }
    for shop in shops {
        shop.sim.clear_requests();
    }
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(method: Method, path: &str) -> RequestRecord {
        RequestRecord {
            method,
            path: path.into(),
            query: String::new(),
            status: 200,
            at: Instant::now(),
        }
    }

    #[test]
    fn only_variant_patches_are_pushes() {
        let log = [
            rec(Method::PATCH, "/v1/123456/products/7/variants"),
            rec(Method::PATCH, "/v1/123456/products/7/variants/9"),
            rec(Method::GET, "/v1/123456/products/7/variants"),
            rec(Method::PATCH, "/v1/123456/products/x/variants"),
            rec(Method::PATCH, "/v1/123456/products/8/variants"),
        ];
        let (p, other) = pushes(&log);
        let ids: Vec<u64> = p.iter().map(|x| x.0).collect();
        assert_eq!((ids, other), (vec![7, 8], 3));
    }
}
