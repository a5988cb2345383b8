//! `/metrics` and `/ready` end to end (real binary): the database size is shown; with
//! `PONTE_METRICS_LISTEN`, `/metrics` answers on that address only; both answer from
//! figures read in the background, and `/ready` turns 503 once those reads fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{value_of, wait_for, Backend, Ponte, Storage};
use std::time::Duration;

async fn status(p: &Ponte, url: String) -> u16 {
    p.http.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_database_size_on_the_main_listener() {
    let dir = tempfile::tempdir().unwrap();
    let p = Ponte::start(dir.path(), &[]);
    assert_eq!(p.metrics_base, p.base);
    let text = p.metrics().await;
    let size = value_of(&text, "ponte_database_size_bytes").unwrap();
    assert!(size > 0.0, "{text}");
    assert!(value_of(&text, "ponte_jobs{state=\"pending\"}").is_some());
    assert_eq!(status(&p, format!("{}/ready", p.base)).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listen_moves_metrics_to_their_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let p = Ponte::start(dir.path(), &[("PONTE_METRICS_LISTEN", "127.0.0.1:0")]);
    assert_ne!(p.metrics_base, p.base);
    let text = p.metrics().await;
    assert!(value_of(&text, "ponte_database_size_bytes").unwrap() > 0.0);
    assert_eq!(status(&p, format!("{}/metrics", p.metrics_base)).await, 200);
    assert_eq!(status(&p, format!("{}/metrics", p.base)).await, 404);
    assert_eq!(status(&p, format!("{}/health", p.metrics_base)).await, 404);
    assert_eq!(status(&p, format!("{}/ready", p.base)).await, 200);
    assert_eq!(status(&p, format!("{}/health", p.base)).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_and_metrics_answer_from_the_last_read_and_ready_fails_with_the_database() {
    let mut storage = Storage::new(Backend::Postgres).await;
    let p = storage.start(&[]);
    let text = p.metrics().await;
    assert!(value_of(&text, "ponte_database_size_bytes").unwrap() > 0.0);
    assert_eq!(status(&p, format!("{}/ready", p.base)).await, 200);

    // The database goes away: reads fail, /ready says so within a few refreshes.
    drop(storage.db.take());
    wait_for(Duration::from_secs(20), || async {
        status(&p, format!("{}/ready", p.base)).await == 503
    })
    .await;
    // /metrics still answers, with the figures of the last successful read.
    let stale = p
        .http
        .get(format!("{}/metrics", p.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(value_of(&stale, "ponte_database_size_bytes").unwrap() > 0.0);
    let read_at = value_of(&stale, "ponte_database_figures_read_timestamp_seconds").unwrap();
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    assert!(read_at > 0.0 && read_at < now, "{read_at} {now}");
}
