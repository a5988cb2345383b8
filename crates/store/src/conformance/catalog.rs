//! Product data: bulk writes all or nothing, off by default, channel targets with
//! only the channel's fields, push jobs, claims of whole products, recorded pushes,
//! and what a claim forgets until its call is recorded.

use super::stock::stocked;
use super::{page_of, t0};
use crate::catalog::{CatalogPushRecord, CATALOG_JOB_KIND};
use crate::*;
use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_core::catalog::{CatalogField, ProductData};
use std::time::Duration;

fn data(name: &str, weight: i64) -> ProductData {
    ProductData {
        name: name.into(),
        description: Some("<p>Algodão</p>".into()),
        ean: Some("7891234567895".into()),
        ncm: Some("61091000".into()),
        weight_g: Some(weight),
        active: true,
        ..ProductData::default()
    }
}

fn rows(pairs: &[(&str, ProductData)]) -> Vec<(String, ProductData)> {
    pairs
        .iter()
        .map(|(s, d)| ((*s).to_owned(), d.clone()))
        .collect()
}

async fn jobs_of(s: &impl Store, at: DateTime<Utc>) -> Vec<Job> {
    s.claim_jobs("w", &[CATALOG_JOB_KIND], 100, at, Duration::from_secs(30))
        .await
        .unwrap()
}

pub async fn writes_are_all_or_nothing_and_mark_only_carrying_channels(s: &impl Store) {
    let (t, c) = stocked(s).await;
    // Unknown SKUs refuse the whole bulk, naming their rows.
    let bad = rows(&[("S1", data("A", 1)), ("NOPE", data("B", 1))]);
    let refused = s
        .write_product_data(t, &bad, t0())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused, vec![(1, "NOPE".into())]);
    let d = s.sku_catalog(t, "S1").await.unwrap().unwrap();
    assert_eq!(
        d.data.name,
        super::stock::product(t, "S1").name,
        "unchanged"
    );
    assert!(s.sku_catalog(t, "NOPE").await.unwrap().is_none());
    // Off by default: written, nothing marked, no job.
    let n = s
        .write_product_data(t, &rows(&[("S1", data("A", 1))]), t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
    let d = s.sku_catalog(t, "S1").await.unwrap().unwrap();
    assert_eq!(d.data, data("A", 1));
    assert!(d.channels.is_empty());
    assert!(jobs_of(s, t0()).await.is_empty());
    // Carrying the name: every listed SKU is marked, one job for the channel.
    let n = s
        .set_channel_catalog(t, c, &[CatalogField::Name], t0())
        .await
        .unwrap();
    assert_eq!(n, 3);
    let d = s.sku_catalog(t, "S1").await.unwrap().unwrap();
    assert_eq!(d.channels.len(), 1);
    let target = &d.channels[0];
    assert_eq!(target.state, PushState::Pending);
    assert_eq!(target.desired, data("A", 1).carried(&[CatalogField::Name]));
    assert_eq!(jobs_of(s, t0()).await.len(), 1);
}

