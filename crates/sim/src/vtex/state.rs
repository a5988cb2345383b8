//! The account's state: orders, catalogue, inventory, the feed queue, the hook
//! configuration, and the clock. Every order change goes through
//! [`Store::record_change`], which enqueues feed events and returns the hook
//! notifications to send (sent by the caller once the lock is released).

use std::collections::{BTreeMap, HashSet, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

use super::catalog::{self, Sku};
use super::filter::Filter;
use super::fmt::{hex_id_lower, random_handle, random_hex_id, ts, ts_z};
use super::generate::NewOrder;
use super::order::{AccountInfo, Address, Customer, Item, OrderRec, Package};
use super::status::OrderStatus;
use crate::clock::SimClock;
use crate::SimError;

const CATALOGUE_SEED: u64 = 0x7E7E_CA7A;

/// First `sequence` handed out (six digits, as in the documented examples).
pub const FIRST_SEQUENCE: u64 = 500_001;

/// One order change, as the feed and the hook report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub order_id: String,
    pub domain: String,
    pub state: String,
    pub last_state: Option<String>,
    pub last_change: DateTime<Utc>,
    pub current_change: DateTime<Utc>,
    /// The change moved the order to `state` (else: another update).
    pub status_changed: bool,
}

/// A hook notification waiting to be POSTed.
#[derive(Debug, Clone)]
pub struct HookJob {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub order_id: String,
    pub state: String,
    pub body: Value,
}

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub filter: Filter,
    pub visibility_timeout_s: i64,
    pub retention_s: i64,
}

#[derive(Debug, Clone)]
pub struct FeedMsg {
    pub event_id: String,
    /// Receipt handle of the latest delivery (`None`: never delivered).
    pub handle: Option<String>,
    pub change: Change,
    pub enqueued_at: DateTime<Utc>,
    pub visible_at: DateTime<Utc>,
    pub deliveries: u32,
}

#[derive(Debug, Default)]
pub struct Feed {
    pub config: Option<FeedConfig>,
    pub queue: VecDeque<FeedMsg>,
    pub fired: HashSet<String>,
}

#[derive(Debug, Clone)]
pub struct HookConfig {
    pub filter: Filter,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub fired: HashSet<String>,
}

impl HookConfig {
    pub fn render(&self) -> Value {
        let headers: serde_json::Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        json!({"filter": self.filter.render(), "hook": {"url": self.url, "headers": headers}})
    }
}

/// One SKU's balance in one warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvRec {
    pub quantity: i64,
    pub unlimited: bool,
    pub lead_time: String,
    pub date_utc_on_balance_system: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct Store {
    pub clock: SimClock,
    pub rng: StdRng,
    pub account: String,
    pub seller_name: String,
    pub app_key: String,
    pub orders: BTreeMap<String, OrderRec>,
    pub skus: Vec<Sku>,
    pub warehouses: Vec<(String, String)>,
    pub inventory: BTreeMap<(String, String), InvRec>,
    /// Prices by item (SKU) id, as the Pricing API keeps them.
    pub prices: BTreeMap<String, serde_json::Value>,
    /// Catalog SKU objects by SKU id (`/api/catalog/pvt/stockkeepingunit/{id}`).
    pub catalog_skus: BTreeMap<String, serde_json::Value>,
    pub feed: Feed,
    pub hook: Option<HookConfig>,
    next_sequence: u64,
    next_invoice: u64,
}

