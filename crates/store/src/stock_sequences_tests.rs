//! The stock sequences over a recording backend: what each asks of the backend, in
//! which order (PostgreSQL's stock locks rely on it: they come before anything they
//! protect is read), and what it makes of the answers.

use crate::stock_marks::{apply_entries, MarksTx};
use crate::stock_orders::{apply_order_effects, OrderStockTx};
use crate::stock_plan::{
    AppliedEffects, Feed, LedgerEntry, LevelKey, OrderStockEffect, OrderStockInput,
    RevealedListing, SkuKey, UnmappedLine,
};
use crate::stock_push::{record_pushes, PushTx};
use crate::stock_writes::{record_movements, resync_stock, upsert_listings, StockWritesTx};
use crate::target_push::PushRow;
use crate::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::order::OrderItem;
use ponte_core::stock::{Balance, Change, Effect};
use ponte_core::{ChannelId, OrderId, OrderStatus, TenantId};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::task::{Context, Poll, Waker};
use uuid::Uuid;

/// Runs a future whose every step is ready (the recording backend never waits).
fn run<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn tenant() -> TenantId {
    TenantId(Uuid::from_u128(1))
}

fn channel() -> ChannelId {
    ChannelId(Uuid::from_u128(2))
}

fn now() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

fn feed(sku: &str) -> Feed {
    Feed {
        tenant: tenant(),
        channel: channel(),
        sku: sku.into(),
        product_id: "p".into(),
        variant_id: "v".into(),
        warehouses: vec!["main".into()],
        buffer: 0,
    }
}

/// A backend that answers from its fields and records every call.
#[derive(Default)]
struct Recorder {
    calls: Vec<&'static str>,
    events: Vec<&'static str>,
    locked: Vec<(BTreeSet<SkuKey>, Vec<TenantId>)>,
    unknown: Vec<String>,
    warehouses: BTreeSet<String>,
    feeds: Vec<Feed>,
    levels: HashMap<LevelKey, Balance>,
    target_state: Option<PushState>,
    ledger: Vec<LedgerEntry>,
    written_levels: BTreeMap<LevelKey, Balance>,
    jobs: Vec<(TenantId, Option<String>)>,
    orders: Vec<OrderStockInput>,
    applied: AppliedEffects,
    products: HashSet<SkuKey>,
    listings: Vec<String>,
    pushes: Vec<(&'static str, Vec<(String, i64)>)>,
}

#[async_trait]
impl MarksTx for Recorder {
    async fn lock_stock(&mut self, skus: &BTreeSet<SkuKey>, whole: &[TenantId]) -> StoreResult<()> {
        self.calls.push("lock_stock");
        self.locked.push((skus.clone(), whole.to_vec()));
        Ok(())
    }

    async fn load_levels(
        &mut self,
        keys: &BTreeSet<LevelKey>,
    ) -> StoreResult<HashMap<LevelKey, Balance>> {
        self.calls.push("load_levels");
        Ok(self
            .levels
            .iter()
            .filter(|(k, _)| keys.contains(*k))
            .map(|(k, b)| (k.clone(), *b))
            .collect())
    }

    async fn write_ledger(&mut self, entries: &[LedgerEntry], _: DateTime<Utc>) -> StoreResult<()> {
        self.calls.push("write_ledger");
        self.ledger.extend_from_slice(entries);
        Ok(())
    }

    async fn write_levels(
        &mut self,
        levels: &BTreeMap<LevelKey, Balance>,
        _: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.calls.push("write_levels");
        self.written_levels = levels.clone();
        Ok(())
    }

    async fn load_feeds(
        &mut self,
        skus: &BTreeSet<SkuKey>,
        _: Option<ChannelId>,
    ) -> StoreResult<Vec<Feed>> {
        self.calls.push("load_feeds");
        Ok(self
            .feeds
            .iter()
            .filter(|f| skus.contains(&(f.tenant, f.sku.clone())))
            .cloned()
            .collect())
    }

