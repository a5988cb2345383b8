//! Webhooks recebidos, in process against a simulated Nuvemshop store: deliveries are
//! listed newest first with their state and note, filtered by channel and state, and
//! paged by cursor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{loopback, App, Shop};
use ponte_engine::ChannelPatch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_webhooks_with_state_filters_and_pages() {
    let app = App::with(loopback(None), false).await;
    let (session, _) = app.sign_in().await;
    let shop = Shop::open(&app, serde_json::json!({})).await;
    shop.order(&app, true, &[("CAMISETA-P", 1)]).await;
    // The order's delivery is processed once the import is done.
    common::wait_for(|| async {
        let r = app
            .get("/console/deliveries?state=processed", &[&session])
            .await;
        r.body.contains("badge delivery-processed")
    })
    .await;

    // With instant events off, webhooks are acknowledged and ignored (polling imports).
    app.engine
        .update_channel(
            app.tenant(),
            shop.channel,
            ChannelPatch {
                settings: Some(serde_json::json!({"instant_events": false})),
                ..ChannelPatch::default()
            },
        )
        .await
        .unwrap();
    for id in 0..55u64 {
        shop.notify(&app, "order/updated", 900_000 + id).await;
    }

    let r = app.get("/console/deliveries", &[&session]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Webhooks recebidos</h1>"));
    assert!(r.body.contains("aria-current=\"page\">Webhooks<"));
    assert!(r.body.contains("<label for=\"f-state\">Estado</label>"));
    assert_eq!(r.body.matches("<tr>").count(), 51, "50 rows and the header");
    // Newest first: the last ignored one opens the list.
    let first = r.body.find("900054").unwrap();
    assert!(first < r.body.find("900053").unwrap());
    assert!(r.body.contains("Ignorado"));
    assert!(r.body.contains("instant_events is off"), "the note shows");
    assert!(r.body.contains("<code>order/updated</code>"));
    let next = r.body.split("href=\"/console/deliveries?").nth(1).unwrap();
    let next = next[..next.find('"').unwrap()].replace("&amp;", "&");
    let r = app
        .get(&format!("/console/deliveries?{next}"), &[&session])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.matches("<tr>").count(), 7, "the 6 oldest");
    assert!(r.body.contains("Processado"));
    assert!(r.body.contains(&format!(
        "href=\"/console/orders?channel_id={}&amp;number=",
        shop.channel
    )));
    assert!(!r.body.contains("rel=\"next\""));

    // Filters.
    let r = app
        .get("/console/deliveries?state=processed", &[&session])
        .await;
    assert_eq!(r.body.matches("<tr>").count(), 2, "{}", r.body);
    assert!(r.body.contains("<option value=\"processed\" selected>"));
    let r = app
        .get(
            &format!(
                "/console/deliveries?state=ignored&channel_id={}",
                shop.channel
            ),
            &[&session],
        )
        .await;
    assert_eq!(r.body.matches("<tr>").count(), 51);
    assert!(r.body.contains("rel=\"next\""));
    assert!(
        r.body.contains("state=ignored"),
        "the pager keeps the filters"
    );
    let r = app
        .get(
            "/console/deliveries?channel_id=01a24525-192a-731b-b2a8-6aa4577106bb",
            &[&session],
        )
        .await;
    assert!(r
        .body
        .contains("Nenhum webhook recebido com esses filtros."));
    // Unknown values are ignored rather than refused; without a session, sign in.
    let r = app
        .get("/console/deliveries?state=x&cursor=y", &[&session])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.get("/console/deliveries", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}
