//! Prices: bulk writes all or nothing, channel targets with the markup, push jobs,
//! scheduled prices fired once and cancelled, promotional window edges, resyncs.

use super::stock::stocked;
use super::{page_of, t0};
use crate::*;
use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_core::price::PriceValue;
use ponte_core::{ChannelId, ScheduledPriceId, TenantId};
use std::time::Duration;

fn value(price: i64, promo: Option<i64>) -> PriceValue {
    PriceValue {
        price,
        promotional_price: promo,
        promotional_from: None,
        promotional_until: None,
    }
}

fn row(sku: &str, v: PriceValue, at: Option<DateTime<Utc>>) -> NewPrice {
    NewPrice {
        sku: sku.into(),
        value: v,
        effective_at: at,
    }
}

/// The channel of `stocked` showing prices with a +10% markup.
async fn priced(s: &impl Store) -> (TenantId, ChannelId) {
    let (t, c) = stocked(s).await;
    let settings = ChannelPrices {
        send_prices: true,
        markup_bp: 1000,
        window_edges: true,
    };
    assert_eq!(
        s.set_channel_prices(t, c, &settings, false, t0())
            .await
            .unwrap(),
        0,
        "no SKU has a price yet"
    );
    (t, c)
}

async fn jobs_of(s: &impl Store, kind: &str, at: DateTime<Utc>) -> Vec<Job> {
    s.claim_jobs("w", &[kind], 100, at, Duration::from_secs(30))
        .await
        .unwrap()
}

async fn finish(s: &impl Store, jobs: &[Job], at: DateTime<Utc>) {
    for j in jobs {
        let lease = JobLease {
            job_id: j.id,
            owner: "w".into(),
        };
        assert!(s.finish_job(&lease, &JobOutcome::Done, at).await.unwrap());
    }
}

pub async fn bulk_writes_are_all_or_nothing_and_mark_targets(s: &impl Store) {
    let (t, c) = priced(s).await;
    let bad = [
        row("S1", value(1990, Some(1790)), None),
        row("NOPE", value(100, None), None),
        row("S2", value(500, None), None),
        row("NOPE", value(100, None), None),
    ];
    let refused = s.write_prices(t, &bad, t0()).await.unwrap().unwrap_err();
    assert_eq!(refused, vec![(1, "NOPE".into()), (3, "NOPE".into())]);
    let p = s.sku_prices(t, "S1").await.unwrap().unwrap();
    assert!(
        p.current.is_none() && p.channels.is_empty(),
        "nothing written"
    );
    assert!(jobs_of(s, PRICE_JOB_KIND, t0()).await.is_empty());
    assert!(s.sku_prices(t, "NOPE").await.unwrap().is_none());

    // The last row of a SKU wins; the channel shows it with its markup.
    let good = [
        row("S1", value(1000, None), None),
        row("S1", value(1990, Some(1790)), None),
        row("S2", value(500, None), Some(t0())),
    ];
    let w = s.write_prices(t, &good, t0()).await.unwrap().unwrap();
    assert_eq!((w.applied, w.scheduled.len()), (3, 0));
    let p = s.sku_prices(t, "S1").await.unwrap().unwrap();
    assert_eq!(p.current, Some((value(1990, Some(1790)), t0())));
    assert_eq!(p.channels.len(), 1);
    let target = &p.channels[0];
    assert_eq!(target.channel_id, c);
    assert_eq!(
        (target.product_id.as_str(), target.variant_id.as_str()),
        ("10", "101")
    );
    assert_eq!(target.desired, value(2189, Some(1969)));
    assert_eq!(
        (target.state, target.pushed.clone()),
        (PushState::Pending, None)
    );
    let jobs = jobs_of(s, PRICE_JOB_KIND, t0()).await;
    assert_eq!(jobs.len(), 1, "one push job per channel");
    assert_eq!(jobs[0].payload["channel_id"], c.to_string());
    finish(s, &jobs, t0()).await;

    // The same price again keeps the target as it is (still pending: its push job
    // comes back, coalesced).
    let later = t0() + CDuration::seconds(5);
    s.write_prices(t, &[row("S1", value(1990, Some(1790)), None)], later)
        .await
        .unwrap()
        .unwrap();
    let p = s.sku_prices(t, "S1").await.unwrap().unwrap();
    assert_eq!(p.channels[0].changed_at, t0());
    let jobs = jobs_of(s, PRICE_JOB_KIND, later).await;
    assert_eq!(jobs.len(), 1);
    finish(s, &jobs, later).await;

    // Another markup recomputes every listing of the channel.
    let none = ChannelPrices {
        send_prices: true,
        markup_bp: 0,
        window_edges: true,
    };
    assert_eq!(
        s.set_channel_prices(t, c, &none, false, later)
            .await
            .unwrap(),
        2
    );
    let p = s.sku_prices(t, "S2").await.unwrap().unwrap();
    assert_eq!(p.channels[0].desired, value(500, None));
    assert_eq!(jobs_of(s, PRICE_JOB_KIND, later).await.len(), 1);
}

