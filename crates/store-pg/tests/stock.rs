//! PostgreSQL stock: what the shared conformance suite cannot show on one instance —
//! instances writing the same SKUs at once (balances are read, changed and written back
//! whole under per-SKU advisory locks) lose no movement and never deadlock — and the
//! ledger rows a batch writes (the `Store` trait has no ledger reader).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ponte_core::order::MappedOrder;
use ponte_core::stock::{Balance, Change};
use ponte_core::{ChannelId, OrderStatus, TenantId};
use ponte_store::conformance::order_stock::{order_of, polled};
use ponte_store::conformance::sends::{invoice, separation};
use ponte_store::conformance::stock::{level, mv, product, warehouse};
use ponte_store::conformance::{setup, t0};
use ponte_store::*;
use ponte_store_pg::PgStore;
use sqlx::{Connection, PgConnection};

/// Two instances (each its own pool) on a fresh database, and a direct connection to
/// count rows.
async fn instances(dbs: &common::Databases) -> (PgStore, PgStore, PgConnection) {
    let (a, b, url) = dbs.instances(4).await;
    (a, b, PgConnection::connect(&url).await.unwrap())
}

/// A tenant with warehouse A and a channel showing it (buffer 1, selling from A) that
/// lists `skus`, each a product.
async fn stocked(s: &PgStore, skus: &[String]) -> (TenantId, ChannelId) {
    let (t, c) = setup(s).await;
    s.insert_warehouse(&warehouse(t, "A")).await.unwrap();
    for sku in skus {
        s.insert_product(&product(t, sku)).await.unwrap();
    }
    let settings = ChannelStock {
        send_stock: true,
        warehouses: vec!["A".into()],
        debit_warehouse: Some("A".into()),
        buffer: 1,
    };
    s.set_channel_stock(t, c, &settings, t0()).await.unwrap();
    let listings: Vec<Listing> = skus
        .iter()
        .enumerate()
        .map(|(i, sku)| Listing {
            tenant_id: t,
            channel_id: c,
            sku: sku.clone(),
            product_id: format!("{}", i / 10),
            variant_id: format!("{i}"),
            source: ListingSource::Manual,
            created_at: t0(),
        })
        .collect();
    s.upsert_listings(&listings, t0()).await.unwrap().unwrap();
    (t, c)
}

fn delta(sku: &str, d: i64) -> NewMovement {
    mv(sku, "A", Change::Delta(d))
}

async fn balance(s: &PgStore, t: TenantId, sku: &str) -> Balance {
    level(s, t, sku, "A").await
}

async fn desired(s: &PgStore, t: TenantId, sku: &str) -> i64 {
    s.sku_stock(t, sku).await.unwrap().unwrap().channels[0].desired
}

async fn ledger_rows(db: &mut PgConnection, sku: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM stock_ledger WHERE sku = $1")
        .bind(sku)
        .fetch_one(db)
        .await
        .unwrap()
}

fn skus(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("S{i:03}")).collect()
}

#[tokio::test]
async fn two_instances_moving_one_sku_lose_nothing() {
    let dbs = common::Databases::default();
    let (a, b, mut db) = instances(&dbs).await;
    let (t, _) = stocked(&a, &skus(2)).await;
    // Each call moves both SKUs, in opposite orders on the two instances.
    let run = |s: PgStore, first: &'static str, second: &'static str| {
        tokio::spawn(async move {
            for _ in 0..200 {
                let n = s
                    .record_movements(t, &[delta(first, 1), delta(second, 1)], t0())
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(n, 2);
            }
        })
    };
    let (x, y) = (run(a.clone(), "S000", "S001"), run(b, "S001", "S000"));
    x.await.unwrap();
    y.await.unwrap();
    for sku in ["S000", "S001"] {
        assert_eq!(
            balance(&a, t, sku).await,
            Balance {
                physical: 400,
                reserved: 0
            }
        );
        assert_eq!(ledger_rows(&mut db, sku).await, 400);
        assert_eq!(desired(&a, t, sku).await, 399, "400 - buffer 1");
    }
    let pending: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND state = 'pending'")
            .bind(STOCK_JOB_KIND)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(pending, 1, "one push job for the channel, coalesced");
}