impl Store {
    pub fn new(
        account: &str,
        seller_name: &str,
        app_key: &str,
        warehouses: Vec<(String, String)>,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(CATALOGUE_SEED);
        let skus = catalog::catalogue(&mut rng);
        let mut clock = SimClock::new();
        let now = clock.tick();
        let mut inventory = BTreeMap::new();
        for (i, s) in skus.iter().enumerate() {
            if let Some((wh, _)) = warehouses.first() {
                inventory.insert(
                    (s.id.clone(), wh.clone()),
                    InvRec {
                        quantity: 20 + (i as i64 * 37) % 380,
                        unlimited: false,
                        lead_time: "00:00:00".into(),
                        date_utc_on_balance_system: None,
                        updated_at: now,
                    },
                );
            }
        }
        let catalog_skus = skus
            .iter()
            .map(|s| (s.id.clone(), super::catalog_sku::render(s)))
            .collect();
        Self {
            clock,
            rng,
            account: account.to_owned(),
            seller_name: seller_name.to_owned(),
            app_key: app_key.to_owned(),
            orders: BTreeMap::new(),
            skus,
            warehouses,
            inventory,
            prices: BTreeMap::new(),
            catalog_skus,
            feed: Feed::default(),
            hook: None,
            next_sequence: FIRST_SEQUENCE,
            next_invoice: 1,
        }
    }

