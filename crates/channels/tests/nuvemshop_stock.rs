//! Nuvemshop stock pushes against the simulator: one PATCH per product, the stock
//! lands, and failures are classified. (Splitting a batch over `stock_batch_max` is
//! tested beside the code with a small max: the simulated products have at most five
//! variants, fewer than the max.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ponte_channels::nuvemshop::Nuvemshop;
use ponte_channels::{Connector, Platform, PlatformErrorKind, StockCall, StockItem};
use ponte_sim::nuvemshop::{Fault, FaultKind, Method, NuvemshopSim, ServerHandle, SimConfig};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

struct Env {
    sim: NuvemshopSim,
    server: ServerHandle,
}

impl Env {
    async fn start() -> Env {
        Env::start_with(SimConfig {
            bucket_size: 0,
            ..SimConfig::default()
        })
        .await
    }

    async fn start_with(config: SimConfig) -> Env {
        let sim = NuvemshopSim::new(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = sim.serve(listener).await;
        Env { sim, server }
    }

    fn connector_with_token(&self, token: &str) -> Arc<dyn Connector> {
        let settings = json!({
            "store_id": self.sim.config().store_id,
            "api_base_url": self.server.base_url(),
        });
        let credentials = json!({"access_token": token, "app_secret": "s"});
        let http = ponte_channels::Outbound::new(Duration::from_secs(5), true).unwrap();
        Nuvemshop.connect(&settings, &credentials, http).unwrap()
    }

    fn connector(&self) -> Arc<dyn Connector> {
        let token = self.sim.config().access_token.clone();
        self.connector_with_token(&token)
    }

    /// The variant ids of the first product with at least `n` variants.
    fn product_with(&self, n: usize) -> (u64, Vec<u64>) {
        let all = self.sim.variants();
        all.iter()
            .map(|(p, _)| *p)
            .find_map(|p| {
                let vids: Vec<u64> = all
                    .iter()
                    .filter(|(q, _)| *q == p)
                    .map(|(_, v)| *v)
                    .collect();
                (vids.len() >= n).then_some((p, vids))
            })
            .unwrap()
    }

    /// PATCH requests to the variants collection so far.
    fn patches(&self) -> usize {
        let prefix = format!("/v1/{}/products/", self.sim.config().store_id);
        self.sim.request_count(&Method::PATCH, &prefix)
    }

    fn stock(&self, p: u64, v: u64) -> Option<i64> {
        self.sim.variant_stock(p, v)
    }

    async fn stop(self) {
        self.server.shutdown().await;
    }
}

fn item(p: u64, v: impl ToString, q: i64) -> StockItem {
    let v = v.to_string();
    StockItem {
        sku: format!("SKU-{v}"),
        product_id: p.to_string(),
        variant_id: v,
        quantity: q,
    }
}

#[track_caller]
fn assert_ok(calls: &[StockCall]) {
    assert!(calls.iter().all(|c| c.result.is_ok()), "{calls:#?}");
}

#[track_caller]
fn only_error(mut calls: Vec<StockCall>) -> (StockCall, ponte_channels::PlatformError) {
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let c = calls.remove(0);
    let err = c.result.clone().expect_err("the push should fail");
    (c, err)
}

#[tokio::test]
async fn batch_key_and_max() {
    let env = Env::start().await;
    let conn = env.connector();
    assert_eq!(conn.stock_batch_key("200000001", "800000001"), "200000001");
    assert_eq!(
        conn.stock_batch_key("200000001", "800000002"),
        conn.stock_batch_key("200000001", "800000001"),
        "one call per product"
    );
    assert_ne!(
        conn.stock_batch_key("200000002", "800000001"),
        conn.stock_batch_key("200000001", "800000001")
    );
    assert!((1..=1000).contains(&conn.stock_batch_max()));
    assert!(conn.push_stock(&[]).await.is_empty());
    assert_eq!(env.patches(), 0);
    env.stop().await;
}

#[tokio::test]
async fn three_variants_of_one_product_are_one_patch() {
    let env = Env::start().await;
    let conn = env.connector();
    let (pid, vids) = env.product_with(3);
    let items: Vec<StockItem> = vids[..3]
        .iter()
        .zip([7, 0, 123])
        .map(|(v, q)| item(pid, v, q))
        .collect();
    let calls = conn.push_stock(&items).await;
    assert_ok(&calls);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].items, items);
    assert_eq!(calls[0].info.status, Some(200));
    assert_eq!(
        calls[0].info.request,
        format!("PATCH /products/{pid}/variants (3 variants)")
    );
    assert_eq!(env.patches(), 1);
    for i in &items {
        assert_eq!(
            env.stock(pid, i.variant_id.parse().unwrap()),
            Some(i.quantity)
        );
    }
    // Absolute quantities: the same push again is the same state.
    assert_ok(&conn.push_stock(&items).await);
    assert_eq!(env.stock(pid, vids[2]), Some(123));
    env.stop().await;
}

