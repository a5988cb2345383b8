//! The Nuvemshop listing walk against the simulator: every order is seen (also
//! cancellations the default filter hides, orders sharing one second, orders
//! changing during the walk), an empty store costs one call per part, and
//! platform errors are classified.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeDelta, Utc};
use ponte_channels::nuvemshop::Nuvemshop;
use ponte_channels::{Connector, Platform, PlatformErrorKind, PollCursor};
use ponte_core::order::MappedOrder;
use ponte_core::OrderStatus;
use ponte_sim::nuvemshop::{
    Fault, FaultKind, Method, NewOrder, NuvemshopSim, PaymentStatus, ServerHandle, SimConfig,
};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Parts of a Nuvemshop walk: default filter, refunded, voided, abandoned.
const PARTS: usize = 4;

struct Env {
    sim: NuvemshopSim,
    server: ServerHandle,
}

impl Env {
    async fn start() -> Env {
        let sim = NuvemshopSim::new(SimConfig {
            bucket_size: 0,
            ..SimConfig::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = sim.serve(listener).await;
        Env { sim, server }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        let settings = json!({
            "store_id": self.sim.config().store_id,
            "api_base_url": self.server.base_url(),
        });
        let credentials =
            json!({"access_token": self.sim.config().access_token, "app_secret": "s"});
        let http = ponte_channels::Outbound::new(Duration::from_secs(5), true).unwrap();
        Nuvemshop.connect(&settings, &credentials, http).unwrap()
    }

    fn orders(&self, n: usize, payment: PaymentStatus) -> Vec<u64> {
        (0..n)
            .map(|_| {
                self.sim.create_order(NewOrder {
                    payment_status: payment,
                    ..NewOrder::default()
                })
            })
            .collect()
    }

    fn updated_at(&self, id: u64) -> DateTime<Utc> {
        let o = self.sim.order(id).unwrap();
        DateTime::parse_from_str(o["updated_at"].as_str().unwrap(), "%Y-%m-%dT%H:%M:%S%z")
            .unwrap()
            .with_timezone(&Utc)
    }

    async fn stop(self) {
        self.server.shutdown().await;
    }
}

fn long_ago() -> DateTime<Utc> {
    Utc::now() - TimeDelta::days(1)
}

/// A walk driven as the engine would, one call per step.
struct Walk {
    connector: Arc<dyn Connector>,
    next: Option<PollCursor>,
    /// The cursor of every call made.
    cursors: Vec<PollCursor>,
    /// Every order read, in order, with the part it came from.
    seen: Vec<(u32, MappedOrder)>,
    /// `total` of every page.
    totals: Vec<Option<u64>>,
}

impl Walk {
    fn new(connector: Arc<dyn Connector>, since: DateTime<Utc>) -> Walk {
        Walk {
            connector,
            next: Some(PollCursor::start(since)),
            cursors: Vec::new(),
            seen: Vec::new(),
            totals: Vec::new(),
        }
    }

    /// One call; false once the walk is over.
    async fn step(&mut self) -> bool {
        let Some(cursor) = self.next.take() else {
            return false;
        };
        assert!(self.cursors.len() < 100, "runaway walk: {:?}", self.cursors);
        let (info, result) = self.connector.list_orders(&cursor).await;
        assert!(
            info.request.starts_with("GET /orders?updated_at_min=")
                && info.request.contains("&per_page=200")
                && !info.request.contains("sim-token"),
            "{}",
            info.request
        );
        let page = result.unwrap_or_else(|e| panic!("{cursor:?}: {e:?} {info:?}"));
        for o in page.orders {
            let o = o.unwrap_or_else(|e| panic!("unreadable: {e:?}"));
            self.seen.push((cursor.part, o));
        }
        self.totals.push(page.total);
        self.cursors.push(cursor);
        self.next = page.next;
        self.next.is_some()
    }

    async fn run(mut self) -> Walk {
        while self.step().await {}
        self
    }

    fn ids(&self) -> BTreeSet<u64> {
        self.seen
            .iter()
            .map(|(_, o)| o.data.external_id.parse().unwrap())
            .collect()
    }

    /// The last version read of each order.
    fn latest(&self) -> BTreeMap<u64, &MappedOrder> {
        self.seen
            .iter()
            .map(|(_, o)| (o.data.external_id.parse().unwrap(), o))
            .collect()
    }
}

/// Every order's last version read is the store's current one.
#[track_caller]
fn assert_latest(env: &Env, walk: &Walk) {
    let latest = walk.latest();
    let all: BTreeSet<u64> = env.sim.order_ids().into_iter().collect();
    assert_eq!(latest.keys().copied().collect::<BTreeSet<_>>(), all);
    for (id, o) in latest {
        let now = env.sim.order(id).unwrap();
        assert_eq!(
            o.data.payment.status.as_deref(),
            now["payment_status"].as_str(),
            "order {id}"
        );
        assert_eq!(
            o.data.platform_updated_at,
            Some(env.updated_at(id)),
            "order {id}"
        );
    }
}

#[tokio::test]
async fn a_walk_sees_every_generated_order() {
    let env = Env::start().await;
    let ids = env.sim.generate_orders(450, 7);
    let walk = Walk::new(env.connector(), long_ago()).run().await;
    assert_eq!(walk.ids(), ids.iter().copied().collect());
    assert_latest(&env, &walk);
    let calls = walk.cursors.len();
    assert!(
        calls <= 450usize.div_ceil(200) + (PARTS - 1) + 2,
        "{calls} calls: {:?}",
        walk.cursors
    );
    // The first page's total is what the default filter matches.
    let default_filter = env
        .sim
        .orders()
        .iter()
        .filter(|o| {
            ["pending", "authorized", "paid"].contains(&o["payment_status"].as_str().unwrap())
        })
        .count() as u64;
    assert_eq!(walk.totals[0], Some(default_filter));
    // Every part was walked, each from the origin, and the walk ended.
    for part in 1..PARTS as u32 {
        let first = walk.cursors.iter().find(|c| c.part == part).unwrap();
        assert_eq!((first.since, first.page), (first.origin, 1));
    }
    assert!(walk.next.is_none());
    env.stop().await;
}

#[tokio::test]
async fn orders_sharing_one_second_are_paged_within_it() {
    let env = Env::start().await;
    let ids = env.orders(300, PaymentStatus::Paid);
    let second = env.updated_at(ids[10]);
    for &id in &ids[20..270] {
        env.sim.set_updated_at(id, second).unwrap();
    }
    let walk = Walk::new(env.connector(), long_ago()).run().await;
    assert_eq!(walk.ids(), ids.iter().copied().collect());
    assert_latest(&env, &walk);
    assert!(
        walk.cursors
            .iter()
            .any(|c| c.part == 0 && c.since == second && c.page == 2),
        "{:?}",
        walk.cursors
    );
    // 251 orders in one second: two pages of it, after one page from the origin.
    let part0 = walk.cursors.iter().filter(|c| c.part == 0).count();
    assert_eq!(part0, 3, "{:?}", walk.cursors);
    env.stop().await;
}

#[tokio::test]
async fn orders_changed_during_the_walk_are_seen_as_they_end_up() {
    let env = Env::start().await;
    let ids = env.orders(450, PaymentStatus::Pending);
    let mut walk = Walk::new(env.connector(), long_ago());
    assert!(walk.step().await);
    assert_eq!(walk.seen.len(), 200);
    // Already read, not read yet, and one that leaves the default filter.
    for &id in [&ids[5..15], &ids[300..310]].concat().iter() {
        env.sim.set_payment_status(id, "paid").unwrap();
    }
    env.sim.set_payment_status(ids[100], "authorized").unwrap();
    env.sim.set_payment_status(ids[350], "refunded").unwrap();
    assert!(walk.step().await);
    env.sim.set_payment_status(ids[0], "voided").unwrap();
    env.sim.set_payment_status(ids[420], "paid").unwrap();
    let walk = walk.run().await;
    assert_eq!(walk.ids(), ids.iter().copied().collect());
    assert_latest(&env, &walk);
    let latest = walk.latest();
    assert_eq!(latest[&ids[350]].data.status, OrderStatus::Cancelled);
    assert_eq!(latest[&ids[0]].data.status, OrderStatus::Cancelled);
    assert_eq!(latest[&ids[5]].data.status, OrderStatus::Approved);
    env.stop().await;
}

#[tokio::test]
async fn cancellations_hidden_by_the_default_filter_are_seen() {
    let env = Env::start().await;
    let ids = env.orders(6, PaymentStatus::Paid);
    env.sim.set_payment_status(ids[0], "refunded").unwrap();
    env.sim.set_payment_status(ids[1], "voided").unwrap();
    env.sim.set_payment_status(ids[2], "abandoned").unwrap();
    env.sim.cancel(ids[3], "customer").unwrap();
    let walk = Walk::new(env.connector(), long_ago()).run().await;
    assert_latest(&env, &walk);
    let part_of = |id: u64| -> Vec<u32> {
        walk.seen
            .iter()
            .filter(|(_, o)| o.data.external_id == id.to_string())
            .map(|(p, _)| *p)
            .collect()
    };
    assert_eq!(part_of(ids[0]), [1], "refunded");
    assert_eq!(part_of(ids[1]), [2], "voided");
    assert_eq!(part_of(ids[2]), [3], "abandoned");
    assert_eq!(part_of(ids[3]), [0], "cancelled, still paid");
    assert_eq!(part_of(ids[4]), [0]);
    let latest = walk.latest();
    for &id in &ids[..4] {
        assert_eq!(
            latest[&id].data.status,
            OrderStatus::Cancelled,
            "order {id}"
        );
    }
    assert_eq!(walk.cursors.len(), PARTS);
    env.stop().await;
}

#[tokio::test]
async fn an_empty_store_costs_one_call_per_part() {
    let env = Env::start().await;
    let connector = env.connector();
    let mut cursor = Some(PollCursor::start(long_ago()));
    let mut calls = 0;
    while let Some(c) = cursor {
        let (info, result) = connector.list_orders(&c).await;
        assert_eq!(info.status, Some(404), "the observed empty answer");
        let page = result.unwrap();
        assert!(page.orders.is_empty());
        assert_eq!(page.total, Some(0));
        calls += 1;
        assert!(calls <= PARTS);
        cursor = page.next;
    }
    assert_eq!(calls, PARTS);
    assert_eq!(env.sim.request_count(&Method::GET, "/orders"), PARTS);
    env.stop().await;
}

#[tokio::test]
async fn platform_errors_are_classified() {
    let env = Env::start().await;
    env.orders(3, PaymentStatus::Paid);
    let connector = env.connector();
    let start = PollCursor::start(long_ago());
    let cases = [
        (FaultKind::Status(500), 500),
        (FaultKind::Status(503), 503),
        (
            FaultKind::RateLimited {
                retry_after_ms: 2000,
            },
            429,
        ),
        (FaultKind::Unauthorized, 401),
    ];
    for (fault, status) in cases {
        env.sim
            .inject(Fault::new("/orders", 1, fault).with_method(Method::GET));
        let (info, result) = connector.list_orders(&start).await;
        let e = result.unwrap_err();
        assert_eq!(info.status, Some(status));
        assert_eq!(e.status, Some(status));
        let expected = match status {
            500 | 503 => PlatformErrorKind::Transient,
            429 => PlatformErrorKind::RateLimited(Duration::from_secs(2)),
            _ => PlatformErrorKind::Auth,
        };
        assert_eq!(e.kind, expected, "{e:?}");
    }
    // The fault is spent: the same cursor now reads the page.
    let (_, result) = connector.list_orders(&start).await;
    assert_eq!(result.unwrap().orders.len(), 3);
    // A cursor outside the walk is refused without a call.
    let before = env.sim.request_count(&Method::GET, "/orders");
    let bad = PollCursor {
        part: PARTS as u32,
        ..start.clone()
    };
    let (info, result) = connector.list_orders(&bad).await;
    assert_eq!(info.status, None);
    assert_eq!(result.unwrap_err().kind, PlatformErrorKind::Permanent);
    assert_eq!(env.sim.request_count(&Method::GET, "/orders"), before);
    env.stop().await;
}
