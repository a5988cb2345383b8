//! Conformance: outbound events are written with the changes that cause them and read
//! in commit order.

use super::sends::{act, round, separation};
use super::{claim_one, commit, delivery, fetched, import, mapped, setup, t0};
use crate::*;
use chrono::Duration as CDuration;
use ponte_core::event::EventType;
use ponte_core::import::ImportPolicy;
use ponte_core::{OrderStatus, TenantId};

/// Every event of `t` after `after`, of `types`.
async fn read(s: &impl Store, t: TenantId, after: i64, types: &[EventType]) -> Vec<Event> {
    let q = EventQuery {
        after,
        types: types.to_vec(),
        limit: 100,
    };
    s.events(t, &q).await.unwrap()
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.event.kind.as_str()).collect()
}

pub async fn order_changes_write_events_in_order(s: &impl Store) {
    let (t, c) = setup(s).await;
    let min = CDuration::minutes(1);
    let ImportApplied::Created(id) =
        import(s, t, c, mapped("1", OrderStatus::Approved, t0()), t0()).await
    else {
        panic!("not created")
    };
    // The same snapshot again changes nothing and says nothing.
    import(s, t, c, mapped("1", OrderStatus::Approved, t0()), t0()).await;
    let shipped = mapped("1", OrderStatus::Shipped, t0() + min);
    import(s, t, c, shipped, t0() + min).await;
    let cancelled = mapped("1", OrderStatus::Cancelled, t0() + min * 2);
    import(s, t, c, cancelled, t0() + min * 2).await;
    // An unpaid order under "paid only" is skipped.
    s.accept_deliveries(&[delivery(t, c, "2", t0())])
        .await
        .unwrap();
    let jobs = claim_one(s, "w", t0() + min * 3).await;
    let unpaid = fetched(
        mapped("2", OrderStatus::AwaitingPayment, t0()),
        ImportPolicy::PaidOnly,
    );
    s.apply_imports(
        vec![commit(&jobs[0], t, c, "2", t0() + min * 3, unpaid)],
        t0() + min * 3,
    )
    .await
    .unwrap();

    let all = read(s, t, 0, &[]).await;
    let expected = [
        "order.created",
        "order.updated",
        "order.cancelled",
        "order.skipped",
    ];
    assert_eq!(kinds(&all), expected);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let created = &all[0];
    assert_eq!(created.event.order_id, Some(id));
    assert_eq!(created.event.channel_id, Some(c));
    assert_eq!(created.event.at, t0());
    assert_eq!(created.event.data["id"], serde_json::json!(id));
    assert_eq!(created.event.data["status"], "approved");
    assert_eq!(created.event.data["items"][0]["sku"], "SKU-1");
    let payload = created.payload();
    assert_eq!(payload["type"], "order.created");
    assert_eq!(payload["data"]["external_id"], "1");
    assert_eq!(all[2].event.data["status"], "cancelled");
    assert_eq!(all[3].event.order_id, None);
    assert_eq!(all[3].event.data["reason"], "awaiting_payment_paid_only");
    // Ids are distinct and stable; reading again gives the same events.
    assert_ne!(all[0].event.id, all[1].event.id);
    assert_eq!(read(s, t, 0, &[]).await, all);

    // The cursor resumes after the last event seen; types and limit filter.
    let rest = read(s, t, all[1].seq, &[]).await;
    assert_eq!(kinds(&rest), expected[2..]);
    let only = read(
        s,
        t,
        0,
        &[EventType::OrderCancelled, EventType::OrderSkipped],
    )
    .await;
    assert_eq!(kinds(&only), expected[2..]);
    let q = EventQuery {
        after: 0,
        types: vec![],
        limit: 2,
    };
    assert_eq!(kinds(&s.events(t, &q).await.unwrap()), expected[..2]);
    assert!(read(s, t, all[3].seq, &[]).await.is_empty());
    // Another tenant sees none of them.
    assert!(read(s, TenantId::new(), 0, &[]).await.is_empty());
}

pub async fn status_sends_write_events_when_they_end(s: &impl Store) {
    let (t, c) = setup(s).await;
    let ImportApplied::Created(o) =
        import(s, t, c, mapped("9", OrderStatus::Approved, t0()), t0()).await
    else {
        panic!("not created")
    };
    super::sends::apply(s, &act(t, o, separation(), true), t0())
        .await
        .unwrap();
    let after = read(s, t, 0, &[]).await.last().unwrap().seq;
    // A retry says nothing; a success does.
    let retry = SendOutcome::Retry { run_at: t0() };
    round(s, t0(), retry).await;
    assert!(read(s, t, after, &[]).await.is_empty());
    let sent = round(s, t0(), SendOutcome::Succeeded).await;
    let ev = read(s, t, after, &[]).await;
    assert_eq!(kinds(&ev), ["status_send.succeeded"]);
    assert_eq!(ev[0].event.order_id, Some(o));
    assert_eq!(ev[0].event.data["id"], serde_json::json!(sent[0].id));
    assert_eq!(ev[0].event.data["kind"], "separation");
    assert_eq!(ev[0].event.data["attempts"], 2);

    // A send that fails for good is on the Errors list and says so.
    super::sends::apply(s, &act(t, o, super::sends::invoice(), true), t0())
        .await
        .unwrap();
    round(s, t0(), SendOutcome::Failed).await;
    let ev = read(s, t, after, &[EventType::StatusSendFailed]).await;
    assert_eq!(kinds(&ev), ["status_send.failed"]);
    assert_eq!(ev[0].event.data["error"]["code"], "platform_unavailable");
    assert_eq!(ev[0].event.data["http_status"], 500);
}