    async fn write_targets(
        &mut self,
        values: &[(&Feed, i64)],
        _: bool,
        _: DateTime<Utc>,
    ) -> StoreResult<Vec<(TenantId, ChannelId, PushState)>> {
        self.calls.push("write_targets");
        let state = self.target_state.unwrap_or(PushState::Pending);
        Ok(values
            .iter()
            .map(|(f, _)| (f.tenant, f.channel, state))
            .collect())
    }

    async fn insert_jobs(&mut self, jobs: &[(TenantId, &NewJob)]) -> StoreResult<()> {
        self.calls.push("insert_jobs");
        self.jobs
            .extend(jobs.iter().map(|(t, j)| (*t, j.unique_key.clone())));
        Ok(())
    }
}

#[async_trait]
impl OrderStockTx for Recorder {
    async fn read_orders(
        &mut self,
        _: &BTreeSet<(TenantId, OrderId)>,
    ) -> StoreResult<Vec<OrderStockInput>> {
        self.calls.push("read_orders");
        Ok(self.orders.clone())
    }

    async fn read_applied(&mut self, _: &[OrderStockInput]) -> StoreResult<AppliedEffects> {
        self.calls.push("read_applied");
        Ok(self.applied.clone())
    }

    async fn read_products(&mut self, _: &BTreeSet<SkuKey>) -> StoreResult<HashSet<SkuKey>> {
        self.calls.push("read_products");
        Ok(self.products.clone())
    }

    async fn write_effects(&mut self, _: &[OrderStockEffect]) -> StoreResult<()> {
        self.calls.push("write_effects");
        Ok(())
    }

    async fn delete_unmapped(&mut self, _: &[OrderStockInput]) -> StoreResult<()> {
        self.calls.push("delete_unmapped");
        Ok(())
    }

    async fn insert_unmapped(&mut self, _: &[UnmappedLine], _: DateTime<Utc>) -> StoreResult<()> {
        self.calls.push("insert_unmapped");
        Ok(())
    }

    async fn reveal_listings(
        &mut self,
        rows: &[RevealedListing],
        _: DateTime<Utc>,
    ) -> StoreResult<BTreeSet<SkuKey>> {
        self.calls.push("reveal_listings");
        Ok(rows.iter().map(|r| (r.tenant, r.sku.clone())).collect())
    }
}

#[async_trait]
impl StockWritesTx for Recorder {
    async fn unknown_skus(&mut self, _: &BTreeSet<SkuKey>) -> StoreResult<Vec<String>> {
        self.calls.push("unknown_skus");
        Ok(self.unknown.clone())
    }

    async fn warehouse_codes(&mut self, _: TenantId) -> StoreResult<BTreeSet<String>> {
        self.calls.push("warehouse_codes");
        Ok(self.warehouses.clone())
    }

    async fn write_listings(&mut self, rows: &[&Listing]) -> StoreResult<()> {
        self.calls.push("write_listings");
        self.listings
            .extend(rows.iter().map(|l| l.product_id.clone()));
        Ok(())
    }

    async fn write_channel_stock(
        &mut self,
        _: TenantId,
        _: ChannelId,
        _: &ChannelStock,
    ) -> StoreResult<()> {
        self.calls.push("write_channel_stock");
        Ok(())
    }

    async fn channel_skus(&mut self, _: TenantId, _: ChannelId) -> StoreResult<Vec<String>> {
        self.calls.push("channel_skus");
        Ok(self.feeds.iter().map(|f| f.sku.clone()).collect())
    }
}

#[async_trait]
impl PushTx for Recorder {
    async fn write_push(
        &mut self,
        _: TenantId,
        row: &PushRow<'_, i64>,
        _: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.calls.push("write_push");
        let sent = row
            .sent
            .iter()
            .map(|(s, q)| ((*s).to_owned(), *q))
            .collect();
        self.pushes.push((row.outcome, sent));
        Ok(())
    }

