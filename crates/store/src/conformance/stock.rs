//! Stock: catalogue, movements, channel targets and pushes.

use super::{page_of, setup, t0};
use crate::*;
use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_core::stock::{Balance, Change};
use ponte_core::{ChannelId, TenantId};
use std::time::Duration;

/// Product `sku` (unit UN).
pub fn product(t: TenantId, sku: &str) -> Product {
    Product {
        tenant_id: t,
        sku: sku.into(),
        name: format!("Produto {sku}"),
        ean: None,
        unit: "UN".into(),
        created_at: t0(),
        updated_at: t0(),
    }
}

/// Warehouse `code`.
pub fn warehouse(t: TenantId, code: &str) -> Warehouse {
    Warehouse {
        tenant_id: t,
        code: code.into(),
        name: code.into(),
        created_at: t0(),
    }
}

pub(super) fn listing(t: TenantId, c: ChannelId, sku: &str, pid: &str, vid: &str) -> Listing {
    Listing {
        tenant_id: t,
        channel_id: c,
        sku: sku.into(),
        product_id: pid.into(),
        variant_id: vid.into(),
        source: ListingSource::Manual,
        created_at: t0(),
    }
}

/// A movement of `sku` in warehouse `wh`.
pub fn mv(sku: &str, wh: &str, change: Change) -> NewMovement {
    NewMovement {
        sku: sku.into(),
        warehouse: wh.into(),
        change,
        reason: "test".into(),
    }
}

/// A channel showing warehouses A and B (buffer 1), selling from A, with SKUs S1, S2
/// (product 10) and S3 (product 20) listed.
pub(super) async fn stocked(s: &impl Store) -> (TenantId, ChannelId) {
    let (t, c) = setup(s).await;
    for code in ["A", "B"] {
        s.insert_warehouse(&warehouse(t, code)).await.unwrap();
    }
    for sku in ["S1", "S2", "S3"] {
        s.insert_product(&product(t, sku)).await.unwrap();
    }
    let settings = ChannelStock {
        send_stock: true,
        warehouses: vec!["A".into(), "B".into()],
        debit_warehouse: Some("A".into()),
        buffer: 1,
    };
    s.set_channel_stock(t, c, &settings, t0()).await.unwrap();
    s.upsert_listings(
        &[
            listing(t, c, "S1", "10", "101"),
            listing(t, c, "S2", "10", "102"),
            listing(t, c, "S3", "20", "201"),
        ],
        t0(),
    )
    .await
    .unwrap()
    .unwrap();
    (t, c)
}

pub(super) async fn target(s: &impl Store, t: TenantId, sku: &str) -> StockTarget {
    s.sku_stock(t, sku)
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0)
}

/// `sku`'s balance in warehouse `wh` (zero where it never moved).
pub async fn level(s: &impl Store, t: TenantId, sku: &str, wh: &str) -> Balance {
    s.sku_stock(t, sku)
        .await
        .unwrap()
        .unwrap()
        .levels
        .into_iter()
        .find(|l| l.warehouse == wh)
        .map(|l| l.balance)
        .unwrap_or_default()
}