pub async fn a_failed_subscription_is_an_event_once(s: &impl Store) {
    let (t, c) = setup(s).await;
    let sub = |state, m: i64| Subscription {
        state,
        url: Some("https://ponte.example/webhooks/1".into()),
        registered: vec![],
        changes: vec![],
        reason: Some("platform said 401".into()),
        checked_at: t0() + CDuration::minutes(m),
    };
    s.set_subscription(t, c, &sub(SubscriptionState::Failed, 0))
        .await
        .unwrap();
    s.set_subscription(t, c, &sub(SubscriptionState::Failed, 1))
        .await
        .unwrap();
    s.set_subscription(t, c, &sub(SubscriptionState::Active, 2))
        .await
        .unwrap();
    s.set_subscription(t, c, &sub(SubscriptionState::Failed, 3))
        .await
        .unwrap();
    let ev = read(s, t, 0, &[EventType::ChannelSubscriptionFailed]).await;
    let at: Vec<_> = ev.iter().map(|e| e.event.at).collect();
    assert_eq!(at, [t0(), t0() + CDuration::minutes(3)]);
    assert_eq!(ev[0].event.channel_id, Some(c));
    assert_eq!(ev[0].event.data["reason"], "platform said 401");
    let missing = s
        .set_subscription(
            t,
            ponte_core::ChannelId::new(),
            &sub(SubscriptionState::Failed, 4),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
    assert_eq!(
        read(s, t, 0, &[EventType::ChannelSubscriptionFailed])
            .await
            .len(),
        2
    );
}

/// The event `data` of a stored order: what `GET /api/v1/orders/{id}` shows.
async fn shown(s: &impl Store, t: TenantId, o: ponte_core::OrderId) -> serde_json::Value {
    let o = s.order(t, o).await.unwrap().unwrap();
    let view = ponte_core::order_view::OrderView::new(
        o.id,
        o.channel_id,
        o.data,
        o.fulfilment,
        o.created_at,
        o.updated_at,
    );
    crate::events::order_data(&view)
}

pub async fn erp_actions_write_the_order_as_the_api_shows_it(s: &impl Store) {
    let (t, c) = setup(s).await;
    let ImportApplied::Created(o) =
        import(s, t, c, mapped("7", OrderStatus::Approved, t0()), t0()).await
    else {
        panic!("not created")
    };
    let created = read(s, t, 0, &[]).await;
    assert_eq!(kinds(&created), ["order.created"]);
    assert_eq!(created[0].event.data, shown(s, t, o).await, "as imported");

    let min = CDuration::minutes(1);
    super::sends::apply(s, &act(t, o, separation(), false), t0() + min)
        .await
        .unwrap();
    let ev = read(s, t, created[0].seq, &[]).await;
    assert_eq!(kinds(&ev), ["order.updated"]);
    assert_eq!(ev[0].event.order_id, Some(o));
    assert_eq!(ev[0].event.channel_id, Some(c));
    assert_eq!(ev[0].event.at, t0() + min);
    let data = &ev[0].event.data;
    assert_eq!(*data, shown(s, t, o).await);
    assert_eq!(data["status"], "in_separation", "{data}");
    assert!(data["fulfilment"]["separation"].is_object(), "{data}");
    assert!(data["flags"].is_array() && data["created_at"].is_string());

    // Done again: nothing changes, nothing is said. Two actions in one batch: one
    // event, the order as the batch leaves it.
    let seen = ev[0].seq;
    super::sends::apply(s, &act(t, o, separation(), false), t0() + min * 2)
        .await
        .unwrap();
    assert!(read(s, t, seen, &[]).await.is_empty());
    let batch = [
        act(t, o, super::sends::invoice(), true),
        act(t, o, super::sends::shipment(), true),
    ];
    s.apply_actions(&batch, t0() + min * 3).await.unwrap();
    let ev = read(s, t, seen, &[]).await;
    assert_eq!(kinds(&ev), ["order.updated"]);
    assert_eq!(ev[0].event.data, shown(s, t, o).await);
    assert_eq!(ev[0].event.data["status"], "shipped");
    assert!(ev[0].event.data["fulfilment"]["invoice"]["access_key"].is_string());
}
