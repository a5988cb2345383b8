//! VTEX polling against the simulator: Feed v3 read, fetch and commit after store
//! (uncommitted events come back), the feed configured on first use, and the OMS
//! listing walk of a manual backfill past the API's 30-page cap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod vtex_env;

use chrono::{DateTime, TimeDelta, Utc};
use ponte_channels::{Connector, PlatformErrorKind, PollCursor, PollMode};
use ponte_sim::vtex::{Fault, FaultKind, Method, ServerHandle, VtexSim};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

struct Env {
    sim: VtexSim,
    server: ServerHandle,
    conn: Arc<dyn Connector>,
}

impl Env {
    async fn start() -> Env {
        let (sim, server) = vtex_env::start().await;
        let conn = vtex_env::connector(&sim, &server, json!({}));
        Env { sim, server, conn }
    }

    /// Walks the feed to its end, committing every page; the order ids read.
    async fn drain(&self) -> Vec<String> {
        let mut cursor = Some(PollCursor::start(Utc::now()));
        let mut ids = Vec::new();
        while let Some(c) = cursor {
            let (_, page) = self.conn.list_orders(&c).await;
            let page = page.unwrap();
            ids.extend(
                page.orders
                    .iter()
                    .map(|o| o.as_ref().unwrap().data.external_id.clone()),
            );
            if let Some((_, r)) = self.conn.ack_listed(&page.receipt).await {
                r.unwrap();
            }
            cursor = page.next;
        }
        ids
    }
}

#[tokio::test]
async fn the_feed_is_configured_on_first_use_then_read_and_committed() {
    let env = Env::start().await;
    // No feed yet: the first read configures it and ends the walk.
    let (info, page) = env.conn.list_orders(&PollCursor::start(Utc::now())).await;
    let page = page.unwrap();
    assert!(page.orders.is_empty() && page.next.is_none());
    assert!(
        info.request.starts_with("POST /api/orders/feed/config"),
        "{}",
        info.request
    );
    let config = env.sim.feed_config().unwrap();
    assert_eq!(config["filter"]["type"], "FromWorkflow", "{config}");

    let created = env.sim.generate_orders(25, 7);
    let read = env.drain().await;
    let distinct: BTreeSet<&String> = read.iter().collect();
    assert_eq!(
        distinct,
        created.iter().collect(),
        "every order, fetched whole"
    );
    assert_eq!(env.sim.feed_len(), 0, "every handle committed");
    assert!(
        env.drain().await.is_empty(),
        "nothing comes twice once committed"
    );
    env.server.shutdown().await;
}

#[tokio::test]
async fn uncommitted_events_come_back_after_the_visibility_timeout() {
    let env = Env::start().await;
    env.sim.configure_feed(&[], 60);
    let created = env.sim.generate_orders(3, 1);
    let (_, page) = env.conn.list_orders(&PollCursor::start(Utc::now())).await;
    let page = page.unwrap();
    assert_eq!(page.orders.len(), 3);
    assert!(!page.receipt.is_empty());
    // Not stored (no ack): invisible for now, back after the timeout.
    let (_, again) = env.conn.list_orders(&PollCursor::start(Utc::now())).await;
    assert!(again.unwrap().orders.is_empty());
    env.sim.advance_clock(TimeDelta::seconds(61));
    let back: BTreeSet<String> = env.drain().await.into_iter().collect();
    assert_eq!(back, created.into_iter().collect());
    assert_eq!(env.sim.feed_len(), 0);
    env.server.shutdown().await;
}

#[tokio::test]
async fn a_failed_order_fetch_fails_the_page_uncommitted() {
    let env = Env::start().await;
    env.sim.configure_feed(&[], 60);
    env.sim.generate_orders(2, 3);
    env.sim.inject(Fault::new(
        "/api/oms/pvt/orders/",
        1,
        FaultKind::Status(503),
    ));
    let (_, page) = env.conn.list_orders(&PollCursor::start(Utc::now())).await;
    assert_eq!(page.unwrap_err().kind, PlatformErrorKind::Transient);
    assert!(env.sim.feed_len() > 0, "nothing committed");
    assert_eq!(env.sim.request_count(&Method::POST, "/api/orders/feed"), 0);
    env.server.shutdown().await;
}

#[tokio::test]
async fn a_backfill_walks_the_listing_past_thirty_pages() {
    let env = Env::start().await;
    let since: DateTime<Utc> = env.sim.now() - TimeDelta::seconds(1);
    // 30 pages of 30 is the API's cap: 950 orders need the walk to move its window.
    let created: BTreeSet<String> = env.sim.generate_orders(950, 11).into_iter().collect();
    let mut cursor = Some(PollCursor::start_as(PollMode::Backfill, since));
    let mut read = BTreeSet::new();
    let mut pages = 0;
    while let Some(c) = cursor {
        let (info, page) = env.conn.list_orders(&c).await;
        let page = page.unwrap_or_else(|e| panic!("{e} ({})", info.request));
        assert!(c.page <= 30, "the walk never asks past page 30");
        read.extend(page.orders.into_iter().map(|o| o.unwrap().data.external_id));
        assert!(page.receipt.is_empty(), "a listing needs no commit");
        cursor = page.next;
        pages += 1;
    }
    assert_eq!(read, created);
    assert!(pages >= 32, "{pages} pages");
    env.server.shutdown().await;
}