pub async fn scheduled_prices_fire_once_and_cancel(s: &impl Store) {
    let (t, _) = priced(s).await;
    let at = t0() + CDuration::hours(1);
    let rows = [
        row("S1", value(1990, None), None),
        row("S1", value(1490, Some(990)), Some(at)),
        row("S2", value(700, None), Some(at + CDuration::hours(1))),
    ];
    let w = s.write_prices(t, &rows, t0()).await.unwrap().unwrap();
    assert_eq!((w.applied, w.scheduled.len()), (1, 2));
    let (first, second) = (w.scheduled[0].id, w.scheduled[1].id);
    assert_eq!(w.scheduled[0].state, ScheduleState::Waiting);
    let listed = s.scheduled_prices(t, &page_of(1)).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let rest = s
        .scheduled_prices(
            t,
            &PageRequest {
                cursor: listed.next_cursor,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_ne!(listed.items[0].id, rest.items[0].id);
    let p = s.sku_prices(t, "S1").await.unwrap().unwrap();
    assert_eq!(p.scheduled.len(), 1);
    assert_eq!(p.scheduled[0].effective_at, at);

    // The timers are jobs due at their time.
    let before = at - CDuration::seconds(1);
    assert!(jobs_of(s, PRICE_SCHEDULE_JOB_KIND, before).await.is_empty());
    let due = jobs_of(s, PRICE_SCHEDULE_JOB_KIND, at).await;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payload["scheduled_id"], first.to_string());
    finish(s, &jobs_of(s, PRICE_JOB_KIND, at).await, at).await;

    let applied = s
        .apply_scheduled_price(t, first, at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (applied.state, applied.settled_at),
        (ScheduleState::Applied, Some(at))
    );
    assert!(s
        .apply_scheduled_price(t, first, at)
        .await
        .unwrap()
        .is_none());
    let p = s.sku_prices(t, "S1").await.unwrap().unwrap();
    assert_eq!(p.current, Some((value(1490, Some(990)), at)));
    assert!(p.scheduled.is_empty());
    assert_eq!(p.channels[0].desired, value(1639, Some(1089)));
    assert_eq!(p.channels[0].state, PushState::Pending);
    assert_eq!(
        jobs_of(s, PRICE_JOB_KIND, at).await.len(),
        1,
        "the change is pushed"
    );

    assert!(s.cancel_scheduled_price(t, second, at).await.unwrap());
    assert!(!s.cancel_scheduled_price(t, second, at).await.unwrap());
    assert!(!s.cancel_scheduled_price(t, first, at).await.unwrap());
    assert!(!s
        .cancel_scheduled_price(t, ScheduledPriceId::new(), at)
        .await
        .unwrap());
    let later = at + CDuration::hours(1);
    assert!(s
        .apply_scheduled_price(t, second, later)
        .await
        .unwrap()
        .is_none());
    assert!(s
        .sku_prices(t, "S2")
        .await
        .unwrap()
        .unwrap()
        .current
        .is_none());
    assert!(s
        .scheduled_prices(t, &page_of(10))
        .await
        .unwrap()
        .items
        .is_empty());
}

pub async fn pushes_claim_whole_products_and_settle_targets(s: &impl Store) {
    let (t, c) = priced(s).await;
    let rows = [
        row("S1", value(1000, None), None),
        row("S2", value(2000, Some(1500)), None),
        row("S3", value(3000, None), None),
        row("S4", value(4000, None), None),
    ];
    s.insert_product(&super::stock::product(t, "S4"))
        .await
        .unwrap();
    s.write_prices(t, &rows, t0()).await.unwrap().unwrap();
    // A SKU listed after its price was set gets it pushed too.
    assert!(s
        .sku_prices(t, "S4")
        .await
        .unwrap()
        .unwrap()
        .channels
        .is_empty());
    let listing = Listing {
        tenant_id: t,
        channel_id: c,
        sku: "S4".into(),
        product_id: "40".into(),
        variant_id: "401".into(),
        source: ListingSource::Manual,
        created_at: t0(),
    };
    s.upsert_listings(&[listing], t0()).await.unwrap().unwrap();
    let p4 = s
        .sku_prices(t, "S4")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!(
        (p4.desired, p4.state),
        (value(4400, None), PushState::Pending)
    );
    let jobs = jobs_of(s, PRICE_JOB_KIND, t0()).await;
    let lease = JobLease {
        job_id: jobs[0].id,
        owner: "w".into(),
    };
    let lost = JobLease {
        job_id: jobs[0].id,
        owner: "other".into(),
    };
    assert!(s.claim_price_targets(&lost, c, 10).await.unwrap().is_none());
    // One product at a time: S1 and S2 are product 10.
    let first = s.claim_price_targets(&lease, c, 1).await.unwrap().unwrap();
    let skus: Vec<&str> = first.iter().map(|t| t.sku.as_str()).collect();
    assert_eq!(skus, ["S1", "S2"]);
    let record = |items: &[&PriceTarget], outcome: PushOutcome| PricePushRecord {
        channel_id: c,
        items: items
            .iter()
            .map(|t| (t.sku.clone(), t.variant_id.clone(), t.desired.clone()))
            .collect(),
        request: "PATCH /products/10/variants".into(),
        http_status: Some(200),
        duration_ms: 12,
        outcome,
        priced_at: None,
    };
    let at = t0() + CDuration::seconds(1);
    let ok = record(&[&first[0]], PushOutcome::Succeeded);
    let failed = record(
        &[&first[1]],
        PushOutcome::Failed {
            error: "platform_rejected: 422".into(),
        },
    );
    s.record_price_pushes(t, &[ok, failed], at).await.unwrap();
    let p1 = s
        .sku_prices(t, "S1")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!(
        (p1.state, p1.pushed.clone(), p1.pushed_at),
        (PushState::Pushed, Some(value(1100, None)), Some(at))
    );
    let p2 = s
        .sku_prices(t, "S2")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!((p2.state, p2.attempts), (PushState::Failed, 1));
    assert_eq!(p2.last_error.as_deref(), Some("platform_rejected: 422"));
    // The history: newest first, per SKU and channel.
    let all = s.price_pushes(t, None, None, &page_of(1)).await.unwrap();
    assert_eq!(all.items.len(), 1);
    assert_eq!(all.items[0].outcome, "failed");
    let rest = PageRequest {
        cursor: all.next_cursor,
        limit: 10,
    };
    let rest = s.price_pushes(t, Some(c), None, &rest).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].items[0]["sku"], "S1");
    assert_eq!(rest.items[0].items[0]["price"]["price"], 1100);
    let s1 = s
        .price_pushes(t, Some(c), Some("S1"), &page_of(10))
        .await
        .unwrap();
    assert_eq!(s1.items.len(), 1);
    assert_eq!(
        (s1.items[0].outcome.as_str(), s1.items[0].at),
        ("succeeded", at)
    );
    assert!(s
        .price_pushes(t, Some(ChannelId::new()), None, &page_of(10))
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(
        s.stock_pushes(t, None, Some("S1"), &page_of(10))
            .await
            .unwrap()
            .items
            .is_empty(),
        "the stock history is another"
    );
    let rest = s.claim_price_targets(&lease, c, 10).await.unwrap().unwrap();
    assert_eq!(
        rest.iter().map(|t| t.sku.as_str()).collect::<Vec<_>>(),
        ["S3", "S4"]
    );

    // A change after the push is pending again; back to what was pushed, still pending
    // (a call carrying the value between may have reached the platform unrecorded).
    let later = at + CDuration::seconds(1);
    s.write_prices(t, &[row("S1", value(900, None), None)], later)
        .await
        .unwrap()
        .unwrap();
    let p1 = s
        .sku_prices(t, "S1")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!(p1.state, PushState::Pending);
    s.write_prices(t, &[row("S1", value(1000, None), None)], later)
        .await
        .unwrap()
        .unwrap();
    let p1 = s
        .sku_prices(t, "S1")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!(p1.state, PushState::Pending);
}

