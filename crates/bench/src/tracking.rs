//! `tracking`: shipped orders tracked per second over the Correios and Melhor Envio
//! simulators, within each carrier account's budget. A backlog of paid orders is
//! imported by a manual sync and shipped through the API (half with Correios codes,
//! half with Melhor Envio order ids); the carriers deliver a third of them; then one
//! `track_shipments` run is followed to its end. Every shipment must be asked about,
//! every delivered one confirmed, and no carrier may answer 429.

use crate::report::{emit, Row};
use crate::scenarios::{Setup, SetupSpec, Target};
use crate::server::TOKEN;
use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use ponte_sim::correios::{CorreiosConfig, CorreiosSim};
use ponte_sim::melhor_envio::{MeConfig, MeSim};
use ponte_sim::nuvemshop::{NewOrder, PaymentStatus};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The Correios account's budget (calls per second; the simulator allows 10).
const CORREIOS_PER_SEC: f64 = 8.0;
/// The Melhor Envio account's budget (the simulator allows 5).
const ME_PER_SEC: f64 = 4.0;

/// Options of `tracking`.
#[derive(Debug, clap::Args)]
pub struct TrackingArgs {
    #[command(flatten)]
    pub target: Target,
    /// Shipped orders.
    #[arg(long, default_value_t = 1_000)]
    pub orders: usize,
}

impl TrackingArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        Self {
            target,
            orders: if quick { 100 } else { 1_000 },
        }
    }
}

/// Runs the scenario: prints the table, writes `bench-results/tracking-<backend>.json`.
pub async fn tracking(a: TrackingArgs) -> anyhow::Result<Value> {
    if a.orders == 0 {
        bail!("--orders must be above 0");
    }
    let spec = SetupSpec {
        orders: a.orders,
        order: NewOrder {
            payment_status: PaymentStatus::Paid,
            ..NewOrder::default()
        },
        settings: json!({ "instant_events": false }),
        request_log: 1_000,
        env: vec![],
    };
    let (s, _) = Setup::with(spec, &a.target).await?;
    let correios = CorreiosSim::new(CorreiosConfig::default());
    let me = MeSim::new(MeConfig::default());
    let c_server = correios
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await;
    let me_server = me
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await;
    let out = measure(
        &s,
        &correios,
        &c_server.base_url(),
        &me,
        &me_server.base_url(),
        a.orders,
    )
    .await;
    s.finish().await;
    c_server.shutdown().await;
    me_server.shutdown().await;
    let (run, delivered) = out?;
    let at = |k: &str| -> anyhow::Result<DateTime<Utc>> {
        Ok(run[k]
            .as_str()
            .with_context(|| format!("run {k}"))?
            .parse()?)
    };
    let secs = (at("finished_at")? - at("started_at")?).num_milliseconds() as f64 / 1000.0;
    let count = |k: &str| run["counts"][k].as_u64().unwrap_or(0);
    let polls = count("seen") as f64 / secs.max(1e-9);
    let calls = count("calls");
    let limited = correios
        .requests()
        .iter()
        .chain(me.requests().iter())
        .filter(|r| r.status == 429)
        .count();
    // Calls per second allowed: both accounts together (tokens come on top for Correios).
    let budget = CORREIOS_PER_SEC + ME_PER_SEC;
    let calls_per_sec = calls as f64 / secs.max(1e-9);
    let mut wrong = vec![];
    if run["state"] != "succeeded" {
        wrong.push(format!("run {}: {}", run["state"], run["error"]));
    }
    if count("seen") != a.orders as u64 {
        wrong.push(format!(
            "{} shipments asked about of {}",
            count("seen"),
            a.orders
        ));
    }
    if count("delivered") != delivered as u64 {
        wrong.push(format!(
            "{} deliveries confirmed of {delivered}",
            count("delivered")
        ));
    }
    if limited > 0 {
        wrong.push(format!("{limited} carrier answers were 429"));
    }
    for w in &wrong {
        eprintln!("tracking: {w}");
    }
    let rows = vec![
        Row {
            name: "shipped orders",
            value: a.orders.to_string(),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "carrier calls (tokens included)",
            value: calls.to_string(),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "run wall time (s)",
            value: format!("{secs:.2}"),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "tracking polls (shipments/s)",
            value: format!("{polls:.0}"),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "carrier calls/s",
            value: format!("{calls_per_sec:.1}"),
            target: format!("<= {budget:.0} (+ burst)"),
            ok: Some(limited == 0),
        },
    ];
    let figures = json!({
        "orders": a.orders,
        "run_secs": secs,
        "polls_per_sec": polls,
        "carrier_calls": calls,
        "carrier_calls_per_sec": calls_per_sec,
        "rate_limited_answers": limited,
        "counts": run["counts"],
    });
    emit(
        "tracking",
        &a.target.label(),
        &rows,
        figures.clone(),
        wrong.is_empty(),
    )?;
    Ok(figures)
}