#[tokio::test]
async fn a_batch_too_large_to_lock_sku_by_sku_serialises_with_small_ones() {
    let dbs = common::Databases::default();
    let (a, b, mut db) = instances(&dbs).await;
    let all = skus(300);
    let (t, c) = stocked(&a, &all).await;
    let big: Vec<NewMovement> = all.iter().map(|s| delta(s, 1)).collect();
    let x = {
        let a = a.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                a.record_movements(t, &big, t0()).await.unwrap().unwrap();
            }
        })
    };
    let y = {
        let b = b.clone();
        tokio::spawn(async move {
            for _ in 0..100 {
                b.record_movements(t, &[delta("S007", 1)], t0())
                    .await
                    .unwrap()
                    .unwrap();
            }
        })
    };
    // A resync locks the tenant's whole stock too.
    let z = tokio::spawn(async move {
        for _ in 0..5 {
            assert_eq!(b.resync_stock(t, c, t0()).await.unwrap(), 300);
        }
    });
    x.await.unwrap();
    y.await.unwrap();
    z.await.unwrap();
    assert_eq!(balance(&a, t, "S007").await.physical, 110);
    assert_eq!(ledger_rows(&mut db, "S007").await, 110);
    assert_eq!(desired(&a, t, "S007").await, 109);
    for sku in ["S000", "S150", "S299"] {
        assert_eq!(balance(&a, t, sku).await.physical, 10);
        assert_eq!(desired(&a, t, sku).await, 9);
    }
}

/// An approved order of one unit of `sku`.
fn order(ext: &str, sku: &str) -> MappedOrder {
    order_of(ext, OrderStatus::Approved, t0(), &[(sku, 1)])
}

#[tokio::test]
async fn imports_actions_and_movements_of_one_sku_at_once_are_exact() {
    let dbs = common::Databases::default();
    let (a, b, mut db) = instances(&dbs).await;
    let (t, c) = stocked(&a, &skus(1)).await;
    // Orders reserve (two per batch) while the other instance counts stock in.
    let imports = {
        let a = a.clone();
        tokio::spawn(async move {
            let mut ids = vec![];
            for i in 0..40 {
                let batch = vec![
                    polled(t, c, order(&format!("{i}a"), "S000")),
                    polled(t, c, order(&format!("{i}b"), "S000")),
                ];
                for r in a.apply_polled(batch, t0()).await.unwrap() {
                    let ImportApplied::Created(id) = r.applied else {
                        panic!("{r:?}")
                    };
                    ids.push(id);
                }
            }
            ids
        })
    };
    let counts = {
        let b = b.clone();
        tokio::spawn(async move {
            for _ in 0..100 {
                b.record_movements(t, &[delta("S000", 1)], t0())
                    .await
                    .unwrap()
                    .unwrap();
            }
        })
    };
    let orders = imports.await.unwrap();
    counts.await.unwrap();
    assert_eq!(
        balance(&a, t, "S000").await,
        Balance {
            physical: 100,
            reserved: 80
        }
    );
    // Invoices debit (on one instance) while the other counts stock out.
    let invoices = {
        let a = a.clone();
        tokio::spawn(async move {
            for id in orders {
                let applied = a
                    .apply_actions(
                        &[ActionCommit {
                            tenant_id: t,
                            order_id: id,
                            action: invoice(),
                            xml: None,
                            send_max_attempts: None,
                            not_sent: None,
                        }],
                        t0(),
                    )
                    .await
                    .unwrap();
                assert!(matches!(applied[0], ActionApplied::Applied { .. }));
            }
        })
    };
    let counts = tokio::spawn(async move {
        for _ in 0..50 {
            b.record_movements(t, &[delta("S000", -1)], t0())
                .await
                .unwrap()
                .unwrap();
        }
    });
    invoices.await.unwrap();
    counts.await.unwrap();
    assert_eq!(
        balance(&a, t, "S000").await,
        Balance {
            physical: -30,
            reserved: 0
        }
    );
    // 150 counts, 80 reservations, 80 debits.
    assert_eq!(ledger_rows(&mut db, "S000").await, 310);
    assert_eq!(desired(&a, t, "S000").await, 0, "oversold shows 0");
}

/// The suite's `two_actions_on_one_order_in_one_batch_move_stock_once` checks balances
/// and the order's effect; the ledger rows (no `Store` method reads the ledger) are
/// counted here.
#[tokio::test]
async fn two_actions_on_one_order_in_one_batch_write_one_debit() {
    let dbs = common::Databases::default();
    let (a, _b, mut db) = instances(&dbs).await;
    let (t, c) = stocked(&a, &skus(1)).await;
    a.record_movements(t, &[delta("S000", 10)], t0())
        .await
        .unwrap()
        .unwrap();
    let out = a
        .apply_polled(vec![polled(t, c, order("1", "S000"))], t0())
        .await
        .unwrap();
    let ImportApplied::Created(id) = out[0].applied else {
        panic!("{out:?}")
    };
    let act = |action| ActionCommit {
        tenant_id: t,
        order_id: id,
        action,
        xml: None,
        send_max_attempts: None,
        not_sent: None,
    };
    let applied = a
        .apply_actions(&[act(separation()), act(invoice())], t0())
        .await
        .unwrap();
    assert!(applied
        .iter()
        .all(|r| matches!(r, ActionApplied::Applied { .. })));
    assert_eq!(
        balance(&a, t, "S000").await,
        Balance {
            physical: 9,
            reserved: 0
        }
    );
    // The count, the reservation and one debit.
    assert_eq!(ledger_rows(&mut db, "S000").await, 3);
}
