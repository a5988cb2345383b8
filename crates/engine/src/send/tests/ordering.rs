//! An order's sends go out one at a time, by `seq`: a later one waits until the
//! earlier one succeeded, and a failed one blocks those after it.

use super::*;
use ponte_store::conformance::sends::shipment;

/// An order with an invoice send and then a shipment send.
async fn invoiced_and_shipped(h: &Harness) -> OrderId {
    let o = h.order("1").await;
    h.act(o, invoice()).await;
    h.act(o, shipment()).await;
    o
}

#[tokio::test]
async fn the_shipment_goes_out_only_after_the_invoice_succeeded() {
    let h = harness(UNLIMITED).await;
    let o = invoiced_and_shipped(&h).await;
    h.fake.answer([Some(PlatformErrorKind::Transient)]);
    h.round().await;
    let inv = ("1".to_owned(), ActionKind::Invoice);
    let ship = ("1".to_owned(), ActionKind::Shipment);
    assert_eq!(
        h.fake.sent(),
        std::slice::from_ref(&inv),
        "the shipment waits"
    );
    let s = h.sends(o).await;
    assert_eq!((s[0].seq, s[0].kind()), (1, ActionKind::Invoice));
    assert_eq!(outcomes(&s[0]), [AttemptOutcome::Retrying]);
    assert_eq!((s[1].seq, s[1].state), (2, SendState::Pending));
    assert!(s[1].attempts.is_empty(), "{:?}", s[1].attempts);

    h.clock.advance(BACKOFF);
    h.round().await;
    assert_eq!(h.fake.sent(), [inv.clone(), inv.clone()]);
    assert_eq!(
        h.next_run_at().await,
        Some(h.clock.now()),
        "the order's job runs again at once for the shipment"
    );
    h.round().await;
    assert_eq!(h.fake.sent(), [inv.clone(), inv, ship]);
    let s = h.sends(o).await;
    assert!(s.iter().all(|s| s.state == SendState::Succeeded), "{s:?}");
    assert_eq!(h.next_run_at().await, None);
}

#[tokio::test]
async fn a_failed_send_blocks_the_later_ones_of_its_order() {
    let h = harness(UNLIMITED).await;
    let o = invoiced_and_shipped(&h).await;
    h.fake.answer([Some(PlatformErrorKind::Permanent)]);
    h.round().await;
    let s = h.sends(o).await;
    assert_eq!(s[0].state, SendState::Failed);
    assert_eq!(s[1].state, SendState::Blocked);
    assert!(s[1].attempts.is_empty());
    assert_eq!(h.next_run_at().await, None, "nothing left to run");
    h.clock.advance(HELD_RECHECK);
    h.round().await;
    assert_eq!(h.fake.sent(), [("1".to_owned(), ActionKind::Invoice)]);
}