    async fn write_events(&mut self, events: &[crate::NewEvent]) -> StoreResult<()> {
        self.calls.push("write_events");
        self.events.extend(events.iter().map(|e| e.kind.as_str()));
        Ok(())
    }
}

fn movement(sku: &str, warehouse: &str, change: Change) -> NewMovement {
    NewMovement {
        sku: sku.into(),
        warehouse: warehouse.into(),
        change,
        reason: "count".into(),
    }
}

#[test]
fn movements_lock_before_reading_balances_and_enqueue_one_push() {
    let key = (tenant(), "A".to_owned(), "main".to_owned());
    let mut tx = Recorder {
        warehouses: BTreeSet::from(["main".to_owned()]),
        feeds: vec![feed("A")],
        levels: HashMap::from([(
            key.clone(),
            Balance {
                physical: 2,
                reserved: 1,
            },
        )]),
        ..Recorder::default()
    };
    let batch = [movement("A", "main", Change::Delta(3))];
    let out = run(record_movements(&mut tx, tenant(), &batch, now()));
    assert_eq!(out.ok(), Some(Ok(1)));
    assert_eq!(
        tx.calls,
        vec![
            "unknown_skus",
            "warehouse_codes",
            "lock_stock",
            "load_levels",
            "write_ledger",
            "write_levels",
            "load_feeds",
            "load_levels",
            "write_targets",
            "insert_jobs",
        ]
    );
    assert_eq!(tx.locked[0].0, BTreeSet::from([(tenant(), "A".to_owned())]));
    assert_eq!(
        tx.written_levels[&key],
        Balance {
            physical: 5,
            reserved: 1
        }
    );
    assert_eq!(tx.jobs, vec![(tenant(), Some(stock_job_key(channel())))]);
}

#[test]
fn refused_movements_take_no_lock_and_write_nothing() {
    let mut tx = Recorder {
        unknown: vec!["X".into()],
        ..Recorder::default()
    };
    let batch = [movement("X", "main", Change::Set(1))];
    let out = run(record_movements(&mut tx, tenant(), &batch, now()));
    assert_eq!(
        out.ok(),
        Some(Err(MovementsRefused::UnknownSku(vec![(0, "X".into())])))
    );
    let mut tx = Recorder::default();
    let out = run(record_movements(&mut tx, tenant(), &batch, now()));
    assert!(matches!(
        out,
        Ok(Err(MovementsRefused::UnknownWarehouse(_)))
    ));
    assert_eq!(tx.calls, vec!["unknown_skus", "warehouse_codes"]);
}

#[test]
fn targets_already_pushed_enqueue_nothing() {
    let mut tx = Recorder {
        feeds: vec![feed("A")],
        target_state: Some(PushState::Pushed),
        ..Recorder::default()
    };
    let also = BTreeSet::from([(tenant(), "A".to_owned())]);
    assert!(run(apply_entries(&mut tx, &[], &also, now())).is_ok());
    assert_eq!(tx.calls, vec!["load_feeds", "load_levels", "write_targets"]);
}

#[test]
fn a_resync_locks_the_tenants_whole_stock_first() {
    let mut tx = Recorder {
        feeds: vec![feed("A"), feed("B")],
        ..Recorder::default()
    };
    assert_eq!(
        run(resync_stock(&mut tx, tenant(), channel(), now())).ok(),
        Some(2)
    );
    assert_eq!(tx.calls[..2], ["lock_stock", "channel_skus"]);
    assert_eq!(tx.locked, vec![(BTreeSet::new(), vec![tenant()])]);
}

#[test]
fn listings_of_unknown_skus_are_refused_before_any_lock() {
    let listing = |product: &str| Listing {
        tenant_id: tenant(),
        channel_id: channel(),
        sku: "A".into(),
        product_id: product.into(),
        variant_id: "v".into(),
        source: ListingSource::Manual,
        created_at: now(),
    };
    let given = [listing("1"), listing("2")];
    let mut tx = Recorder {
        unknown: vec!["A".into()],
        ..Recorder::default()
    };
    let out = run(upsert_listings(&mut tx, &given, now()));
    assert_eq!(out.ok(), Some(Err(vec!["A".to_owned()])));
    assert_eq!(tx.calls, vec!["unknown_skus"]);
    let mut tx = Recorder::default();
    assert_eq!(
        run(upsert_listings(&mut tx, &given, now())).ok(),
        Some(Ok(()))
    );
    assert_eq!(
        tx.calls[..3],
        ["unknown_skus", "lock_stock", "write_listings"]
    );
    assert_eq!(tx.listings, vec!["2".to_owned()]);
}

#[test]
fn orders_are_read_before_the_stock_locks_and_the_rest_after() {
    let order = OrderStockInput {
        tenant: tenant(),
        order: OrderId(Uuid::from_u128(7)),
        channel: channel(),
        external_id: "E7".into(),
        status: OrderStatus::Approved,
        invoiced: false,
        items: vec![
            OrderItem {
                sku: Some("A".into()),
                name: None,
                quantity: 2,
                unit_price_cents: None,
                product_id: Some("10".into()),
                variant_id: Some("11".into()),
                barcode: None,
            },
            OrderItem {
                sku: Some("X".into()),
                name: None,
                quantity: 1,
                unit_price_cents: None,
                product_id: None,
                variant_id: None,
                barcode: None,
            },
        ],
        debit_warehouse: "main".into(),
    };
    let had = AppliedEffects::from([(
        (order.order, "B".to_owned()),
        (
            "main".to_owned(),
            Effect {
                reserved: 1,
                debited: 0,
            },
        ),
    )]);
    let mut tx = Recorder {
        orders: vec![order.clone()],
        applied: had,
        products: HashSet::from([(tenant(), "A".to_owned()), (tenant(), "B".to_owned())]),
        ..Recorder::default()
    };
    let keys = [(tenant(), order.order), (tenant(), order.order)];
    assert!(run(apply_order_effects(&mut tx, &keys, &[tenant()], now())).is_ok());
    assert_eq!(
        tx.calls[..9],
        [
            "read_orders",
            "read_applied",
            "lock_stock",
            "read_products",
            "write_effects",
            "delete_unmapped",
            "insert_unmapped",
            "reveal_listings",
            "load_levels",
        ]
    );
    // Every SKU named or moved, and the whole stock asked for.
    let skus = ["A", "B", "X"].map(|s| (tenant(), s.to_owned()));
    assert_eq!(tx.locked, vec![(BTreeSet::from(skus), vec![tenant()])]);
    let changes: Vec<(&str, Change)> = tx
        .ledger
        .iter()
        .map(|e| (e.sku.as_str(), e.change))
        .collect();
    assert_eq!(
        changes,
        vec![("A", Change::Reserve(2)), ("B", Change::Release(1))]
    );
}

#[test]
fn no_orders_still_take_the_whole_stock_asked_for() {
    let mut tx = Recorder::default();
    assert!(run(apply_order_effects(&mut tx, &[], &[tenant()], now())).is_ok());
    assert_eq!(tx.calls, vec!["lock_stock"]);
    assert_eq!(tx.locked, vec![(BTreeSet::new(), vec![tenant()])]);
}

#[test]
fn pushes_lock_every_sku_they_sent_first() {
    let push = |sku: &str, outcome| PushRecord {
        channel_id: channel(),
        items: vec![(sku.into(), "v".into(), 4)],
        request: "PUT".into(),
        http_status: None,
        duration_ms: 1,
        outcome,
    };
    let pushes = [
        push("A", PushOutcome::Succeeded),
        push(
            "B",
            PushOutcome::Retrying {
                error: "500".into(),
            },
        ),
    ];
    let mut tx = Recorder::default();
    assert!(run(record_pushes(&mut tx, tenant(), &pushes, now())).is_ok());
    assert_eq!(
        tx.calls,
        vec!["lock_stock", "write_push", "write_push", "write_events"]
    );
    let skus = ["A", "B"].map(|s| (tenant(), s.to_owned()));
    assert_eq!(tx.locked, vec![(BTreeSet::from(skus), vec![])]);
    assert_eq!(tx.pushes[1], ("retrying", vec![("B".to_owned(), 4)]));
    // Only the push that ended is an event: the retried one is not.
    assert_eq!(tx.events, ["stock.pushed"]);
}
