//! Stock planning shared by the backends: from the rows a transaction loaded, what it
//! writes. Pure (no SQL, no I/O): the ledger entries, order effects, unmapped lines and
//! revealed listings a batch of orders asks for (`ponte_core::stock::{order_effect,
//! moves}`), the balances entries leave, and what each channel listing should show
//! (`ponte_core::stock::channel_value`). Backends keep loading, writing and locking.

use crate::{
    stock_job_key, Listing, ListingSource, MovementsRefused, NewJob, NewMovement, Page, StockJob,
    StoreError, StoreResult, STOCK_JOB_KIND,
};
use chrono::{DateTime, Utc};
use ponte_core::action::Fulfilment;
use ponte_core::order::{OrderData, OrderItem};
use ponte_core::stock::{channel_value, moves, order_effect, Balance, Change, Effect};
use ponte_core::{ChannelId, OrderId, OrderStatus, TenantId};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A (tenant, SKU) pair.
pub type SkuKey = (TenantId, String);

/// A (tenant, SKU, warehouse) triple: one balance.
pub type LevelKey = (TenantId, String, String);

/// The effects orders have now, per (order, SKU): the warehouse and the effect.
pub type AppliedEffects = HashMap<(OrderId, String), (String, Effect)>;

/// One ledger entry to write (and apply to its balance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Owner.
    pub tenant: TenantId,
    /// The SKU.
    pub sku: String,
    /// The warehouse code.
    pub warehouse: String,
    /// What it does to the balance.
    pub change: Change,
    /// Why (kept in the ledger).
    pub reason: String,
    /// The order that caused it.
    pub order: Option<OrderId>,
}

/// The ledger entries of a batch of movements, in order.
pub fn movement_entries(tenant: TenantId, batch: &[NewMovement]) -> Vec<LedgerEntry> {
    batch
        .iter()
        .map(|m| LedgerEntry {
            tenant,
            sku: m.sku.clone(),
            warehouse: m.warehouse.clone(),
            change: m.change,
            reason: m.reason.clone(),
            order: None,
        })
        .collect()
}

/// The refusal of a movement batch naming SKUs in `unknown` (none when it is empty).
pub fn refuse_unknown_skus(
    batch: &[NewMovement],
    unknown: &BTreeSet<String>,
) -> Option<MovementsRefused> {
    if unknown.is_empty() {
        return None;
    }
    Some(MovementsRefused::UnknownSku(
        batch
            .iter()
            .enumerate()
            .filter(|(_, m)| unknown.contains(&m.sku))
            .map(|(i, m)| (i, m.sku.clone()))
            .collect(),
    ))
}

/// The refusal of a movement batch naming warehouses not in `known` (none when every
/// one is).
pub fn refuse_unknown_warehouses(
    batch: &[NewMovement],
    known: &BTreeSet<String>,
) -> Option<MovementsRefused> {
    let bad: Vec<(usize, String)> = batch
        .iter()
        .enumerate()
        .filter(|(_, m)| !known.contains(&m.warehouse))
        .map(|(i, m)| (i, m.warehouse.clone()))
        .collect();
    (!bad.is_empty()).then_some(MovementsRefused::UnknownWarehouse(bad))
}

/// An order whose stock effect is brought up to date: a stored order of a channel whose
/// sales move stock.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderStockInput {
    /// Owner.
    pub tenant: TenantId,
    /// The order.
    pub order: OrderId,
    /// Its channel.
    pub channel: ChannelId,
    /// The platform's id (named in the ledger reason).
    pub external_id: String,
    /// Its status.
    pub status: OrderStatus,
    /// Whether it has an invoice.
    pub invoiced: bool,
    /// Its lines.
    pub items: Vec<OrderItem>,
    /// The warehouse its channel's orders reserve and debit.
    pub debit_warehouse: String,
}

impl OrderStockInput {
    /// From a stored order's data and fulfilment.
    pub fn new(
        tenant: TenantId,
        order: OrderId,
        channel: ChannelId,
        external_id: String,
        data: OrderData,
        fulfilment: &Fulfilment,
        debit_warehouse: String,
    ) -> Self {
        Self {
            tenant,
            order,
            channel,
            external_id,
            status: data.status,
            invoiced: fulfilment.invoice.is_some(),
            items: data.items,
            debit_warehouse,
        }
    }
}

