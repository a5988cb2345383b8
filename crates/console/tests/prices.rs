//! Preços, in process against a simulated Nuvemshop store showing prices (+10%): the
//! page reached from Estoque shows a SKU's current and promotional price, its
//! scheduled prices, and per channel the value it should show and the push state; an
//! operator cancels a scheduled price from the page (audited), one already cancelled
//! is refused; a form without the CSRF token is refused; a viewer sees no cancel
//! button and is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use common::{form, loopback, wait_for, App, Shop};
use ponte_core::price::PriceValue;
use ponte_core::Role;
use ponte_engine::ProductInput;
use ponte_store::{AuditFilter, NewPrice, PageRequest, PushState, ScheduledPrice};

/// A product for the simulator's first variant, listed on a channel that sends prices
/// with a 10% markup; R$ 100,00 now (R$ 80,00 on promotion for ten days) and two
/// prices scheduled (R$ 120,00 in two days, R$ 130,00 in three).
async fn setup(app: &App) -> (Shop, String, Vec<ScheduledPrice>) {
    let shop = Shop::open(
        app,
        serde_json::json!({"send_prices": true, "price_markup_percent": 10}),
    )
    .await;
    let (p, v, sku) = shop
        .sim
        .variant_skus()
        .into_iter()
        .find_map(|(p, v, s)| Some((p, v, s?)))
        .unwrap();
    let input = ProductInput {
        sku: sku.clone(),
        name: Some("Camiseta básica".into()),
        ..ProductInput::default()
    };
    app.engine
        .create_product(app.tenant(), input)
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
    let now = Utc::now();
    let price = |cents, promo: Option<i64>, at| NewPrice {
        sku: sku.clone(),
        value: PriceValue {
            price: cents,
            promotional_price: promo,
            promotional_from: promo.map(|_| now - Duration::hours(1)),
            promotional_until: promo.map(|_| now + Duration::days(10)),
        },
        effective_at: at,
    };
    let rows = vec![
        price(10_000, Some(8_000), None),
        price(12_000, None, Some(now + Duration::days(2))),
        price(13_000, None, Some(now + Duration::days(3))),
    ];
    let w = app.engine.write_prices(app.tenant(), rows).await.unwrap();
    assert_eq!(w.scheduled.len(), 2);
    (shop, sku, w.scheduled)
}

/// A query-string value as the console writes it (every byte but letters and digits
/// percent-encoded).
fn encoded(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The SKU's scheduled prices still waiting, from the engine.
async fn waiting(app: &App, sku: &str) -> usize {
    let (p, _) = app.engine.sku_prices(app.tenant(), sku).await.unwrap();
    p.scheduled.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_prices_and_cancels_a_scheduled_one() {
    let app = App::with(loopback(None), false).await;
    let (session, csrf) = app.sign_in().await;
    let (_shop, sku, scheduled) = setup(&app).await;
    wait_for(|| async {
        let (p, _) = app.engine.sku_prices(app.tenant(), &sku).await.unwrap();
        p.channels[0].state == PushState::Pushed
    })
    .await;

    let url = format!("/console/prices?sku={}", encoded(&sku));
    let stock = app.get("/console/stock", &[&session]).await;
    let link = format!("href=\"{url}\">Preços<");
    assert!(stock.body.contains(&link), "{}", stock.body);

    let r = app.get(&url, &[&session]).await;
    assert_eq!(r.status, StatusCode::OK);
    let b = &r.body;
    assert!(
        b.contains(&format!("<h1>Preços <code>{sku}</code></h1>")),
        "{b}"
    );
    assert!(b.contains("aria-current=\"page\">Estoque<"));
    assert!(b.contains("<strong>R$ 100,00</strong>"), "{b}");
    assert!(b.contains("promocional <strong>R$ 80,00</strong> · de "));
    assert!(b.contains("Em promoção agora: <strong>R$ 80,00</strong>"));
    assert!(b.contains("Preços agendados (2)"));
    assert!(b.contains("<strong>R$ 120,00</strong>") && b.contains("<strong>R$ 130,00</strong>"));
    // The channel should show (and took) the marked-up value.
    assert!(b.contains("<strong>R$ 110,00</strong>"), "{b}");
    assert!(b.contains("promocional <strong>R$ 88,00</strong>"));
    assert!(b.contains("Loja Nuvem"));
    assert!(b.contains("push-pushed\">Enviado"));
    assert_eq!(b.matches("class=\"inline cancel-scheduled\"").count(), 2);

    // Without the session's token: refused, nothing cancelled.
    let cancel = format!("/console/prices/scheduled/{}/cancel", scheduled[0].id);
    let r = app
        .post(&cancel, &[&session], &form(&[("sku", sku.as_str())]))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post(
            &cancel,
            &[&session],
            &form(&[("csrf", "forged"), ("sku", sku.as_str())]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(waiting(&app, &sku).await, 2);

    // With it: cancelled, back on the page, the other still scheduled, audited.
    let body = form(&[("csrf", csrf.as_str()), ("sku", sku.as_str())]);
    let r = app.post(&cancel, &[&session], &body).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("{url}&cancelled=1"));
    let page = app.get(r.location(), &[&session]).await;
    assert!(page.body.contains("id=\"prices-cancelled\""));
    assert!(page.body.contains("Preços agendados (1)"));
    assert!(!page
        .body
        .contains(&format!("scheduled-{}", scheduled[0].id)));
    assert!(page
        .body
        .contains(&format!("scheduled-{}", scheduled[1].id)));
    assert_eq!(waiting(&app, &sku).await, 1);
    let filter = AuditFilter {
        kind: Some("price.schedule_cancelled".into()),
        ..AuditFilter::default()
    };
    let req = PageRequest {
        cursor: None,
        limit: 10,
    };
    let trail = app.engine.audit_trail(app.tenant(), &filter, &req).await;
    let trail = trail.unwrap().items;
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].target, Some(scheduled[0].id.to_string()));

    // Again (or an id that is none): refused on the page.
    let r = app.post(&cancel, &[&session], &body).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.body.contains("Preço agendado não encontrado"),
        "{}",
        r.body
    );
    let r = app
        .post("/console/prices/scheduled/nope/cancel", &[&session], &body)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(waiting(&app, &sku).await, 1);

    // A SKU that is no product; no SKU yet.
    let r = app.get("/console/prices?sku=NAO-EXISTE", &[&session]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"prices-not-found\""));
    let r = app.get("/console/prices", &[&session]).await;
    assert!(r.body.contains("Informe um SKU"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_the_prices_but_cannot_cancel() {
    let app = App::with(loopback(None), false).await;
    let (_shop, sku, scheduled) = setup(&app).await;
    let email = app.person(Role::Viewer).await;
    let (session, csrf) = app.sign_in_as(&email).await;

    let r = app
        .get(&format!("/console/prices?sku={sku}"), &[&session])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Preços agendados (2)"));
    assert!(!r.body.contains("cancel-scheduled"), "no cancel button");

    let cancel = format!("/console/prices/scheduled/{}/cancel", scheduled[0].id);
    let body = form(&[("csrf", csrf.as_str()), ("sku", sku.as_str())]);
    let r = app.post(&cancel, &[&session], &body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("<strong>Operador</strong>"), "{}", r.body);
    assert_eq!(waiting(&app, &sku).await, 2);
}
