//! `mercadolivre`: notification -> order stored, and stock pushes per second, against
//! the Mercado Livre simulator.
//!
//! Notifications: the simulator posts `orders_v2` to ponte's webhook as orders are
//! created at a steady rate; ponte stores each delivery, answers, then fetches the
//! order, its billing data and its shipment with the seller's token (3 calls). The
//! time from creation to the order being listed by ponte is sampled every 20 ms per
//! order (p50/p99), with the answer times the simulator saw. Every order must be held
//! once.
//!
//! Stock: items with one variation each listed on the channel, one bulk count, and
//! the time until the simulator shows every value (one `PUT /items/{id}` per item).

use crate::report::{emit, Row};
use crate::scenarios::Target;
use crate::stock::hub::{Hub, Item, WAREHOUSE};
use anyhow::{bail, Context};
use ponte_sim::mercadolivre::{Method, MlConfig, MlSim, NewMlOrder};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Orders per second the simulator creates (and notifies).
const ORDER_RATE: u64 = 50;

/// Options of `mercadolivre`.
#[derive(Debug, clap::Args)]
pub struct MlArgs {
    #[command(flatten)]
    pub target: Target,
    /// Orders created (and notified).
    #[arg(long, default_value_t = 1_000)]
    pub orders: usize,
    /// Items listed on the channel in the stock phase.
    #[arg(long, default_value_t = 1_000)]
    pub items: usize,
}

impl MlArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        Self {
            target,
            orders: if quick { 100 } else { 1_000 },
            items: if quick { 100 } else { 1_000 },
        }
    }
}

async fn start_sim(
    config: MlConfig,
) -> anyhow::Result<(MlSim, ponte_sim::mercadolivre::ServerHandle)> {
    let sim = MlSim::new(config);
    let server = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await;
    Ok((sim, server))
}