#[tokio::test]
async fn several_products_in_one_push_are_one_call_each() {
    let env = Env::start().await;
    let conn = env.connector();
    let all = env.sim.variants();
    let (p1, v1) = all[0];
    let (p2, v2) = *all.iter().find(|(p, _)| *p != p1).unwrap();
    let items = [item(p1, v1, 11), item(p2, v2, 22)];
    let calls = conn.push_stock(&items).await;
    assert_ok(&calls);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].items, [items[0].clone()]);
    assert_eq!(calls[1].items, [items[1].clone()]);
    assert_eq!(env.patches(), 2);
    assert_eq!(env.stock(p1, v1), Some(11));
    assert_eq!(env.stock(p2, v2), Some(22));
    env.stop().await;
}

#[tokio::test]
async fn a_repeated_variant_is_sent_once_with_the_last_quantity() {
    let env = Env::start().await;
    let conn = env.connector();
    let (pid, vids) = env.product_with(2);
    let items = [
        item(pid, vids[0], 5),
        item(pid, vids[1], 6),
        item(pid, vids[0], 9),
    ];
    let calls = conn.push_stock(&items).await;
    assert_ok(&calls);
    assert_eq!(
        calls.len(),
        1,
        "no 422 duplicate_variant_ids: merged before sending"
    );
    assert_eq!(calls[0].items.len(), 3, "every item is accounted for");
    assert_eq!(
        calls[0].info.request,
        format!("PATCH /products/{pid}/variants (2 variants)")
    );
    assert_eq!(env.stock(pid, vids[0]), Some(9));
    assert_eq!(env.stock(pid, vids[1]), Some(6));
    env.stop().await;
}

#[tokio::test]
async fn an_unknown_variant_fails_alone_and_the_others_go_through() {
    let env = Env::start().await;
    let conn = env.connector();
    let (pid, vids) = env.product_with(2);
    let (_, foreign) = *env.sim.variants().iter().find(|(p, _)| *p != pid).unwrap();
    for bad in [999_999_999, foreign] {
        let items = [
            item(pid, vids[0], 31),
            item(pid, bad, 4),
            item(pid, vids[1], 32),
        ];
        let calls = conn.push_stock(&items).await;
        assert_eq!(calls.len(), 2, "{calls:#?}");
        let err = calls[0].result.as_ref().unwrap_err();
        assert_eq!(err.kind, PlatformErrorKind::Permanent);
        assert_eq!(err.status, Some(422));
        assert!(err.message.contains(&bad.to_string()), "{err}");
        assert_eq!(calls[0].items, [items[1].clone()]);
        assert_eq!(calls[0].info.status, Some(422));
        assert!(calls[1].result.is_ok(), "{calls:#?}");
        assert_eq!(calls[1].items, [items[0].clone(), items[2].clone()]);
        assert_eq!(env.stock(pid, vids[0]), Some(31));
        assert_eq!(env.stock(pid, vids[1]), Some(32));
        env.sim.set_variant_stock(pid, vids[0], 1).unwrap();
    }
    // Alone, the unknown variant fails the call.
    let calls = conn.push_stock(&[item(pid, 999_999_999, 4)]).await;
    let (c, err) = only_error(calls);
    assert_eq!(err.kind, PlatformErrorKind::Permanent);
    assert!(err.message.contains("999999999"), "{err}");
    assert_eq!(c.info.status, Some(422));
    env.stop().await;
}

