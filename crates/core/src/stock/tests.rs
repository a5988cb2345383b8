use super::*;
use proptest::prelude::*;
use serde_json::json;

fn change() -> impl Strategy<Value = Change> {
    let q = -1_000i64..1_000;
    prop_oneof![
        q.clone().prop_map(Change::Set),
        q.clone().prop_map(Change::Delta),
        q.clone().prop_map(Change::Reserve),
        q.clone().prop_map(Change::Release),
        q.clone().prop_map(Change::Debit),
        q.prop_map(Change::Restore),
    ]
}

proptest! {
    #[test]
    fn available_is_physical_minus_reserved(p in -10_000i64..10_000, r in -10_000i64..10_000) {
        prop_assert_eq!(Balance { physical: p, reserved: r }.available(), p - r);
    }

    #[test]
    fn reserve_then_release_is_identity(p in -10_000i64..10_000, r in 0i64..10_000, q in 0i64..1_000) {
        let b = Balance { physical: p, reserved: r };
        prop_assert_eq!(b.apply(Change::Reserve(q)).apply(Change::Release(q)), b);
    }

    #[test]
    fn reserving_lowers_available_and_invoicing_keeps_it(p in -10_000i64..10_000, r in 0i64..10_000, q in 0i64..1_000) {
        let b = Balance { physical: p, reserved: r };
        let reserved = b.apply(Change::Reserve(q));
        prop_assert_eq!(reserved.available(), b.available() - q);
        let debited = reserved.apply(Change::Debit(q));
        prop_assert_eq!(debited.available(), reserved.available());
        prop_assert_eq!(debited.physical, p - q);
        prop_assert_eq!(debited.reserved, r);
        // A cancellation after the invoice brings the units back.
        prop_assert_eq!(debited.apply(Change::Restore(q)), b);
    }

    #[test]
    fn set_and_delta_move_physical_only(b in (-10_000i64..10_000, -10_000i64..10_000), n in -1_000i64..1_000) {
        let b = Balance { physical: b.0, reserved: b.1 };
        prop_assert_eq!(b.apply(Change::Set(n)), Balance { physical: n, reserved: b.reserved });
        prop_assert_eq!(b.apply(Change::Delta(n)).available(), b.available() + n);
    }

    #[test]
    fn any_sequence_keeps_the_identity(changes in prop::collection::vec(change(), 0..50)) {
        // Replaying the ledger entry by entry gives the same balance as folding it.
        let folded = changes.iter().fold(Balance::default(), |b, c| b.apply(*c));
        let mut b = Balance::default();
        for c in &changes { b = b.apply(*c); }
        prop_assert_eq!(b, folded);
        prop_assert_eq!(b.available(), b.physical - b.reserved);
    }

    #[test]
    fn channel_value_is_never_negative_nor_above_available(a in -10_000i64..10_000, buffer in -100i64..100) {
        let v = channel_value(a, buffer);
        prop_assert!(v >= 0);
        prop_assert!(v <= a.max(0));
        if a - buffer.max(0) >= 0 {
            prop_assert_eq!(v, a - buffer.max(0));
        }
    }

    #[test]
    fn a_gtin_with_one_digit_changed_is_refused(d in prop::collection::vec(0u32..10, 12), pos in 0usize..13, delta in 1u32..10) {
        // Build a valid EAN-13, then change one digit.
        let sum: u32 = d.iter().rev().enumerate().map(|(i, x)| if i % 2 == 0 { x * 3 } else { *x }).sum();
        let mut digits = d.clone();
        digits.push((10 - sum % 10) % 10);
        let code: String = digits.iter().map(|x| char::from_digit(*x, 10).unwrap_or('0')).collect();
        prop_assert!(validate_gtin(&code).is_ok(), "{}", code);
        digits[pos] = (digits[pos] + delta) % 10;
        let wrong: String = digits.iter().map(|x| char::from_digit(*x, 10).unwrap_or('0')).collect();
        prop_assert!(validate_gtin(&wrong).is_err(), "{}", wrong);
    }
}

fn effect() -> impl Strategy<Value = Effect> {
    (any::<bool>(), any::<bool>(), 0i64..100).prop_map(|(c, i, q)| order_effect(c, i, q))
}

proptest! {
    #[test]
    fn moves_between_effects_add_up(start in (-100i64..100, 0i64..100), path in prop::collection::vec(effect(), 1..8)) {
        // Whatever order an order's states arrive in (duplicated, out of order), the
        // balance ends as if only the last effect had ever been applied.
        let base = Balance { physical: start.0, reserved: start.1 };
        let mut b = base;
        let mut applied = Effect::default();
        for e in &path {
            for c in moves(applied, *e) {
                b = b.apply(c);
            }
            applied = *e;
        }
        let last = *path.last().unwrap_or(&Effect::default());
        let want = effect_balance(last);
        prop_assert_eq!(b.physical, base.physical + want.physical);
        prop_assert_eq!(b.reserved, base.reserved + want.reserved);
        prop_assert!(moves(last, last).is_empty());
    }
}

#[test]
fn order_effects() {
    assert_eq!(
        order_effect(false, false, 3),
        Effect {
            reserved: 3,
            debited: 0
        }
    );
    assert_eq!(
        order_effect(false, true, 3),
        Effect {
            reserved: 0,
            debited: 3
        }
    );
    assert_eq!(order_effect(true, true, 3), Effect::default());
    assert_eq!(
        moves(order_effect(false, false, 3), order_effect(false, true, 3)),
        [Change::Debit(3)]
    );
    assert_eq!(
        moves(order_effect(false, true, 3), order_effect(true, true, 3)),
        [Change::Restore(3)]
    );
    assert_eq!(
        effect_balance(order_effect(false, true, 3)),
        Balance {
            physical: -3,
            reserved: 0
        }
    );
}

#[test]
fn known_gtins() {
    for ok in [
        "7891000315507",
        "4006381333931",
        "96385074",
        "036000291452",
        "17891000315504",
    ] {
        assert!(validate_gtin(ok).is_ok(), "{ok}");
    }
    for bad in ["7891000315508", "789100031550", "78910003155x7", "", "123"] {
        assert!(validate_gtin(bad).is_err(), "{bad}");
    }
}

#[test]
fn settings_split_and_validate() {
    let (s, rest) = StockSettings::split(&json!({"store_id": "1", "send_stock": true,
        "stock_warehouses": ["SP"], "debit_warehouse": "SP", "stock_buffer": 2}))
    .unwrap();
    assert_eq!(rest, json!({"store_id": "1"}));
    assert!(s.send_stock && s.stock_buffer == 2);
    assert_eq!(s.warehouse_codes().collect::<Vec<_>>(), ["SP", "SP"]);
    let (d, _) = StockSettings::split(&json!({})).unwrap();
    assert_eq!(d, StockSettings::default());
    assert!(StockSettings::split(&json!({"send_stock": true})).is_err());
    assert!(StockSettings::split(&json!({"stock_buffer": -1})).is_err());
    assert!(StockSettings::split(&json!({"stock_warehouses": ["SP", "SP"]})).is_err());
    assert!(StockSettings::split(&json!({"stock_warehouses": "SP"})).is_err());
    let mut out = json!({"store_id": "1"});
    s.merge_into(&mut out);
    assert_eq!(out["stock_warehouses"], json!(["SP"]));
}
