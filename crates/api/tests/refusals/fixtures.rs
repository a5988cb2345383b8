//! Records to refuse requests about: channels (pointing at a loopback port nothing
//! listens on, so no call leaves the machine), orders as imports store them, products,
//! warehouses, signed webhooks, invoices; and a [`World`] with one of each.

use crate::harness::{items, unknown_id, Api, Reply};
use axum::body::Body;
use axum::http::{header, Request};
use chrono::Utc;
use hmac::{Hmac, Mac};
use ponte_core::import::ImportPolicy;
use ponte_core::order::{
    Customer, MappedOrder, OrderData, OrderItem, Payment, PlatformStatus, Shipping, Totals,
};
use ponte_core::OrderStatus;
use ponte_store::{CallRecord, ImportCommit, ImportResult};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::atomic::{AtomicU32, Ordering};

/// A base URL nothing listens on (loopback: allowed by [`Api::new`], refused by [`Api::strict`]).
pub const NOWHERE: &str = "http://127.0.0.1:1";
/// Another such host (a change of host).
pub const ELSEWHERE: &str = "http://127.0.0.2:1";
/// The Nuvemshop store id of [`Api::channel`].
pub const STORE_ID: &str = "1001";
/// The app secret that signs [`Api::channel`]'s webhooks.
pub const APP_SECRET: &str = "app-secret-0123456789";
/// An NF-e access key with a valid check digit (the fixture's).
pub const NFE_KEY: &str = "43180906929383000163550010000000261000010301";

/// The next order's platform id.
static NEXT_EXT: AtomicU32 = AtomicU32::new(5001);

impl Api {
    /// A Nuvemshop channel calling [`NOWHERE`], signing webhooks with [`APP_SECRET`].
    pub async fn channel(&self) -> String {
        self.channel_at(NOWHERE).await
    }

    /// A Nuvemshop channel calling `base`.
    pub async fn channel_at(&self, base: &str) -> String {
        let body = json!({
            "platform": "nuvemshop",
            "name": "Loja",
            "settings": {"store_id": STORE_ID, "api_base_url": base},
            "credentials": {"access_token": "token-1", "app_secret": APP_SECRET},
        });
        let c = self
            .call("POST", "/api/v1/channels", Some(&body))
            .await
            .ok();
        c["id"].as_str().unwrap().to_owned()
    }

    /// A VTEX channel of `account` with this app key.
    pub async fn vtex_channel(&self, account: &str, app_key: &str) -> Reply {
        let body = json!({
            "platform": "vtex",
            "name": "VTEX",
            "settings": {"account": account, "api_base_url": NOWHERE},
            "credentials": {"app_key": app_key, "app_token": "app-token-1"},
        });
        self.call("POST", "/api/v1/channels", Some(&body)).await
    }

    /// An order of `channel` in `status`, as imports store it (a cancelled one is
    /// imported paid, then cancelled: a new cancelled order is not imported).
    pub async fn order(&self, channel: &str, status: OrderStatus) -> String {
        let ext = NEXT_EXT.fetch_add(1, Ordering::Relaxed).to_string();
        if status == OrderStatus::Cancelled {
            self.import(channel, &ext, OrderStatus::Approved).await;
        }
        self.import(channel, &ext, status).await;
        let page = self
            .get(&format!(
                "/api/v1/orders?channel_id={channel}&external_id={ext}"
            ))
            .await;
        assert_eq!(page["items"][0]["status"], status.as_str(), "{page}");
        page["items"][0]["id"].as_str().unwrap().to_owned()
    }

