//! Conformance: what orders do to stock — imports reserve, invoices debit,
//! cancellations give back, each order's effect moves once whatever replays it, and
//! products created later pick up the orders waiting for them.

use super::sends::{invoice, separation};
use super::stock::{level, mv, product, stocked, target};
use super::{import, mapped, page_of, t0};
use crate::*;
use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_core::action::{Action, CancelReason, Cancellation};
use ponte_core::import::ImportPolicy;
use ponte_core::order::MappedOrder;
use ponte_core::stock::{order_effect, Balance, Change, Effect};
use ponte_core::{ChannelId, OrderId, OrderStatus, TenantId};
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

/// Order `ext` with lines of (SKU, quantity), each with a product and variant id.
pub fn order_of(
    ext: &str,
    status: OrderStatus,
    at: DateTime<Utc>,
    lines: &[(&str, i64)],
) -> MappedOrder {
    let mut o = mapped(ext, status, at);
    let line = o.data.items[0].clone();
    o.data.items = lines
        .iter()
        .enumerate()
        .map(|(i, (sku, quantity))| ponte_core::order::OrderItem {
            sku: Some((*sku).into()),
            quantity: *quantity,
            product_id: Some(format!("{}", 10 + i)),
            variant_id: Some(format!("{}", 100 + i)),
            ..line.clone()
        })
        .collect();
    o
}

/// The order's effect on one SKU (none when it has no effect stored).
async fn effect(s: &impl Store, t: TenantId, o: OrderId, sku: &str) -> Effect {
    let (effects, _) = s.order_stock(t, o).await.unwrap();
    effects
        .into_iter()
        .find(|e| e.sku == sku)
        .map(|e| {
            assert_eq!(e.warehouse, "A", "the channel's debit warehouse");
            e.effect
        })
        .unwrap_or_default()
}

fn reserved(n: i64) -> Effect {
    Effect {
        reserved: n,
        debited: 0,
    }
}

fn debited(n: i64) -> Effect {
    Effect {
        reserved: 0,
        debited: n,
    }
}

fn balance(physical: i64, reserved: i64) -> Balance {
    Balance { physical, reserved }
}

