//! Conformance: webhook endpoints, their queues, claims in order per order, attempts,
//! recover and resend.

use super::{import, mapped, setup, t0};
use crate::webhooks::*;
use crate::*;
use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_core::event::EventType;
use ponte_core::{ChannelId, EndpointId, OrderStatus, TenantId};
use std::time::Duration;

/// A new enabled endpoint of `t` wanting every event.
pub fn endpoint(t: TenantId) -> WebhookEndpoint {
    WebhookEndpoint {
        tenant_id: t,
        id: EndpointId::new(),
        url: "https://erp.example/hooks".into(),
        description: "ERP".into(),
        event_types: None,
        channel_id: None,
        rate_limit_per_sec: None,
        secret: vec![1, 2, 3],
        old_secret: None,
        old_secret_until: None,
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        created_at: t0(),
        updated_at: t0(),
    }
}

async fn claim(s: &impl Store, now: DateTime<Utc>) -> Vec<ClaimedDelivery> {
    let slots = DeliverySlots {
        total: 100,
        ..DeliverySlots::default()
    };
    s.claim_deliveries("w", now, Duration::from_secs(30), &slots)
        .await
        .unwrap()
}

fn done(c: &ClaimedDelivery, outcome: DeliveryOutcome) -> DeliveryFinish {
    DeliveryFinish {
        tenant_id: c.endpoint.tenant_id,
        endpoint_id: c.endpoint.id,
        event_seq: c.event.seq,
        attempt: c.attempt,
        owner: "w".into(),
        http_status: Some(if outcome == DeliveryOutcome::Succeeded {
            200
        } else {
            503
        }),
        response: Some("ok".into()),
        duration_ms: 3,
        error: None,
        outcome,
    }
}

/// Imports order `ext` with `status` at minute `m`.
async fn order(s: &impl Store, t: TenantId, c: ChannelId, ext: &str, status: OrderStatus, m: i64) {
    let at = t0() + CDuration::minutes(m);
    import(s, t, c, mapped(ext, status, at), at).await;
}