async fn channel(hub: &Hub, sim: &MlSim, base: &str, extra: Value) -> anyhow::Result<String> {
    let c = sim.config();
    let mut settings = json!({"seller_id": c.seller_id, "api_base_url": base, "import_policy": "all",
                              "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6});
    if let (Some(s), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let ch = hub
        .post(
            "/api/v1/channels",
            &json!({"platform": "mercadolivre", "name": "bench ml", "settings": settings,
                    "credentials": {"client_id": c.client_id, "client_secret": c.client_secret,
                                    "refresh_token": c.refresh_token, "access_token": c.access_token}}),
        )
        .await?;
    Ok(ch["id"].as_str().context("channel id")?.to_owned())
}

/// Runs the scenario: prints the figures, writes `bench-results/mercadolivre-<backend>.json`.
pub async fn mercadolivre(a: MlArgs) -> anyhow::Result<Value> {
    if a.target.instances > 1 {
        bail!("mercadolivre measures one instance; drop --instances");
    }
    let notif = notifications(&a).await?;
    let stock = stock(&a).await?;
    let label = a.target.label();
    println!("\n== mercadolivre ({label}) ==");
    println!(
        "notifications: {} orders at {ORDER_RATE}/s -> stored: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms \
         (sampled every 20 ms); webhook answer p50 {:.1} ms, p99 {:.1} ms; {} held",
        a.orders, notif.p50, notif.p99, notif.max, notif.ack_p50, notif.ack_p99, notif.held
    );
    println!(
        "stock: {} items (one variation each) counted at once -> every value at ML: {:.2} s, {:.0} pushes/s",
        a.items, stock.secs, stock.rate()
    );
    let rows = vec![
        Row {
            name: "notification -> order stored p99",
            value: format!("{:.0} ms", notif.p99),
            target: "-".into(),
            ok: None,
        },
        Row {
            name: "webhook answer p99",
            value: format!("{:.1} ms", notif.ack_p99),
            target: "< 500 ms".into(),
            ok: Some(notif.ack_p99 < 500.0),
        },
        Row {
            name: "stock pushes/s",
            value: format!("{:.0}", stock.rate()),
            target: "-".into(),
            ok: None,
        },
    ];
    let figures = json!({
        "orders": a.orders, "order_rate": ORDER_RATE,
        "stored_p50_ms": notif.p50, "stored_p99_ms": notif.p99, "stored_max_ms": notif.max,
        "answer_p50_ms": notif.ack_p50, "answer_p99_ms": notif.ack_p99, "held": notif.held,
        "items": a.items, "stock_secs": stock.secs, "stock_pushes_per_sec": stock.rate(),
        "wrong": notif.wrong.iter().chain(&stock.wrong).collect::<Vec<_>>(),
    });
    for w in notif.wrong.iter().chain(&stock.wrong) {
        eprintln!("mercadolivre: {w}");
    }
    let correct = notif.wrong.is_empty() && stock.wrong.is_empty();
    emit("mercadolivre", &label, &rows, figures.clone(), correct)?;
    Ok(figures)
}

struct Notif {
    p50: f64,
    p99: f64,
    max: f64,
    ack_p50: f64,
    ack_p99: f64,
    held: usize,
    wrong: Vec<String>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
    sorted.get(i).copied().unwrap_or(0.0)
}

async fn notifications(a: &MlArgs) -> anyhow::Result<Notif> {
    let (sim, server) = start_sim(MlConfig::default()).await?;
    let hub = Hub::start(&a.target).await?;
    let out = notifications_run(a, &hub, &sim, &server.base_url()).await;
    hub.finish().await;
    server.shutdown().await;
    out
}

async fn notifications_run(
    a: &MlArgs,
    hub: &Hub,
    sim: &MlSim,
    base: &str,
) -> anyhow::Result<Notif> {
    let ch = channel(hub, sim, base, json!({})).await?;
    sim.set_callback_url(Some(format!("{}/webhooks/{ch}", hub.base())));
    let mut created: HashMap<String, Instant> = HashMap::new();
    let mut stored: HashMap<String, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1_000 / ORDER_RATE));
    let deadline = Instant::now() + Duration::from_secs(120 + a.orders as u64 / 10);
    let mut sample = Instant::now();
    while stored.len() < a.orders && Instant::now() < deadline {
        if created.len() < a.orders {
            tick.tick().await;
            let id = sim.create_order(NewMlOrder::default());
            created.insert(id.to_string(), Instant::now());
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if sample.elapsed() >= Duration::from_millis(20) {
            sample = Instant::now();
            for (ext, _) in hub.orders().await? {
                stored.entry(ext).or_insert(sample);
            }
        }
    }
    hub.jobs_idle(Duration::from_secs(60)).await?;
    let held = hub.orders().await?;
    let mut lat: Vec<f64> = created
        .iter()
        .filter_map(|(id, t)| Some(stored.get(id)?.duration_since(*t).as_secs_f64() * 1000.0))
        .collect();
    lat.sort_by(f64::total_cmp);
    let mut acks: Vec<f64> = sim
        .deliveries()
        .iter()
        .filter(|d| d.attempt == 1 && d.status == Some(200))
        .map(|d| d.took.as_secs_f64() * 1000.0)
        .collect();
    acks.sort_by(f64::total_cmp);
    let mut wrong = vec![];
    if held.len() != a.orders {
        wrong.push(format!("{} orders held, {} created", held.len(), a.orders));
    }
    if lat.len() != a.orders {
        wrong.push(format!("{} of {} orders seen stored", lat.len(), a.orders));
    }
    Ok(Notif {
        p50: quantile(&lat, 0.5),
        p99: quantile(&lat, 0.99),
        max: lat.last().copied().unwrap_or(0.0),
        ack_p50: quantile(&acks, 0.5),
        ack_p99: quantile(&acks, 0.99),
        held: held.len(),
        wrong,
    })
}

struct Stock {
    secs: f64,
    pushes: usize,
    wrong: Vec<String>,
}

impl Stock {
    fn rate(&self) -> f64 {
        self.pushes as f64 / self.secs.max(1e-9)
    }
}

async fn stock(a: &MlArgs) -> anyhow::Result<Stock> {
    let (sim, server) = start_sim(MlConfig::default()).await?;
    let hub = Hub::start(&a.target).await?;
    let out = stock_run(a, &hub, &sim, &server.base_url()).await;
    hub.finish().await;
    server.shutdown().await;
    out
}

async fn stock_run(a: &MlArgs, hub: &Hub, sim: &MlSim, base: &str) -> anyhow::Result<Stock> {
    let items: Vec<Item> = (0..a.items as u64)
        .map(|i| (1_000 + i, 100_000 + i, format!("ML-{i:06}")))
        .collect();
    for (p, v, _) in &items {
        sim.add_item(&p.to_string(), 0, &[(*v, 0)]);
    }
    hub.catalogue(&items).await?;
    let ch = channel(
        hub,
        sim,
        base,
        json!({"send_stock": true, "stock_warehouses": [WAREHOUSE], "debit_warehouse": WAREHOUSE, "stock_buffer": 0}),
    )
    .await?;
    hub.list(&ch, &items).await?;
    let timeout = Duration::from_secs(120 + a.items as u64 / 5);
    hub.settled(std::slice::from_ref(&ch), timeout).await?;
    let before = sim.request_count(&Method::PUT, "/items/");
    let movements: Vec<Value> = items
        .iter()
        .map(
            |(_, _, sku)| json!({"sku": sku, "warehouse": WAREHOUSE, "set": 40, "reason": "bench"}),
        )
        .collect();
    let t0 = Instant::now();
    hub.post(
        "/api/v1/stock/movements",
        &json!({ "movements": movements }),
    )
    .await?;
    hub.settled(std::slice::from_ref(&ch), timeout).await?;
    let secs = t0.elapsed().as_secs_f64();
    let pushes = sim.request_count(&Method::PUT, "/items/") - before;
    let off = items
        .iter()
        .filter(|(p, v, _)| sim.item_quantity(&p.to_string(), Some(*v)) != Some(40))
        .count();
    let mut wrong = vec![];
    if off > 0 {
        wrong.push(format!("{off} items do not show 40 at ML"));
    }
    Ok(Stock {
        secs,
        pushes,
        wrong,
    })
}