/// `from`..`until` with 1990 -> 1790.
fn windowed(from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> PriceValue {
    PriceValue {
        promotional_from: from,
        promotional_until: until,
        ..value(1990, Some(1790))
    }
}

/// The SKU's target on channel `c`.
async fn target_on(s: &impl Store, t: TenantId, sku: &str, c: ChannelId) -> PriceTarget {
    let p = s.sku_prices(t, sku).await.unwrap().unwrap();
    p.channels.into_iter().find(|x| x.channel_id == c).unwrap()
}

/// Pushes every pending price of channel `c` at `at` (the call carrying the
/// promotion of `priced_at`), all succeeding; how many.
async fn push_all(
    s: &impl Store,
    t: TenantId,
    c: ChannelId,
    priced_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> usize {
    let (mine, others): (Vec<Job>, Vec<Job>) = jobs_of(s, PRICE_JOB_KIND, at)
        .await
        .into_iter()
        .partition(|j| j.payload["channel_id"] == c.to_string());
    let back = JobOutcome::Retry {
        run_at: at,
        count_attempt: false,
        error: "another channel's".into(),
    };
    for j in others {
        let lease = JobLease {
            job_id: j.id,
            owner: "w".into(),
        };
        assert!(s.finish_job(&lease, &back, at).await.unwrap());
    }
    let Some(job) = mine.first() else {
        return 0;
    };
    let lease = JobLease {
        job_id: job.id,
        owner: "w".into(),
    };
    let targets = s
        .claim_price_targets(&lease, c, 100)
        .await
        .unwrap()
        .unwrap();
    let record = PricePushRecord {
        channel_id: c,
        items: targets
            .iter()
            .map(|x| (x.sku.clone(), x.variant_id.clone(), x.desired.clone()))
            .collect(),
        request: "PATCH /products/10/variants".into(),
        http_status: Some(200),
        duration_ms: 3,
        outcome: PushOutcome::Succeeded,
        priced_at,
    };
    s.record_price_pushes(t, &[record], at).await.unwrap();
    finish(s, &mine, at).await;
    targets.len()
}

pub async fn window_edges_push_again_where_the_platform_keeps_none(s: &impl Store) {
    let (t, c) = priced(s).await;
    // A second channel that keeps windows itself (VTEX), listing S1.
    let v = Channel {
        id: ChannelId::new(),
        tenant_id: t,
        platform: "vtex".into(),
        name: "VTEX".into(),
        settings: serde_json::json!({}),
        credentials: vec![1],
        enabled: true,
        created_at: t0(),
        updated_at: t0(),
    };
    s.insert_channel(&v).await.unwrap();
    let keeps = ChannelPrices {
        send_prices: true,
        markup_bp: 0,
        window_edges: false,
    };
    s.set_channel_prices(t, v.id, &keeps, false, t0())
        .await
        .unwrap();
    s.upsert_listings(&[super::stock::listing(t, v.id, "S1", "V1", "V1")], t0())
        .await
        .unwrap()
        .unwrap();

    // Two windows sharing their edges, one closing later: one timer per moment.
    let (h1, h2, h3) = (
        t0() + CDuration::hours(1),
        t0() + CDuration::hours(2),
        t0() + CDuration::hours(3),
    );
    let rows = [
        row("S1", windowed(Some(h1), Some(h2)), None),
        row("S2", windowed(Some(h1), Some(h2)), None),
        row("S3", windowed(None, Some(h3)), None),
    ];
    s.write_prices(t, &rows, t0()).await.unwrap().unwrap();
    assert_eq!(push_all(s, t, c, Some(t0()), t0()).await, 3);
    assert_eq!(push_all(s, t, v.id, None, t0()).await, 1);
    assert!(jobs_of(s, PRICE_EDGE_JOB_KIND, h1 - CDuration::seconds(1))
        .await
        .is_empty());
    let due = jobs_of(s, PRICE_EDGE_JOB_KIND, h3).await;
    let mut at: Vec<String> = due.iter().map(|j| j.payload["at"].to_string()).collect();
    at.sort();
    assert_eq!(due.len(), 3, "{at:?}");
    finish(s, &due, h3).await;

    // The window opens: the windowless channel's targets are pending again (their
    // value unchanged), the other channel's are not.
    let opened = h1 + CDuration::milliseconds(20);
    assert_eq!(s.mark_price_edge(t, h1, opened).await.unwrap(), 2);
    let s1 = target_on(s, t, "S1", c).await;
    assert_eq!((s1.state, s1.attempts), (PushState::Pending, 0));
    assert_eq!(s1.pushed.as_ref(), Some(&s1.desired));
    assert_eq!(target_on(s, t, "S1", v.id).await.state, PushState::Pushed);
    assert_eq!(target_on(s, t, "S3", c).await.state, PushState::Pushed);
    assert_eq!(push_all(s, t, v.id, None, opened).await, 0, "no push job");
    assert_eq!(push_all(s, t, c, Some(opened), opened).await, 2);
    assert_eq!(
        s.mark_price_edge(t, h3 + CDuration::hours(1), opened)
            .await
            .unwrap(),
        0
    );

    // S2 changed since: its old window's close finds nothing. A push in flight across
    // S1's close is recorded, but S1 stays pending (the edge's mark came meanwhile).
    s.write_prices(t, &[row("S2", value(1990, None), None)], opened)
        .await
        .unwrap()
        .unwrap();
    push_all(s, t, c, Some(opened), opened).await;
    let closed = h2 + CDuration::milliseconds(5);
    assert_eq!(s.mark_price_edge(t, h2, closed).await.unwrap(), 1);
    let in_flight = h2 - CDuration::milliseconds(3);
    assert_eq!(push_all(s, t, c, Some(in_flight), closed).await, 1);
    let s1 = target_on(s, t, "S1", c).await;
    assert_eq!(s1.state, PushState::Pending, "{s1:?}");
    assert_eq!(s1.attempted_at, Some(closed));
    assert_eq!(push_all(s, t, c, Some(closed), closed).await, 1);
    assert_eq!(target_on(s, t, "S1", c).await.state, PushState::Pushed);
}

pub async fn resyncs_push_every_priced_listing_again(s: &impl Store) {
    let (t, c) = priced(s).await;
    let rows = [
        row("S1", value(1000, None), None),
        row("S2", value(2000, None), None),
    ];
    s.write_prices(t, &rows, t0()).await.unwrap().unwrap();
    assert_eq!(s.price_summary(t, c).await.unwrap(), (2, 0, 0));
    assert_eq!(push_all(s, t, c, None, t0()).await, 2);
    assert_eq!(s.price_summary(t, c).await.unwrap(), (0, 2, 0));
    // S3 is listed but has no price: nothing to push.
    let later = t0() + CDuration::seconds(1);
    assert_eq!(s.resync_prices(t, c, later).await.unwrap(), 2);
    assert_eq!(s.price_summary(t, c).await.unwrap(), (2, 0, 0));
    let p = target_on(s, t, "S1", c).await;
    assert_eq!(
        p.pushed.as_ref(),
        Some(&p.desired),
        "the value is unchanged"
    );
    assert_eq!(push_all(s, t, c, None, later).await, 2);
    let other = ChannelId::new();
    assert_eq!(s.resync_prices(t, other, later).await.unwrap(), 0);
    assert_eq!(s.price_summary(t, other).await.unwrap(), (0, 0, 0));
}

pub async fn drift_is_noted_and_pushed_again_only_when_asked(s: &impl Store) {
    let (t, c) = priced(s).await;
    s.write_prices(t, &[row("S1", value(1000, None), None)], t0())
        .await
        .unwrap()
        .unwrap();
    let jobs = jobs_of(s, PRICE_JOB_KIND, t0()).await;
    let lease = JobLease {
        job_id: jobs[0].id,
        owner: "w".into(),
    };
    // Only pushed prices are read back.
    assert!(s.price_check_sample(t, c, 10).await.unwrap().is_empty());
    let claimed = s.claim_price_targets(&lease, c, 10).await.unwrap().unwrap();
    let record = PricePushRecord {
        channel_id: c,
        items: claimed
            .iter()
            .map(|x| (x.sku.clone(), x.variant_id.clone(), x.desired.clone()))
            .collect(),
        request: "PATCH /products/10/variants".into(),
        http_status: Some(200),
        duration_ms: 1,
        outcome: PushOutcome::Succeeded,
        priced_at: None,
    };
    let at = t0() + CDuration::seconds(1);
    s.record_price_pushes(t, &[record], at).await.unwrap();
    finish(s, &jobs, at).await;
    let sample = s.price_check_sample(t, c, 10).await.unwrap();
    assert_eq!(sample.len(), 1);
    assert_eq!(sample[0].sku, "S1");
    // Reported only: the note, still pushed, no job.
    let drift = vec![("S1".to_owned(), "drift: the channel shows 999".to_owned())];
    let n = s.note_price_drift(t, c, &drift, false, at).await.unwrap();
    assert_eq!(n, 0);
    let p = s
        .sku_prices(t, "S1")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!(p.state, PushState::Pushed);
    assert_eq!(
        p.last_error.as_deref(),
        Some("drift: the channel shows 999")
    );
    assert!(jobs_of(s, PRICE_JOB_KIND, at).await.is_empty());
    // Fixed: pending again (the same value), with the channel's push job.
    let n = s.note_price_drift(t, c, &drift, true, at).await.unwrap();
    assert_eq!(n, 1);
    let p = s
        .sku_prices(t, "S1")
        .await
        .unwrap()
        .unwrap()
        .channels
        .remove(0);
    assert_eq!(
        (p.state, p.desired),
        (PushState::Pending, value(1100, None))
    );
    assert_eq!(jobs_of(s, PRICE_JOB_KIND, at).await.len(), 1);
    // Nothing drifted: nothing written.
    assert_eq!(s.note_price_drift(t, c, &[], true, at).await.unwrap(), 0);
}