/// Imports and ships the backlog, moves the parcels, runs the tracking: the run's
/// final view and how many parcels were delivered.
async fn measure(
    s: &Setup,
    correios: &CorreiosSim,
    correios_url: &str,
    me: &MeSim,
    me_url: &str,
    n: usize,
) -> anyhow::Result<(Value, usize)> {
    let base = &s.servers[0].base;
    let channels = s.get("/api/v1/channels").await?;
    let ch = channels["items"][0]["id"]
        .as_str()
        .context("no channel")?
        .to_owned();
    let deadline = Duration::from_secs(300 + n as u64 / 10);
    let post = |path: String, body: Value| async move {
        let r: Value = s
            .http
            .post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::Ok(r)
    };
    let follow = |id: String| async move {
        let t0 = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let r = s.get(&format!("/api/v1/task-runs/{id}")).await?;
            if matches!(r["state"].as_str(), Some("succeeded" | "failed")) {
                return anyhow::Ok(r);
            }
            if t0.elapsed() > deadline {
                bail!("run {id} not finished after {deadline:?}: {r}");
            }
        }
    };
    let sync = post(
        format!("/api/v1/channels/{ch}/sync"),
        json!({"kind": "orders", "since": "2020-01-01T00:00:00Z"}),
    )
    .await?;
    follow(sync["id"].as_str().context("sync id")?.to_owned()).await?;
    let cfg = correios.config();
    post(
        "/api/v1/carrier-accounts".into(),
        json!({"carrier": "correios", "name": "Correios", "is_default": true,
               "settings": {"api_base_url": correios_url, "rate_limit_per_sec": CORREIOS_PER_SEC},
               "credentials": {"user": cfg.user, "access_code": cfg.access_code,
                               "postage_card": cfg.postage_card}}),
    )
    .await?;
    post(
        "/api/v1/carrier-accounts".into(),
        json!({"carrier": "melhor_envio", "name": "Melhor Envio",
               "settings": {"api_base_url": me_url, "rate_limit_per_sec": ME_PER_SEC},
               "credentials": {"access_token": me.config().access_token}}),
    )
    .await?;
    let mut ids = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/orders?limit=500&cursor={c}"),
            None => "/api/v1/orders?limit=500".to_owned(),
        };
        let page = s.get(&path).await?;
        for o in page["items"].as_array().context("items")? {
            ids.push(o["id"].as_str().context("id")?.to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    if ids.len() != n {
        bail!("{} orders imported of {n}", ids.len());
    }
    let mut delivered = 0;
    for (i, oid) in ids.iter().enumerate() {
        let (code, carrier) = if i.is_multiple_of(2) {
            let code = format!("AA{i:09}BR");
            correios.post(&code);
            if i.is_multiple_of(3) {
                correios.deliver(&code);
            }
            (code, "Correios")
        } else {
            let id = me.create_order(&format!("BB{i:09}BR"));
            me.post(&id);
            if i.is_multiple_of(3) {
                me.deliver(&id);
            }
            (id, "Melhor Envio")
        };
        if i.is_multiple_of(3) {
            delivered += 1;
        }
        post(
            format!("/api/v1/orders/{oid}/shipment"),
            json!({"tracking_code": code, "carrier": carrier, "shipped_at": "2026-11-23T12:00:00Z"}),
        )
        .await?;
    }
    let tasks = s.get("/api/v1/scheduled-tasks").await?;
    let task = tasks["items"]
        .as_array()
        .context("tasks")?
        .iter()
        .find(|t| t["kind"] == "track_shipments")
        .context("no track_shipments task")?;
    let run = post(
        format!(
            "/api/v1/scheduled-tasks/{}/run",
            task["id"].as_str().context("task id")?
        ),
        json!({}),
    )
    .await?;
    let run = follow(run["id"].as_str().context("run id")?.to_owned()).await?;
    Ok((run, delivered))
}