/// An order's effect on one SKU, to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderStockEffect {
    /// Owner.
    pub tenant: TenantId,
    /// The order.
    pub order: OrderId,
    /// The SKU.
    pub sku: String,
    /// Where.
    pub warehouse: String,
    /// What it does now.
    pub effect: Effect,
}

/// An order line whose SKU is not a product (or that has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmappedLine {
    /// Owner.
    pub tenant: TenantId,
    /// The order.
    pub order: OrderId,
    /// Position of the line in the order.
    pub line: usize,
    /// The order's channel.
    pub channel: ChannelId,
    /// The SKU the platform sent.
    pub sku: Option<String>,
    /// The platform's product id.
    pub product_id: Option<String>,
    /// The platform's variant id.
    pub variant_id: Option<String>,
    /// Units.
    pub quantity: i64,
}

/// A listing an order line reveals (a product's SKU with product and variant ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealedListing {
    /// Owner.
    pub tenant: TenantId,
    /// The order's channel.
    pub channel: ChannelId,
    /// The SKU.
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
}

/// What bringing a batch of orders up to date writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EffectsPlan {
    /// Ledger entries, in order.
    pub entries: Vec<LedgerEntry>,
    /// The changed effects per (order, SKU).
    pub effects: Vec<OrderStockEffect>,
    /// The orders' unmapped lines (replacing those stored).
    pub unmapped: Vec<UnmappedLine>,
    /// Listings to add where the channel has none for the SKU (one per channel and
    /// SKU: the first line wins).
    pub revealed: Vec<RevealedListing>,
}

/// Every (tenant, SKU) the orders' lines name.
pub fn order_skus(orders: &[OrderStockInput]) -> BTreeSet<SkuKey> {
    orders
        .iter()
        .flat_map(|o| {
            o.items
                .iter()
                .filter_map(|i| i.sku.clone().map(|s| (o.tenant, s)))
        })
        .collect()
}

/// The SKUs whose stock bringing these orders up to date may write: those their lines
/// name and those they have moved.
pub fn order_lock_skus(orders: &[OrderStockInput], applied: &AppliedEffects) -> BTreeSet<SkuKey> {
    let mut skus = order_skus(orders);
    let tenant_of: HashMap<OrderId, TenantId> =
        orders.iter().map(|o| (o.order, o.tenant)).collect();
    for (o, sku) in applied.keys() {
        if let Some(t) = tenant_of.get(o) {
            skus.insert((*t, sku.clone()));
        }
    }
    skus
}

/// Brings each order's effect per SKU to what its state asks for: lines of `products`
/// count (summed per SKU), SKUs with an `applied` effect no longer in the order go to
/// 0, other lines are unmapped. An order given twice is planned once.
pub fn plan_order_effects(
    orders: &[OrderStockInput],
    products: &HashSet<SkuKey>,
    applied: &AppliedEffects,
) -> EffectsPlan {
    let mut plan = EffectsPlan::default();
    let mut planned: HashSet<(TenantId, OrderId)> = HashSet::new();
    let mut listed: HashSet<(TenantId, ChannelId, String)> = HashSet::new();
    for o in orders {
        if !planned.insert((o.tenant, o.order)) {
            continue;
        }
        let cancelled = o.status == OrderStatus::Cancelled;
        let mut quantities: BTreeMap<String, i64> = BTreeMap::new();
        for (n, item) in o.items.iter().enumerate() {
            match &item.sku {
                Some(sku) if products.contains(&(o.tenant, sku.clone())) => {
                    *quantities.entry(sku.clone()).or_default() += item.quantity;
                    if let (Some(p), Some(v)) = (&item.product_id, &item.variant_id) {
                        if listed.insert((o.tenant, o.channel, sku.clone())) {
                            plan.revealed.push(RevealedListing {
                                tenant: o.tenant,
                                channel: o.channel,
                                sku: sku.clone(),
                                product_id: p.clone(),
                                variant_id: v.clone(),
                            });
                        }
                    }
                }
                _ => plan.unmapped.push(UnmappedLine {
                    tenant: o.tenant,
                    order: o.order,
                    line: n,
                    channel: o.channel,
                    sku: item.sku.clone(),
                    product_id: item.product_id.clone(),
                    variant_id: item.variant_id.clone(),
                    quantity: item.quantity,
                }),
            }
        }
        for (order, sku) in applied.keys() {
            if *order == o.order && !quantities.contains_key(sku) {
                quantities.insert(sku.clone(), 0);
            }
        }
        let reason = format!("order {} {}", o.external_id, o.status.as_str());
        for (sku, qty) in quantities {
            let (warehouse, from) = applied
                .get(&(o.order, sku.clone()))
                .cloned()
                .unwrap_or_else(|| (o.debit_warehouse.clone(), Effect::default()));
            let to = order_effect(cancelled, o.invoiced, qty);
            let changes = moves(from, to);
            if changes.is_empty() {
                continue;
            }
            plan.entries
                .extend(changes.into_iter().map(|change| LedgerEntry {
                    tenant: o.tenant,
                    sku: sku.clone(),
                    warehouse: warehouse.clone(),
                    change,
                    reason: reason.clone(),
                    order: Some(o.order),
                }));
            plan.effects.push(OrderStockEffect {
                tenant: o.tenant,
                order: o.order,
                sku,
                warehouse,
                effect: to,
            });
        }
    }
    plan
}