#[tokio::test]
async fn ids_and_quantities_that_cannot_be_sent_make_no_call() {
    let env = Env::start().await;
    let conn = env.connector();
    let (pid, vids) = env.product_with(2);
    let before = env.stock(pid, vids[0]);
    let calls = conn
        .push_stock(&[
            item(pid, "abc", 1),
            item(pid, vids[0], -1),
            item(pid, vids[1], 8),
        ])
        .await;
    assert_eq!(calls.len(), 3, "{calls:#?}");
    for c in &calls[..2] {
        let err = c.result.as_ref().unwrap_err();
        assert_eq!(err.kind, PlatformErrorKind::Permanent);
        assert_eq!((c.info.status, err.status), (None, None));
        assert_eq!(
            c.info.request,
            format!("PATCH /products/{pid}/variants (not sent)")
        );
    }
    assert!(calls[0]
        .result
        .as_ref()
        .unwrap_err()
        .message
        .contains("abc"));
    assert!(calls[1]
        .result
        .as_ref()
        .unwrap_err()
        .message
        .contains("negative"));
    assert!(calls[2].result.is_ok());
    assert_eq!(env.patches(), 1, "only the valid item was sent");
    assert_eq!(env.stock(pid, vids[0]), before);
    assert_eq!(env.stock(pid, vids[1]), Some(8));

    let mut odd = item(pid, vids[0], 1);
    odd.product_id = "loja-1".into();
    let (_, err) = only_error(conn.push_stock(&[odd]).await);
    assert_eq!(err.kind, PlatformErrorKind::Permanent);
    assert_eq!(env.patches(), 1);
    env.stop().await;
}

#[tokio::test]
async fn an_unknown_product_is_not_found() {
    let env = Env::start().await;
    let conn = env.connector();
    let calls = conn.push_stock(&[item(999_999_999, 1, 4)]).await;
    let (c, err) = only_error(calls);
    assert_eq!(err.kind, PlatformErrorKind::NotFound);
    assert_eq!(c.info.status, Some(404));
    env.stop().await;
}

#[tokio::test]
async fn transient_rate_limited_and_auth_failures_are_classified() {
    let env = Env::start().await;
    let conn = env.connector();
    let (pid, vids) = env.product_with(1);
    let before = env.stock(pid, vids[0]);
    let items = [item(pid, vids[0], 77)];
    let path = format!("/products/{pid}/variants");

    env.sim
        .inject(Fault::new(&path, 1, FaultKind::Status(500)).with_method(Method::PATCH));
    let (_, err) = only_error(conn.push_stock(&items).await);
    assert_eq!(err.kind, PlatformErrorKind::Transient);

    env.sim.inject(Fault::new(&path, 1, FaultKind::Status(503)));
    let (_, err) = only_error(conn.push_stock(&items).await);
    assert_eq!(err.kind, PlatformErrorKind::Transient);

    env.sim.inject(Fault::new(
        &path,
        1,
        FaultKind::RateLimited {
            retry_after_ms: 2500,
        },
    ));
    let (_, err) = only_error(conn.push_stock(&items).await);
    assert_eq!(
        err.kind,
        PlatformErrorKind::RateLimited(Duration::from_secs(3))
    );

    env.sim
        .inject(Fault::new(&path, 1, FaultKind::Unauthorized));
    let (_, err) = only_error(conn.push_stock(&items).await);
    assert_eq!(err.kind, PlatformErrorKind::Auth);
    let wrong = env.connector_with_token("not-the-token");
    let (_, err) = only_error(wrong.push_stock(&items).await);
    assert_eq!(err.kind, PlatformErrorKind::Auth);
    assert_eq!(env.stock(pid, vids[0]), before);

    // After the faults, the same push goes through.
    assert_ok(&conn.push_stock(&items).await);
    assert_eq!(env.stock(pid, vids[0]), Some(77));
    env.stop().await;
}

#[tokio::test]
async fn the_rate_limit_bucket_covers_stock_pushes() {
    let env = Env::start_with(SimConfig {
        bucket_size: 1,
        leak_per_sec: 0.001,
        ..SimConfig::default()
    })
    .await;
    let conn = env.connector();
    let (pid, vids) = env.product_with(1);
    assert_ok(&conn.push_stock(&[item(pid, vids[0], 3)]).await);
    let (c, err) = only_error(conn.push_stock(&[item(pid, vids[0], 4)]).await);
    assert!(
        // The bucket's reset is far away; ponte waits at most a second (one slot).
        matches!(err.kind, PlatformErrorKind::RateLimited(w) if w == Duration::from_secs(1)),
        "{c:#?}"
    );
    assert_eq!(env.stock(pid, vids[0]), Some(3));
    env.stop().await;
}