pub async fn pushes_claim_whole_products_and_settle_targets(s: &impl Store) {
    let (t, c) = stocked(s).await;
    s.set_channel_catalog(t, c, &[CatalogField::Name, CatalogField::Weight], t0())
        .await
        .unwrap();
    let jobs = jobs_of(s, t0()).await;
    assert_eq!(jobs.len(), 1);
    let lease = JobLease {
        job_id: jobs[0].id,
        owner: "w".into(),
    };
    // One product (id 10: S1, S2) per claim of 1.
    let claimed = s
        .claim_catalog_targets(&lease, c, 1)
        .await
        .unwrap()
        .unwrap();
    let skus: Vec<&str> = claimed.iter().map(|t| t.sku.as_str()).collect();
    assert_eq!(skus, ["S1", "S2"]);
    let at = t0() + CDuration::seconds(1);
    let record = |sku: &str, outcome: PushOutcome| {
        let target = claimed.iter().find(|x| x.sku == sku).unwrap();
        CatalogPushRecord {
            channel_id: c,
            items: vec![(
                sku.into(),
                target.variant_id.clone(),
                target.desired.clone(),
            )],
            request: "PUT /products/10".into(),
            http_status: Some(200),
            duration_ms: 2,
            outcome,
        }
    };
    let failed = PushOutcome::Failed {
        error: "platform_rejected: 422".into(),
    };
    s.record_catalog_pushes(
        t,
        &[record("S1", PushOutcome::Succeeded), record("S2", failed)],
        at,
    )
    .await
    .unwrap();
    let s1 = s
        .sku_catalog(t, "S1")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!((s1.state, s1.pushed_at), (PushState::Pushed, Some(at)));
    assert_eq!(s1.pushed.as_ref(), Some(&s1.desired));
    let s2 = s
        .sku_catalog(t, "S2")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!((s2.state, s2.attempts), (PushState::Failed, 1));
    // Writing the same data again changes nothing; a changed field makes it pending.
    let same = s1.desired.clone();
    let current = s.sku_catalog(t, "S1").await.unwrap().unwrap().data;
    s.write_product_data(t, &rows(&[("S1", current.clone())]), at)
        .await
        .unwrap()
        .unwrap();
    let s1 = s
        .sku_catalog(t, "S1")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!((s1.state, &s1.desired), (PushState::Pushed, &same));
    // A field the channel does not carry changes nothing either.
    let mut other = current.clone();
    other.ncm = Some("12345678".into());
    s.write_product_data(t, &rows(&[("S1", other.clone())]), at)
        .await
        .unwrap()
        .unwrap();
    let s1 = s
        .sku_catalog(t, "S1")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!(s1.state, PushState::Pushed);
    other.weight_g = Some(500);
    s.write_product_data(t, &rows(&[("S1", other)]), at)
        .await
        .unwrap()
        .unwrap();
    let s1 = s
        .sku_catalog(t, "S1")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!(s1.state, PushState::Pending);
    assert_eq!(s1.desired.number(CatalogField::Weight), Some(Some(500)));
    // The history, newest first, per SKU.
    let h = s
        .catalog_pushes(t, None, Some("S1"), &page_of(10))
        .await
        .unwrap();
    assert_eq!(h.items.len(), 1);
    assert_eq!(h.items[0].outcome, "succeeded");
    let all = s
        .catalog_pushes(t, Some(c), None, &page_of(10))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2);
}

/// A claim hands out what the channel last took (the engine sends only what differs)
/// and forgets it until the call's success records it again: after a call whose
/// outcome never got recorded (a crash), a value changed back is sent in full.
pub async fn a_call_never_recorded_makes_the_next_send_every_field(s: &impl Store) {
    let (t, c) = stocked(s).await;
    s.write_product_data(t, &rows(&[("S1", data("A", 1))]), t0())
        .await
        .unwrap()
        .unwrap();
    s.set_channel_catalog(t, c, &[CatalogField::Name], t0())
        .await
        .unwrap();
    let jobs = jobs_of(s, t0()).await;
    let lease = JobLease {
        job_id: jobs[0].id,
        owner: "w".into(),
    };
    let claim_s1 = || async {
        let claimed = s.claim_catalog_targets(&lease, c, 10).await.unwrap();
        let mut claimed = claimed.unwrap();
        claimed.retain(|x| x.sku == "S1");
        claimed.remove(0)
    };
    let stored_s1 = || async {
        s.sku_catalog(t, "S1")
            .await
            .unwrap()
            .unwrap()
            .channels
            .remove(0)
    };
    let first = claim_s1().await;
    assert_eq!(first.pushed, None);
    let took_a = first.desired.clone();
    let at = t0() + CDuration::seconds(1);
    let record = CatalogPushRecord {
        channel_id: c,
        items: vec![("S1".into(), first.variant_id.clone(), took_a.clone())],
        request: "PUT /products/10".into(),
        http_status: Some(200),
        duration_ms: 2,
        outcome: PushOutcome::Succeeded,
    };
    s.record_catalog_pushes(t, &[record], at).await.unwrap();
    assert_eq!(stored_s1().await.pushed.as_ref(), Some(&took_a));
    // Renamed: the claim hands out what the channel took, and forgets it.
    s.write_product_data(t, &rows(&[("S1", data("B", 1))]), at)
        .await
        .unwrap()
        .unwrap();
    let second = claim_s1().await;
    assert_eq!(second.pushed.as_ref(), Some(&took_a));
    assert_ne!(second.desired, took_a);
    let stored = stored_s1().await;
    assert_eq!((stored.pushed, stored.state), (None, PushState::Pending));
    // Its call is never recorded; named back: nothing says what the channel shows.
    s.write_product_data(t, &rows(&[("S1", data("A", 1))]), at)
        .await
        .unwrap()
        .unwrap();
    let third = claim_s1().await;
    assert_eq!((third.pushed, &third.desired), (None, &took_a));
}