fn kinds(c: &[ClaimedDelivery]) -> Vec<(String, &'static str)> {
    c.iter()
        .map(|d| {
            (
                d.event.event.data["external_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                d.event.event.kind.as_str(),
            )
        })
        .collect()
}

pub async fn endpoints_round_trip(s: &impl Store) {
    let (t, c) = setup(s).await;
    let mut ep = endpoint(t);
    ep.event_types = Some(vec![EventType::OrderCreated]);
    ep.channel_id = Some(c);
    ep.rate_limit_per_sec = Some(10);
    s.insert_endpoint(&ep).await.unwrap();
    assert_eq!(s.endpoint(t, ep.id).await.unwrap(), Some(ep.clone()));
    ep.url = "https://erp.example/v2".into();
    ep.old_secret = Some(vec![9]);
    ep.old_secret_until = Some(t0());
    ep.enabled = false;
    ep.disabled_reason = Some("gone".into());
    assert!(s.update_endpoint(&ep).await.unwrap());
    assert_eq!(s.endpoints(t).await.unwrap(), [ep.clone()]);
    assert!(s.endpoints(TenantId::new()).await.unwrap().is_empty());
    assert_eq!(s.endpoint(TenantId::new(), ep.id).await.unwrap(), None);
    assert!(s.delete_endpoint(t, ep.id).await.unwrap());
    assert!(!s.delete_endpoint(t, ep.id).await.unwrap());
    assert!(!s.update_endpoint(&ep).await.unwrap());
}

pub async fn a_busy_endpoint_claims_only_its_share(s: &impl Store) {
    let (t, c) = setup(s).await;
    let (slow, fast) = (endpoint(t), endpoint(t));
    s.insert_endpoint(&slow).await.unwrap();
    s.insert_endpoint(&fast).await.unwrap();
    for i in 0..14 {
        order(s, t, c, &i.to_string(), OrderStatus::Approved, i).await;
    }
    let now = t0() + CDuration::minutes(20);
    assert_eq!(s.queue_deliveries(now, 100).await.unwrap(), 28);
    let lease = Duration::from_secs(30);
    // Eight slots, two endpoints: four each; the slow one already holds three.
    let mut slots = DeliverySlots {
        total: 8,
        ..DeliverySlots::default()
    };
    slots.in_flight.insert(slow.id, 3);
    let got = s.claim_deliveries("w", now, lease, &slots).await.unwrap();
    let to = |id| got.iter().filter(|d| d.endpoint.id == id).count();
    assert_eq!((to(slow.id), to(fast.id)), (1, 4));
    // Once the slow one is out of the way, a lone endpoint may use every slot.
    let mut lone = slow.clone();
    lone.enabled = false;
    assert!(s.update_endpoint(&lone).await.unwrap());
    let slots = DeliverySlots {
        total: 8,
        ..DeliverySlots::default()
    };
    let got = s.claim_deliveries("w", now, lease, &slots).await.unwrap();
    assert_eq!(got.len(), 8, "every slot");
    assert!(got.iter().all(|d| d.endpoint.id == fast.id));
}

/// One round records the finished deliveries, queues the events committed since and
/// claims what is due (an order's next event once its earlier one is settled).
pub async fn a_round_finishes_queues_and_claims(s: &impl Store) {
    let (t, c) = setup(s).await;
    let ep = endpoint(t);
    s.insert_endpoint(&ep).await.unwrap();
    let slots = DeliverySlots {
        total: 100,
        ..DeliverySlots::default()
    };
    let lease = Duration::from_secs(30);
    let now = t0() + CDuration::minutes(5);
    assert!(s
        .delivery_round(&[], now, 100, "w", lease, &slots)
        .await
        .unwrap()
        .is_empty());
    order(s, t, c, "1", OrderStatus::Approved, 1).await;
    order(s, t, c, "1", OrderStatus::Shipped, 2).await;
    let first = s
        .delivery_round(&[], now, 100, "w", lease, &slots)
        .await
        .unwrap();
    assert_eq!(kinds(&first), [("1".to_owned(), "order.created")]);
    let next = s
        .delivery_round(
            &[done(&first[0], DeliveryOutcome::Succeeded)],
            now,
            100,
            "w",
            lease,
            &slots,
        )
        .await
        .unwrap();
    assert_eq!(kinds(&next), [("1".to_owned(), "order.updated")]);
    let full = DeliverySlots {
        total: 0,
        ..DeliverySlots::default()
    };
    assert!(s
        .delivery_round(
            &[done(&next[0], DeliveryOutcome::Succeeded)],
            now,
            100,
            "w",
            lease,
            &full
        )
        .await
        .unwrap()
        .is_empty());
    let page = s
        .webhook_attempts(
            t,
            ep.id,
            &PageRequest {
                cursor: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(
        page.items.iter().all(|a| a.outcome == "succeeded"),
        "both recorded"
    );
    assert_eq!(page.items.len(), 2);
}

pub async fn deliveries_queue_claim_in_order_and_finish(s: &impl Store) {
    let (t, c) = setup(s).await;
    // Events before the endpoint existed are not queued for it.
    order(s, t, c, "0", OrderStatus::Approved, 0).await;
    let ep = endpoint(t);
    s.insert_endpoint(&ep).await.unwrap();
    let mut only_cancel = endpoint(t);
    only_cancel.event_types = Some(vec![EventType::OrderCancelled]);
    s.insert_endpoint(&only_cancel).await.unwrap();
    order(s, t, c, "1", OrderStatus::Approved, 1).await;
    order(s, t, c, "1", OrderStatus::Shipped, 2).await;
    order(s, t, c, "2", OrderStatus::Approved, 3).await;
    let now = t0() + CDuration::minutes(5);
    assert_eq!(s.queue_deliveries(now, 100).await.unwrap(), 3);
    assert_eq!(s.queue_deliveries(now, 100).await.unwrap(), 0);

    // One per order at a time: order 1's update waits for its creation.
    let first = claim(s, now).await;
    let mut got = kinds(&first);
    got.sort();
    assert_eq!(
        got,
        [
            ("1".to_owned(), "order.created"),
            ("2".to_owned(), "order.created")
        ]
    );
    assert!(first
        .iter()
        .all(|d| d.endpoint.id == ep.id && d.attempts_used == 0));
    assert!(
        claim(s, now).await.is_empty(),
        "leased, and the update waits"
    );
    let one = first
        .iter()
        .find(|d| d.event.event.data["external_id"] == "1")
        .unwrap();
    let two = first
        .iter()
        .find(|d| d.event.event.data["external_id"] == "2")
        .unwrap();
    let retry_at = now + CDuration::seconds(5);
    let out = s
        .finish_deliveries(
            &[
                done(one, DeliveryOutcome::Retry(retry_at)),
                done(two, DeliveryOutcome::Succeeded),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(out, [true, true]);
    // A finish whose lease is gone writes nothing.
    let lost = s
        .finish_deliveries(&[done(two, DeliveryOutcome::Succeeded)], now)
        .await
        .unwrap();
    assert_eq!(lost, [false]);
    assert!(
        claim(s, now).await.is_empty(),
        "the retry is not due, and holds the update"
    );
    let again = claim(s, retry_at).await;
    assert_eq!(kinds(&again), [("1".to_owned(), "order.created")]);
    assert_eq!(again[0].attempts_used, 1);
    assert_eq!(again[0].event.event.id, one.event.event.id, "same event id");
    s.finish_deliveries(&[done(&again[0], DeliveryOutcome::Succeeded)], retry_at)
        .await
        .unwrap();
    let next = claim(s, retry_at).await;
    assert_eq!(kinds(&next), [("1".to_owned(), "order.updated")]);
    s.finish_deliveries(&[done(&next[0], DeliveryOutcome::Failed)], retry_at)
        .await
        .unwrap();
    assert!(claim(s, retry_at + CDuration::days(1)).await.is_empty());

    // Every attempt is recorded, newest first.
    let page = PageRequest {
        cursor: None,
        limit: 10,
    };
    let attempts = s.webhook_attempts(t, ep.id, &page).await.unwrap().items;
    assert_eq!(attempts.len(), 4);
    assert!(
        attempts.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    let mut by_event: Vec<(i64, u32, &str, EventType)> = attempts
        .iter()
        .map(|a| (a.event_seq, a.n, a.outcome.as_str(), a.event_type))
        .collect();
    by_event.sort();
    let (c1, u1, c2) = (one.event.seq, next[0].event.seq, two.event.seq);
    let mut expected = vec![
        (c1, 1, "failed", EventType::OrderCreated),
        (c1, 2, "succeeded", EventType::OrderCreated),
        (u1, 1, "failed", EventType::OrderUpdated),
        (c2, 1, "succeeded", EventType::OrderCreated),
    ];
    expected.sort();
    assert_eq!(by_event, expected);
    assert!(attempts.iter().all(|a| a.duration_ms == Some(3)));
    let newest = &attempts[0];
    assert_eq!(newest.event_type, EventType::OrderUpdated);
    assert_eq!(newest.http_status, Some(503));
    assert!(s
        .webhook_attempts(t, only_cancel.id, &page)
        .await
        .unwrap()
        .items
        .is_empty());

    // Resend one attempt's message; recover everything since a time.
    assert!(s
        .resend_attempt(t, ep.id, newest.id, retry_at)
        .await
        .unwrap());
    assert!(!s
        .resend_attempt(t, only_cancel.id, newest.id, retry_at)
        .await
        .unwrap());
    let resent = claim(s, retry_at).await;
    assert_eq!(kinds(&resent), [("1".to_owned(), "order.updated")]);
    assert_eq!(resent[0].attempts_used, 0, "a fresh budget");
    s.finish_deliveries(&[done(&resent[0], DeliveryOutcome::Succeeded)], retry_at)
        .await
        .unwrap();
    let n = s
        .recover_deliveries(t, ep.id, t0() + CDuration::minutes(2), retry_at)
        .await
        .unwrap();
    assert_eq!(n, 2, "the update of 1 and the creation of 2");
    let mut got = kinds(&claim(s, retry_at).await);
    got.sort();
    assert_eq!(
        got,
        [
            ("1".to_owned(), "order.updated"),
            ("2".to_owned(), "order.created")
        ]
    );
}

pub async fn a_lost_lease_interrupts_and_a_410_disables(s: &impl Store) {
    let (t, c) = setup(s).await;
    let ep = endpoint(t);
    s.insert_endpoint(&ep).await.unwrap();
    order(s, t, c, "1", OrderStatus::Approved, 0).await;
    order(s, t, c, "2", OrderStatus::Approved, 0).await;
    s.queue_deliveries(t0(), 100).await.unwrap();
    let first = claim(s, t0()).await;
    assert_eq!(first.len(), 2);
    // The worker died: after the lease another claims them again.
    let later = t0() + CDuration::minutes(1);
    let second = claim(s, later).await;
    assert_eq!(second.len(), 2);
    let page = PageRequest {
        cursor: None,
        limit: 10,
    };
    let attempts = s.webhook_attempts(t, ep.id, &page).await.unwrap().items;
    let mut outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        ["interrupted", "interrupted", "started", "started"]
    );
    // 410: the endpoint is disabled at once, with an event; its queue waits.
    s.finish_deliveries(&[done(&second[0], DeliveryOutcome::Gone)], later)
        .await
        .unwrap();
    let stored = s.endpoint(t, ep.id).await.unwrap().unwrap();
    assert!(!stored.enabled);
    assert_eq!(stored.disabled_reason.as_deref(), Some("gone"));
    assert_eq!(stored.failing_since, Some(later));
    let q = EventQuery {
        after: 0,
        types: vec![EventType::EndpointDisabled],
        limit: 10,
    };
    let ev = s.events(t, &q).await.unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].event.data["reason"], "gone");
    let much_later = later + CDuration::hours(1);
    assert!(claim(s, much_later).await.is_empty(), "disabled");
    let mut enabled = stored.clone();
    enabled.enabled = true;
    enabled.disabled_reason = None;
    s.update_endpoint(&enabled).await.unwrap();
    assert_eq!(
        claim(s, much_later).await.len(),
        1,
        "the other message goes again"
    );
}

pub async fn endpoint_deliveries_count_pending_and_last_attempts(s: &impl Store) {
    let (t, c) = setup(s).await;
    let ep = endpoint(t);
    s.insert_endpoint(&ep).await.unwrap();
    let quiet = endpoint(t);
    s.insert_endpoint(&quiet).await.unwrap();
    order(s, t, c, "1", OrderStatus::Approved, 0).await;
    order(s, t, c, "2", OrderStatus::Approved, 0).await;
    let now = t0() + CDuration::minutes(1);
    s.queue_deliveries(now, 100).await.unwrap();
    let fresh = |id| EndpointDeliveries {
        endpoint_id: id,
        pending: 2,
        failed: 0,
        last_success_at: None,
        last_failure_at: None,
    };
    assert_eq!(
        s.endpoint_deliveries(t).await.unwrap(),
        [fresh(ep.id), fresh(quiet.id)]
    );
    let claimed: Vec<_> = claim(s, now)
        .await
        .into_iter()
        .filter(|d| d.endpoint.id == ep.id)
        .collect();
    assert_eq!(claimed.len(), 2);
    let later = now + CDuration::minutes(1);
    s.finish_deliveries(
        &[
            done(&claimed[0], DeliveryOutcome::Succeeded),
            done(&claimed[1], DeliveryOutcome::Failed),
        ],
        later,
    )
    .await
    .unwrap();
    let got = s.endpoint_deliveries(t).await.unwrap();
    assert_eq!(
        got[0],
        EndpointDeliveries {
            endpoint_id: ep.id,
            pending: 0,
            failed: 1,
            last_success_at: Some(now),
            last_failure_at: Some(now),
        },
        "attempts are dated when they start"
    );
    assert_eq!(got[1].pending, 2, "the other endpoint's queue waits");
    assert!(s
        .endpoint_deliveries(TenantId::new())
        .await
        .unwrap()
        .is_empty());
}

/// Seqs of the tenant's events still stored.
async fn stored_events(s: &impl Store, t: TenantId) -> Vec<i64> {
    let q = EventQuery {
        after: 0,
        types: vec![],
        limit: 100,
    };
    s.events(t, &q)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect()
}

pub async fn old_messages_and_events_go_unless_still_needed(s: &impl Store) {
    let (t, c) = setup(s).await;
    let ep = endpoint(t);
    s.insert_endpoint(&ep).await.unwrap();
    // A disabled endpoint that never queued anything holds nothing.
    let mut off = endpoint(t);
    s.insert_endpoint(&off).await.unwrap();
    off.enabled = false;
    off.disabled_reason = Some("by_user".into());
    s.update_endpoint(&off).await.unwrap();
    let at = |m: i64| t0() + CDuration::minutes(m);

    // 1 delivered at minute 1; 2 failing and waiting for a retry; 3 not queued yet.
    order(s, t, c, "1", OrderStatus::Approved, 0).await;
    s.queue_deliveries(at(0), 100).await.unwrap();
    let one = claim(s, at(0)).await;
    s.finish_deliveries(&[done(&one[0], DeliveryOutcome::Succeeded)], at(1))
        .await
        .unwrap();
    order(s, t, c, "2", OrderStatus::Approved, 10).await;
    s.queue_deliveries(at(10), 100).await.unwrap();
    let two = claim(s, at(10)).await;
    let retry = DeliveryOutcome::Retry(at(10) + CDuration::days(30));
    s.finish_deliveries(&[done(&two[0], retry)], at(11))
        .await
        .unwrap();
    order(s, t, c, "3", OrderStatus::Approved, 20).await;
    let all = stored_events(s, t).await;
    assert_eq!(all.len(), 3);

    // Cut-off at minute 5: only 1's message (with its attempt) and its event go.
    assert_eq!(
        s.prune(Prunable::WebhookMessages, at(5), 500)
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.prune(Prunable::Events, at(5), 500).await.unwrap(), 1);
    assert_eq!(stored_events(s, t).await, all[1..]);
    let page = PageRequest {
        cursor: None,
        limit: 10,
    };
    let attempts = s.webhook_attempts(t, ep.id, &page).await.unwrap().items;
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0].event_seq, all[1],
        "the pending one's attempt stays"
    );

    // Much later: 2 is still pending and 3 not queued; nothing goes.
    let later = t0() + CDuration::days(1);
    assert_eq!(
        s.prune(Prunable::WebhookMessages, later, 500)
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.prune(Prunable::Events, later, 500).await.unwrap(), 0);
    assert_eq!(stored_events(s, t).await, all[1..]);

    // 3 delivered: its message and event go; 2's stay.
    s.queue_deliveries(at(30), 100).await.unwrap();
    let three = claim(s, at(30)).await;
    assert_eq!(three.len(), 1);
    assert_eq!(three[0].event.seq, all[2]);
    s.finish_deliveries(&[done(&three[0], DeliveryOutcome::Succeeded)], at(31))
        .await
        .unwrap();
    assert_eq!(
        s.prune(Prunable::WebhookMessages, later, 500)
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.prune(Prunable::Events, later, 500).await.unwrap(), 1);
    assert_eq!(stored_events(s, t).await, [all[1]]);
    let d = s.endpoint_deliveries(t).await.unwrap();
    assert_eq!((d[0].pending, d[0].failed), (1, 0));
}
