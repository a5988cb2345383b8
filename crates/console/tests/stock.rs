//! Estoque, in process against a simulated Nuvemshop store: a movement changes the
//! balance shown and what the channel shows; refused movements (unknown SKU, unknown
//! warehouse, invalid quantities) show next to their field with 422 and change
//! nothing; unmapped SKUs are listed; a resync's progress is followed through the
//! fragment htmx polls; forms without the CSRF token are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{loopback, wait_for, App, Shop};
use ponte_engine::ProductInput;
use ponte_sim::nuvemshop::{Fault, FaultKind};
use ponte_store::PushState;
use std::time::Duration;

/// Warehouses SP and RJ, a product for the simulator's first catalogue variant, a
/// channel that sends stock from both (debiting SP) with that variant listed.
async fn setup(app: &App) -> (Shop, String, (u64, u64)) {
    for code in ["SP", "RJ"] {
        app.engine
            .create_warehouse(app.tenant(), code, &format!("Depósito {code}"))
            .await
            .unwrap();
    }
    let shop = Shop::open(
        app,
        serde_json::json!({"send_stock": true, "stock_warehouses": ["SP", "RJ"], "debit_warehouse": "SP"}),
    )
    .await;
    let (p, v, sku) = shop
        .sim
        .variant_skus()
        .into_iter()
        .find_map(|(p, v, s)| Some((p, v, s?)))
        .unwrap();
    app.engine
        .create_product(
            app.tenant(),
            ProductInput {
                sku: sku.clone(),
                name: Some("Camiseta básica".into()),
                ..ProductInput::default()
            },
        )
        .await
        .unwrap();
    app.engine
        .set_listings(
            app.tenant(),
            shop.channel,
            vec![(sku.clone(), p.to_string(), v.to_string())],
        )
        .await
        .unwrap();
    (shop, sku, (p, v))
}

