use super::*;
use proptest::prelude::*;
use OrderStatus::*;

const KEY: &str = "43180906929383000163550010000000261000010301";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn invoice() -> Invoice {
    InvoiceInput {
        number: "26".into(),
        series: "1".into(),
        access_key: KEY.into(),
        issued_at: at("2018-09-25T03:00:00Z"),
        total_cents: 50_000,
        xml: None,
        xml_url: None,
    }
    .validate()
    .unwrap()
    .0
}

fn all_actions() -> Vec<Action> {
    vec![
        Action::Separation(Separation {
            kind: SeparationKind::Separation,
        }),
        Action::Invoice(invoice()),
        Action::CollectionOrder(CollectionOrder {
            code: "COL-1".into(),
            created_at: at("2026-01-02T10:00:00Z"),
        }),
        Action::Shipment(Shipment {
            tracking_code: Some("BR123".into()),
            tracking_url: None,
            carrier: Some("Correios".into()),
            shipped_at: at("2026-01-02T11:00:00Z"),
        }),
        Action::Delivery(Delivery {
            delivered_at: at("2026-01-03T11:00:00Z"),
        }),
        Action::Cancel(Cancellation {
            reason: CancelReason::Customer,
            note: None,
        }),
    ]
}

/// Applies actions in turn, as the store does.
fn run(
    mut status: OrderStatus,
    actions: &[Action],
) -> (OrderStatus, Vec<Result<Decision, ActionError>>) {
    let mut facts = Fulfilment::default();
    let mut out = vec![];
    for a in actions {
        let d = decide(status, &facts, a);
        if let Ok(Decision::Apply { status: s }) = d {
            status = s;
            facts.record(a.clone());
        }
        out.push(d);
    }
    (status, out)
}

#[test]
fn the_happy_path() {
    let acts = all_actions();
    let (status, out) = run(Approved, &acts[..5]);
    assert_eq!(status, Delivered);
    let statuses: Vec<_> = out
        .iter()
        .map(|d| match d {
            Ok(Decision::Apply { status }) => *status,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        statuses,
        [InSeparation, Invoiced, Invoiced, Shipped, Delivered]
    );
}

#[test]
fn repeats_are_one_event_and_changes_conflict() {
    let acts = all_actions();
    let (_, out) = run(Approved, &[acts[1].clone(), acts[1].clone()]);
    assert_eq!(out[1], Ok(Decision::AlreadyDone));
    let mut other = invoice();
    other.number = "27".into();
    let (_, out) = run(Approved, &[acts[1].clone(), Action::Invoice(other)]);
    assert_eq!(
        out[1].map_err(|e| e.code().as_str()),
        Err("action_conflict")
    );
}

#[test]
fn refusals_have_codes() {
    let acts = all_actions();
    let code = |s, a: &[Action]| run(s, a).1.last().unwrap().map_err(|e| e.code().as_str());
    assert_eq!(code(AwaitingPayment, &acts[1..2]), Err("order_not_paid"));
    assert_eq!(code(Approved, &acts[2..3]), Err("not_invoiced"));
    assert_eq!(code(Approved, &acts[4..5]), Err("not_shipped"));
    assert_eq!(code(Shipped, &acts[0..1]), Err("invalid_transition"));
    assert_eq!(code(Shipped, &acts[5..6]), Err("already_shipped"));
    assert_eq!(code(Cancelled, &acts[0..1]), Err("order_cancelled"));
    // Cancelling an unpaid or an invoiced order is allowed.
    assert_eq!(
        code(AwaitingPayment, &acts[5..6]),
        Ok(Decision::Apply { status: Cancelled })
    );
    assert_eq!(
        run(Approved, &[acts[1].clone(), acts[5].clone()]).0,
        Cancelled
    );
    // An NF-e issued after the platform marked the order shipped is kept; status stays.
    assert_eq!(
        code(Shipped, &acts[1..2]),
        Ok(Decision::Apply { status: Shipped })
    );
}

#[test]
fn invoice_validation() {
    let base = InvoiceInput {
        number: "26".into(),
        series: "1".into(),
        access_key: KEY.into(),
        issued_at: at("2018-09-25T03:00:00Z"),
        total_cents: 50_000,
        xml: None,
        xml_url: Some("https://example.com/nfe.xml".into()),
    };
    let err = |f: &dyn Fn(&mut InvoiceInput)| {
        let mut i = base.clone();
        f(&mut i);
        i.validate().map(|_| ()).map_err(|e| e.code().as_str())
    };
    assert_eq!(err(&|_| {}), Ok(()));
    assert_eq!(
        err(&|i| i.access_key = KEY.replace("0301", "0302")),
        Err("invalid_nfe_key")
    );
    assert_eq!(
        err(&|i| i.xml_url = Some("ftp://x".into())),
        Err("invalid_invoice")
    );
    assert_eq!(err(&|i| i.number = "2a".into()), Err("invalid_invoice"));
    assert_eq!(
        err(&|i| i.xml = Some("<nfeProc>".into())),
        Err("invalid_nfe_xml")
    );
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/nfe/nfe_layout4_com_prot.xml"
    );
    let xml = std::fs::read_to_string(path).unwrap();
    assert_eq!(err(&|i| i.xml = Some(xml.clone())), Ok(()));
    assert_eq!(
        err(&|i| {
            i.xml = Some(xml.clone());
            i.number = "000026".into();
        }),
        Ok(())
    );
    assert_eq!(
        err(&|i| {
            i.xml = Some(xml.clone());
            i.total_cents = 49_999;
        }),
        Err("nfe_xml_mismatch")
    );
    let (inv, stored) = InvoiceInput {
        xml: Some(xml.clone()),
        ..base.clone()
    }
    .validate()
    .unwrap();
    assert!(inv.has_xml);
    assert_eq!(stored.as_deref(), Some(xml.as_str()));
}

