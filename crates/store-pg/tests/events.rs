//! PostgreSQL event feed under concurrent writers: two instances commit imports at
//! once while a reader follows the feed with a cursor; the reader sees every event
//! exactly once, in a dense sequence, never skipping one committed late.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ponte_core::import::ImportPolicy;
use ponte_core::{ChannelId, OrderStatus, TenantId};
use ponte_store::conformance::{self, t0};
use ponte_store::*;
use ponte_store_pg::PgStore;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A listed order (no job), new.
fn listed(t: TenantId, c: ChannelId, ext: &str) -> ImportCommit {
    ImportCommit {
        lease: None,
        tenant_id: t,
        channel_id: c,
        external_id: ext.into(),
        call: CallRecord {
            request: "GET /orders".into(),
            status: Some(200),
            duration_ms: 1,
            error: None,
        },
        read_at: t0(),
        result: conformance::fetched(
            conformance::mapped(ext, OrderStatus::Approved, t0()),
            ImportPolicy::All,
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_following_two_writers_misses_no_event() {
    let dbs = common::Databases::default();
    let (a, b, _) = dbs.instances(8).await;
    let t = a.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    const BATCHES: usize = 60;
    const PER_BATCH: usize = 5;
    let writer = |s: PgStore, name: &'static str| {
        tokio::spawn(async move {
            for i in 0..BATCHES {
                let batch = (0..PER_BATCH)
                    .map(|j| listed(t, c, &format!("{name}-{i}-{j}")))
                    .collect();
                s.apply_polled(batch, t0()).await.unwrap();
            }
        })
    };
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (s, done) = (a.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let q = EventQuery {
                    after,
                    types: vec![],
                    limit: 7,
                };
                let page = s.events(t, &q).await.unwrap();
                if let Some(last) = page.last() {
                    after = last.seq;
                }
                let empty = page.is_empty();
                seen.extend(page.into_iter().map(|e| e.seq));
                if finished && empty {
                    return seen;
                }
            }
        })
    };
    let (wa, wb) = tokio::join!(writer(a.clone(), "a"), writer(b.clone(), "b"));
    wa.unwrap();
    wb.unwrap();
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let total = i64::try_from(2 * BATCHES * PER_BATCH).unwrap();
    let expected: Vec<i64> = (1..=total).collect();
    assert_eq!(seen, expected, "every event once, in commit order, no gap");
    a.close().await;
    b.close().await;
}
