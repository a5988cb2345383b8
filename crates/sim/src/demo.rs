//! `ponte-sim nuvemshop` / `ponte sim nuvemshop`: a live simulated store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::nuvemshop::{NuvemshopSim, PaymentStatus, SimConfig};
use crate::SimError;

/// Options of the Nuvemshop demo.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9900")]
    pub listen: SocketAddr,
    /// Store id (path prefix `/v1/{store_id}`).
    #[arg(long, default_value_t = 123_456)]
    pub store_id: u64,
    /// Access token the API accepts (`Authentication: bearer <token>`).
    #[arg(long, default_value = "sim-token")]
    pub access_token: String,
    /// App secret used to sign webhooks.
    #[arg(long, default_value = "sim-secret")]
    pub app_secret: String,
    /// Orders generated at start.
    #[arg(long, default_value_t = 20)]
    pub orders: usize,
    /// Seed of the generated orders.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Directory with Nuvemshop fixture orders (loaded if it exists).
    #[arg(long, default_value = "fixtures/nuvemshop")]
    pub fixtures: PathBuf,
    /// Send signed notifications of live changes to this URL.
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Milliseconds between live changes (with --webhook-url).
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Leaky bucket size (0 disables rate limiting).
    #[arg(long, default_value_t = 40)]
    pub bucket_size: u32,
    /// Leak rate, requests per second.
    #[arg(long, default_value_t = 2.0)]
    pub leak_per_sec: f64,
}

/// Serves a simulated Nuvemshop store until Ctrl-C. With `--webhook-url`, keeps
/// creating, paying, packing, fulfilling and cancelling orders and sends a signed
/// notification for each change (also to webhooks registered via the API).
pub async fn run_demo(args: DemoArgs) -> Result<(), SimError> {
    let sim = NuvemshopSim::new(SimConfig {
        store_id: args.store_id,
        access_token: args.access_token.clone(),
        app_secret: args.app_secret.clone(),
        bucket_size: args.bucket_size,
        leak_per_sec: args.leak_per_sec,
        ..SimConfig::default()
    });
    if args.fixtures.is_dir() {
        let ids = sim.load_fixture_orders(&args.fixtures)?;
        println!(
            "loaded {} fixture order(s) from {}: {ids:?}",
            ids.len(),
            args.fixtures.display()
        );
    } else {
        println!("no fixtures at {} (skipped)", args.fixtures.display());
    }
    let ids = sim.generate_orders(args.orders, args.seed);
    println!("generated {} order(s) (seed {})", ids.len(), args.seed);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let server = sim.serve(listener).await;
    let base = format!("{}/{}", server.base_url(), args.store_id);
    println!("Nuvemshop simulator listening: {base}");
    println!(
        "  curl -H 'Authentication: bearer {}' -H 'User-Agent: demo (dev@example.com)' '{base}/orders?per_page=5'",
        args.access_token
    );
    let result = match &args.webhook_url {
        Some(url) => {
            println!(
                "sending signed webhooks to {url} every {} ms (Ctrl-C to stop)",
                args.interval_ms
            );
            tokio::select! {
                r = live_changes(&sim, url, args.interval_ms, args.seed) => r,
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }
        None => {
            println!("Ctrl-C to stop");
            tokio::signal::ctrl_c().await.map_err(SimError::from)
        }
    };
    println!("stopping");
    server.shutdown().await;
    result
}

async fn live_changes(
    sim: &NuvemshopSim,
    url: &str,
    interval_ms: u64,
    seed: u64,
) -> Result<(), SimError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
    let mut step: u64 = 0;
    loop {
        tick.tick().await;
        step += 1;
        let (event, id) = match step % 5 {
            1 => {
                let id = sim
                    .generate_orders(1, seed.wrapping_add(step))
                    .first()
                    .copied()
                    .unwrap_or_default();
                ("order/created", id)
            }
            2 => match find(sim, |o| {
                o.1 == PaymentStatus::Pending.as_str() && o.2 == "open"
            }) {
                Some(id) => {
                    sim.set_payment_status(id, "paid")?;
                    ("order/paid", id)
                }
                None => continue,
            },
            3 => match find(sim, |o| o.1 == "paid" && o.3 == "unpacked" && o.2 == "open") {
                Some(id) => {
                    sim.pack(id)?;
                    ("order/packed", id)
                }
                None => continue,
            },
            4 => match find(sim, |o| {
                o.1 == "paid" && o.3 == "unshipped" && o.2 == "open"
            }) {
                Some(id) => {
                    sim.fulfill(id, &format!("QB{:09}BR", id % 1_000_000_000), None)?;
                    ("order/fulfilled", id)
                }
                None => continue,
            },
            _ => match find(sim, |o| o.1 == "pending" && o.2 == "open") {
                Some(id) => {
                    sim.cancel(id, "customer")?;
                    ("order/cancelled", id)
                }
                None => continue,
            },
        };
        match sim.send_webhook(&client, url, event, id).await {
            Ok(status) => println!("{event} order {id} -> {url}: HTTP {status}"),
            Err(e) => println!("{event} order {id} -> {url}: failed: {e}"),
        }
        for (u, r) in sim.fire_subscriptions(event, id).await {
            match r {
                Ok(status) => println!("{event} order {id} -> subscription {u}: HTTP {status}"),
                Err(e) => println!("{event} order {id} -> subscription {u}: failed: {e}"),
            }
        }
    }
}

/// Oldest order matching `(id, payment_status, status, shipping_status)`.
fn find(sim: &NuvemshopSim, pred: impl Fn(&(u64, &str, &str, &str)) -> bool) -> Option<u64> {
    sim.orders().iter().find_map(|o| {
        let s = |k: &str| {
            o.get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
        };
        let id = o.get("id").and_then(serde_json::Value::as_u64)?;
        let t = (id, s("payment_status"), s("status"), s("shipping_status"));
        pred(&t).then_some(id)
    })
}