async fn push_job(s: &impl Store, at: DateTime<Utc>) -> Option<JobLease> {
    let jobs = s
        .claim_jobs("w", &[STOCK_JOB_KIND], 10, at, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(jobs.len() <= 1, "one push job per channel");
    jobs.first().map(|j| JobLease {
        job_id: j.id,
        owner: "w".into(),
    })
}

pub async fn catalogue(s: &impl Store) {
    let (t, c) = setup(s).await;
    s.insert_product(&product(t, "S1")).await.unwrap();
    assert!(matches!(
        s.insert_product(&product(t, "S1")).await,
        Err(StoreError::Conflict(_))
    ));
    let mut p = product(t, "S1");
    p.name = "Camiseta".into();
    p.ean = Some("7891000315507".into());
    assert!(s.update_product(&p).await.unwrap());
    assert!(!s.update_product(&product(t, "nope")).await.unwrap());
    assert_eq!(s.product(t, "S1").await.unwrap().unwrap().name, "Camiseta");
    for sku in ["S2", "S3"] {
        s.insert_product(&product(t, sku)).await.unwrap();
    }
    let page = s.products(t, &page_of(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let rest = s
        .products(
            t,
            &PageRequest {
                cursor: page.next_cursor,
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items[0].sku, "S3");
    s.insert_warehouse(&warehouse(t, "A")).await.unwrap();
    assert!(matches!(
        s.insert_warehouse(&warehouse(t, "A")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.warehouses(t).await.unwrap().len(), 1);
    assert_eq!(
        s.upsert_listings(&[listing(t, c, "X9", "1", "2")], t0())
            .await
            .unwrap(),
        Err(vec!["X9".to_owned()])
    );
    s.upsert_listings(&[listing(t, c, "S1", "1", "2")], t0())
        .await
        .unwrap()
        .unwrap();
    // A new listing for the same channel and SKU replaces the old one.
    s.upsert_listings(&[listing(t, c, "S1", "1", "3")], t0())
        .await
        .unwrap()
        .unwrap();
    let l = s.listings(t, c, &page_of(10)).await.unwrap();
    assert_eq!(l.items.len(), 1);
    assert_eq!(l.items[0].variant_id, "3");
}

pub async fn movements_targets_and_pushes(s: &impl Store) {
    let (t, c) = stocked(s).await;
    // Unknown SKU or warehouse: refused, nothing recorded.
    let bad = s
        .record_movements(
            t,
            &[mv("S1", "A", Change::Set(5)), mv("ZZ", "A", Change::Set(1))],
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        bad,
        Err(MovementsRefused::UnknownSku(vec![(1, "ZZ".into())]))
    );
    let bad = s
        .record_movements(t, &[mv("S1", "Q", Change::Set(5))], t0())
        .await
        .unwrap();
    assert_eq!(
        bad,
        Err(MovementsRefused::UnknownWarehouse(vec![(0, "Q".into())]))
    );
    assert_eq!(level(s, t, "S1", "A").await, Balance::default());

    let n = s
        .record_movements(
            t,
            &[
                mv("S1", "A", Change::Set(10)),
                mv("S1", "B", Change::Set(4)),
                mv("S1", "A", Change::Delta(-3)),
                mv("S2", "A", Change::Set(1)),
            ],
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        level(s, t, "S1", "A").await,
        Balance {
            physical: 7,
            reserved: 0
        }
    );
    let s1 = target(s, t, "S1").await;
    assert_eq!(
        (s1.desired, s1.state, s1.pushed),
        (10, PushState::Pending, None)
    );
    assert_eq!(
        target(s, t, "S2").await.desired,
        0,
        "buffer 1 leaves nothing"
    );
    assert_eq!(s.stock_summary(t, c).await.unwrap().0, 3);

    // One push job for the channel; a twin job (enqueued meanwhile) gets nothing.
    let lease = push_job(s, t0()).await.unwrap();
    let first: Vec<String> = s
        .claim_stock_targets(&lease, c, 1)
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|x| x.sku)
        .collect();
    assert_eq!(first, ["S1", "S2"], "whole products");
    let claimed = s
        .claim_stock_targets(&lease, c, 100)
        .await
        .unwrap()
        .unwrap();
    let skus: Vec<&str> = claimed.iter().map(|x| x.sku.as_str()).collect();
    assert_eq!(skus, ["S1", "S2", "S3"], "by product id");
    s.record_movements(t, &[mv("S3", "B", Change::Set(3))], t0())
        .await
        .unwrap()
        .unwrap();
    let twin = push_job(s, t0()).await.unwrap();
    assert_eq!(s.claim_stock_targets(&twin, c, 100).await.unwrap(), None);
    s.finish_job(&twin, &JobOutcome::Done, t0()).await.unwrap();

    // S1 pushed; S2 failed for good; S3's push was of an old value (it changed since).
    let at = t0() + CDuration::seconds(1);
    s.record_pushes(
        t,
        &[
            PushRecord {
                channel_id: c,
                items: vec![
                    ("S1".into(), "101".into(), 10),
                    ("S3".into(), "201".into(), 0),
                ],
                request: "PATCH /products/10/variants".into(),
                http_status: Some(200),
                duration_ms: 12,
                outcome: PushOutcome::Succeeded,
            },
            PushRecord {
                channel_id: c,
                items: vec![("S2".into(), "102".into(), 0)],
                request: "PATCH /products/10/variants".into(),
                http_status: Some(422),
                duration_ms: 5,
                outcome: PushOutcome::Failed {
                    error: "platform_rejected: HTTP 422".into(),
                },
            },
        ],
        at,
    )
    .await
    .unwrap();
    // Each call is an event, written with it.
    let q = EventQuery {
        after: 0,
        types: vec![
            ponte_core::event::EventType::StockPushed,
            ponte_core::event::EventType::StockPushFailed,
        ],
        limit: 10,
    };
    let ev = s.events(t, &q).await.unwrap();
    let kinds: Vec<&str> = ev.iter().map(|e| e.event.kind.as_str()).collect();
    assert_eq!(kinds, ["stock.pushed", "stock.push_failed"]);
    assert_eq!(ev[0].event.data["items"][0]["sku"], "S1");
    assert_eq!(ev[0].event.channel_id, Some(c));
    assert_eq!(ev[1].event.data["error"], "platform_rejected: HTTP 422");
    let s1 = target(s, t, "S1").await;
    assert_eq!(
        (s1.state, s1.pushed, s1.pushed_at),
        (PushState::Pushed, Some(10), Some(at))
    );
    let s2 = target(s, t, "S2").await;
    assert_eq!((s2.state, s2.attempts), (PushState::Failed, 1));
    let s3 = target(s, t, "S3").await;
    assert_eq!(
        (s3.state, s3.desired, s3.pushed),
        (PushState::Pending, 2, Some(0))
    );
    assert_eq!(s.stock_summary(t, c).await.unwrap(), (1, 1, 1));
    s.finish_job(&lease, &JobOutcome::Done, t0()).await.unwrap();

    // A change and its reversal before the next push: nothing left to send for S1.
    s.record_movements(
        t,
        &[
            mv("S1", "A", Change::Delta(-1)),
            mv("S1", "A", Change::Delta(1)),
        ],
        t0(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(target(s, t, "S1").await.state, PushState::Pushed);
    s.record_movements(t, &[mv("S1", "A", Change::Delta(-2))], t0())
        .await
        .unwrap()
        .unwrap();
    s.record_movements(t, &[mv("S1", "A", Change::Delta(2))], t0())
        .await
        .unwrap()
        .unwrap();
    // Back to the value last recorded as pushed, in another transaction: pushed again,
    // since a call carrying the value between may have reached the platform unrecorded
    // (the process died during it, or it timed out).
    let s1 = target(s, t, "S1").await;
    assert_eq!(
        (s1.state, s1.desired, s1.pushed),
        (PushState::Pending, 10, Some(10)),
        "back to the value last pushed"
    );
    // A failed value is pushed again on the next change.
    s.record_movements(t, &[mv("S2", "A", Change::Set(5))], t0())
        .await
        .unwrap()
        .unwrap();
    let s2 = target(s, t, "S2").await;
    assert_eq!(
        (s2.state, s2.desired, s2.attempts),
        (PushState::Pending, 4, 0)
    );
    // Resync: every listing pending, even unchanged ones.
    assert_eq!(s.resync_stock(t, c, t0()).await.unwrap(), 3);
    assert_eq!(s.stock_summary(t, c).await.unwrap(), (3, 0, 0));
    assert!(push_job(s, t0()).await.is_some());

    let pushes = s
        .stock_pushes(t, Some(c), Some("S1"), &page_of(10))
        .await
        .unwrap();
    assert_eq!(pushes.items.len(), 1);
    assert_eq!(pushes.items[0].outcome, "succeeded");
    assert_eq!(pushes.items[0].items[0]["quantity"], 10);
    let all = s.stock_pushes(t, None, None, &page_of(1)).await.unwrap();
    assert_eq!(all.items[0].outcome, "failed", "newest first");
    assert!(all.next_cursor.is_some());
}