/// The balances the entries move.
pub fn entry_level_keys(entries: &[LedgerEntry]) -> BTreeSet<LevelKey> {
    entries
        .iter()
        .map(|e| (e.tenant, e.sku.clone(), e.warehouse.clone()))
        .collect()
}

/// The SKUs the entries move.
pub fn entry_skus(entries: &[LedgerEntry]) -> BTreeSet<SkuKey> {
    entries.iter().map(|e| (e.tenant, e.sku.clone())).collect()
}

/// Applies the entries in order to the loaded balances (a missing one starts at zero);
/// every balance loaded or moved, in key order.
pub fn fold_entries(
    levels: HashMap<LevelKey, Balance>,
    entries: &[LedgerEntry],
) -> BTreeMap<LevelKey, Balance> {
    let mut levels: BTreeMap<LevelKey, Balance> = levels.into_iter().collect();
    for e in entries {
        let b = levels
            .entry((e.tenant, e.sku.clone(), e.warehouse.clone()))
            .or_default();
        *b = b.apply(e.change);
    }
    levels
}

/// A listing of a channel that shows stock, with what feeds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// Owner.
    pub tenant: TenantId,
    /// The channel.
    pub channel: ChannelId,
    /// The SKU.
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
    /// Warehouses whose available stock the channel shows.
    pub warehouses: Vec<String>,
    /// Units held back.
    pub buffer: i64,
}

/// The balances the feeds read.
pub fn feed_level_keys(feeds: &[Feed]) -> BTreeSet<LevelKey> {
    feeds
        .iter()
        .flat_map(|f| {
            f.warehouses
                .iter()
                .map(|w| (f.tenant, f.sku.clone(), w.clone()))
        })
        .collect()
}

/// What the feed's channel should show: its value of the SKU's available stock over
/// its warehouses (a balance not loaded counts as none).
pub fn desired_value(feed: &Feed, levels: &HashMap<LevelKey, Balance>) -> i64 {
    let available: i64 = feed
        .warehouses
        .iter()
        .filter_map(|w| levels.get(&(feed.tenant, feed.sku.clone(), w.clone())))
        .map(|b| b.available())
        .sum();
    channel_value(available, feed.buffer)
}

/// Each feed with its [`desired_value`], one per target (the last feed of a
/// (tenant, channel, SKU) wins), in key order.
pub fn desired_values<'a>(
    feeds: &'a [Feed],
    levels: &HashMap<LevelKey, Balance>,
) -> Vec<(&'a Feed, i64)> {
    let values: BTreeMap<(TenantId, ChannelId, &str), (&Feed, i64)> = feeds
        .iter()
        .map(|f| {
            (
                (f.tenant, f.channel, f.sku.as_str()),
                (f, desired_value(f, levels)),
            )
        })
        .collect();
    values.into_values().collect()
}