    /// Stores what an import of order `ext` in `status` fetched, now.
    async fn import(&self, channel: &str, ext: &str, status: OrderStatus) {
        let now = Utc::now();
        let order = MappedOrder {
            data: OrderData {
                external_id: ext.to_owned(),
                number: Some(ext.to_owned()),
                status,
                payment: Payment::default(),
                items: vec![OrderItem {
                    sku: Some("SKU-1".into()),
                    name: Some("Camiseta".into()),
                    quantity: 1,
                    unit_price_cents: Some(50_000),
                    product_id: Some("10".into()),
                    variant_id: Some("11".into()),
                    barcode: None,
                }],
                customer: Customer::default(),
                billing_address: None,
                shipping_address: None,
                shipping: Shipping::default(),
                totals: Totals {
                    total_cents: Some(50_000),
                    ..Totals::default()
                },
                currency: Some("BRL".into()),
                placed_at: Some(now),
                platform_updated_at: Some(now),
                paid_at: None,
                cancelled_at: None,
                platform_status: PlatformStatus::default(),
                platform_flags: vec![],
            },
            closed_at_platform: false,
            raw: json!({"id": ext}),
        };
        let channel_id = channel.parse().unwrap();
        let commit = ImportCommit {
            lease: None,
            tenant_id: self.engine.default_tenant(),
            channel_id,
            external_id: ext.to_owned(),
            call: CallRecord {
                request: format!("GET /orders/{ext}"),
                status: Some(200),
                duration_ms: 1,
                error: None,
            },
            read_at: now,
            result: ImportResult::Fetched {
                order: Box::new(order),
                policy: ImportPolicy::All,
            },
        };
        self.engine
            .store()
            .apply_polled(vec![commit], now)
            .await
            .unwrap();
    }

    /// Applies an ERP action that must be accepted.
    pub async fn act(&self, order: &str, action: &str, body: Value) -> Value {
        let path = format!("/api/v1/orders/{order}/{action}");
        self.call("POST", &path, Some(&body)).await.ok()
    }

    /// Adds a product.
    pub async fn product(&self, sku: &str) {
        let body = json!({"sku": sku, "name": "Produto"});
        self.call("POST", "/api/v1/products", Some(&body))
            .await
            .ok();
    }

    /// Adds a warehouse.
    pub async fn warehouse(&self, code: &str) {
        let body = json!({"code": code, "name": "Depósito"});
        self.call("POST", "/api/v1/warehouses", Some(&body))
            .await
            .ok();
    }

    /// Posts a webhook to `channel` signed with `secret` (no signature header when `None`).
    pub async fn webhook(&self, channel: &str, body: &[u8], secret: Option<&str>) -> Reply {
        let mut req = Request::builder()
            .method("POST")
            .uri(format!("/webhooks/{channel}"))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(s) = secret {
            req = req.header("x-linkedstore-hmac-sha256", sign(body, s));
        }
        self.send(req.body(Body::from(body.to_vec())).unwrap())
            .await
    }
}

/// The hex HMAC-SHA256 Nuvemshop signs a webhook body with.
pub fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A valid invoice body for `NFE_KEY`, number 26, series 1, R$ 500,00 (the fixture's).
pub fn invoice() -> Value {
    json!({
        "number": "26",
        "series": "1",
        "access_key": NFE_KEY,
        "issued_at": "2018-09-25T03:00:00Z",
        "total_cents": 50_000,
    })
}

/// The authorized NF-e XML fixture (layout 4.00).
pub fn nfe_xml() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/nfe/nfe_layout4_com_prot.xml"
    );
    std::fs::read_to_string(path).unwrap()
}

/// An application with one of each record a route names: a channel, a paid order of
/// it, a product and the channel's import task.
pub struct World {
    pub api: Api,
    pub channel: String,
    pub order: String,
    pub sku: String,
    pub task: String,
}

impl World {
    pub async fn new() -> World {
        World::on(Api::new().await).await
    }

    /// One of each record in `api`.
    pub async fn on(api: Api) -> World {
        let channel = api.channel().await;
        let order = api.order(&channel, OrderStatus::Approved).await;
        api.product("SKU-1").await;
        let tasks = api
            .get(&format!("/api/v1/scheduled-tasks?channel_id={channel}"))
            .await;
        let task = items(&tasks)
            .into_iter()
            .find(|t| t["kind"] == "import_orders")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        World {
            api,
            channel,
            order,
            sku: "SKU-1".into(),
            task,
        }
    }

    /// `template` (an OpenAPI path) naming this world's records.
    pub fn path(&self, template: &str) -> String {
        template
            .replace("/channels/{id}", &format!("/channels/{}", self.channel))
            .replace("/orders/{id}", &format!("/orders/{}", self.order))
            .replace(
                "/scheduled-tasks/{id}",
                &format!("/scheduled-tasks/{}", self.task),
            )
            .replace("{sku}", &self.sku)
            .replace("{channel_id}", &self.channel)
            .replace("{id}", &unknown_id())
    }
}
