//! VTEX stock pushes against the simulator: one PUT per SKU into the channel's
//! warehouse, lock contention is Transient, configuration errors are Permanent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod vtex_env;

use ponte_channels::{Connector, PlatformErrorKind, StockCall, StockItem};
use ponte_sim::vtex::{lock_fault, Method, ServerHandle, VtexSim};
use serde_json::{json, Value};
use std::sync::Arc;

const INVENTORY: &str = "/api/logistics/pvt/inventory/skus/";

struct Env {
    sim: VtexSim,
    server: ServerHandle,
}

impl Env {
    async fn start() -> Env {
        let (sim, server) = vtex_env::start().await;
        Env { sim, server }
    }

    /// A connector writing to `warehouse` (no `warehouse_id` setting when `None`).
    fn connector(&self, warehouse: Option<&str>) -> Arc<dyn Connector> {
        let mut settings = json!({});
        if let Some(wh) = warehouse {
            settings["warehouse_id"] = Value::from(wh);
        }
        vtex_env::connector(&self.sim, &self.server, settings)
    }

    fn puts(&self) -> usize {
        self.sim.request_count(&Method::PUT, INVENTORY)
    }

    async fn stop(self) {
        self.server.shutdown().await;
    }
}

fn item(sku: &str, quantity: i64) -> StockItem {
    StockItem {
        sku: format!("REF-{sku}"),
        product_id: "1".into(),
        variant_id: sku.into(),
        quantity,
    }
}

#[track_caller]
fn assert_kind(call: &StockCall, kind: PlatformErrorKind) {
    let err = call.result.as_ref().expect_err("the push should fail");
    assert_eq!(err.kind, kind, "{call:#?}");
}

#[tokio::test]
async fn pushes_one_put_per_sku_into_the_warehouse() {
    let env = Env::start().await;
    let conn = env.connector(Some("cd-sp"));
    assert_eq!(conn.stock_batch_max(), 1);
    assert_eq!(conn.stock_batch_key("1", "3"), "3");
    assert_eq!(conn.stock_batch_key("9", "3"), "3", "one key per SKU");

    let main_before = env.sim.stock("3", "1_1");
    let items = [item("3", 17), item("4", 0), item("5", 250)];
    let out = conn.push_stock(&items).await;
    assert_eq!(out.len(), 3);
    for (call, it) in out.iter().zip(&items) {
        assert!(call.result.is_ok(), "{call:#?}");
        assert_eq!(call.items, std::slice::from_ref(it));
        assert_eq!(call.info.status, Some(200));
        assert_eq!(
            call.info.request,
            format!("PUT {INVENTORY}{}/warehouses/cd-sp", it.variant_id)
        );
        assert_eq!(env.sim.stock(&it.variant_id, "cd-sp"), Some(it.quantity));
    }
    let balance = env.sim.inventory("3");
    let cd = balance["balance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["warehouseId"] == "cd-sp")
        .unwrap();
    assert_eq!(cd["totalQuantity"], 17);
    assert_eq!(cd["hasUnlimitedQuantity"], false);
    assert_eq!(
        env.sim.stock("3", "1_1"),
        main_before,
        "other warehouses untouched"
    );

    // A new value overwrites the old one.
    let out = conn.push_stock(&[item("3", 2)]).await;
    assert!(out[0].result.is_ok());
    assert_eq!(env.sim.stock("3", "cd-sp"), Some(2));
    assert_eq!(env.puts(), 4);
    env.stop().await;
}

#[tokio::test]
async fn a_locked_sku_is_transient_and_the_others_go_through() {
    let env = Env::start().await;
    let conn = env.connector(Some("1_1"));
    env.sim
        .inject(lock_fault(format!("{INVENTORY}2/"), 1).with_method(Method::PUT));
    let before = env.sim.stock("2", "1_1");
    assert_ne!(before, Some(5));
    let out = conn.push_stock(&[item("2", 5), item("6", 8)]).await;
    assert_eq!(out.len(), 2);
    assert_kind(&out[0], PlatformErrorKind::Transient);
    let err = out[0].result.as_ref().unwrap_err();
    assert_eq!(err.status, Some(423));
    assert!(err.message.contains("Unable to acquire lock"), "{err:?}");
    assert_eq!(env.sim.stock("2", "1_1"), before, "not written");
    assert!(out[1].result.is_ok(), "{:#?}", out[1]);
    assert_eq!(env.sim.stock("6", "1_1"), Some(8));

    // The retry succeeds.
    let again = conn.push_stock(&[item("2", 5)]).await;
    assert!(again[0].result.is_ok(), "{again:#?}");
    assert_eq!(env.sim.stock("2", "1_1"), Some(5));
    env.stop().await;
}

#[tokio::test]
async fn without_warehouse_id_every_item_fails_permanent_without_a_call() {
    let env = Env::start().await;
    let conn = env.connector(None);
    let items = [item("1", 3), item("2", 4)];
    let out = conn.push_stock(&items).await;
    assert_eq!(out.len(), 2);
    for (call, it) in out.iter().zip(&items) {
        assert_kind(call, PlatformErrorKind::Permanent);
        assert_eq!(call.items, std::slice::from_ref(it));
        assert_eq!(call.info.status, None);
        assert!(call.info.request.ends_with("(not sent)"), "{call:#?}");
        let err = call.result.as_ref().unwrap_err();
        assert!(err.message.contains("warehouse_id"), "{err:?}");
    }
    assert_eq!(env.puts(), 0);
    env.stop().await;
}

#[tokio::test]
async fn an_unknown_warehouse_is_refused() {
    let env = Env::start().await;
    let conn = env.connector(Some("nowhere"));
    let out = conn.push_stock(&[item("1", 3)]).await;
    assert_kind(&out[0], PlatformErrorKind::Permanent);
    assert_eq!(out[0].info.status, Some(400));
    assert!(out[0]
        .result
        .as_ref()
        .unwrap_err()
        .message
        .contains("Warehouse nowhere not found"));
    assert_eq!(env.sim.stock("1", "nowhere"), None);
    env.stop().await;
}

#[tokio::test]
async fn bad_items_fail_without_a_call() {
    let env = Env::start().await;
    let conn = env.connector(Some("1_1"));
    let out = conn
        .push_stock(&[item("../1", 1), item("", 1), item("7", -1)])
        .await;
    assert_eq!(out.len(), 3);
    for call in &out {
        assert_kind(call, PlatformErrorKind::Permanent);
        assert_eq!(call.info.status, None);
    }
    assert!(out[2]
        .result
        .as_ref()
        .unwrap_err()
        .message
        .contains("negative stock -1"));
    let conn = env.connector(Some("cd sp"));
    assert_kind(
        &conn.push_stock(&[item("1", 1)]).await[0],
        PlatformErrorKind::Permanent,
    );
    assert_eq!(env.puts(), 0);
    env.stop().await;
}
