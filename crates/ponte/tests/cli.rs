//! `ponte migrate` on both backends, and clear errors for a database that cannot be used;
//! `ponte sync orders` and `ponte stock resync` against a running server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{importable, Ponte, Sim, TOKEN};
use ponte_sim::faults::{Fault, FaultKind};
use ponte_sim::nuvemshop::Method;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

fn ponte(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ponte"))
        .args(args)
        .envs(env.iter().copied())
        .env("PONTE_LOG", "error")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn migrate_sqlite_twice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for _ in 0..2 {
        let (ok, out) = ponte(&["migrate", "--data-dir", d], &[]);
        assert!(ok, "{out}");
        assert!(out.contains("up to date"), "{out}");
    }
}

#[tokio::test]
async fn migrate_postgres_and_clear_errors() {
    let db = common::pg::TestDb::create().await;
    for _ in 0..2 {
        let (ok, out) = ponte(&["migrate", "--database-url", &db.url], &[]);
        assert!(ok, "{out}");
        assert!(
            out.contains("PostgreSQL database") && out.contains("up to date"),
            "{out}"
        );
    }
    drop(db);

    let (ok, out) = ponte(
        &[
            "migrate",
            "--database-url",
            "postgres://ponte:secret-pw@127.0.0.1:1/ponte",
        ],
        &[("PONTE_DATABASE_CONNECT_TIMEOUT_SECS", "1")],
    );
    assert!(!ok);
    assert!(out.contains("unreachable"), "{out}");
    assert!(
        !out.contains("secret-pw"),
        "the password is never printed: {out}"
    );

    let (ok, out) = ponte(
        &[
            "migrate",
            "--database-url",
            "postgres://no_such_role_ponte@127.0.0.1:5432/postgres",
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        out.contains("authentication failed") || out.contains("does not exist"),
        "{out}"
    );

    let (ok, out) = ponte(&["migrate", "--database-url", "mysql://x@y/z"], &[]);
    assert!(!ok);
    assert!(out.contains("unsupported database URL"), "{out}");
}

/// Runs `ponte sync orders ARGS` with stdout piped (not a terminal): (success, stdout,
/// stdout + stderr).
async fn sync_orders(args: &[&str]) -> (bool, String, String) {
    piped(&["sync", "orders"], args).await
}

/// Runs `ponte stock resync ARGS` as [`sync_orders`] does.
async fn stock_resync(args: &[&str]) -> (bool, String, String) {
    piped(&["stock", "resync"], args).await
}

/// Runs `ponte prices resync ARGS` as [`sync_orders`] does.
async fn prices_resync(args: &[&str]) -> (bool, String, String) {
    piped(&["prices", "resync"], args).await
}

/// Runs `ponte COMMAND ARGS` with stdout piped and no server settings from the
/// environment: (success, stdout, stdout + stderr).
async fn piped(command: &[&str], args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ponte"))
        .args(command)
        .args(args)
        .env_remove("PONTE_API_TOKEN")
        .env_remove("PONTE_URL")
        .env_remove("PONTE_DATA_DIR")
        .env("PONTE_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), stdout, all)
}

/// `key=<number>` in a line.
fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.split('/').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_orders_follows_the_run_and_imports_everything() {
    let sim = Sim::start(Sim::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let ponte = Ponte::start(dir.path(), &[]);
    let (ch, _) = ponte.nuvemshop_channel(&sim, "all").await;
    sim.sim.generate_orders(500, 11);
    // Slow listing pages, so the run is seen running.
    sim.sim.inject(
        Fault::new("/orders", 3, FaultKind::Delay(Duration::from_millis(500)))
            .with_method(reqwest::Method::GET),
    );

    let (ok, stdout, all) = sync_orders(&[
        "--url",
        &ponte.base,
        "--token",
        TOKEN,
        "--channel",
        &ch,
        "--since",
        "2020-01-01",
    ])
    .await;
    assert!(ok, "{all}");
    let lines: Vec<&str> = stdout.lines().collect();
    let summary = *lines.last().unwrap();
    assert!(
        summary.starts_with("sync ") && summary.contains(": succeeded seen="),
        "{stdout}"
    );
    assert!(
        summary.contains(" in ") && summary.ends_with('s'),
        "{summary}"
    );
    let run_id = summary["sync ".len()..].split(':').next().unwrap();
    let progress: Vec<&&str> = lines[..lines.len() - 1]
        .iter()
        .filter(|l| l.starts_with(&format!("sync {run_id}: ")))
        .collect();
    assert!(
        progress.iter().any(|l| l.contains(": queued seen=")),
        "{stdout}"
    );
    assert!(
        progress.iter().any(|l| l.contains(": running seen=")),
        "{stdout}"
    );
    // Pages ending inside a second read its orders again: seen may exceed 500.
    assert!(field(summary, "seen") >= 500, "{summary}");
    let importable = sim.sim.orders().iter().filter(|o| importable(o)).count();
    assert!(importable > 100, "{importable}");
    assert_eq!(field(summary, "created"), importable as u64, "{summary}");
    assert_eq!(ponte.all_orders().await.len(), importable);
    let run = ponte.get(&format!("/api/v1/task-runs/{run_id}")).await;
    assert_eq!(
        (run["state"].as_str(), run["trigger"].as_str()),
        (Some("succeeded"), Some("manual")),
        "{run}"
    );
    assert_eq!(run["since"], "2020-01-01T00:00:00Z", "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remap_applies_a_new_status_row_and_follows_the_run() {
    let sim = Sim::start(Sim::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let ponte = Ponte::start(dir.path(), &[]);
    let (ch, _) = ponte.nuvemshop_channel(&sim, "all").await;
    for _ in 0..50 {
        sim.sim
            .create_order(ponte_sim::nuvemshop::NewOrder::default());
    }
    let args = ["--url", &ponte.base, "--token", TOKEN, "--channel", &ch];
    let (ok, _, all) = sync_orders(&[&args[..], &["--since", "2020-01-01"]].concat()).await;
    assert!(ok, "{all}");
    let path = format!("/api/v1/channels/{ch}/status-map");
    let mut rows = ponte.get(&path).await["rows"].as_array().unwrap().clone();
    rows.insert(
        0,
        serde_json::json!({"payment_status": "pending", "to": "payment_in_review"}),
    );
    let r = ponte
        .http
        .put(format!("{}{path}", ponte.base))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "rows": rows }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let (ok, stdout, all) = piped(&["remap"], &args).await;
    assert!(ok, "{all}");
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.starts_with("remap ") && summary.contains(": succeeded seen=50"),
        "{stdout}"
    );
    assert_eq!(field(summary, "updated"), 50, "{summary}");
    assert!(ponte
        .all_orders()
        .await
        .iter()
        .all(|o| o["status"] == "payment_in_review"));
    // Another remap of a missing channel says so.
    let missing = ponte_core::ChannelId::new().to_string();
    let (ok, _, all) = piped(
        &["remap"],
        &[
            "--url",
            &ponte.base,
            "--token",
            TOKEN,
            "--channel",
            &missing,
        ],
    )
    .await;
    assert!(!ok && all.contains("channel"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_orders_explains_what_went_wrong() {
    let sim = Sim::start(Sim::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let ponte = Ponte::start(dir.path(), &[]);
    let (ch, _) = ponte.nuvemshop_channel(&sim, "all").await;
    // The token from a data directory's `api-token` file, as `ponte serve` writes it.
    let client_dir = tempfile::tempdir().unwrap();
    std::fs::write(client_dir.path().join("api-token"), format!("{TOKEN}\n")).unwrap();
    let data_dir = client_dir.path().to_str().unwrap();

    let missing = ponte_core::ChannelId::new().to_string();
    let (ok, _, out) = sync_orders(&[
        "--url",
        &ponte.base,
        "--data-dir",
        data_dir,
        "--channel",
        &missing,
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("404") && out.contains(&format!("no channel {missing}")),
        "{out}"
    );

    let (ok, _, out) =
        sync_orders(&["--url", &ponte.base, "--token", TOKEN, "--channel", "42"]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("not a channel id"), "{out}");

    let (ok, _, out) = sync_orders(&[
        "--url",
        &ponte.base,
        "--token",
        TOKEN,
        "--channel",
        &ch,
        "--since",
        "last week",
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(out.contains("--since"), "{out}");

    let (ok, _, out) = sync_orders(&[
        "--url",
        &ponte.base,
        "--token",
        "not-the-token",
        "--channel",
        &ch,
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("401") && out.contains("unauthorized") && out.contains("invalid token"),
        "{out}"
    );

    let (ok, _, out) = sync_orders(&[
        "--url",
        "http://127.0.0.1:1",
        "--token",
        TOKEN,
        "--channel",
        &ch,
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("cannot connect to ponte at http://127.0.0.1:1"),
        "{out}"
    );

    let (ok, _, out) = sync_orders(&[
        "--url",
        &ponte.base,
        "--channel",
        &ch,
        "--data-dir",
        dir.path().join("nowhere").to_str().unwrap(),
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(out.contains("no API token"), "{out}");

    // The platform fails: so does the run, and the CLI says why.
    sim.sim
        .inject(Fault::new("/orders", 50, FaultKind::Status(503)));
    let (ok, stdout, out) = sync_orders(&[
        "--url",
        &ponte.base,
        "--data-dir",
        data_dir,
        "--channel",
        &ch,
        "--since",
        "2020-01-01T00:00:00-03:00",
    ])
    .await;
    assert!(!ok, "{out}");
    let summary = stdout.lines().last().unwrap();
    assert!(summary.contains(": failed seen="), "{out}");
    assert!(
        out.contains("failed: platform_unavailable"),
        "the server's error: {out}"
    );
    sim.sim.clear_faults();

    // Another sync of the channel is running: 409 names it.
    sim.sim.generate_orders(10, 3);
    sim.sim.inject(
        Fault::new("/orders", 1, FaultKind::Delay(Duration::from_secs(3)))
            .with_method(reqwest::Method::GET),
    );
    let (status, run) = ponte
        .post(
            &format!("/api/v1/channels/{ch}/sync"),
            &json!({"kind": "orders", "since": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let busy = run["id"].as_str().unwrap();
    let (ok, _, out) = sync_orders(&[
        "--url",
        &ponte.base,
        "--data-dir",
        data_dir,
        "--channel",
        &ch,
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("409") && out.contains(busy) && out.contains("Wait"),
        "{out}"
    );
}

/// A channel that sends stock (warehouses SP and RJ) and `products` x `variants` of the
/// simulator's catalogue listed on it, stock set and pushed once: (channel id, the
/// catalogue, what the simulator should show per variant).
async fn stock_channel(
    ponte: &Ponte,
    sim: &Sim,
    products: usize,
    variants: usize,
    per_sec: f64,
) -> (String, Vec<(u64, u64, String)>, Vec<i64>) {
    for code in ["SP", "RJ"] {
        let (s, w) = ponte
            .post("/api/v1/warehouses", &json!({"code": code, "name": code}))
            .await;
        assert_eq!(s, 201, "{w}");
    }
    let catalogue = sim.sim.add_catalogue(products, variants);
    for (_, _, sku) in &catalogue {
        let (s, p) = ponte
            .post("/api/v1/products", &json!({"sku": sku, "name": sku}))
            .await;
        assert_eq!(s, 201, "{p}");
    }
    let (status, ch) = ponte
        .post(
            "/api/v1/channels",
            &json!({
                "platform": "nuvemshop",
                "name": "Loja",
                "settings": {"store_id": sim.sim.config().store_id.to_string(), "api_base_url": sim.base_url,
                             "import_policy": "all", "rate_limit_per_sec": per_sec, "rate_limit_burst": 1,
                             "send_stock": true, "stock_warehouses": ["SP", "RJ"], "debit_warehouse": "SP"},
                "credentials": {"access_token": sim.sim.config().access_token, "app_secret": sim.sim.config().app_secret}
            }),
        )
        .await;
    assert_eq!(status, 201, "{ch}");
    let ch = ch["id"].as_str().unwrap().to_owned();
    let listings: Vec<Value> = catalogue
        .iter()
        .map(|(p, v, sku)| json!({"sku": sku, "product_id": p.to_string(), "variant_id": v.to_string()}))
        .collect();
    let (s, l) = ponte
        .post(
            &format!("/api/v1/channels/{ch}/listings"),
            &json!({ "listings": listings }),
        )
        .await;
    assert_eq!(s, 200, "{l}");
    let rows: Vec<Value> = catalogue
        .iter()
        .enumerate()
        .flat_map(|(i, (_, _, sku))| {
            [
                json!({"sku": sku, "warehouse": "SP", "set": i as i64}),
                json!({"sku": sku, "warehouse": "RJ", "set": 3}),
            ]
        })
        .collect();
    let (s, r) = ponte
        .post("/api/v1/stock/movements", &json!({ "movements": rows }))
        .await;
    assert_eq!(s, 201, "{r}");
    let want = (0..catalogue.len()).map(|i| i as i64 + 3).collect();
    common::wait_for(Duration::from_secs(60), || async {
        ponte.get(&format!("/api/v1/channels/{ch}/stock")).await["pending"] == 0
    })
    .await;
    (ch, catalogue, want)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_resync_pushes_every_listing_and_follows_the_flusher() {
    let sim = Sim::start(Sim::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let ponte = Ponte::start(dir.path(), &[]);
    // 50 listings on 10 products; 4 calls a second, so the resync takes a few seconds.
    let (ch, catalogue, want) = stock_channel(&ponte, &sim, 10, 5, 4.0).await;
    assert_eq!(catalogue.len(), 50);
    // The platform's values drift away from ponte's: the resync puts them back.
    for (p, v, _) in &catalogue {
        sim.sim.set_variant_stock(*p, *v, 999).unwrap();
    }
    sim.sim.clear_requests();

    let (ok, stdout, all) =
        stock_resync(&["--url", &ponte.base, "--token", TOKEN, "--channel", &ch]).await;
    assert!(ok, "{all}");
    let lines: Vec<&str> = stdout.lines().collect();
    let summary = *lines.last().unwrap();
    assert!(
        summary.starts_with(&format!("resync {ch}: pushed=50 failed=0 in "))
            && summary.ends_with('s'),
        "{stdout}"
    );
    let took: f64 = summary
        .rsplit(' ')
        .next()
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert!(took >= 1.5, "4 calls a second for 10 products: {summary}");
    let progress = &lines[..lines.len() - 1];
    assert!(!progress.is_empty(), "{stdout}");
    assert!(
        progress
            .iter()
            .all(|l| l.starts_with(&format!("resync {ch}: pushing "))),
        "{stdout}"
    );
    assert!(
        progress
            .iter()
            .any(|l| l.contains(" rate=") && l.contains(" eta=")),
        "{stdout}"
    );
    // Plain lines: at most about one a second.
    assert!(progress.len() as f64 <= took + 2.0, "{stdout}");
    assert!(field(progress[0], "pending") > 0, "{stdout}");

    assert_eq!(
        sim.sim.request_count(&Method::PATCH, "/products/"),
        10,
        "one call per product"
    );
    for ((p, v, _), n) in catalogue.iter().zip(&want) {
        assert_eq!(sim.sim.variant_stock(*p, *v), Some(*n), "variant {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_resync_pushes_every_price_and_follows_the_flusher() {
    let sim = Sim::start(Sim::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let ponte = Ponte::start(dir.path(), &[]);
    // 20 listings on 10 products; 4 calls a second.
    let (ch, catalogue, _) = stock_channel(&ponte, &sim, 10, 2, 4.0).await;
    let (s, c) = ponte
        .patch(
            &format!("/api/v1/channels/{ch}"),
            &json!({"settings": {"send_prices": true}}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let rows: Vec<Value> = catalogue
        .iter()
        .enumerate()
        .map(|(i, (_, _, sku))| json!({"sku": sku, "price_cents": 1000 + i as i64}))
        .collect();
    let (s, w) = ponte
        .post("/api/v1/prices", &json!({ "prices": rows }))
        .await;
    assert_eq!(s, 201, "{w}");
    common::wait_for(Duration::from_secs(60), || async {
        ponte.get(&format!("/api/v1/channels/{ch}/prices")).await["pushed"] == 20
    })
    .await;
    // The platform's prices drift away from ponte's: the resync puts them back.
    for (p, v, _) in &catalogue {
        sim.sim.set_variant_price(*p, *v, Some(1), None).unwrap();
    }
    sim.sim.clear_requests();

    let (ok, stdout, all) =
        prices_resync(&["--url", &ponte.base, "--token", TOKEN, "--channel", &ch]).await;
    assert!(ok, "{all}");
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.starts_with(&format!("resync {ch}: pushed=20 failed=0 in ")),
        "{stdout}"
    );
    assert_eq!(
        sim.sim.request_count(&Method::PATCH, "/products/"),
        10,
        "one call per product"
    );
    for (i, (p, v, _)) in catalogue.iter().enumerate() {
        let cents = 1000 + i as i64;
        assert_eq!(
            sim.sim.variant(*p, *v).unwrap()["price"],
            format!("{}.{:02}", cents / 100, cents % 100)
        );
    }

    let missing = ponte_core::ChannelId::new().to_string();
    let (ok, _, out) = prices_resync(&[
        "--url",
        &ponte.base,
        "--token",
        TOKEN,
        "--channel",
        &missing,
    ])
    .await;
    assert!(!ok && out.contains("404"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_resync_explains_what_went_wrong() {
    let sim = Sim::start(Sim::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let ponte = Ponte::start(dir.path(), &[]);
    let (ch, _, _) = stock_channel(&ponte, &sim, 4, 2, 1e6).await;

    let missing = ponte_core::ChannelId::new().to_string();
    let (ok, stdout, out) = stock_resync(&[
        "--url",
        &ponte.base,
        "--token",
        TOKEN,
        "--channel",
        &missing,
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("404") && out.contains(&format!("no channel {missing}")),
        "{out}"
    );
    assert!(stdout.is_empty(), "{stdout}");

    let (ok, _, out) =
        stock_resync(&["--url", &ponte.base, "--token", TOKEN, "--channel", "42"]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("not a channel id"), "{out}");

    let (ok, _, out) = stock_resync(&[
        "--url",
        &ponte.base,
        "--token",
        "not-the-token",
        "--channel",
        &ch,
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(out.contains("401") && out.contains("unauthorized"), "{out}");

    let (ok, _, out) = stock_resync(&[
        "--url",
        "http://127.0.0.1:1",
        "--token",
        TOKEN,
        "--channel",
        &ch,
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("cannot connect to ponte at http://127.0.0.1:1"),
        "{out}"
    );

    // The platform refuses one product (2 values): exit 1, and where to look.
    sim.sim.inject(
        Fault::new("/products/", 1, FaultKind::Status(422)).with_method(reqwest::Method::PATCH),
    );
    let (ok, stdout, out) =
        stock_resync(&["--url", &ponte.base, "--token", TOKEN, "--channel", &ch]).await;
    assert!(!ok, "{out}");
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.starts_with(&format!("resync {ch}: pushed=6 failed=2 in ")),
        "{out}"
    );
    assert!(
        out.contains(&format!("/api/v1/stock/pushes?channel_id={ch}"))
            && out.contains("pushed again on the next change or resync"),
        "{out}"
    );

    // Pushed again by the next resync.
    let (ok, stdout, out) =
        stock_resync(&["--url", &ponte.base, "--token", TOKEN, "--channel", &ch]).await;
    assert!(ok, "{out}");
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .starts_with(&format!("resync {ch}: pushed=8 failed=0 in ")),
        "{out}"
    );
}

/// `ponte tenant create|list` and `ponte user reset-password` on the database directly
/// (the embedded one while no server holds it; a running server takes the admin API).
#[tokio::test]
async fn tenants_and_password_links_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, out) = ponte(
        &[
            "tenant",
            "create",
            "--data-dir",
            d,
            "--name",
            "Loja B",
            "--plan",
            "avancado",
            "--addon",
            "instant_events",
        ],
        &[],
    );
    assert!(ok, "{out}");
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("admin API token (shown once): "))
        .unwrap()
        .to_owned();
    let (ok, list) = ponte(&["tenant", "list", "--data-dir", d], &[]);
    assert!(ok, "{list}");
    assert!(
        list.contains("Loja B") && list.contains("avancado") && list.contains("instant_events"),
        "{list}"
    );
    assert!(
        list.contains("master") && list.contains("(default)"),
        "{list}"
    );
    let (ok, bad) = ponte(
        &[
            "tenant",
            "create",
            "--data-dir",
            d,
            "--name",
            "X",
            "--plan",
            "basico",
            "--addon",
            "instant_events",
        ],
        &[],
    );
    assert!(!ok && bad.contains("plan"), "{bad}");
    // The new tenant's token works on the server; it sees none of the default tenant.
    let server = Ponte::start(dir.path(), &[]);
    let mine: Value = server
        .http
        .get(format!("{}/api/v1/channels", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"], json!([]), "{mine}");
    let person: Value = server
        .http
        .post(format!("{}/api/v1/users", server.base))
        .bearer_auth(&token)
        .json(&json!({"email": "ana@lojab.com.br", "name": "Ana", "role": "admin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(person["password_link"].is_string(), "{person}");
    drop(server);
    let (ok, out) = ponte(
        &[
            "user",
            "reset-password",
            "--data-dir",
            d,
            "--email",
            "ana@lojab.com.br",
        ],
        &[],
    );
    assert!(ok, "{out}");
    let link = out
        .lines()
        .find_map(|l| l.strip_prefix("one-time link (valid 24 h): "))
        .unwrap();
    assert!(link.contains("/console/password?token=pnt_"), "{link}");
    let (ok, out) = ponte(
        &[
            "user",
            "reset-password",
            "--data-dir",
            d,
            "--email",
            "nobody@lojab.com.br",
        ],
        &[],
    );
    assert!(!ok && out.contains("nobody@lojab.com.br"), "{out}");
    let _ = TOKEN;
}