    pub fn account_info(&self) -> AccountInfo<'_> {
        AccountInfo {
            account: &self.account,
            seller_name: &self.seller_name,
        }
    }

    /// Finds an order by id or by `seq{sequence}` (documented alternative).
    pub fn find_id(&self, raw: &str) -> Option<String> {
        if self.orders.contains_key(raw) {
            return Some(raw.to_owned());
        }
        let seq: u64 = raw.strip_prefix("seq")?.parse().ok()?;
        self.orders
            .values()
            .find(|o| o.sequence == seq)
            .map(|o| o.order_id.clone())
    }

    pub fn order_mut(&mut self, id: &str) -> Result<&mut OrderRec, SimError> {
        self.orders
            .get_mut(id)
            .ok_or_else(|| SimError::NotFound(format!("order {id}")))
    }

    pub fn render(&self, id: &str) -> Option<Value> {
        let acc = self.account_info();
        self.orders.get(id).map(|o| o.render(&acc))
    }

    fn sku(&self, id: &str) -> Option<&Sku> {
        self.skus.iter().find(|s| s.id == id)
    }

    /// Creates an order; returns its id and the hook notifications to send.
    pub fn insert_new(&mut self, o: &NewOrder) -> (String, Vec<HookJob>) {
        let now = self.clock.tick();
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let group = format!("{}", 1_500_000_000_000u64 + sequence * 37);
        let order_id = match &o.affiliate {
            Some(a) => format!("{a}-{group}-01"),
            None => format!("{group}-01"),
        };
        let warehouse = self
            .warehouses
            .first()
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| "1_1".into());
        let lines = if o.items.is_empty() {
            vec![super::generate::NewItem::default()]
        } else {
            o.items.clone()
        };
        let mut items = Vec::with_capacity(lines.len());
        for l in &lines {
            let sku = match l.sku_id.as_deref() {
                Some(id) => match self.sku(id) {
                    Some(s) => s.clone(),
                    None => {
                        let s = Sku {
                            id: id.to_owned(),
                            product_id: format!("{}", 1000 + self.skus.len()),
                            ref_id: format!("REF-{id}"),
                            ean: catalog::random_ean13(&mut self.rng),
                            name: l.name.clone().unwrap_or_else(|| format!("Produto {id}")),
                            brand: "Genérica".into(),
                            price: l.price_cents.unwrap_or(1990),
                            weight_kg: 0.3,
                        };
                        self.catalog_skus
                            .insert(s.id.clone(), super::catalog_sku::render(&s));
                        self.skus.push(s.clone());
                        s
                    }
                },
                None => match self.skus.first() {
                    Some(s) => s.clone(),
                    None => continue,
                },
            };
            let price = l.price_cents.unwrap_or(sku.price);
            items.push(Item {
                sku_id: sku.id.clone(),
                product_id: sku.product_id.clone(),
                ref_id: sku.ref_id.clone(),
                ean: sku.ean.clone(),
                name: l.name.clone().unwrap_or(sku.name.clone()),
                brand: sku.brand.clone(),
                quantity: l.quantity.max(1),
                price,
                list_price: sku.price.max(price),
                weight_kg: sku.weight_kg,
                warehouse_id: warehouse.clone(),
            });
        }
        let c = &o.customer;
        let a = &o.address;
        let status = o.status;
        // Half the cancelled orders never got their payment authorised.
        let unpaid = matches!(
            status,
            OrderStatus::OrderCreated
                | OrderStatus::WaitingForSellersConfirmation
                | OrderStatus::PaymentPending
        ) || (status == OrderStatus::Canceled && sequence.is_multiple_of(2));
        let authorized = (!unpaid).then_some(now);
        let mut rec = OrderRec {
            order_id: order_id.clone(),
            sequence,
            order_group: group,
            affiliate: o.affiliate.clone(),
            status,
            creation: now,
            last_change: now,
            authorized,
            invoiced: None,
            customer: Customer {
                first_name: c.first_name.clone(),
                last_name: c.last_name.clone(),
                email: c.email.clone(),
                cpf: c.cpf.clone(),
                phone: c.phone.clone(),
                corporate: c.corporate.clone(),
            },
            address: Address {
                street: a.street.clone(),
                number: a.number.clone(),
                complement: a.complement.clone(),
                neighborhood: a.neighborhood.clone(),
                city: a.city.clone(),
                state: a.state.clone(),
                postal_code: a.postal_code.clone(),
            },
            items,
            payment: o.payment.clone(),
            sla: o.sla,
            shipping_cents: o.shipping_cents.max(0),
            discount_cents: o.discount_cents.max(0),
            packages: Vec::new(),
            cancel_reason: None,
            canceled_at: None,
        };
        match status {
            OrderStatus::Invoiced => {
                let pkg = self.generated_invoice(&rec, now);
                rec.packages.push(pkg);
                rec.invoiced = Some(now);
            }
            OrderStatus::Canceled => {
                rec.cancel_reason = Some(if rec.authorized.is_some() {
                    "Cancelado a pedido do cliente".into()
                } else {
                    "Pagamento não aprovado".into()
                });
                rec.canceled_at = Some(now);
            }
            _ => {}
        }
        let domain = rec.domain().to_owned();
        self.orders.insert(order_id.clone(), rec);
        // Assumption: creating an order reports one change from `order-created`
        // to its initial status (the intermediate workflow steps are skipped).
        let change = Change {
            order_id: order_id.clone(),
            domain,
            state: status.as_str().to_owned(),
            last_state: (status != OrderStatus::OrderCreated).then(|| "order-created".to_owned()),
            last_change: now,
            current_change: now,
            status_changed: true,
        };
        let jobs = self.record_change(change);
        (order_id, jobs)
    }

    /// An `Output` invoice covering the whole order (for generated orders).
    fn generated_invoice(&mut self, o: &OrderRec, now: DateTime<Utc>) -> Package {
        let number = self.next_invoice;
        self.next_invoice += 1;
        let cnpj = "11222333000181";
        let uf = catalog::PLACES
            .iter()
            .find(|p| p.1 == o.address.state)
            .map_or("35", |p| p.4);
        let key = catalog::nfe_key(
            &mut self.rng,
            uf,
            &now.format("%y%m").to_string(),
            cnpj,
            number,
        );
        Package {
            invoice_number: format!("{number:09}"),
            kind: "Output".into(),
            issuance_date: ts(now),
            invoice_value: o.value(),
            invoice_key: Some(key.clone()),
            invoice_url: Some(format!("https://nfe.sim.example/danfe/{key}.pdf")),
            embedded_invoice: None,
            courier: String::new(),
            tracking_number: String::new(),
            tracking_url: String::new(),
            dispatched_date: None,
            cfop: Some("5102".into()),
            items: o
                .items
                .iter()
                .enumerate()
                .map(|(i, it)| (i, it.quantity, it.price, String::new()))
                .collect(),
            delivered: false,
            delivered_date: None,
            events: Vec::new(),
            receipt: hex_id_lower(&format!("receipt-{}-{number}", o.order_id)),
            last_change: now,
        }
    }

    /// Moves an order through `steps` (each one a status change with its own
    /// tick). Returns the hook notifications to send.
    pub fn transition(
        &mut self,
        id: &str,
        steps: &[OrderStatus],
        mutate: impl FnOnce(&mut OrderRec, DateTime<Utc>),
    ) -> Result<Vec<HookJob>, SimError> {
        if !self.orders.contains_key(id) {
            return Err(SimError::NotFound(format!("order {id}")));
        }
        let mut jobs = Vec::new();
        let mut mutate = Some(mutate);
        for (i, step) in steps.iter().enumerate() {
            let now = self.clock.tick();
            let o = self.order_mut(id)?;
            let last_state = o.status.as_str().to_owned();
            let last_change = o.last_change;
            o.status = *step;
            o.last_change = now;
            if i + 1 == steps.len() {
                if let Some(f) = mutate.take() {
                    f(o, now);
                }
            }
            let change = Change {
                order_id: id.to_owned(),
                domain: o.domain().to_owned(),
                state: step.as_str().to_owned(),
                last_state: Some(last_state),
                last_change,
                current_change: now,
                status_changed: true,
            };
            jobs.extend(self.record_change(change));
        }
        Ok(jobs)
    }

    /// A change that does not move the status (invoice, tracking, delivery).
    pub fn update(
        &mut self,
        id: &str,
        mutate: impl FnOnce(&mut OrderRec, DateTime<Utc>),
    ) -> Result<Vec<HookJob>, SimError> {
        let now = self.clock.tick();
        let o = self.order_mut(id)?;
        let last_change = o.last_change;
        o.last_change = now;
        mutate(o, now);
        let state = o.status.as_str().to_owned();
        let change = Change {
            order_id: id.to_owned(),
            domain: o.domain().to_owned(),
            state: state.clone(),
            last_state: Some(state),
            last_change,
            current_change: now,
            status_changed: false,
        };
        Ok(self.record_change(change))
    }

    /// Enqueues the change in the feed (if its filter passes) and returns the
    /// hook notification (if the hook's filter passes).
    pub fn record_change(&mut self, change: Change) -> Vec<HookJob> {
        let needs_doc = matches!(
            self.feed.config.as_ref().map(|c| &c.filter),
            Some(Filter::FromOrders { .. })
        ) || matches!(
            self.hook.as_ref().map(|h| &h.filter),
            Some(Filter::FromOrders { .. })
        );
        let doc = if needs_doc {
            self.render(&change.order_id).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let now = change.current_change;
        if let Some(cfg) = &self.feed.config {
            let pass = cfg
                .filter
                .matches(&change.state, change.status_changed, &doc)
                && !(cfg.filter.single_fire() && self.feed.fired.contains(&change.order_id));
            if pass {
                if cfg.filter.single_fire() {
                    self.feed.fired.insert(change.order_id.clone());
                }
                let event_id = random_hex_id(&mut self.rng);
                self.feed.queue.push_back(FeedMsg {
                    event_id,
                    handle: None,
                    change: change.clone(),
                    enqueued_at: now,
                    visible_at: now,
                    deliveries: 0,
                });
            }
        }
        let mut jobs = Vec::new();
        if let Some(h) = &mut self.hook {
            let pass = h.filter.matches(&change.state, change.status_changed, &doc)
                && !(h.filter.single_fire() && h.fired.contains(&change.order_id));
            if pass {
                if h.filter.single_fire() {
                    h.fired.insert(change.order_id.clone());
                }
                jobs.push(HookJob {
                    url: h.url.clone(),
                    headers: h.headers.clone(),
                    order_id: change.order_id.clone(),
                    state: change.state.clone(),
                    body: notification_body(&change, &self.account, &self.app_key),
                });
            }
        }
        jobs
    }

    /// Drops messages older than the retention period.
    fn expire_feed(&mut self, now: DateTime<Utc>) {
        if let Some(cfg) = &self.feed.config {
            let keep = TimeDelta::seconds(cfg.retention_s);
            self.feed.queue.retain(|m| now - m.enqueued_at < keep);
        }
    }

    /// `GET /api/orders/feed?maxlot=n`: up to `n` visible messages, each made
    /// invisible for the visibility timeout and given a new handle.
    pub fn feed_receive(&mut self, n: usize) -> Vec<Value> {
        let now = self.clock.now();
        self.expire_feed(now);
        let timeout = TimeDelta::seconds(
            self.feed
                .config
                .as_ref()
                .map_or(240, |c| c.visibility_timeout_s),
        );
        let mut out = Vec::new();
        for m in self.feed.queue.iter_mut() {
            if out.len() >= n {
                break;
            }
            if m.visible_at > now {
                continue;
            }
            let handle = random_handle(&mut self.rng);
            m.handle = Some(handle.clone());
            m.visible_at = now + timeout;
            m.deliveries += 1;
            let c = &m.change;
            out.push(json!({
                "eventId": m.event_id,
                "handle": handle,
                "domain": c.domain,
                "state": c.state,
                "lastState": c.last_state.clone().unwrap_or_default(),
                "orderId": c.order_id,
                "lastChange": ts_z(c.last_change),
                "currentChange": ts_z(c.current_change),
            }));
        }
        out
    }

    /// `POST /api/orders/feed`: deletes the messages whose *latest* handle is
    /// given. Assumption (SQS semantics, which the handles suggest): a handle
    /// from an earlier delivery of a message that has since been delivered
    /// again is accepted but deletes nothing; unknown handles are ignored.
    /// Returns how many messages were deleted.
    pub fn feed_commit(&mut self, handles: &[String]) -> usize {
        let set: HashSet<&str> = handles.iter().map(String::as_str).collect();
        let before = self.feed.queue.len();
        self.feed
            .queue
            .retain(|m| !m.handle.as_deref().is_some_and(|h| set.contains(h)));
        before - self.feed.queue.len()
    }

    pub fn feed_config_render(&mut self) -> Option<Value> {
        let now = self.clock.now();
        self.expire_feed(now);
        let cfg = self.feed.config.as_ref()?;
        let oldest = self
            .feed
            .queue
            .iter()
            .map(|m| m.enqueued_at)
            .min()
            .map_or(0.0, |t| (now - t).num_milliseconds() as f64 / 1000.0);
        Some(json!({
            "filter": cfg.filter.render(),
            "queue": {
                "visibilityTimeoutInSeconds": cfg.visibility_timeout_s,
                "MessageRetentionPeriodInSeconds": cfg.retention_s,
            },
            "quantity": self.feed.queue.len(),
            "approximateAgeOfOldestMessageInSeconds": oldest,
        }))
    }

    /// A random receipt id for write answers (`{date, orderId, receipt}`).
    pub fn receipt(&mut self) -> String {
        let b: [u8; 16] = self.rng.gen();
        hex::encode(b)
    }
}

/// The documented hook notification body (`Domain`, `OrderId`, `State`,
/// `LastState`, `LastChange`, `CurrentChange`, `Origin{Account, Key}`).
/// `LastState` is left out when there is none (as in the guide's example).
pub fn notification_body(c: &Change, account: &str, app_key: &str) -> Value {
    let mut v = json!({
        "Domain": c.domain,
        "OrderId": c.order_id,
        "State": c.state,
        "LastChange": ts_z(c.last_change),
        "CurrentChange": ts_z(c.current_change),
        "Origin": {"Account": account, "Key": app_key},
    });
    if let (Some(ls), Value::Object(m)) = (&c.last_state, &mut v) {
        m.insert("LastState".into(), Value::String(ls.clone()));
    }
    v
}
