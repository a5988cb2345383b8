//! Conformance: carrier accounts and shipment tracking.

use super::sends::{act, shipment};
use super::{import, mapped, setup, t0};
use crate::*;
use chrono::Duration as CDuration;
use ponte_core::{CarrierAccountId, OrderStatus, TenantId};

fn account(t: TenantId, name: &str, is_default: bool) -> CarrierAccount {
    CarrierAccount {
        tenant_id: t,
        id: CarrierAccountId::new(),
        carrier: "correios".into(),
        name: name.into(),
        is_default,
        settings: serde_json::json!({"api_base_url": "https://api.correios.com.br"}),
        credentials: vec![9, 9, 9],
        created_at: t0(),
        updated_at: t0(),
    }
}

/// Accounts are kept per tenant with unique names and one default; deleted once.
pub async fn carrier_accounts_round_trip(s: &impl Store) {
    let (t, _) = setup(s).await;
    let a = account(t, "Correios SP", true);
    s.insert_carrier_account(&a).await.unwrap();
    let dup = s
        .insert_carrier_account(&account(t, "Correios SP", false))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let mut b = account(t, "Correios RJ", true);
    b.created_at = t0() + CDuration::seconds(1);
    s.insert_carrier_account(&b).await.unwrap();
    let all = s.carrier_accounts(t).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[0].id, all[0].is_default),
        (a.id, false),
        "the newer default wins"
    );
    assert_eq!((all[1].id, all[1].is_default), (b.id, true));
    assert_eq!(all[1].credentials, vec![9, 9, 9]);
    assert_eq!(all[1].settings, b.settings);
    assert!(s.delete_carrier_account(t, a.id).await.unwrap());
    assert!(!s.delete_carrier_account(t, a.id).await.unwrap());
    assert_eq!(s.carrier_accounts(t).await.unwrap().len(), 1);
}

/// Shipped orders with a code are listed; a poll's events enter the timeline once,
/// however often the carrier reports them.
pub async fn tracking_events_are_recorded_once(s: &impl Store) {
    let (t, c) = setup(s).await;
    let ImportApplied::Created(o) =
        import(s, t, c, mapped("91", OrderStatus::Approved, t0()), t0()).await
    else {
        panic!("not created")
    };
    let ImportApplied::Created(unshipped) =
        import(s, t, c, mapped("92", OrderStatus::Approved, t0()), t0()).await
    else {
        panic!("not created")
    };
    let (listed, _) = s.shipments_to_track(t, None, 100).await.unwrap();
    assert!(listed.is_empty(), "nothing shipped yet");
    s.apply_actions(&[act(t, o, shipment(), false)], t0())
        .await
        .unwrap();
    let (listed, last) = s.shipments_to_track(t, None, 100).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].order_id, o);
    assert_eq!(listed[0].tracking_code, "BR1");
    assert_eq!((listed[0].polled_at, last), (None, Some(o)));
    assert_ne!(listed[0].order_id, unshipped);
    let (after, _) = s.shipments_to_track(t, Some(o), 100).await.unwrap();
    assert!(after.iter().all(|x| x.order_id > o));

    let ev = |k: &str, mins: i64| PolledEvent {
        key: k.into(),
        at: t0() + CDuration::minutes(mins),
        detail: serde_json::json!({"code": k}),
    };
    let poll = |events| TrackingPoll {
        order_id: o,
        channel_id: c,
        external_id: "91".into(),
        events,
    };
    let polled = t0() + CDuration::hours(1);
    let first = vec![poll(vec![ev("PO/01", 1), ev("RO/01", 2)])];
    assert_eq!(s.record_tracking(t, &first, polled).await.unwrap(), 2);
    // Read again with one more (and the same one twice in one answer).
    let again = vec![poll(vec![
        ev("PO/01", 1),
        ev("RO/01", 2),
        ev("BDE/01", 3),
        ev("BDE/01", 3),
    ])];
    assert_eq!(s.record_tracking(t, &again, polled).await.unwrap(), 1);
    assert_eq!(s.record_tracking(t, &again, polled).await.unwrap(), 0);
    let timeline = s.timeline(t, c, "91").await.unwrap();
    let tracked: Vec<_> = timeline
        .iter()
        .filter(|e| e.kind == TRACKING_EVENT)
        .map(|e| e.detail["code"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(tracked, ["PO/01", "RO/01", "BDE/01"]);
    let (listed, _) = s.shipments_to_track(t, None, 100).await.unwrap();
    assert_eq!(listed[0].polled_at, Some(polled));
}
