//! The store's state: orders, catalogue, metafields, webhooks, and the clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rand::{rngs::StdRng, SeedableRng};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::catalogue::{Product, Variant};
use super::fmt;
use super::generate::{self, DocIds, GenExtras, NewLine, NewOrder, ResolvedLine};
use super::order::OrderRec;
use super::resources::{Metafield, Webhook};
use super::status::{CancelReason, FoStatus, OrderStatus, PaymentStatus};
use crate::clock::SimClock;
use crate::SimError;

const CATALOGUE_SEED: u64 = 0x5EED_CA7A;

/// First id handed to new orders (Nuvemshop ids are large integers).
pub const FIRST_ORDER_ID: u64 = 1_500_000_001;

#[derive(Debug)]
pub struct Store {
    pub clock: SimClock,
    pub orders: BTreeMap<u64, OrderRec>,
    pub products: BTreeMap<u64, Product>,
    pub metafields: BTreeMap<u64, Metafield>,
    pub webhooks: BTreeMap<u64, Webhook>,
    pub next_metafield_id: u64,
    pub next_webhook_id: u64,
    next_order_id: u64,
    next_number: u64,
    next_customer_id: u64,
    pub next_product_id: u64,
    pub next_variant_id: u64,
}

fn order_token(id: u64) -> String {
    let digest = Sha256::digest(format!("ponte-sim-order-{id}").as_bytes());
    hex::encode(digest)[..40].to_owned()
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub fn new() -> Self {
        let mut clock = SimClock::new();
        let now = clock.now();
        let mut rng = StdRng::seed_from_u64(CATALOGUE_SEED);
        let products = generate::catalogue(&mut rng, now);
        let next_product_id = products.keys().max().map_or(200_000_001, |m| m + 1);
        let next_variant_id = products
            .values()
            .flat_map(|p| p.variants.iter().map(|v| v.id))
            .max()
            .map_or(800_000_001, |m| m + 1);
        let _ = clock.tick();
        Self {
            clock,
            orders: BTreeMap::new(),
            products,
            metafields: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            next_metafield_id: 1,
            next_webhook_id: 1,
            next_order_id: FIRST_ORDER_ID,
            next_number: 100,
            next_customer_id: 50_000_001,
            next_product_id,
            next_variant_id,
        }
    }

    /// `(product_id, variant_id)` of every catalogue variant, in id order.
    pub fn variant_keys(&self) -> Vec<(u64, u64)> {
        self.products
            .values()
            .flat_map(|p| p.variants.iter().map(|v| (p.id, v.id)))
            .collect()
    }

    pub fn variant(&self, variant_id: u64) -> Option<(&Product, &Variant)> {
        self.products.values().find_map(|p| {
            p.variants
                .iter()
                .find(|v| v.id == variant_id)
                .map(|v| (p, v))
        })
    }

    fn variant_mut(&mut self, variant_id: u64) -> Option<&mut Variant> {
        self.products
            .values_mut()
            .find_map(|p| p.variants.iter_mut().find(|v| v.id == variant_id))
    }

    /// Ensures a product/variant exists (fixture orders, explicit new lines).
    fn ensure_variant(
        &mut self,
        product_id: Option<u64>,
        variant_id: Option<u64>,
        name: &str,
        sku: Option<String>,
        price: i64,
        now: DateTime<Utc>,
    ) -> (u64, u64) {
        if let Some((p, v)) = variant_id.and_then(|vid| self.variant(vid)) {
            return (p.id, v.id);
        }
        let vid = variant_id.unwrap_or(self.next_variant_id);
        self.next_variant_id = self.next_variant_id.max(vid + 1);
        let pid = product_id.unwrap_or(self.next_product_id);
        self.next_product_id = self.next_product_id.max(pid + 1);
        let product = self.products.entry(pid).or_insert_with(|| Product {
            id: pid,
            name: name.to_owned(),
            variants: Vec::new(),
            info: Default::default(),
        });
        product.variants.push(Variant {
            id: vid,
            product_id: pid,
            position: product.variants.len() + 1,
            sku,
            barcode: None,
            price: Some(price),
            promotional_price: None,
            stock_management: true,
            stock: Some(100),
            values: Vec::new(),
            weight: None,
            extra: Map::new(),
            created_at: now,
            updated_at: now,
        });
        (pid, vid)
    }

    fn resolve_lines(&mut self, lines: &[NewLine], now: DateTime<Utc>) -> Vec<ResolvedLine> {
        let default_line = [NewLine::default()];
        let lines = if lines.is_empty() {
            &default_line[..]
        } else {
            lines
        };
        let first = self.variant_keys().first().map(|(_, v)| *v);
        lines
            .iter()
            .map(|l| {
                let vid = l.variant_id.or(first);
                let known = vid.and_then(|v| self.variant(v)).map(|(p, v)| {
                    let label = v.label();
                    let name = if label.is_empty() || p.variants.len() == 1 {
                        p.name.clone()
                    } else {
                        format!("{} ({label})", p.name)
                    };
                    ResolvedLine {
                        product_id: p.id,
                        variant_id: v.id,
                        name,
                        sku: v.sku.clone(),
                        barcode: v.barcode.clone(),
                        price_cents: v.price.unwrap_or(0),
                        quantity: l.quantity,
                        weight: v.weight.clone(),
                    }
                });
                let mut r = match known {
                    Some(r) => r,
                    None => {
                        let name = l.name.clone().unwrap_or_else(|| "Produto".to_owned());
                        let price = l.price_cents.unwrap_or(1000);
                        let (pid, vid) = self.ensure_variant(
                            l.product_id,
                            vid,
                            &name,
                            l.sku.clone(),
                            price,
                            now,
                        );
                        ResolvedLine {
                            product_id: pid,
                            variant_id: vid,
                            name,
                            sku: l.sku.clone(),
                            barcode: None,
                            price_cents: price,
                            quantity: l.quantity,
                            weight: None,
                        }
                    }
                };
                if let Some(n) = &l.name {
                    r.name.clone_from(n);
                }
                if l.sku.is_some() {
                    r.sku.clone_from(&l.sku);
                }
                if let Some(p) = l.price_cents {
                    r.price_cents = p;
                }
                r
            })
            .collect()
    }

    /// Adds `sign * quantity` to each line's variant stock (managed stock only,
    /// never below zero). Assumption: like the platform, a sale claims stock and a
    /// cancellation with `restock` gives it back.
    fn move_stock(&mut self, id: u64, sign: i64, now: DateTime<Utc>) {
        let lines = match self.orders.get(&id) {
            Some(o) => o.lines.clone(),
            None => return,
        };
        for l in lines {
            if let Some(v) = self.variant_mut(l.variant_id) {
                if v.stock_management {
                    v.stock = Some((v.stock.unwrap_or(0) + sign * l.quantity).max(0));
                    v.updated_at = now;
                }
            }
        }
    }

    pub fn insert_new(&mut self, o: &NewOrder, extras: &GenExtras) -> u64 {
        let now = self.clock.tick();
        let id = o.id.unwrap_or(self.next_order_id);
        self.next_order_id = self.next_order_id.max(id + 1);
        let number = self.next_number;
        self.next_number += 1;
        let customer_id = self.next_customer_id;
        self.next_customer_id += 1;
        let lines = self.resolve_lines(&o.lines, now);
        let ids = DocIds {
            id,
            number,
            customer_id,
            address_id: customer_id + 7_000_000,
            token: order_token(id),
        };
        let doc = generate::order_doc(&ids, o, &lines, extras, now);
        self.insert_doc(doc, now, true).unwrap_or(id)
    }

    /// Inserts a complete order document (replacing an order with the same id).
    pub fn insert_doc(
        &mut self,
        doc: Map<String, Value>,
        now: DateTime<Utc>,
        claim: bool,
    ) -> Result<u64, SimError> {
        let rec = OrderRec::from_doc(doc, now).map_err(SimError::Invalid)?;
        let id = rec.id;
        let cancelled = rec.status == OrderStatus::Cancelled;
        self.orders.insert(id, rec);
        if claim && !cancelled {
            self.move_stock(id, -1, now);
        }
        Ok(id)
    }

    /// Loads a fixture order: keeps every key, registers its products in the
    /// catalogue, does not touch stock (fixtures are history).
    pub fn insert_fixture(&mut self, v: Value) -> Result<u64, SimError> {
        let Value::Object(doc) = v else {
            return Err(SimError::Invalid("fixture order is not an object".into()));
        };
        let id = doc
            .get("id")
            .and_then(fmt::as_u64)
            .ok_or_else(|| SimError::Invalid("fixture order without id".into()))?;
        let now = self.clock.now();
        if let Some(Value::Array(ps)) = doc.get("products") {
            for p in ps {
                let pid = p.get("product_id").and_then(fmt::as_u64);
                let vid = p.get("variant_id").and_then(fmt::as_u64);
                let name = p.get("name").and_then(Value::as_str).unwrap_or("Produto");
                let sku = p.get("sku").and_then(Value::as_str).map(str::to_owned);
                let price = p.get("price").and_then(fmt::parse_money).unwrap_or(0);
                if vid.is_some() {
                    self.ensure_variant(pid, vid, name, sku, price, now);
                }
            }
        }
        if let Some(n) = doc.get("number").and_then(fmt::as_u64) {
            self.next_number = self.next_number.max(n + 1);
        }
        self.next_order_id = self.next_order_id.max(id + 1);
        self.insert_doc(doc, now, false)
    }

    pub fn order_mut(&mut self, id: u64) -> Result<&mut OrderRec, SimError> {
        self.orders
            .get_mut(&id)
            .ok_or_else(|| SimError::NotFound(format!("order {id}")))
    }

    /// Runs a state change at a new tick; refusals become `InvalidTransition`.
    pub fn transition(
        &mut self,
        id: u64,
        f: impl FnOnce(&mut OrderRec, DateTime<Utc>) -> Result<(), String>,
    ) -> Result<(), SimError> {
        if !self.orders.contains_key(&id) {
            return Err(SimError::NotFound(format!("order {id}")));
        }
        let now = self.clock.tick();
        let o = self.order_mut(id)?;
        f(o, now).map_err(SimError::InvalidTransition)
    }

    pub fn cancel(
        &mut self,
        id: u64,
        reason: Option<CancelReason>,
        restock: bool,
    ) -> Result<(), SimError> {
        self.transition(id, |o, now| o.cancel(now, reason))?;
        if restock {
            let now = self.clock.now();
            self.move_stock(id, 1, now);
        }
        Ok(())
    }

    pub fn set_payment(&mut self, id: u64, p: PaymentStatus) -> Result<(), SimError> {
        self.transition(id, |o, now| {
            o.set_payment(now, p);
            Ok(())
        })
    }

    pub fn set_fo_status(&mut self, id: u64, to: FoStatus) -> Result<(), SimError> {
        self.transition(id, |o, now| {
            o.apply_fo_status(now, to);
            Ok(())
        })
    }
}
