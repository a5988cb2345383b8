//! DE-PARA end to end (real binary, simulated Nuvemshop, both backends): a status the
//! connector's table does not map is listed with its orders, a new row fixes them all
//! by remap (no platform call, `remapped` on each timeline); payment rows map PIX and
//! card; a CNPJ-conditioned customer field lands on company buyers only; bad rows are
//! refused and change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{until, Backend, Ponte, Storage};
use ponte_sim::nuvemshop::{NewCustomer, NewOrder, PaymentMethod, PaymentStatus};
use serde_json::{json, Value};
use std::time::Duration;

both_backends!(
    a_new_status_row_fixes_unmapped_orders_by_remap,
    payment_and_customer_tables
);

/// Orders of the unmapped payment status `partially_paid` (2025-03 docs).
const UNMAPPED: usize = 1000;

async fn sync_all(ponte: &Ponte, ch: &str) -> Value {
    let (status, run) = ponte
        .post(
            &format!("/api/v1/channels/{ch}/sync"),
            &json!({"kind": "orders", "since": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    finished(ponte, run["id"].as_str().unwrap()).await
}

async fn finished(ponte: &Ponte, run: &str) -> Value {
    until(Duration::from_secs(120), "run finished", || async {
        let r = ponte.get(&format!("/api/v1/task-runs/{run}")).await;
        (r["state"] == "succeeded" || r["state"] == "failed").then_some(r)
    })
    .await
}

async fn remap(ponte: &Ponte, ch: &str) -> Value {
    let (status, run) = ponte
        .post(
            &format!("/api/v1/channels/{ch}/remap"),
            &json!({"since": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["kind"], "remap_orders");
    finished(ponte, run["id"].as_str().unwrap()).await
}

async fn a_new_status_row_fixes_unmapped_orders_by_remap(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = common::Sim::start(common::Sim::unlimited()).await;
    let ponte = storage.start(&[]);
    let (ch, url) = ponte.nuvemshop_channel(&sim, "all").await;
    let mut ids: Vec<u64> = (0..UNMAPPED)
        .map(|_| {
            sim.sim.create_order(NewOrder {
                payment_status: PaymentStatus::PartiallyPaid,
                ..NewOrder::default()
            })
        })
        .collect();
    let paid = sim.sim.create_order(NewOrder {
        payment_status: PaymentStatus::Paid,
        ..NewOrder::default()
    });
    ids.push(paid);
    // The listing's default filter hides `partially_paid`: webhooks import them.
    for id in &ids {
        assert_eq!(
            sim.notify(&ponte.http, &url, "order/created", *id).await,
            200
        );
    }
    until(Duration::from_secs(120), "every order imported", || async {
        (ponte.all_orders().await.len() == ids.len()).then_some(())
    })
    .await;

    // No row maps `partially_paid`: imported as awaiting payment, and listed.
    let unmapped = ponte
        .get(&format!("/api/v1/channels/{ch}/unmapped-statuses"))
        .await;
    let items = unmapped["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{unmapped}");
    assert_eq!(items[0]["status"]["payment_status"], "partially_paid");
    assert_eq!(items[0]["count"], UNMAPPED);
    let example = ponte
        .get(&format!(
            "/api/v1/orders/{}",
            items[0]["example_order"].as_str().unwrap()
        ))
        .await;
    assert_eq!(example["status"], "awaiting_payment", "{example}");

    // The table is the connector's documented one until saved.
    let path = format!("/api/v1/channels/{ch}/status-map");
    let map = ponte.get(&path).await;
    assert_eq!(map["source"], "default");
    assert!(map["platform_values"]["payment_status"]
        .as_array()
        .unwrap()
        .contains(&json!("partially_paid")));
    let mut rows = map["rows"].as_array().unwrap().clone();

    // A bad row is refused with the row named; nothing changes.
    let mut bad = rows.clone();
    bad.push(json!({"payment_status": "partialy_paid", "to": "approved"}));
    let (status, problem) = ponte.put(&path, &json!({"rows": bad})).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "invalid_mapping");
    let named = format!("row {}:", bad.len());
    assert!(
        problem["detail"].as_str().unwrap().starts_with(&named),
        "{problem}"
    );
    assert_eq!(ponte.get(&path).await["source"], "default");

    // The operator maps it; the list empties at once, the orders move on remap.
    rows.insert(
        0,
        json!({"payment_status": "partially_paid", "to": "payment_in_review"}),
    );
    let (status, saved) = ponte.put(&path, &json!({"rows": rows})).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["source"], "channel");
    let unmapped = ponte
        .get(&format!("/api/v1/channels/{ch}/unmapped-statuses"))
        .await;
    assert_eq!(unmapped["items"], json!([]), "{unmapped}");

    let calls_before = sim.sim.requests().len();
    let run = remap(&ponte, &ch).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["seen"], UNMAPPED + 1, "{run}");
    assert_eq!(run["counts"]["updated"], UNMAPPED, "{run}");
    assert_eq!(run["counts"]["unchanged"], 1, "{run}");
    assert_eq!(
        sim.sim.requests().len(),
        calls_before,
        "remap calls no platform"
    );
    let orders = ponte.all_orders().await;
    let in_review = orders
        .iter()
        .filter(|o| o["status"] == "payment_in_review")
        .count();
    assert_eq!(in_review, UNMAPPED);
    let paid_order = orders
        .iter()
        .find(|o| o["external_id"].as_str() == Some(paid.to_string().as_str()))
        .unwrap();
    assert_eq!(paid_order["status"], "approved");
    let detail = ponte
        .get(&format!(
            "/api/v1/orders/{}",
            example["id"].as_str().unwrap()
        ))
        .await;
    let remapped: Vec<&Value> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "remapped")
        .collect();
    assert_eq!(remapped.len(), 1, "{detail}");
    assert_eq!(remapped[0]["detail"]["from"], "awaiting_payment");
    assert_eq!(remapped[0]["detail"]["to"], "payment_in_review");

    // Again: nothing left to change. A row that would move orders back does not.
    rows[0] = json!({"payment_status": "partially_paid", "to": "awaiting_payment"});
    let (status, _) = ponte.put(&path, &json!({"rows": rows})).await;
    assert_eq!(status, 200);
    let run = remap(&ponte, &ch).await;
    assert_eq!(run["counts"]["updated"], 0, "{run}");
    assert_eq!(run["counts"]["unchanged"], UNMAPPED + 1, "{run}");
    let still = ponte
        .get(&format!(
            "/api/v1/orders/{}",
            example["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(still["status"], "payment_in_review");
}

fn buyer(name: &str, document: &str) -> NewCustomer {
    NewCustomer {
        name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
        identification: document.into(),
        phone: "+5511987654321".into(),
    }
}

async fn payment_and_customer_tables(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = common::Sim::start(common::Sim::unlimited()).await;
    let ponte = storage.start(&[]);
    let (ch, _) = ponte.nuvemshop_channel(&sim, "all").await;
    let order = |payment: PaymentMethod, customer: NewCustomer| NewOrder {
        payment_status: PaymentStatus::Paid,
        payment,
        customer,
        ..NewOrder::default()
    };
    let card = || PaymentMethod::CreditCard {
        company: "visa".into(),
        installments: 3,
    };
    let pix = sim
        .sim
        .create_order(order(PaymentMethod::Pix, buyer("Maria", "52998224725")));
    let company = sim
        .sim
        .create_order(order(card(), buyer("Lima", "11222333000181")));
    // An alphanumeric CNPJ (from July 2026) and an invalid one: both kept, flagged.
    let alnum = sim
        .sim
        .create_order(order(card(), buyer("Nova", "12ABC34501DE35")));
    let invalid = sim.sim.create_order(order(
        PaymentMethod::Boleto,
        buyer("Erro", "11222333000182"),
    ));

    // Saved before the import: the ERP's own codes.
    let pay_path = format!("/api/v1/channels/{ch}/payment-map");
    assert_eq!(ponte.get(&pay_path).await["source"], "default");
    let (status, p) = ponte
        .put(
            &pay_path,
            &json!({"rows": [
                {"method": "pix", "code": "17", "name": "PIX"},
                {"method": "credit_card", "min_installments": 2, "code": "31", "name": "Cartão parcelado"},
                {"method": "credit_card", "code": "03", "name": "Cartão de crédito"}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    let fields_path = format!("/api/v1/channels/{ch}/customer-fields");
    let (status, f) = ponte
        .put(
            &fields_path,
            &json!({"rules": [
                {"field": "tipo_pessoa", "value": "J", "when": [{"document": "cnpj"}]},
                {"field": "produtor_rural", "value": true, "when": [{"state": "SP"}]}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{f}");
    // A bad rule changes nothing.
    let (status, problem) = ponte
        .put(
            &fields_path,
            &json!({"rules": [{"field": "x", "value": {"eval": "1+1"}}]}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_mapping"))
    );
    assert_eq!(ponte.get(&fields_path).await["rules"], f["rules"]);

    let run = sync_all(&ponte, &ch).await;
    assert_eq!(run["counts"]["created"], 4, "{run}");
    let orders = ponte.all_orders().await;
    let by = |ext: u64| {
        orders
            .iter()
            .find(|o| o["external_id"].as_str() == Some(ext.to_string().as_str()))
            .unwrap_or_else(|| panic!("order {ext}"))
            .clone()
    };
    let o = by(pix);
    assert_eq!(o["payment"]["method"], "pix");
    assert_eq!(
        o["payment"]["erp"],
        json!({"code": "17", "name": "PIX", "row": 1})
    );
    assert_eq!(o["customer"]["is_company"], false);
    assert_eq!(
        o["customer"]["extra_fields"],
        json!([{"field": "produtor_rural", "value": true, "rule": 2}])
    );
    let o = by(company);
    assert_eq!(o["payment"]["method"], "credit_card");
    assert_eq!(o["payment"]["installments"], 3);
    assert_eq!(o["payment"]["erp"]["code"], "31");
    assert_eq!(o["customer"]["is_company"], true);
    assert_eq!(
        o["customer"]["extra_fields"],
        json!([
            {"field": "tipo_pessoa", "value": "J", "rule": 1},
            {"field": "produtor_rural", "value": true, "rule": 2}
        ])
    );
    let o = by(alnum);
    assert_eq!(o["customer"]["document"]["valid"], true, "{o}");
    assert_eq!(o["customer"]["is_company"], true);
    let o = by(invalid);
    assert_eq!(o["customer"]["document"]["raw"], "11222333000182");
    assert_eq!(o["customer"]["document"]["valid"], false);
    assert!(o["payment"]["erp"].is_null(), "{o}");

    // Boleto is unmapped; a row and a remap fix it.
    let unmapped = ponte
        .get(&format!("/api/v1/channels/{ch}/unmapped-payments"))
        .await;
    assert_eq!(unmapped["items"].as_array().unwrap().len(), 1, "{unmapped}");
    assert_eq!(unmapped["items"][0]["method"], "boleto");
    assert_eq!(unmapped["items"][0]["count"], 1);
    let mut rows = ponte.get(&pay_path).await["rows"]
        .as_array()
        .unwrap()
        .clone();
    rows.push(json!({"method": "boleto", "code": "15", "name": "Boleto bancário"}));
    let (status, _) = ponte.put(&pay_path, &json!({"rows": rows})).await;
    assert_eq!(status, 200);
    let run = remap(&ponte, &ch).await;
    assert_eq!(run["counts"]["updated"], 1, "{run}");
    let o = ponte
        .get(&format!("/api/v1/orders?external_id={invalid}"))
        .await;
    assert_eq!(o["items"][0]["payment"]["erp"]["code"], "15", "{o}");
}
