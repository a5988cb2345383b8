//! `console`: every console page with real volumes. Fills a fresh database (SQLite, or
//! a scratch PostgreSQL database) with `--orders` orders spread over two years and three
//! status sends each (one attempt each; one order in a hundred has a failed send and a
//! blocked one), starts ponte on it, signs in as a browser does, and requests each page
//! `--samples` times one after the other: p50 / p95 / max per page, measured at the
//! client on loopback (so a little above the server's own time).
//!
//! The fill writes rows with SQL in bulk (the import and send paths would take an hour
//! for a million orders); it writes what those paths write, built from the same types.

mod fill;

use crate::pg::TestDb;
use crate::report::{emit, Row};
use crate::scenarios::Target;
use crate::server::{Server, TOKEN};
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::time::Instant;

/// Options of `console`.
#[derive(Debug, clap::Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    pub target: Target,
    /// Orders in the database (three status sends each).
    #[arg(long, default_value_t = 1_000_000)]
    pub orders: u64,
    /// Requests per page.
    #[arg(long, default_value_t = 40)]
    pub samples: usize,
}

impl ConsoleArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        Self {
            target,
            orders: if quick { 3_000 } else { 1_000_000 },
            samples: if quick { 3 } else { 40 },
        }
    }
}

/// p95 budget per page, in milliseconds.
const BUDGET_MS: f64 = 100.0;

/// Runs the scenario: prints the table, writes `bench-results/console-<backend>.json`.
pub async fn console(a: ConsoleArgs) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let db = match a.target.backend.as_str() {
        "postgres" => Some(TestDb::create().await?),
        "sqlite" => None,
        other => bail!("unknown backend `{other}`"),
    };
    let started = Instant::now();
    let filled = fill::fill(db.as_ref().map(|d| d.url.as_str()), dir.path(), a.orders).await?;
    let fill_secs = started.elapsed().as_secs_f64();
    println!(
        "console: filled {} orders and {} status sends in {fill_secs:.0} s",
        a.orders,
        3 * a.orders
    );
    let mut env = vec![];
    if let Some(db) = &db {
        env.push(("PONTE_DATABASE_URL", db.url.clone()));
        env.push(("PONTE_MASTER_KEY", "42".repeat(32)));
    }
    let server = Server::start(dir.path(), &env)?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = sign_in(&http, &server.base).await?;
    let mut rows = vec![];
    let mut figures = serde_json::Map::new();
    let mut correct = true;
    for (name, path) in pages(&filled) {
        let url = format!("{}{path}", server.base);
        let mut times = Vec::with_capacity(a.samples);
        for i in 0..=a.samples {
            let t = Instant::now();
            let r = http
                .get(&url)
                .header("cookie", &cookie)
                .send()
                .await
                .with_context(|| format!("GET {path}"))?;
            let status = r.status();
            let body = r.text().await?;
            if i == 0 {
                // The searches must find the order they name.
                let finds = !name.starts_with("orders by ")
                    || name == "orders by status"
                    || name == "orders by channel"
                    || name == "orders by name prefix"
                    || body.contains(&format!("/console/orders/{}", filled.order));
                if status != 200 || !body.contains("<h1") || !finds {
                    eprintln!("console: {path} answered {status} without what it should show");
                    correct = false;
                }
                continue; // warm-up
            }
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        let (p50, p95, max) = (at(0.5), at(0.95), at(1.0));
        figures.insert(
            name.to_owned(),
            json!({"path": path, "p50_ms": p50, "p95_ms": p95, "max_ms": max}),
        );
        rows.push(Row {
            name,
            value: format!("{p50:.1} / {p95:.1} / {max:.0} ms"),
            target: format!("p95 <= {BUDGET_MS} ms"),
            ok: Some(p95 <= BUDGET_MS),
        });
    }
    drop(server);
    if let Some(db) = db {
        db.drop_db().await;
    }
    let figures = json!({
        "orders": a.orders,
        "status_sends": 3 * a.orders,
        "fill_seconds": fill_secs,
        "samples": a.samples,
        "pages": figures,
    });
    emit(
        "console",
        &a.target.label(),
        &rows,
        figures.clone(),
        correct,
    )?;
    Ok(figures)
}

/// Every page, with filters that find something in the filled data.
fn pages(f: &fill::Filled) -> Vec<(&'static str, String)> {
    let c = &f.channels[0];
    vec![
        ("orders (newest first)", "/console/orders".into()),
        ("orders by status", "/console/orders?status=shipped".into()),
        (
            "orders by channel",
            format!("/console/orders?channel_id={c}"),
        ),
        (
            "orders by number",
            format!("/console/orders?q={}", f.number),
        ),
        ("orders by CPF", format!("/console/orders?q={}", f.document)),
        ("orders by e-mail", format!("/console/orders?q={}", f.email)),
        (
            "orders by name prefix",
            format!("/console/orders?q={}", f.name_prefix),
        ),
        (
            "orders in a week",
            format!("/console/orders?from={}&to={}", f.week.0, f.week.1),
        ),
        ("order page", format!("/console/orders/{}", f.order)),
        ("errors", "/console/errors".into()),
        (
            "errors of a channel",
            format!("/console/errors?channel_id={c}"),
        ),
        ("history (newest first)", "/console/history".into()),
        ("history failed", "/console/history?state=failed".into()),
        ("history of a kind", "/console/history?kind=shipment".into()),
        (
            "history of a channel",
            format!("/console/history?channel_id={c}"),
        ),
        (
            "history in a week",
            format!("/console/history?from={}&to={}", f.week.0, f.week.1),
        ),
        (
            "history of an order",
            format!("/console/history?order_id={}", f.order),
        ),
        ("channels", "/console/channels".into()),
        ("scheduled tasks", "/console/tasks".into()),
        ("stock", "/console/stock".into()),
        ("received webhooks", "/console/deliveries".into()),
        ("settings", "/console/settings".into()),
    ]
}

/// Signs in as a browser does; returns the `Cookie` header value of the session.
async fn sign_in(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let form = http.get(format!("{base}/console/login")).send().await?;
    let login = set_cookie(&form, "ponte_login")?;
    let body = form.text().await?;
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .context("no csrf field on the sign-in page")?
        .to_owned();
    let r = http
        .post(format!("{base}/console/login"))
        .header("cookie", login)
        .form(&[("token", TOKEN), ("csrf", csrf.as_str())])
        .send()
        .await?;
    if r.status() != 303 {
        bail!("sign-in answered {}", r.status());
    }
    set_cookie(&r, "ponte_session")
}

/// `name=value` of a cookie the response sets.
fn set_cookie(r: &reqwest::Response, name: &str) -> anyhow::Result<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
        .with_context(|| format!("no {name} cookie"))
}
