//! A channel's DE-PARA tables and the orders grouped by the platform values they map.

use super::order_stock::polled;
use super::{mapped, setup, t0};
use crate::*;
use chrono::Duration as CDuration;
use ponte_core::order::PlatformStatus;
use ponte_core::{ChannelId, OrderStatus};
use serde_json::json;

pub async fn tables_are_kept_per_channel_and_kind(s: &impl Store) {
    let (t, c) = setup(s).await;
    assert_eq!(s.mapping(t, c, MappingKind::Status).await.unwrap(), None);
    let rows = json!([{"status": "open", "to": "approved"}]);
    s.set_mapping(t, c, MappingKind::Status, &rows, t0())
        .await
        .unwrap();
    assert_eq!(
        s.mapping(t, c, MappingKind::Status).await.unwrap(),
        Some(rows)
    );
    // Saving again replaces the table; other kinds and channels are apart.
    let rows = json!([{"payment_status": "paid", "to": "approved"}, {"to": "awaiting_payment"}]);
    s.set_mapping(
        t,
        c,
        MappingKind::Status,
        &rows,
        t0() + CDuration::minutes(1),
    )
    .await
    .unwrap();
    assert_eq!(
        s.mapping(t, c, MappingKind::Status).await.unwrap(),
        Some(rows)
    );
    assert_eq!(s.mapping(t, c, MappingKind::Payment).await.unwrap(), None);
    assert_eq!(
        s.mapping(t, ChannelId::new(), MappingKind::Status)
            .await
            .unwrap(),
        None
    );
}

pub async fn orders_group_by_platform_values(s: &impl Store) {
    let (t, c) = setup(s).await;
    let (_, other) = setup(s).await;
    let with = |ext: &str, status: &str, pay: Option<&str>, method: Option<&str>| {
        let mut o = mapped(ext, OrderStatus::AwaitingPayment, t0());
        o.data.platform_status = PlatformStatus {
            status: Some(status.into()),
            payment_status: pay.map(str::to_owned),
            shipping_status: None,
        };
        o.data.payment.method = method.map(str::to_owned);
        o
    };
    let out = s
        .apply_polled(
            vec![
                polled(t, c, with("1", "open", Some("paid"), Some("pix"))),
                polled(t, c, with("2", "open", Some("paid"), Some("pix"))),
                polled(t, c, with("3", "open", None, Some("boleto"))),
                polled(t, other, with("4", "lost", None, None)),
            ],
            t0(),
        )
        .await
        .unwrap();
    let first = match &out[0].applied {
        ImportApplied::Created(id) => *id,
        other => panic!("{other:?}"),
    };
    let second = match &out[1].applied {
        ImportApplied::Created(id) => *id,
        other => panic!("{other:?}"),
    };
    let groups = s
        .order_groups(t, c, OrderGroup::PlatformStatus)
        .await
        .unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(
        groups[0].values,
        vec![Some("open".into()), Some("paid".into()), None]
    );
    assert_eq!(groups[0].count, 2);
    assert_eq!(groups[0].example, first.min(second));
    assert_eq!(groups[1].values, vec![Some("open".into()), None, None]);
    assert_eq!(groups[1].count, 1);
    let groups = s
        .order_groups(t, c, OrderGroup::PaymentMethod)
        .await
        .unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].values, vec![Some("pix".into()), None]);
    assert_eq!(groups[0].count, 2);
}