/// The SKU's (physical, reserved) in a warehouse, from the engine.
async fn balance(app: &App, sku: &str, warehouse: &str) -> Option<(i64, i64)> {
    let s = app.engine.sku_stock(app.tenant(), sku).await.unwrap();
    s.levels
        .iter()
        .find(|l| l.warehouse == warehouse)
        .map(|l| (l.balance.physical, l.balance.reserved))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_movement_changes_the_balance_and_what_the_channel_shows() {
    let app = App::with(loopback(None), false).await;
    let (session, csrf) = app.sign_in().await;
    let (shop, sku, (p, v)) = setup(&app).await;

    let r = app.get("/console/stock", &[&session]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Estoque</h1>"));
    assert!(r.body.contains("aria-current=\"page\">Estoque<"));
    assert!(r.body.contains(&format!("<code>{sku}</code>")));
    assert!(r
        .body
        .contains("<label for=\"movement-warehouse\">Depósito</label>"));
    assert!(
        r.body.contains("<option value=\"SP\">"),
        "warehouses offered"
    );

    let move_form = |op: &str, qty: &str, warehouse: &str, sku: &str| {
        format!(
            "csrf={csrf}&sku={sku}&warehouse={warehouse}&operation={op}&quantity={qty}&reason=invent%C3%A1rio"
        )
    };
    let r = app
        .post(
            "/console/stock/movements",
            &[&session],
            &move_form("set", "10", "SP", &sku),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        r.location().starts_with("/console/stock?sku=") && r.location().ends_with("&recorded=1"),
        "{}",
        r.location()
    );
    let r = app
        .post(
            "/console/stock/movements",
            &[&session],
            &move_form("out", "3", "SP", &sku),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = app
        .post(
            "/console/stock/movements",
            &[&session],
            &move_form("in", "5", "RJ", &sku),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app.get(r.location(), &[&session]).await;
    assert!(page.body.contains("id=\"stock-recorded\""));
    assert!(
        page.body.contains("class=\"available\">12<"),
        "{}",
        page.body
    );
    assert!(page.body.contains("físico 7 · reservado 0"));
    assert_eq!(balance(&app, &sku, "SP").await, Some((7, 0)));

    // The channel takes the new value; the page says so.
    wait_for(|| async { shop.sim.variant_stock(p, v) == Some(12) }).await;
    wait_for(|| async {
        let s = app.engine.sku_stock(app.tenant(), &sku).await.unwrap();
        s.channels[0].state == PushState::Pushed
    })
    .await;
    let page = app.get("/console/stock", &[&session]).await;
    assert!(
        page.body.contains("Loja Nuvem: mostra <strong>12</strong>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("push-pushed\">Enviado"));

    // Refusals: next to their field, 422, nothing moved.
    for (form, field, message) in [
        (
            move_form("in", "1", "SP", "NAO-EXISTE"),
            "movement-sku",
            "SKU não cadastrado.",
        ),
        (
            move_form("in", "1", "XX", &sku),
            "movement-warehouse",
            "Depósito não cadastrado.",
        ),
        (
            move_form("in", "dez", "SP", &sku),
            "movement-quantity",
            "Informe um número inteiro.",
        ),
        (
            move_form("out", "0", "SP", &sku),
            "movement-quantity",
            "Para entrada ou saída, informe uma quantidade maior que zero.",
        ),
        (
            move_form("set", "", "SP", &sku),
            "movement-quantity",
            "Preencha este campo.",
        ),
        (
            move_form("gift", "1", "SP", &sku),
            "movement-operation",
            "Um campo tem valor inválido. Escolha entrada, saída ou inventário.",
        ),
    ] {
        let r = app
            .post("/console/stock/movements", &[&session], &form)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{form}");
        r.refused_at(field, message);
        assert!(r.body.contains("aria-invalid=\"true\""));
    }
    let r = app
        .post(
            "/console/stock/movements",
            &[&session],
            &move_form("in", "1", "XX", &sku),
        )
        .await;
    assert!(
        r.body.contains("value=\"XX\""),
        "the form keeps what was typed"
    );
    assert_eq!(balance(&app, &sku, "SP").await, Some((7, 0)));
    assert_eq!(balance(&app, &sku, "RJ").await, Some((5, 0)));
    assert!(balance(&app, &sku, "XX").await.is_none());

    // Without the session's token: refused, nothing moved.
    let r = app
        .post(
            "/console/stock/movements",
            &[&session],
            &format!("sku={sku}&warehouse=SP&operation=in&quantity=1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post("/console/stock/resync", &[&session], "csrf=forged")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(balance(&app, &sku, "SP").await, Some((7, 0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmapped_skus_reservations_and_a_resync_with_progress() {
    let app = App::with(loopback(None), false).await;
    let (session, csrf) = app.sign_in().await;
    let (shop, sku, (p, v)) = setup(&app).await;
    app.engine
        .record_movements(
            app.tenant(),
            vec![ponte_store::NewMovement {
                sku: sku.clone(),
                warehouse: "SP".into(),
                change: ponte_core::stock::Change::Set(8),
                reason: "teste".into(),
            }],
        )
        .await
        .unwrap();
    let order = shop
        .order(&app, true, &[(sku.as_str(), 2), ("NAO-CADASTRADO", 1)])
        .await;

    let page = app
        .get(&format!("/console/stock?sku={sku}"), &[&session])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("físico 8 · reservado 2"),
        "{}",
        page.body
    );
    assert!(page.body.contains("class=\"available\">6<"));
    assert!(page
        .body
        .contains("<h2 id=\"h-unmapped\">SKUs sem cadastro (1)</h2>"));
    assert!(page.body.contains("<code>NAO-CADASTRADO</code>"));
    assert!(page
        .body
        .contains(&format!("href=\"/console/orders/{order}\"")));
    let none = app
        .get("/console/stock?sku=NAO-CADASTRADO", &[&session])
        .await;
    assert!(none.body.contains("SKU não cadastrado."));
    wait_for(|| async { shop.sim.variant_stock(p, v) == Some(6) }).await;

    // The platform lost the value: a resync sends it again, its progress shows; while
    // the value is on its way (the platform answers slowly) the fragment polls itself.
    shop.sim.set_variant_stock(p, v, 99).unwrap();
    shop.sim.inject(Fault::new(
        format!("/products/{p}/variants"),
        1,
        FaultKind::Delay(Duration::from_millis(1500)),
    ));
    let r = app
        .post(
            "/console/stock/resync",
            &[&session],
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/console/stock?resynced=1#resync");
    let page = app.get("/console/stock?resynced=1", &[&session]).await;
    assert!(page.body.contains("id=\"stock-resynced\""));
    assert!(page.body.contains("id=\"stock-progress\""));
    let polled = app.get("/console/stock/progress", &[&session]).await;
    assert_eq!(polled.status, StatusCode::OK);
    assert!(!polled.body.contains("<html"), "a fragment");
    assert!(polled.body.contains("0/1"), "{}", polled.body);
    assert!(polled
        .body
        .contains("hx-get=\"/console/stock/progress\" hx-trigger=\"every 2s\""));
    assert!(
        polled.body.contains("href=\"/console/stock#resync\""),
        "reloadable"
    );
    wait_for(|| async { shop.sim.variant_stock(p, v) == Some(6) }).await;
    wait_for(|| async {
        let f = app.get("/console/stock/progress", &[&session]).await;
        !f.body.contains("hx-get") && f.body.contains("1/1")
    })
    .await;
}