/// Runs two futures at once on this task: both are in flight together (on a backend
/// with a connection pool, on two connections).
async fn both(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut a_done, mut b_done) = (false, false);
    std::future::poll_fn(|cx| {
        a_done = a_done || a.as_mut().poll(cx).is_ready();
        b_done = b_done || b.as_mut().poll(cx).is_ready();
        if a_done && b_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

fn order_with(ext: &str, status: OrderStatus, at: DateTime<Utc>) -> ponte_core::order::MappedOrder {
    let mut o = mapped(ext, status, at);
    let mut line = o.data.items[0].clone();
    line.sku = Some("S1".into());
    line.quantity = 2;
    line.product_id = Some("10".into());
    line.variant_id = Some("101".into());
    let mut unknown = line.clone();
    unknown.sku = Some("NOPE".into());
    unknown.quantity = 1;
    let mut later = line.clone();
    later.sku = Some("S9".into());
    later.quantity = 4;
    later.product_id = Some("90".into());
    later.variant_id = Some("901".into());
    o.data.items = vec![line, unknown, later];
    o
}

/// An order read by a listing (committed without a lease).
pub fn polled(t: TenantId, c: ChannelId, o: ponte_core::order::MappedOrder) -> ImportCommit {
    ImportCommit {
        lease: None,
        tenant_id: t,
        channel_id: c,
        external_id: o.data.external_id.clone(),
        call: CallRecord {
            request: "GET /orders".into(),
            status: Some(200),
            duration_ms: 1,
            error: None,
        },
        read_at: t0(),
        result: ImportResult::Fetched {
            order: Box::new(o),
            policy: ImportPolicy::All,
        },
    }
}

/// A stocked channel with 10 units of S1 in A, and an approved order `ext` of
/// [`order_with`]'s lines read at `at`.
async fn stocked_order(
    s: &impl Store,
    ext: &str,
    at: DateTime<Utc>,
) -> (TenantId, ChannelId, OrderId) {
    let (t, c) = stocked(s).await;
    s.record_movements(t, &[mv("S1", "A", Change::Set(10))], t0())
        .await
        .unwrap()
        .unwrap();
    let out = s
        .apply_polled(
            vec![polled(t, c, order_with(ext, OrderStatus::Approved, at))],
            at,
        )
        .await
        .unwrap();
    let ImportApplied::Created(oid) = out[0].applied else {
        panic!("{out:?}")
    };
    (t, c, oid)
}

pub async fn orders_reserve_debit_and_release(s: &impl Store) {
    let v1 = t0() + CDuration::minutes(1);
    let (t, c, oid) = stocked_order(s, "77", v1).await;
    assert_eq!(level(s, t, "S1", "A").await, balance(10, 2));
    assert_eq!(
        target(s, t, "S1").await.desired,
        7,
        "10 - 2 reserved - buffer 1"
    );
    // Unknown SKUs are flagged, not lost.
    let unmapped = s.unmapped_skus(t, Some(c)).await.unwrap();
    let mut skus: Vec<_> = unmapped.iter().map(|u| u.sku.clone().unwrap()).collect();
    skus.sort();
    assert_eq!(skus, ["NOPE", "S9"]);
    assert_eq!(unmapped[0].example_order, oid);
    // The same version again, and a newer one with the same lines: no new movement.
    s.apply_polled(
        vec![polled(t, c, order_with("77", OrderStatus::Approved, v1))],
        v1,
    )
    .await
    .unwrap();
    let v2 = v1 + CDuration::minutes(1);
    s.apply_polled(
        vec![polled(
            t,
            c,
            order_with("77", OrderStatus::InSeparation, v2),
        )],
        v2,
    )
    .await
    .unwrap();
    assert_eq!(level(s, t, "S1", "A").await, balance(10, 2));

    // S9 becomes a product: the order now reserves it too (and its line revealed a listing).
    s.insert_product(&product(t, "S9")).await.unwrap();
    assert_eq!(level(s, t, "S9", "A").await, balance(0, 4));
    let listed = s.listings(t, c, &page_of(10)).await.unwrap();
    assert!(listed
        .items
        .iter()
        .any(|l| l.sku == "S9" && l.variant_id == "901" && l.source == ListingSource::Order));
    assert_eq!(target(s, t, "S9").await.desired, 0, "oversold shows 0");
    assert_eq!(
        level(s, t, "S9", "A").await.available(),
        -4,
        "and is not hidden"
    );

    // Invoicing turns the reservation into a debit; cancelling after it restores.
    let applied = s
        .apply_actions(
            &[ActionCommit {
                tenant_id: t,
                order_id: oid,
                action: invoice(),
                xml: None,
                send_max_attempts: None,
                not_sent: None,
            }],
            v2,
        )
        .await
        .unwrap();
    assert!(
        matches!(applied[0], ActionApplied::Applied { .. }),
        "{applied:?}"
    );
    assert_eq!(level(s, t, "S1", "A").await, balance(8, 0));
    let cancel = Action::Cancel(Cancellation {
        reason: CancelReason::Customer,
        note: None,
    });
    s.apply_actions(
        &[ActionCommit {
            tenant_id: t,
            order_id: oid,
            action: cancel,
            xml: None,
            send_max_attempts: None,
            not_sent: None,
        }],
        v2,
    )
    .await
    .unwrap();
    assert_eq!(level(s, t, "S1", "A").await, balance(10, 0));
    assert_eq!(level(s, t, "S9", "A").await, balance(0, 0));

    // An order cancelled at the platform before invoicing releases its reservation.
    s.apply_polled(
        vec![polled(t, c, order_with("78", OrderStatus::Approved, v1))],
        v1,
    )
    .await
    .unwrap();
    assert_eq!(level(s, t, "S1", "A").await.reserved, 2);
    s.apply_polled(
        vec![polled(t, c, order_with("78", OrderStatus::Cancelled, v2))],
        v2,
    )
    .await
    .unwrap();
    assert_eq!(level(s, t, "S1", "A").await, balance(10, 0));
}

pub async fn two_actions_on_one_order_in_one_batch_move_stock_once(s: &impl Store) {
    let v1 = t0() + CDuration::minutes(1);
    let (t, _c, oid) = stocked_order(s, "90", v1).await;
    let act = |action| ActionCommit {
        tenant_id: t,
        order_id: oid,
        action,
        xml: None,
        send_max_attempts: None,
        not_sent: None,
    };
    let applied = s
        .apply_actions(&[act(separation()), act(invoice())], v1)
        .await
        .unwrap();
    assert!(applied
        .iter()
        .all(|r| matches!(r, ActionApplied::Applied { .. })));
    assert_eq!(level(s, t, "S1", "A").await, balance(8, 0));
    assert_eq!(effect(s, t, oid, "S1").await, debited(2));
}

/// An imported order's effect is what `order_effect` says of its status and invoice:
/// reserved while open (shipped at the platform included), debited once invoiced,
/// nothing once cancelled; importing the same order again never doubles it.
pub async fn order_stock_effects_follow_status(s: &impl Store) {
    let (t, c) = stocked(s).await;
    s.record_movements(
        t,
        &[
            mv("S1", "A", Change::Set(10)),
            mv("S2", "A", Change::Set(5)),
        ],
        t0(),
    )
    .await
    .unwrap()
    .unwrap();
    let lines = [("S1", 2), ("S2", 1)];
    let at = |m: i64| t0() + CDuration::minutes(m);
    let expect = |status: OrderStatus, invoiced: bool, qty: i64| {
        order_effect(status == OrderStatus::Cancelled, invoiced, qty)
    };
    // Imported (under its job's lease): it reserves its lines.
    let v1 = order_of("50", OrderStatus::Approved, at(1), &lines);
    let ImportApplied::Created(o) = import(s, t, c, v1.clone(), at(1)).await else {
        panic!("not created")
    };
    assert_eq!(effect(s, t, o, "S1").await, reserved(2));
    assert_eq!(
        effect(s, t, o, "S1").await,
        expect(OrderStatus::Approved, false, 2)
    );
    assert_eq!(effect(s, t, o, "S2").await, reserved(1));
    assert_eq!(level(s, t, "S1", "A").await, balance(10, 2));
    assert_eq!(level(s, t, "S2", "A").await, balance(5, 1));
    // The same snapshot again, and a newer one with the same lines: not doubled.
    assert_eq!(
        import(s, t, c, v1, at(2)).await,
        ImportApplied::Unchanged(o)
    );
    let v2 = order_of("50", OrderStatus::InSeparation, at(2), &lines);
    assert_eq!(import(s, t, c, v2, at(2)).await, ImportApplied::Updated(o));
    assert_eq!(level(s, t, "S1", "A").await, balance(10, 2));
    assert_eq!(level(s, t, "S2", "A").await, balance(5, 1));
    // Shipped at the platform without an invoice in ponte: still a reservation.
    let shipped = order_of("50", OrderStatus::Shipped, at(3), &lines);
    assert_eq!(
        import(s, t, c, shipped, at(3)).await,
        ImportApplied::Updated(o)
    );
    assert_eq!(
        effect(s, t, o, "S1").await,
        expect(OrderStatus::Shipped, false, 2)
    );
    assert_eq!(level(s, t, "S1", "A").await, balance(10, 2));
    // The invoice debits; a newer shipped snapshot after it changes nothing.
    let invoiced = s
        .apply_actions(
            &[ActionCommit {
                tenant_id: t,
                order_id: o,
                action: invoice(),
                xml: None,
                send_max_attempts: None,
                not_sent: None,
            }],
            at(4),
        )
        .await
        .unwrap();
    assert!(
        matches!(invoiced[0], ActionApplied::Applied { .. }),
        "{invoiced:?}"
    );
    assert!(s
        .order(t, o)
        .await
        .unwrap()
        .unwrap()
        .fulfilment
        .invoice
        .is_some());
    assert_eq!(effect(s, t, o, "S1").await, debited(2));
    assert_eq!(
        effect(s, t, o, "S1").await,
        expect(OrderStatus::Shipped, true, 2)
    );
    assert_eq!(effect(s, t, o, "S2").await, debited(1));
    assert_eq!(level(s, t, "S1", "A").await, balance(8, 0));
    assert_eq!(level(s, t, "S2", "A").await, balance(4, 0));
    let again = order_of("50", OrderStatus::Shipped, at(5), &lines);
    import(s, t, c, again, at(5)).await;
    assert_eq!(level(s, t, "S1", "A").await, balance(8, 0));
    // Cancelled at the platform after the invoice: the units come back, once.
    for m in [6, 7] {
        let cancelled = order_of("50", OrderStatus::Cancelled, at(m), &lines);
        import(s, t, c, cancelled, at(m)).await;
        assert_eq!(effect(s, t, o, "S1").await, Effect::default());
        assert_eq!(level(s, t, "S1", "A").await, balance(10, 0));
        assert_eq!(level(s, t, "S2", "A").await, balance(5, 0));
    }
    // Another order shipped, then cancelled, without an invoice: its reservation goes.
    let p_lines = [("S1", 3)];
    let ImportApplied::Created(p) = import(
        s,
        t,
        c,
        order_of("51", OrderStatus::Shipped, at(1), &p_lines),
        at(1),
    )
    .await
    else {
        panic!("not created")
    };
    assert_eq!(effect(s, t, p, "S1").await, reserved(3));
    assert_eq!(level(s, t, "S1", "A").await, balance(10, 3));
    let cancelled = order_of("51", OrderStatus::Cancelled, at(2), &p_lines);
    import(s, t, c, cancelled, at(2)).await;
    assert_eq!(
        effect(s, t, p, "S1").await,
        expect(OrderStatus::Cancelled, false, 3)
    );
    assert_eq!(level(s, t, "S1", "A").await, balance(10, 0));
    assert_eq!(target(s, t, "S1").await.desired, 9, "10 - buffer 1");
}

/// Orders of a SKU that is not a product yet wait as unmapped lines; a product created
/// while they arrive (its creation racing the imports in flight) reserves for each.
pub async fn a_product_created_while_its_orders_arrive_reserves_for_each(s: &impl Store) {
    let (t, c) = stocked(s).await;
    let arrive = |i: usize| async move {
        let o = order_of(&i.to_string(), OrderStatus::Approved, t0(), &[("NEW", 1)]);
        s.apply_polled(vec![polled(t, c, o)], t0()).await.unwrap();
    };
    for i in 0..20 {
        arrive(i).await;
    }
    assert_eq!(s.unmapped_skus(t, Some(c)).await.unwrap().len(), 1);
    both(
        async {
            for i in 20..60 {
                arrive(i).await;
            }
        },
        async {
            s.insert_product(&product(t, "NEW")).await.unwrap();
        },
    )
    .await;
    assert_eq!(level(s, t, "NEW", "A").await, balance(0, 60));
    assert!(
        s.unmapped_skus(t, Some(c)).await.unwrap().is_empty(),
        "no line waits for it any more"
    );
}