/// The (coalescing) push job of each channel, to enqueue at `now`.
pub fn push_jobs(
    channels: impl IntoIterator<Item = (TenantId, ChannelId)>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<(TenantId, NewJob)>> {
    channels
        .into_iter()
        .map(|(t, c)| {
            Ok((
                t,
                NewJob {
                    kind: STOCK_JOB_KIND.into(),
                    payload: serde_json::to_value(StockJob { channel_id: c })
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    unique_key: Some(stock_job_key(c)),
                    run_at: now,
                },
            ))
        })
        .collect()
}

/// The listings to write, one per (tenant, channel, SKU) (the last one given wins),
/// in key order.
pub fn listing_rows(listings: &[Listing]) -> Vec<&Listing> {
    let rows: BTreeMap<(TenantId, ChannelId, &str), &Listing> = listings
        .iter()
        .map(|l| ((l.tenant_id, l.channel_id, l.sku.as_str()), l))
        .collect();
    rows.into_values().collect()
}

/// A keyset page of at most `limit` items: a full page's last item gives the cursor.
pub fn keyset_page<T>(items: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(cursor))
        .flatten();
    Page { items, next_cursor }
}

/// A listing source from its stored name (anything but `order` is manual).
pub fn listing_source(name: &str) -> ListingSource {
    if name == ListingSource::Order.as_str() {
        ListingSource::Order
    } else {
        ListingSource::Manual
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    const WH: &str = "main";

    fn tenant() -> TenantId {
        TenantId(Uuid::from_u128(1))
    }

    fn channel() -> ChannelId {
        ChannelId(Uuid::from_u128(2))
    }

    fn order_id(n: u128) -> OrderId {
        OrderId(Uuid::from_u128(100 + n))
    }

    fn item(sku: Option<&str>, quantity: i64, ids: Option<(&str, &str)>) -> OrderItem {
        OrderItem {
            sku: sku.map(Into::into),
            name: None,
            quantity,
            unit_price_cents: None,
            product_id: ids.map(|(p, _)| p.into()),
            variant_id: ids.map(|(_, v)| v.into()),
            barcode: None,
        }
    }

    fn order(
        n: u128,
        status: OrderStatus,
        invoiced: bool,
        items: Vec<OrderItem>,
    ) -> OrderStockInput {
        OrderStockInput {
            tenant: tenant(),
            order: order_id(n),
            channel: channel(),
            external_id: format!("E{n}"),
            status,
            invoiced,
            items,
            debit_warehouse: WH.into(),
        }
    }

    fn products(skus: &[&str]) -> HashSet<SkuKey> {
        skus.iter().map(|s| (tenant(), (*s).to_owned())).collect()
    }

    fn applied(n: u128, sku: &str, reserved: i64, debited: i64) -> AppliedEffects {
        HashMap::from([(
            (order_id(n), sku.to_owned()),
            (WH.to_owned(), Effect { reserved, debited }),
        )])
    }

    fn changes(plan: &EffectsPlan) -> Vec<(&str, Change)> {
        plan.entries
            .iter()
            .map(|e| (e.sku.as_str(), e.change))
            .collect()
    }

    #[test]
    fn a_new_order_reserves_its_units() {
        let o = order(
            1,
            OrderStatus::Approved,
            false,
            vec![item(Some("A"), 2, None), item(Some("A"), 1, None)],
        );
        let plan = plan_order_effects(&[o], &products(&["A"]), &AppliedEffects::new());
        assert_eq!(changes(&plan), vec![("A", Change::Reserve(3))]);
        let e = &plan.entries[0];
        assert_eq!((e.warehouse.as_str(), e.order), (WH, Some(order_id(1))));
        assert_eq!(e.reason, "order E1 approved");
        assert_eq!(
            plan.effects,
            vec![OrderStockEffect {
                tenant: tenant(),
                order: order_id(1),
                sku: "A".into(),
                warehouse: WH.into(),
                effect: Effect {
                    reserved: 3,
                    debited: 0
                },
            }]
        );
        assert!(plan.unmapped.is_empty() && plan.revealed.is_empty());
    }

    #[test]
    fn the_invoice_debits_the_reservation() {
        let o = order(
            1,
            OrderStatus::Invoiced,
            true,
            vec![item(Some("A"), 3, None)],
        );
        let plan = plan_order_effects(&[o], &products(&["A"]), &applied(1, "A", 3, 0));
        assert_eq!(changes(&plan), vec![("A", Change::Debit(3))]);
        assert_eq!(
            plan.effects[0].effect,
            Effect {
                reserved: 0,
                debited: 3
            }
        );
    }

    #[test]
    fn a_cancellation_after_the_invoice_restores_the_units() {
        let o = order(
            1,
            OrderStatus::Cancelled,
            true,
            vec![item(Some("A"), 3, None)],
        );
        let plan = plan_order_effects(&[o], &products(&["A"]), &applied(1, "A", 0, 3));
        assert_eq!(changes(&plan), vec![("A", Change::Restore(3))]);
        assert_eq!(plan.effects[0].effect, Effect::default());
        assert_eq!(plan.entries[0].reason, "order E1 cancelled");
    }

    #[test]
    fn a_replay_changes_nothing() {
        let o = order(
            1,
            OrderStatus::Approved,
            false,
            vec![item(Some("A"), 3, None)],
        );
        let plan = plan_order_effects(&[o], &products(&["A"]), &applied(1, "A", 3, 0));
        assert_eq!(plan, EffectsPlan::default());
    }

    #[test]
    fn a_sku_removed_from_the_order_is_released_where_it_was_reserved() {
        let o = order(
            1,
            OrderStatus::Approved,
            false,
            vec![item(Some("B"), 1, None)],
        );
        // Released where it was reserved, even if the channel now debits elsewhere.
        let mut had = AppliedEffects::from([(
            (order_id(1), "A".to_owned()),
            (
                "other".to_owned(),
                Effect {
                    reserved: 2,
                    debited: 0,
                },
            ),
        )]);
        // Another order's effect is not touched.
        had.extend(applied(2, "C", 5, 0));
        let plan = plan_order_effects(&[o], &products(&["A", "B"]), &had);
        assert_eq!(
            changes(&plan),
            vec![("A", Change::Release(2)), ("B", Change::Reserve(1))]
        );
        assert_eq!(plan.entries[0].warehouse, "other");
        assert_eq!(plan.effects[0].effect, Effect::default());
    }

    #[test]
    fn lines_of_unknown_skus_are_unmapped() {
        let o = order(
            1,
            OrderStatus::Approved,
            false,
            vec![
                item(Some("A"), 1, None),
                item(Some("X"), 4, Some(("10", "11"))),
                item(None, 2, None),
            ],
        );
        let plan = plan_order_effects(&[o], &products(&["A"]), &AppliedEffects::new());
        assert_eq!(changes(&plan), vec![("A", Change::Reserve(1))]);
        assert_eq!(
            plan.unmapped,
            vec![
                UnmappedLine {
                    tenant: tenant(),
                    order: order_id(1),
                    line: 1,
                    channel: channel(),
                    sku: Some("X".into()),
                    product_id: Some("10".into()),
                    variant_id: Some("11".into()),
                    quantity: 4,
                },
                UnmappedLine {
                    tenant: tenant(),
                    order: order_id(1),
                    line: 2,
                    channel: channel(),
                    sku: None,
                    product_id: None,
                    variant_id: None,
                    quantity: 2,
                },
            ]
        );
        assert!(plan.revealed.is_empty());
    }

    #[test]
    fn only_product_lines_with_both_ids_reveal_listings_once() {
        let a = order(
            1,
            OrderStatus::Approved,
            false,
            vec![
                item(Some("A"), 1, Some(("10", "11"))),
                item(Some("B"), 1, None),
                item(Some("C"), 1, None),
            ],
        );
        let mut c = item(Some("C"), 1, None);
        c.product_id = Some("30".into());
        let b = order(
            2,
            OrderStatus::Approved,
            false,
            vec![item(Some("A"), 1, Some(("12", "13"))), c],
        );
        let plan = plan_order_effects(&[a, b], &products(&["A", "B", "C"]), &AppliedEffects::new());
        assert_eq!(
            plan.revealed,
            vec![RevealedListing {
                tenant: tenant(),
                channel: channel(),
                sku: "A".into(),
                product_id: "10".into(),
                variant_id: "11".into(),
            }]
        );
    }

    #[test]
    fn an_order_given_twice_is_planned_once() {
        let o = order(
            1,
            OrderStatus::Approved,
            false,
            vec![item(Some("A"), 2, None)],
        );
        let plan = plan_order_effects(&[o.clone(), o], &products(&["A"]), &AppliedEffects::new());
        assert_eq!(changes(&plan), vec![("A", Change::Reserve(2))]);
        assert_eq!(plan.effects.len(), 1);
    }

    #[test]
    fn orders_lock_the_skus_they_name_and_those_they_moved() {
        let o = order(
            1,
            OrderStatus::Approved,
            false,
            vec![item(Some("B"), 1, None), item(None, 1, None)],
        );
        // Another order's effect is not the batch's.
        let mut had = applied(1, "A", 2, 0);
        had.extend(applied(2, "C", 1, 0));
        let skus: Vec<String> = order_lock_skus(&[o], &had)
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(skus, vec!["A".to_owned(), "B".to_owned()]);
    }

    #[test]
    fn the_last_listing_given_for_a_target_is_written() {
        let listing = |sku: &str, product: &str| Listing {
            tenant_id: tenant(),
            channel_id: channel(),
            sku: sku.into(),
            product_id: product.into(),
            variant_id: "v".into(),
            source: ListingSource::Manual,
            created_at: DateTime::UNIX_EPOCH,
        };
        let given = [listing("B", "1"), listing("A", "2"), listing("B", "3")];
        let rows: Vec<(&str, &str)> = listing_rows(&given)
            .into_iter()
            .map(|l| (l.sku.as_str(), l.product_id.as_str()))
            .collect();
        assert_eq!(rows, vec![("A", "2"), ("B", "3")]);
    }

    #[test]
    fn entries_fold_over_the_loaded_balances_in_order() {
        let key = (tenant(), "A".to_owned(), WH.to_owned());
        let loaded = HashMap::from([(
            key.clone(),
            Balance {
                physical: 5,
                reserved: 1,
            },
        )]);
        let entry = |sku: &str, change| LedgerEntry {
            tenant: tenant(),
            sku: sku.into(),
            warehouse: WH.into(),
            change,
            reason: String::new(),
            order: None,
        };
        let entries = [
            entry("A", Change::Set(10)),
            entry("A", Change::Reserve(2)),
            entry("B", Change::Delta(3)),
        ];
        let levels = fold_entries(loaded, &entries);
        assert_eq!(
            levels[&key],
            Balance {
                physical: 10,
                reserved: 3
            }
        );
        assert_eq!(
            levels[&(tenant(), "B".to_owned(), WH.to_owned())],
            Balance {
                physical: 3,
                reserved: 0
            }
        );
        assert_eq!(entry_level_keys(&entries).len(), 2);
        assert_eq!(entry_skus(&entries).len(), 2);
    }

    #[test]
    fn a_feed_shows_the_available_stock_of_its_warehouses() {
        let feed = Feed {
            tenant: tenant(),
            channel: channel(),
            sku: "A".into(),
            product_id: "10".into(),
            variant_id: "11".into(),
            warehouses: vec![WH.into(), "other".into(), "empty".into()],
            buffer: 1,
        };
        let levels = HashMap::from([
            (
                (tenant(), "A".to_owned(), WH.to_owned()),
                Balance {
                    physical: 5,
                    reserved: 2,
                },
            ),
            (
                (tenant(), "A".to_owned(), "other".to_owned()),
                Balance {
                    physical: 4,
                    reserved: 0,
                },
            ),
        ]);
        assert_eq!(feed_level_keys(std::slice::from_ref(&feed)).len(), 3);
        assert_eq!(desired_value(&feed, &levels), channel_value(7, 1));
        // One value per target, in key order.
        let mut later = feed.clone();
        later.channel = ChannelId(Uuid::from_u128(1));
        let feeds = [feed.clone(), later, feed];
        let values = desired_values(&feeds, &levels);
        let channels: Vec<ChannelId> = values.iter().map(|(f, _)| f.channel).collect();
        assert_eq!(channels, vec![ChannelId(Uuid::from_u128(1)), channel()]);
    }

    #[test]
    fn only_a_full_page_has_a_cursor() {
        let full = keyset_page(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(full.next_cursor.as_deref(), Some("2"));
        let short = keyset_page(vec![1], 2, |n| n.to_string());
        assert_eq!(short.next_cursor, None);
        let jobs = push_jobs([(tenant(), channel())], chrono::DateTime::UNIX_EPOCH).unwrap();
        assert_eq!(jobs[0].1.unique_key, Some(stock_job_key(channel())));
    }
}
