//! VTEX end-to-end harness (included by `tests/vtex.rs` only): ponte on a port known
//! before it starts, so `PONTE_PUBLIC_URL` can name it and the simulator's hook reaches
//! it, and a VTEX simulator served in this process.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub use crate::common::{run_now, task, until};
use crate::common::{wait_for, Ponte};
use ponte_sim::vtex::{NewItem, NewOrder, OrderStatus, ServerHandle, VtexConfig, VtexSim};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// A free loopback port: bound, read, released.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Starts `ponte serve` on a free port with `PONTE_PUBLIC_URL` pointing at it. The port
/// is released before ponte binds it, so a start that loses the port is tried again.
pub fn start_public(data_dir: &Path, extra_env: &[(&str, &str)]) -> Ponte {
    for _ in 0..5 {
        let port = free_port();
        if let Some(p) = try_start(data_dir, port, extra_env) {
            return p;
        }
    }
    panic!("ponte did not start on a free port");
}

fn try_start(data_dir: &Path, port: u16, extra_env: &[(&str, &str)]) -> Option<Ponte> {
    let listen = format!("127.0.0.1:{port}");
    let public = format!("http://{listen}");
    let mut env = extra_env.to_vec();
    env.push(("PONTE_PUBLIC_URL", &public));
    Ponte::try_start(data_dir, &listen, &env)
}

/// A simulated VTEX account served on loopback.
pub struct Vtex {
    pub sim: VtexSim,
    pub server: ServerHandle,
    pub base_url: String,
}

impl Vtex {
    /// Hook retries are fast (200 ms, doubling) so a lost delivery is retried quickly.
    pub async fn start() -> Vtex {
        Self::start_with(Self::config()).await
    }

    /// The configuration [`Vtex::start`] uses.
    pub fn config() -> VtexConfig {
        VtexConfig {
            hook_retry_base: Duration::from_millis(200),
            ..VtexConfig::default()
        }
    }

    /// An account with `config`.
    pub async fn start_with(config: VtexConfig) -> Vtex {
        let sim = VtexSim::new(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = sim.serve(listener).await;
        let base_url = server.base_url();
        Vtex {
            sim,
            server,
            base_url,
        }
    }

    /// The body of a channel for this account, with `extra` settings merged in.
    pub fn channel_body(&self, extra: &Value) -> Value {
        let cfg = self.sim.config();
        let mut settings = json!({
            "account": cfg.account,
            "api_base_url": self.base_url,
            "import_policy": "paid_only",
            "rate_limit_per_sec": 1e6,
            "rate_limit_burst": 1e6,
        });
        if let Some(m) = extra.as_object() {
            for (k, v) in m {
                settings[k] = v.clone();
            }
        }
        json!({
            "platform": "vtex",
            "name": "Loja VTEX",
            "settings": settings,
            "credentials": {"app_key": cfg.app_key, "app_token": cfg.app_token},
        })
    }

    /// Creates the channel; returns the whole answer.
    pub async fn channel(&self, p: &Ponte, extra: &Value) -> Value {
        let (status, ch) = p.post("/api/v1/channels", &self.channel_body(extra)).await;
        assert_eq!(status, 201, "{ch}");
        ch
    }

    /// The secret header ponte configured on its hook at the simulator.
    pub fn hook_secret(&self) -> String {
        let cfg = self.sim.hook_config().expect("a hook is configured");
        cfg["hook"]["headers"][ponte_channels::vtex::hook::SECRET_HEADER]
            .as_str()
            .unwrap_or_else(|| panic!("no secret header in {cfg}"))
            .to_owned()
    }

    /// An order of one line (SKU `1` at 476.10) plus 23.90 shipping = 500.00, the
    /// total of the NF-e fixture. Created awaiting payment, then paid (two changes),
    /// unless `paid` is false.
    pub fn order(&self, paid: bool) -> String {
        let id = self.sim.create_order(NewOrder {
            status: OrderStatus::PaymentPending,
            items: vec![NewItem {
                sku_id: Some("1".into()),
                quantity: 1,
                price_cents: Some(47_610),
                name: None,
            }],
            shipping_cents: 2_390,
            discount_cents: 0,
            ..NewOrder::default()
        });
        if paid {
            self.sim.approve_payment(&id).unwrap();
        }
        id
    }

    /// Posts a notification body straight to `url` with `secret` (a redelivery, or one
    /// arriving late).
    pub async fn post_notification(
        http: &reqwest::Client,
        url: &str,
        secret: &str,
        body: &Value,
    ) -> u16 {
        http.post(url)
            .header(ponte_channels::vtex::hook::SECRET_HEADER, secret)
            .json(body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }

    /// `DELETE /api/orders/hook/config` with the app key, as the merchant would.
    pub async fn delete_hook(&self, http: &reqwest::Client) -> u16 {
        let cfg = self.sim.config();
        http.delete(format!("{}/api/orders/hook/config", self.base_url))
            .header("X-VTEX-API-AppKey", &cfg.app_key)
            .header("X-VTEX-API-AppToken", &cfg.app_token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// ponte's order of a platform id, once imported (waits up to `timeout`).
pub async fn imported(p: &Ponte, external_id: &str, timeout: Duration) -> Value {
    until(
        timeout,
        &format!("order {external_id} imported"),
        || async {
            let page = p
                .get(&format!("/api/v1/orders?external_id={external_id}"))
                .await;
            let o = page["items"][0].clone();
            (!o.is_null()).then_some(o)
        },
    )
    .await
}

/// The orders of a platform id (to count duplicates).
pub async fn orders_of(p: &Ponte, external_id: &str) -> Vec<Value> {
    let page = p
        .get(&format!("/api/v1/orders?external_id={external_id}"))
        .await;
    page["items"].as_array().unwrap().clone()
}

/// The order's status sends, in order.
pub async fn sends_of(p: &Ponte, order: &str) -> Vec<Value> {
    let page = p
        .get(&format!("/api/v1/status-sends?order_id={order}&limit=100"))
        .await;
    let mut v = page["items"].as_array().unwrap().clone();
    v.sort_by_key(|s| s["seq"].as_i64());
    v
}

/// Waits until the order has `n` sends, none pending; returns them.
pub async fn settled_sends(p: &Ponte, order: &str, n: usize) -> Vec<Value> {
    wait_for(Duration::from_secs(30), || async {
        let s = sends_of(p, order).await;
        s.len() == n && s.iter().all(|s| s["state"] != "pending")
    })
    .await;
    sends_of(p, order).await
}

/// The outcomes of a send's attempts.
pub fn outcomes(send: &Value) -> Vec<String> {
    send["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap_or_default().to_owned())
        .collect()
}
