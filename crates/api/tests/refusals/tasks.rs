//! Scheduled tasks, manual syncs, tenant settings and resends: a busy task refuses a
//! second run, and values out of range are `validation_failed`.

use crate::fixtures::World;
use crate::harness::{covered, unknown_id, Covered};
use ponte_core::ErrorCode as E;
use serde_json::{json, Value};

pub fn covers() -> Vec<Covered> {
    covered(&[
        ("patch", "/api/v1/scheduled-tasks/{id}", E::ValidationFailed),
        ("post", "/api/v1/scheduled-tasks/{id}/run", E::TaskBusy),
        ("post", "/api/v1/channels/{id}/sync", E::TaskBusy),
        ("post", "/api/v1/channels/{id}/sync", E::ValidationFailed),
        ("patch", "/api/v1/settings", E::ValidationFailed),
        ("post", "/api/v1/status-sends/resend", E::ValidationFailed),
    ])
}

#[tokio::test]
async fn an_interval_out_of_bounds_is_validation_failed() {
    let w = World::new().await;
    let path = w.path("/api/v1/scheduled-tasks/{id}");
    for secs in [0, 59, -60, 86_401, i64::MAX] {
        let body = json!({"interval_seconds": secs});
        w.api
            .refuses("PATCH", &path, Some(body), E::ValidationFailed)
            .await;
    }
}

#[tokio::test]
async fn a_task_with_a_run_queued_is_task_busy_for_runs_and_syncs() {
    let w = World::new().await;
    let run = w.path("/api/v1/scheduled-tasks/{id}/run");
    let sync = w.path("/api/v1/channels/{id}/sync");
    let orders = json!({"kind": "orders"});
    // No worker runs here: the first run stays queued.
    w.api.call("POST", &run, None).await.ok();
    w.api.refuses("POST", &run, None, E::TaskBusy).await;
    // A sync runs as the channel's import task: it is busy too.
    w.api
        .refuses("POST", &sync, Some(orders), E::TaskBusy)
        .await;
}

#[tokio::test]
async fn a_sync_while_another_is_queued_is_task_busy() {
    let w = World::new().await;
    let sync = w.path("/api/v1/channels/{id}/sync");
    let since = json!({"kind": "orders", "since": "2026-01-01T00:00:00Z"});
    w.api.call("POST", &sync, Some(&since)).await.ok();
    w.api.refuses("POST", &sync, Some(since), E::TaskBusy).await;
    let run = w.path("/api/v1/scheduled-tasks/{id}/run");
    w.api.refuses("POST", &run, None, E::TaskBusy).await;
}

#[tokio::test]
async fn a_sync_of_another_kind_is_validation_failed() {
    let w = World::new().await;
    let sync = w.path("/api/v1/channels/{id}/sync");
    for kind in ["products", "", "Orders"] {
        let body = json!({"kind": kind});
        w.api
            .refuses("POST", &sync, Some(body), E::ValidationFailed)
            .await;
    }
}

#[tokio::test]
async fn auto_cancel_days_out_of_range_are_validation_failed() {
    let w = World::new().await;
    w.api
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(&json!({"auto_cancel_awaiting_payment_after_days": 7})),
        )
        .await
        .ok();
    for days in [0, 366, 100_000] {
        let body = json!({"auto_cancel_awaiting_payment_after_days": days});
        w.api
            .refuses("PATCH", "/api/v1/settings", Some(body), E::ValidationFailed)
            .await;
    }
    // Not a number of days at all: the body is not the object the route takes.
    for days in [json!("7"), json!(-1), json!(1.5)] {
        let body = json!({"auto_cancel_awaiting_payment_after_days": days});
        w.api
            .refuses("PATCH", "/api/v1/settings", Some(body), E::InvalidBody)
            .await;
    }
    // An empty change keeps the value, null clears it.
    let kept = w
        .api
        .call("PATCH", "/api/v1/settings", Some(&json!({})))
        .await
        .ok();
    assert_eq!(kept["auto_cancel_awaiting_payment_after_days"], 7);
    let off = json!({"auto_cancel_awaiting_payment_after_days": null});
    let cleared = w
        .api
        .call("PATCH", "/api/v1/settings", Some(&off))
        .await
        .ok();
    assert_eq!(cleared, off);
}

#[tokio::test]
async fn a_resend_that_is_neither_ids_nor_a_channel_is_validation_failed() {
    let w = World::new().await;
    let ids: Vec<String> = (0..1001).map(|_| unknown_id()).collect();
    let bodies: [Value; 6] = [
        json!({}),
        json!({"ids": []}),
        json!({"ids": ids}),
        json!({"ids": [unknown_id()], "channel_id": w.channel, "all_failed": true}),
        json!({"channel_id": w.channel}),
        json!({"channel_id": w.channel, "all_failed": false}),
    ];
    for body in bodies {
        w.api
            .refuses(
                "POST",
                "/api/v1/status-sends/resend",
                Some(body),
                E::ValidationFailed,
            )
            .await;
    }
}