#[test]
fn actions_round_trip_as_json() {
    for a in all_actions() {
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["action"], a.kind().as_str());
        assert_eq!(serde_json::from_value::<Action>(v).unwrap(), a);
    }
}

proptest! {
    /// Whatever the ERP sends in whatever order, status never moves back and
    /// cancelled stays final.
    #[test]
    fn status_only_moves_forward(start in 0usize..8, picks in proptest::collection::vec(0usize..6, 0..20)) {
        let acts = all_actions();
        let mut status = OrderStatus::ALL[start];
        let mut facts = Fulfilment::default();
        for p in picks {
            let before = status;
            if let Ok(Decision::Apply { status: s }) = decide(status, &facts, &acts[p]) {
                prop_assert!(s == before || before.can_advance_to(s));
                status = s;
                facts.record(acts[p].clone());
            }
            if before == Cancelled {
                prop_assert_eq!(status, Cancelled);
            }
        }
    }
}

#[test]
fn a_shipping_exception_needs_a_shipped_order_and_keeps_it_shipped() {
    let acts = all_actions();
    let exception = Action::ShipmentException(ShipmentException {
        observation: "Destinatário ausente".into(),
        occurred_at: at("2026-01-02T15:00:00Z"),
    });
    let code = |s, a: &[Action]| run(s, a).1.last().unwrap().map_err(|e| e.code().as_str());
    assert_eq!(
        code(Approved, std::slice::from_ref(&exception)),
        Err("not_shipped")
    );
    assert_eq!(
        code(Delivered, std::slice::from_ref(&exception)),
        Err("invalid_transition")
    );
    assert_eq!(
        code(AwaitingPayment, std::slice::from_ref(&exception)),
        Err("order_not_paid")
    );
    // Shipped, the exception, then the delivery; the exception again is one event.
    let flow = [
        acts[3].clone(),
        exception.clone(),
        exception.clone(),
        acts[4].clone(),
    ];
    let (status, out) = run(Approved, &flow);
    assert_eq!(out[1], Ok(Decision::Apply { status: Shipped }));
    assert_eq!(out[2], Ok(Decision::AlreadyDone));
    assert_eq!(status, Delivered);
    assert_eq!(
        ActionKind::parse("shipment_exception"),
        Some(ActionKind::ShipmentException)
    );
}
