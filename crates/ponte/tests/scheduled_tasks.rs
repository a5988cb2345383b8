//! Scheduled tasks end to end (real binary, simulated Nuvemshop): polling with instant
//! events off, the cursor edge, failures that keep the cursor, the gap counter, manual
//! sync progress, automatic cancellation, and tasks surviving a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Duration as CDuration, Utc};
use common::{expected_status, importable, wait_for, Ponte, Sim};
use ponte_sim::faults::{Fault, FaultKind};
use ponte_sim::nuvemshop::NewOrder;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

const FAST: [(&str, &str); 2] = [
    ("PONTE_MIN_TASK_INTERVAL_SECONDS", "1"),
    // No overlap: the cursor edge alone must catch orders updated in its second.
    ("PONTE_POLL_OVERLAP_SECONDS", "0"),
];

async fn channel(ponte: &Ponte, sim: &Sim, instant_events: bool) -> (String, String) {
    let (status, ch) = ponte
        .post(
            "/api/v1/channels",
            &json!({
                "platform": "nuvemshop",
                "name": "Loja",
                "settings": {"store_id": sim.sim.config().store_id.to_string(), "api_base_url": sim.base_url,
                             "import_policy": "all", "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6,
                             "instant_events": instant_events},
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

async fn task(ponte: &Ponte, channel: Option<&str>, kind: &str) -> Value {
    let path = match channel {
        Some(c) => format!("/api/v1/scheduled-tasks?channel_id={c}"),
        None => "/api/v1/scheduled-tasks".to_owned(),
    };
    let list = ponte.get(&path).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind && (channel.is_some() || t["channel_id"].is_null()))
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} task in {list}"))
}

async fn run_now(ponte: &Ponte, task_id: &str) -> String {
    let (status, run) = ponte
        .post(
            &format!("/api/v1/scheduled-tasks/{task_id}/run"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    run["id"].as_str().unwrap().to_owned()
}

async fn finished(ponte: &Ponte, run: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        let out = ponte.get(&format!("/api/v1/task-runs/{run}")).await;
        if out["state"] == "succeeded" || out["state"] == "failed" {
            return out;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "run not finished: {out}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// ponte's orders by platform id, checked against the simulator's: every order is
/// there with the platform's current status, except those first seen cancelled,
/// closed or shipped (not imported, seed 001). Returns how many are there.
async fn assert_matches_sim(ponte: &Ponte, sim: &Sim) -> usize {
    let orders = ponte.all_orders().await;
    let by_ext: HashMap<String, &Value> = orders
        .iter()
        .map(|o| (o["external_id"].as_str().unwrap().to_owned(), o))
        .collect();
    assert_eq!(by_ext.len(), orders.len(), "no duplicates");
    for o in &sim.sim.orders() {
        let ext = o["id"].to_string();
        match by_ext.get(&ext) {
            Some(mine) => assert_eq!(
                mine["status"].as_str().unwrap(),
                expected_status(o),
                "order {ext}"
            ),
            None => assert!(!importable(o), "order {ext} missing: {o}"),
        }
    }
    orders.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_imports_every_order_with_instant_events_off() {
    let sim = Sim::start(Sim::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut ponte = Ponte::start(dir.path(), &FAST);
    let (ch, url) = channel(&ponte, &sim, false).await;
    let ids = sim.sim.generate_orders(2000, 42);

    // Webhooks are acknowledged and ignored: polling does the work.
    assert_eq!(
        sim.notify(&ponte.http, &url, "order/created", ids[0]).await,
        200
    );
    let d = ponte
        .get(&format!("/api/v1/webhook-deliveries?channel_id={ch}"))
        .await;
    assert_eq!(d["items"][0]["state"], "ignored", "{d}");
    assert!(ponte.all_orders().await.is_empty());

    let tasks = ponte
        .get(&format!("/api/v1/scheduled-tasks?channel_id={ch}"))
        .await;
    assert_eq!(tasks["items"].as_array().unwrap().len(), 2, "{tasks}");
    let import = task(&ponte, Some(&ch), "import_orders").await;
    assert_eq!(import["interval_seconds"], 600);
    assert_eq!(import["enabled"], true);
    assert!(import["last_run"].is_null());
    let task_id = import["id"].as_str().unwrap().to_owned();

    // A slow platform, so that orders change while the run walks the listing.
    sim.sim.inject(
        Fault::new("/orders", 4, FaultKind::Delay(Duration::from_millis(300)))
            .with_method(reqwest::Method::GET),
    );
    let run = run_now(&ponte, &task_id).await;
    let (status, busy) = ponte
        .post(
            &format!("/api/v1/scheduled-tasks/{task_id}/run"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, busy["code"].as_str()),
        (409, Some("task_busy")),
        "{busy}"
    );
    for id in &ids[..30] {
        let _ = sim.sim.set_payment_status(*id, "paid");
    }
    let new: Vec<u64> = (0..10)
        .map(|_| sim.sim.create_order(NewOrder::default()))
        .collect();
    let first = finished(&ponte, &run).await;
    assert_eq!(first["state"], "succeeded", "{first}");
    assert_eq!(first["trigger"], "run_now");
    let counts = &first["counts"];
    assert!(counts["seen"].as_u64().unwrap() >= 2000, "{first}");
    assert!(counts["created"].as_u64().unwrap() >= 1000, "{first}");
    assert_eq!(counts["gaps"], 0, "instant events off: no gaps counted");
    assert!(first["rate_per_sec"].as_f64().unwrap() > 0.0);

    // Orders updated in the very second of the cursor are read again (inclusive edge).
    let cursor: DateTime<Utc> = task(&ponte, Some(&ch), "import_orders").await["cursor"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for id in &ids[100..105] {
        sim.sim.set_payment_status(*id, "voided").unwrap();
        sim.sim.set_updated_at(*id, cursor).unwrap();
    }
    // Then the schedule takes over (interval 1 s).
    let (status, t) = ponte
        .patch(
            &format!("/api/v1/scheduled-tasks/{task_id}"),
            &json!({"interval_seconds": 1}),
        )
        .await;
    assert_eq!(
        (status, t["interval_seconds"].as_i64()),
        (200, Some(1)),
        "{t}"
    );
    wait_for(Duration::from_secs(60), || async {
        let t = task(&ponte, Some(&ch), "import_orders").await;
        let last = &t["last_run"];
        last["trigger"] == "schedule" && last["state"] == "succeeded"
    })
    .await;
    let (status, _) = ponte
        .patch(
            &format!("/api/v1/scheduled-tasks/{task_id}"),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, 200);
    // Let a run that fired before disabling end.
    wait_for(Duration::from_secs(60), || async {
        let t = task(&ponte, Some(&ch), "import_orders").await;
        t["last_run"]["state"] == "succeeded" || t["last_run"]["state"] == "failed"
    })
    .await;
    let imported = assert_matches_sim(&ponte, &sim).await;
    assert!(imported > 1000, "{imported}");
    for id in &new {
        let o = sim.sim.order(*id).unwrap();
        assert!(importable(&o), "new orders are awaiting payment: {o}");
    }

    // Too short an interval, an unknown field: refused.
    let (status, e) = ponte
        .patch(
            &format!("/api/v1/scheduled-tasks/{task_id}"),
            &json!({"interval_seconds": 0}),
        )
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let (status, _) = ponte
        .patch(
            &format!("/api/v1/scheduled-tasks/{task_id}"),
            &json!({"every": 5}),
        )
        .await;
    assert_eq!(status, 422);

    // Tasks survive a restart, with their settings and cursor.
    let before = task(&ponte, Some(&ch), "import_orders").await;
    ponte.terminate();
    let ponte = Ponte::start(dir.path(), &FAST);
    let after = task(&ponte, Some(&ch), "import_orders").await;
    for k in ["id", "interval_seconds", "enabled", "cursor", "next_run_at"] {
        assert_eq!(before[k], after[k], "{k}");
    }
    let runs = ponte
        .get(&format!("/api/v1/scheduled-tasks/{task_id}/runs"))
        .await;
    assert!(runs["items"].as_array().unwrap().len() >= 2, "{runs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_keep_the_cursor_gaps_are_counted_and_syncs_report_progress() {
    let sim = Sim::start(Sim::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let ponte = Ponte::start(dir.path(), &FAST);
    let (ch, url) = channel(&ponte, &sim, true).await;
    let ids = sim.sim.generate_orders(300, 9);
    // Webhooks announce a third of them (the platform "dropped" the rest).
    for id in &ids[..100] {
        assert_eq!(
            sim.notify(&ponte.http, &url, "order/created", *id).await,
            200
        );
    }
    ponte.settle(Duration::from_secs(60)).await;
    let import = task(&ponte, Some(&ch), "import_orders").await;
    let task_id = import["id"].as_str().unwrap().to_owned();

    // The platform fails the listing: the run fails and the cursor stays.
    sim.sim
        .inject(Fault::new("/orders", 50, FaultKind::Status(503)));
    let failed = finished(&ponte, &run_now(&ponte, &task_id).await).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .starts_with("platform_unavailable"),
        "{failed}"
    );
    assert_eq!(
        task(&ponte, Some(&ch), "import_orders").await["cursor"],
        import["cursor"]
    );
    sim.sim.clear_faults();

    let ok = finished(&ponte, &run_now(&ponte, &task_id).await).await;
    assert_eq!(ok["state"], "succeeded", "{ok}");
    let unannounced = ids[100..]
        .iter()
        .filter(|id| importable(&sim.sim.order(**id).unwrap()))
        .count();
    assert!(unannounced > 100, "{unannounced}");
    assert_eq!(ok["counts"]["created"], unannounced, "{ok}");
    assert_eq!(ok["counts"]["gaps"], unannounced, "{ok}");
    assert_ne!(
        task(&ponte, Some(&ch), "import_orders").await["cursor"],
        import["cursor"]
    );
    let c = ponte.get(&format!("/api/v1/channels/{ch}")).await;
    assert_eq!(c["poll_gaps"], unannounced, "{c}");
    assert_eq!(
        ponte
            .metric(&format!("ponte_poll_gaps_total{{channel=\"{ch}\"}}"))
            .await,
        unannounced as f64
    );
    assert_matches_sim(&ponte, &sim).await;

    // A manual sync from a date reports its progress while it runs.
    let cursor_before = task(&ponte, Some(&ch), "import_orders").await["cursor"].clone();
    sim.sim.inject(
        Fault::new("/orders", 3, FaultKind::Delay(Duration::from_millis(400)))
            .with_method(reqwest::Method::GET),
    );
    let (status, run) = ponte
        .post(
            &format!("/api/v1/channels/{ch}/sync"),
            &json!({"kind": "orders", "since": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(
        (run["trigger"].as_str(), run["state"].as_str()),
        (Some("manual"), Some("queued"))
    );
    let run_id = run["id"].as_str().unwrap().to_owned();
    let mut saw_progress = false;
    let done = loop {
        let r = ponte.get(&format!("/api/v1/task-runs/{run_id}")).await;
        if r["state"] == "running" && r["counts"]["seen"].as_u64().unwrap_or(0) > 0 {
            saw_progress = true;
        }
        if r["state"] == "succeeded" {
            break r;
        }
        assert_ne!(r["state"], "failed", "{r}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(saw_progress, "progress visible while running");
    // Orders sharing the second a page ends on are read again by the next page.
    assert!(done["counts"]["seen"].as_u64().unwrap() >= 300, "{done}");
    assert_eq!(done["counts"]["created"], 0, "{done}");
    assert_eq!(done["counts"]["updated"], 0, "{done}");
    assert!(done["counts"]["expected"].as_u64().is_some(), "{done}");
    assert_eq!(
        task(&ponte, Some(&ch), "import_orders").await["cursor"],
        cursor_before,
        "a manual sync leaves the polling cursor alone"
    );

    let (status, e) = ponte
        .post(
            &format!("/api/v1/channels/{ch}/sync"),
            &json!({"kind": "stock"}),
        )
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let (status, _) = ponte
        .post(
            &format!("/api/v1/channels/{}/sync", ponte_core::ChannelId::new()),
            &json!({"kind": "orders"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_cancel_cancels_exactly_the_orders_past_the_deadline() {
    let sim = Sim::start(Sim::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let ponte = Ponte::start(dir.path(), &FAST);
    let (ch, _) = channel(&ponte, &sim, true).await;
    let now = Utc::now();
    let placed = |days: i64| {
        let id = sim.sim.create_order(NewOrder::default());
        sim.sim
            .set_created_at(id, now - CDuration::days(days) - CDuration::hours(1))
            .unwrap();
        id
    };
    let old: Vec<u64> = (0..3).map(|_| placed(5)).collect();
    let recent = [placed(2), placed(0), placed(0)];
    let paid_old = placed(10);
    sim.sim.set_payment_status(paid_old, "paid").unwrap();
    let import = task(&ponte, Some(&ch), "import_orders").await;
    let run = finished(
        &ponte,
        &run_now(&ponte, import["id"].as_str().unwrap()).await,
    )
    .await;
    assert_eq!(run["counts"]["created"], 7, "{run}");

    // Settings: validated, merged, read back.
    assert_eq!(
        ponte.get("/api/v1/settings").await,
        json!({"auto_cancel_awaiting_payment_after_days": null})
    );
    for (bad, code) in [
        (
            json!({"auto_cancel_awaiting_payment_after_days": 0}),
            "validation_failed",
        ),
        (json!({"other": 1}), "invalid_body"),
    ] {
        let (status, e) = ponte.patch("/api/v1/settings", &bad).await;
        assert_eq!((status, e["code"].as_str()), (422, Some(code)), "{bad}");
    }
    let auto = task(&ponte, None, "auto_cancel").await;
    let auto_id = auto["id"].as_str().unwrap().to_owned();
    // Off: nothing cancelled.
    let off = finished(&ponte, &run_now(&ponte, &auto_id).await).await;
    assert_eq!(off["counts"]["cancelled"], 0, "{off}");

    let (status, s) = ponte
        .patch(
            "/api/v1/settings",
            &json!({"auto_cancel_awaiting_payment_after_days": 3}),
        )
        .await;
    assert_eq!(
        (
            status,
            s["auto_cancel_awaiting_payment_after_days"].as_u64()
        ),
        (200, Some(3))
    );
    let on = finished(&ponte, &run_now(&ponte, &auto_id).await).await;
    assert_eq!(on["state"], "succeeded", "{on}");
    assert_eq!(on["counts"]["cancelled"], 3, "{on}");

    let orders = ponte.all_orders().await;
    let status_of = |ext: u64| {
        orders
            .iter()
            .find(|o| o["external_id"].as_str().and_then(|s| s.parse().ok()) == Some(ext))
            .map(|o| o["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    for id in &old {
        assert_eq!(status_of(*id), "cancelled");
    }
    for id in recent {
        assert_eq!(status_of(id), "awaiting_payment");
    }
    assert_eq!(status_of(paid_old), "approved");
    // The cancellation reached the platform, and the timeline says why.
    for id in &old {
        let id = *id;
        let s = &sim.sim;
        wait_for(Duration::from_secs(30), || async move {
            s.order(id).unwrap()["status"] == "cancelled"
        })
        .await;
        let o = orders
            .iter()
            .find(|o| o["external_id"].as_str().and_then(|s| s.parse().ok()) == Some(id))
            .unwrap();
        let t = ponte
            .get(&format!("/api/v1/orders/{}", o["id"].as_str().unwrap()))
            .await;
        let text = t.to_string();
        assert!(
            text.contains("payment_expired") && text.contains("auto_cancel"),
            "{t}"
        );
    }
    // Again: nothing left to cancel.
    let again = finished(&ponte, &run_now(&ponte, &auto_id).await).await;
    assert_eq!(again["counts"]["cancelled"], 0, "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_refresh_rereads_orders_awaiting_payment() {
    let sim = Sim::start(Sim::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let ponte = Ponte::start(dir.path(), &FAST);
    let (ch, url) = channel(&ponte, &sim, true).await;
    let ids: Vec<u64> = (0..20)
        .map(|_| sim.sim.create_order(NewOrder::default()))
        .collect();
    for id in &ids {
        assert_eq!(
            sim.notify(&ponte.http, &url, "order/created", *id).await,
            200
        );
    }
    ponte.settle(Duration::from_secs(30)).await;
    // The platform confirms payment of half of them; its notifications are lost.
    for id in &ids[..10] {
        sim.sim.set_payment_status(*id, "paid").unwrap();
    }
    let refresh = task(&ponte, Some(&ch), "refresh_payment_status").await;
    let run = finished(
        &ponte,
        &run_now(&ponte, refresh["id"].as_str().unwrap()).await,
    )
    .await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["enqueued"], 20, "{run}");
    ponte.settle(Duration::from_secs(30)).await;
    assert_eq!(assert_matches_sim(&ponte, &sim).await, 20);
    let paid = ponte
        .all_orders()
        .await
        .iter()
        .filter(|o| o["status"] == "approved")
        .count();
    assert_eq!(paid, 10);
    // Now only the 10 still waiting are read again.
    let again = finished(
        &ponte,
        &run_now(&ponte, refresh["id"].as_str().unwrap()).await,
    )
    .await;
    assert_eq!(again["counts"]["enqueued"], 10, "{again}");
}
