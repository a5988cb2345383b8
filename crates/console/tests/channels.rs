//! The channel pages in process: creating a Nuvemshop channel through the form and its
//! refusals, every tab rendering and saving through the engine, the integration
//! switch, "Verificar" against the simulator, and credentials never shown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{form, loopback, App};
use ponte_engine::ChannelInput;
use ponte_sim::nuvemshop::{Fault, FaultKind, NuvemshopSim, SimConfig};
use ponte_store::Channel;
use serde_json::json;

const TOKEN_SECRET: &str = "tok-SECRET-0001";
const APP_SECRET: &str = "sec-SECRET-0002";

/// The create form's fields for a Nuvemshop store at `base`.
fn nuvemshop_form<'a>(csrf: &'a str, base: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("platform", "nuvemshop"),
        ("name", "Loja Centro"),
        ("store_id", "123456"),
        ("api_base_url", base),
        ("instant_events", "true"),
        ("import_policy", "paid_only"),
        ("shipping_api", "fulfillment_orders"),
        ("user_agent", ""),
        ("rate_limit_per_sec", ""),
        ("rate_limit_burst", ""),
        ("access_token", TOKEN_SECRET),
        ("app_secret", APP_SECRET),
    ]
}

/// `fields` with `key` set to `value`.
fn with<'a>(
    mut fields: Vec<(&'a str, &'a str)>,
    key: &str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    fields.iter_mut().find(|(k, _)| *k == key).unwrap().1 = value;
    fields
}

async fn channels(app: &App) -> Vec<Channel> {
    app.engine
        .channels(app.engine.default_tenant())
        .await
        .unwrap()
}

/// A Nuvemshop channel made by the engine, calling `base`.
async fn nuvemshop(app: &App, base: &str) -> Channel {
    app.engine
        .create_channel(
            app.engine.default_tenant(),
            ChannelInput {
                platform: "nuvemshop".into(),
                name: "Loja Centro".into(),
                settings: json!({"store_id": "123456", "api_base_url": base}),
                credentials: json!({"access_token": TOKEN_SECRET, "app_secret": APP_SECRET}),
            },
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_nuvemshop_channel_is_created_through_the_form() {
    let app = App::with(loopback(None), false).await;
    let (session, csrf) = app.sign_in().await;
    let list = app.get("/console/channels", &[&session]).await;
    assert!(list.body.contains("href=\"/console/channels/new\""));
    assert!(list.body.contains("Novo canal"));

    let page = app.get("/console/channels/new", &[&session]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Novo canal</h1>"));
    for key in [
        "name",
        "store_id",
        "api_base_url",
        "access_token",
        "app_secret",
    ] {
        assert!(
            page.body.contains(&format!("<label for=\"f-{key}\">")),
            "{key}"
        );
    }
    assert!(page.body.contains("Evento de vendas"));
    assert!(page
        .body
        .contains("id=\"f-access_token\" name=\"access_token\" type=\"password\""));
    let vtex = app
        .get("/console/channels/new?platform=vtex", &[&session])
        .await;
    assert!(vtex.body.contains("name=\"account\"") && vtex.body.contains("name=\"app_token\""));
    assert!(!vtex.body.contains("name=\"store_id\""));

    let base = "http://127.0.0.1:9/v1";
    let good = nuvemshop_form(&csrf, base);
    // Invalid settings: refused next to the store id, nothing created, no secret echoed.
    let r = app
        .post(
            "/console/channels/new",
            &[&session],
            &form(&with(good.clone(), "store_id", "abc")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("store_id", "Parâmetros inválidos.");
    assert!(r.body.contains("value=\"abc\""), "the form as submitted");
    assert!(!r.body.contains("SECRET"));
    // Missing credentials: refused next to the one missing.
    let r = app
        .post(
            "/console/channels/new",
            &[&session],
            &form(&with(good.clone(), "app_secret", "")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("app_secret", "Parâmetros inválidos.");
    assert!(!r.body.contains("SECRET"));
    // A blank name, a number that is not one.
    let r = app
        .post(
            "/console/channels/new",
            &[&session],
            &form(&with(good.clone(), "name", " ")),
        )
        .await;
    r.refused_at("name", "Um campo tem valor inválido.");
    let r = app
        .post(
            "/console/channels/new",
            &[&session],
            &form(&with(good.clone(), "rate_limit_burst", "muitas")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("rate_limit_burst", "Informe um número.");
    // An unknown platform is refused at the top.
    let r = app
        .post(
            "/console/channels/new",
            &[&session],
            &form(&with(good.clone(), "platform", "magento")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"refused\""));
    // Without the session's CSRF token.
    let r = app
        .post(
            "/console/channels/new",
            &[&session],
            &form(&with(good.clone(), "csrf", "forged")),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(channels(&app).await.is_empty(), "refusals create nothing");

    let r = app
        .post("/console/channels/new", &[&session], &form(&good))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let all = channels(&app).await;
    assert_eq!(all.len(), 1);
    let c = &all[0];
    assert_eq!(
        r.location(),
        format!("/console/channels/{}/platform?created=1", c.id)
    );
    assert_eq!(
        (c.platform.as_str(), c.name.as_str()),
        ("nuvemshop", "Loja Centro")
    );
    assert_eq!(c.settings["store_id"], "123456");
    assert_eq!(c.settings["api_base_url"], base);
    assert!(c.enabled);
    let page = app.get(r.location(), &[&session]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Canal criado."));
    assert!(page.body.contains("value=\"123456\""));
    assert!(!page.body.contains("SECRET"));
    let list = app.get("/console/channels", &[&session]).await;
    assert!(list.body.contains(&format!(
        "<a href=\"/console/channels/{}\">Loja Centro</a>",
        c.id
    )));
}

#[tokio::test]
async fn a_private_address_is_refused_next_to_the_url() {
    let app = App::new(false).await;
    let (session, csrf) = app.sign_in().await;
    let fields = nuvemshop_form(&csrf, "http://127.0.0.1:9/v1");
    let r = app
        .post("/console/channels/new", &[&session], &form(&fields))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("api_base_url", "Endereço não permitido (rede privada).");
    assert!(channels(&app).await.is_empty());
}

#[tokio::test]
async fn the_list_translates_the_subscription_state_and_keeps_the_engine_s_why_in_english() {
    let app = App::with(loopback(None), false).await;
    let (session, _) = app.sign_in().await;
    nuvemshop(&app, "http://127.0.0.1:9/v1").await;
    let r = app.get("/console/channels", &[&session]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r
        .body
        .contains("<span class=\"badge sub-polling_only\">Somente consulta</span>"));
    assert!(
        r.body
            .contains("<span class=\"muted small\" lang=\"en\">PONTE_PUBLIC_URL is not set"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn every_tab_renders_and_saves() {
    let app = App::with(loopback(None), false).await;
    let tenant = app.engine.default_tenant();
    let (session, csrf) = app.sign_in().await;
    let c = nuvemshop(&app, "http://127.0.0.1:9/v1").await;
    let url = |tab: &str| format!("/console/channels/{}/{tab}", c.id);
    let stored = || async { app.engine.channel(tenant, c.id).await.unwrap() };

    let r = app
        .get(&format!("/console/channels/{}", c.id), &[&session])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h2>Parâmetros da plataforma</h2>"));
    for (tab, heading) in [
        ("platform", "Parâmetros da plataforma"),
        ("automations", "Automações"),
        ("stock", "Estoque"),
        ("status-map", "DE-PARA"),
        ("webhooks", "Webhooks"),
    ] {
        let r = app.get(&url(tab), &[&session]).await;
        assert_eq!(r.status, StatusCode::OK, "{tab}");
        assert!(r.body.contains(&format!("<h2>{heading}</h2>")), "{tab}");
        assert!(
            r.body.contains(&format!(
                "href=\"/console/channels/{}/{tab}\" aria-current=\"page\"",
                c.id
            )),
            "{tab}"
        );
        assert!(r.body.contains("Integração automática"), "{tab}");
        assert_eq!(r.body.matches("<h1>").count(), 1, "{tab}");
        assert!(!r.body.contains("SECRET"), "{tab}");
    }
    assert_eq!(
        app.get("/console/channels/nope/stock", &[&session])
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Parâmetros da plataforma: "Evento de vendas = Não", all orders, a budget.
    let platform = |extra: Vec<(&'static str, &'static str)>| {
        let mut f = vec![
            ("name", "Loja Sul"),
            ("store_id", "123456"),
            ("api_base_url", "http://127.0.0.1:9/v1"),
            ("instant_events", "false"),
            ("import_policy", "all"),
            ("shipping_api", "legacy"),
            ("user_agent", ""),
            ("rate_limit_per_sec", "2,5"),
            ("rate_limit_burst", "20"),
        ];
        for (k, v) in extra {
            match f.iter_mut().find(|(fk, _)| *fk == k) {
                Some(e) => e.1 = v,
                None => f.push((k, v)),
            }
        }
        f
    };
    let post = |tab: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields);
        let body = form(&all);
        let path = url(tab);
        let session = session.clone();
        let app = &app;
        async move { app.post(&path, &[&session], &body).await }
    };
    let r = post("platform", platform(vec![])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("{}?saved=1", url("platform")));
    let s = stored().await;
    assert_eq!(s.name, "Loja Sul");
    assert_eq!(s.settings["instant_events"], false);
    assert_eq!(s.settings["import_policy"], "all");
    assert_eq!(s.settings["shipping_api"], "legacy");
    assert_eq!(s.settings["rate_limit_per_sec"], 2.5);
    assert_eq!(s.settings["rate_limit_burst"], 20.0);
    let r = app.get(r.location(), &[&session]).await;
    assert!(r.body.contains("id=\"notice\">Salvo.</div>"));
    assert!(r
        .body
        .contains("id=\"f-instant_events-no\" name=\"instant_events\" value=\"false\" checked"));
    assert!(r.body.contains("value=\"2.5\""));
    // Refusals: out of range, another host without credentials, an empty name.
    let r = post("platform", platform(vec![("rate_limit_per_sec", "0")])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("rate_limit_per_sec", "Parâmetros inválidos.");
    let moved = vec![("api_base_url", "http://127.0.0.2:9/v1")];
    let r = post("platform", platform(moved.clone())).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("access_token", "Credenciais obrigatórias.");
    let r = post("platform", platform(vec![("name", "")])).await;
    r.refused_at("name", "Um campo tem valor inválido.");
    assert_eq!(
        stored().await.settings,
        s.settings,
        "refusals change nothing"
    );
    assert_eq!(stored().await.name, "Loja Sul");
    // The credentials for the new host come with it: saved, never shown.
    let mut with_credentials = moved;
    with_credentials.extend([
        ("access_token", "tok-SECRET-new"),
        ("app_secret", "sec-SECRET-new"),
    ]);
    let r = post("platform", platform(with_credentials)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        stored().await.settings["api_base_url"],
        "http://127.0.0.2:9/v1"
    );

    // Automações: the three switches, fulfillment mode, attempts.
    let r = post(
        "automations",
        vec![
            ("send_status_updates", "true"),
            ("send_cancellations", "false"),
            ("send_delivery_info", "true"),
            ("fulfillment_mode", "true"),
            ("max_attempts", "5"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let s = stored().await.settings;
    assert_eq!(s["send_cancellations"], false);
    assert_eq!(s["fulfillment_mode"], true);
    assert_eq!(s["max_attempts"], 5);
    let r = app.get(&url("automations"), &[&session]).await;
    assert!(r.body.contains(
        "id=\"f-send_cancellations-no\" name=\"send_cancellations\" value=\"false\" checked"
    ));
    assert!(r
        .body
        .contains("Enviar status de pedidos cancelados para a plataforma (instantâneo)"));
    let r = post("automations", vec![("max_attempts", "11")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("max_attempts", "Parâmetros inválidos.");
    assert!(r.body.contains("value=\"11\""));
    assert_eq!(stored().await.settings["max_attempts"], 5);

    // Estoque: warehouses that feed the channel, the one debited, a buffer.
    for (code, name) in [("CD-SP", "Centro SP"), ("LOJA-1", "Loja 1")] {
        app.engine
            .create_warehouse(tenant, code, name)
            .await
            .unwrap();
    }
    let r = app.get(&url("stock"), &[&session]).await;
    assert!(r.body.contains("CD-SP · Centro SP"));
    let r = post(
        "stock",
        vec![
            ("send_stock", "true"),
            ("stock_warehouses", "CD-SP"),
            ("stock_warehouses", "LOJA-1"),
            ("debit_warehouse", "CD-SP"),
            ("stock_buffer", "2"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let s = stored().await.settings;
    assert_eq!(s["send_stock"], true);
    assert_eq!(s["stock_warehouses"], json!(["CD-SP", "LOJA-1"]));
    assert_eq!(s["debit_warehouse"], "CD-SP");
    assert_eq!(s["stock_buffer"], 2);
    let r = app.get(&url("stock"), &[&session]).await;
    assert!(r.body.contains("value=\"LOJA-1\" checked"));
    assert!(r.body.contains("<option value=\"CD-SP\" selected>"));
    let r = post(
        "stock",
        vec![
            ("send_stock", "true"),
            ("stock_warehouses", "CD-SP"),
            ("stock_buffer", "-1"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("stock_buffer", "Parâmetros inválidos.");
    let r = post("stock", vec![("send_stock", "true")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("send_stock", "Parâmetros inválidos.");
    assert_eq!(stored().await.settings["stock_buffer"], 2);

    // DE-PARA: the platform's table until saved; a row added, refused without a
    // status, removed.
    let table = || async { app.engine.status_map(tenant, c.id).await.unwrap() };
    assert!(!table().await.saved);
    let r = app.get(&url("status-map"), &[&session]).await;
    assert!(r.body.contains("id=\"status-map-default\""), "{}", r.body);
    assert!(r.body.contains("id=\"remap\""));
    // The payment table (the connector's NF-e codes) and the customer field rules.
    assert!(r.body.contains("value=\"17\""), "{}", r.body);
    assert!(r.body.contains("Campos padrões de cliente"));
    let r = post(
        "status-map",
        vec![
            ("rows", "3"),
            ("status_0", "open"),
            ("payment_status_0", "paid"),
            ("shipping_status_0", ""),
            ("to_0", "approved"),
            ("status_1", ""),
            ("to_1", ""),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(table().await.saved);
    assert_eq!(
        serde_json::to_value(table().await.rows).unwrap(),
        json!([{"status": "open", "payment_status": "paid", "shipping_status": null, "to": "approved"}])
    );
    let r = app.get(&url("status-map"), &[&session]).await;
    assert!(r.body.contains(
        "id=\"payment_status_0\" name=\"payment_status_0\" type=\"text\" value=\"paid\""
    ));
    assert!(r.body.contains("<option value=\"approved\" selected>"));
    assert!(
        r.body.contains("name=\"rows\" value=\"4\""),
        "one row and three blank"
    );
    let r = post(
        "status-map",
        vec![("rows", "2"), ("status_0", "open"), ("status_1", "closed")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("to_0", "Um campo tem valor inválido.");
    assert!(r.body.contains("value=\"closed\""));
    let r = post(
        "status-map",
        vec![
            ("rows", "1"),
            ("status_0", "open"),
            ("to_0", "approved"),
            ("remove_0", "1"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(table().await.rows, vec![]);
    // Remapear starts a run and shows its progress.
    let r = post("remap", vec![]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        r.location().starts_with("/console/task-runs/"),
        "{}",
        r.location()
    );

    // Webhooks: no public URL, so polling only; Verificar reconciles.
    let r = app.get(&url("webhooks"), &[&session]).await;
    assert!(r.body.contains(&format!("/webhooks/{}", c.id)));
    assert!(r.body.contains("Somente consulta"), "{}", r.body);
    let r = post("webhooks/check", vec![]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = app.get(r.location(), &[&session]).await;
    assert!(r.body.contains("Verificado."));

    // Every form checks the session's CSRF token.
    for tab in [
        "platform",
        "automations",
        "stock",
        "status-map",
        "webhooks/check",
        "enabled",
    ] {
        let r = app
            .post(&url(tab), &[&session], "csrf=forged&max_attempts=2")
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{tab}");
    }
    assert_eq!(stored().await.settings["max_attempts"], 5);
}

#[tokio::test]
async fn the_switch_turns_the_integration_off_and_on() {
    let app = App::with(loopback(None), false).await;
    let tenant = app.engine.default_tenant();
    let (session, csrf) = app.sign_in().await;
    let c = nuvemshop(&app, "http://127.0.0.1:9/v1").await;
    let switch = format!("/console/channels/{}/enabled", c.id);
    let r = app
        .post(
            &switch,
            &[&session],
            &form(&[
                ("csrf", &csrf),
                ("enabled", "false"),
                ("tab", "automations"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location(),
        format!("/console/channels/{}/automations?saved=1", c.id)
    );
    assert!(!app.engine.channel(tenant, c.id).await.unwrap().enabled);
    let page = app.get(r.location(), &[&session]).await;
    assert!(page
        .body
        .contains("id=\"enabled-no\" name=\"enabled\" value=\"false\" checked"));
    let list = app.get("/console/channels", &[&session]).await;
    assert!(list.body.contains("<span class=\"badge off\">Não</span>"));
    let r = app
        .post(
            &switch,
            &[&session],
            &form(&[("csrf", &csrf), ("enabled", "true")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(app.engine.channel(tenant, c.id).await.unwrap().enabled);
    let r = app
        .post(
            &switch,
            &[&session],
            &form(&[("csrf", &csrf), ("enabled", "maybe")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"enabled-error\""));
    assert!(app.engine.channel(tenant, c.id).await.unwrap().enabled);
}

#[tokio::test]
async fn enabling_a_channel_whose_credentials_another_uses_is_refused_at_the_switch() {
    let app = App::with(loopback(None), false).await;
    let tenant = app.engine.default_tenant();
    let (session, csrf) = app.sign_in().await;
    let vtex = |name: &str| ChannelInput {
        platform: "vtex".into(),
        name: name.into(),
        settings: json!({"account": "lojaabc", "api_base_url": "http://127.0.0.1:9"}),
        credentials: json!({"app_key": "vtexappkey-SECRET", "app_token": "TOKEN-SECRET"}),
    };
    let first = app.engine.create_channel(tenant, vtex("A")).await.unwrap();
    app.engine.disable_channel(tenant, first.id).await.unwrap();
    app.engine.create_channel(tenant, vtex("B")).await.unwrap();
    let r = app
        .post(
            &format!("/console/channels/{}/enabled", first.id),
            &[&session],
            &form(&[("csrf", &csrf), ("enabled", "true")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"enabled-error\""));
    assert!(r
        .body
        .contains("Estas credenciais já estão em outro canal."));
    assert!(!r.body.contains("SECRET"));
    assert!(!app.engine.channel(tenant, first.id).await.unwrap().enabled);
}

#[tokio::test]
async fn credentials_never_appear_in_any_page() {
    let app = App::with(loopback(None), false).await;
    let (session, csrf) = app.sign_in().await;
    let r = app
        .post(
            "/console/channels/new",
            &[&session],
            &form(&nuvemshop_form(&csrf, "http://127.0.0.1:9/v1")),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let c = &channels(&app).await[0];
    let mut pages = vec![
        "/console/channels".to_owned(),
        "/console/channels/new".to_owned(),
        "/console/tasks".to_owned(),
        format!("/console/channels/{}", c.id),
    ];
    for tab in ["platform", "automations", "stock", "status-map", "webhooks"] {
        pages.push(format!("/console/channels/{}/{tab}", c.id));
    }
    for p in &pages {
        let r = app.get(p, &[&session]).await;
        assert_eq!(r.status, StatusCode::OK, "{p}");
        assert!(!r.body.contains("SECRET"), "{p}");
    }
    // A refused save with new credentials shows them empty.
    let r = app
        .post(
            &format!("/console/channels/{}/platform", c.id),
            &[&session],
            &form(&[
                ("csrf", &csrf),
                ("name", "Loja"),
                ("store_id", "x"),
                ("access_token", "tok-SECRET-9"),
                ("app_secret", "sec-SECRET-9"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!r.body.contains("SECRET"));
}

#[tokio::test]
async fn verificar_registers_the_webhook_at_the_platform() {
    let sim = NuvemshopSim::new(SimConfig::default());
    let server = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await;
    // The platform fails while the channel is created: its registration fails.
    sim.inject(Fault::new("/webhooks", 10, FaultKind::Status(500)));
    let app = App::with(loopback(Some("https://ponte.example.com.br")), false).await;
    let (session, csrf) = app.sign_in().await;
    let r = app
        .post(
            "/console/channels/new",
            &[&session],
            &form(&[
                ("csrf", &csrf),
                ("platform", "nuvemshop"),
                ("name", "Loja Sim"),
                ("store_id", "123456"),
                ("api_base_url", &server.base_url()),
                ("access_token", "sim-token"),
                ("app_secret", "sim-secret"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let c = &channels(&app).await[0];
    let url = format!("https://ponte.example.com.br/webhooks/{}", c.id);
    let tab = format!("/console/channels/{}/webhooks", c.id);
    let page = app.get(&tab, &[&session]).await;
    assert!(
        page.body
            .contains("<span class=\"badge sub-failed\">Falharam</span>"),
        "{}",
        page.body
    );
    assert!(sim.webhooks().is_empty());
    // The platform is back: Verificar registers the webhook.
    sim.clear_faults();
    let r = app
        .post(
            &format!("/console/channels/{}/webhooks/check", c.id),
            &[&session],
            &form(&[("csrf", &csrf)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app.get(r.location(), &[&session]).await;
    assert!(page.body.contains("Verificado."));
    assert!(
        page.body
            .contains("<span class=\"badge sub-active\">Ativos</span>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"registered\""));
    assert!(page.body.contains(&url));
    assert!(sim.webhooks().iter().any(|w| w["url"] == url.as_str()));
    server.shutdown().await;
}

#[tokio::test]
async fn a_vtex_channel_is_created_through_the_form() {
    let app = App::with(loopback(None), false).await;
    let (session, csrf) = app.sign_in().await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("platform", "vtex"),
        ("name", "VTEX Loja"),
        ("account", "lojaabc"),
        ("environment", ""),
        ("api_base_url", "http://127.0.0.1:9"),
        ("sales_channel", "1"),
        ("instant_events", "false"),
        ("import_policy", "all"),
        ("app_key", "vtexappkey-lojaabc-SECRET"),
        ("app_token", "TOKEN-SECRET"),
    ];
    let r = app
        .post(
            "/console/channels/new",
            &[&session],
            &form(&with(fields.to_vec(), "account", "loja.abc")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("account", "Parâmetros inválidos.");
    assert!(!r.body.contains("SECRET"));
    assert!(channels(&app).await.is_empty());
    let r = app
        .post("/console/channels/new", &[&session], &form(&fields))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let c = &channels(&app).await[0];
    assert_eq!(c.platform, "vtex");
    assert_eq!(c.settings["account"], "lojaabc");
    assert_eq!(c.settings["environment"], "vtexcommercestable");
    assert_eq!(c.settings["sales_channel"], "1");
    assert_eq!(c.settings["instant_events"], false);
    let page = app.get(r.location(), &[&session]).await;
    assert!(page
        .body
        .contains("<h1>VTEX Loja <span class=\"muted\">· VTEX</span></h1>"));
    assert!(page.body.contains("value=\"vtexcommercestable\""));
    assert!(!page.body.contains("SECRET"));
}

#[tokio::test]
async fn payment_types_and_customer_fields_are_edited_on_the_de_para_tab() {
    let app = App::with(loopback(None), false).await;
    let tenant = app.engine.default_tenant();
    let (session, csrf) = app.sign_in().await;
    let c = nuvemshop(&app, "http://127.0.0.1:9/v1").await;
    let tab = format!("/console/channels/{}/status-map", c.id);
    let post = |what: &'static str, fields: Vec<(&'static str, &str)>| {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields);
        let body = form(&all);
        let path = format!("/console/channels/{}/{what}", c.id);
        let session = session.clone();
        let app = &app;
        async move { app.post(&path, &[&session], &body).await }
    };
    let payments = || async { app.engine.payment_map(tenant, c.id).await.unwrap() };
    let fields = || async { app.engine.customer_fields(tenant, c.id).await.unwrap() };

    // The connector's payment table is shown as editable rows, then replaced.
    let page = app.get(&tab, &[&session]).await;
    assert!(
        page.body.contains("name=\"code_0\" type=\"text\" value=\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"PIX\""), "{}", page.body);
    let n = payments().await.rows.len();
    assert!(page
        .body
        .contains(&format!("name=\"pay_rows\" value=\"{}\"", n + 3)));
    let r = post(
        "payment-map",
        vec![
            ("pay_rows", "3"),
            ("method_0", "pix"),
            ("code_0", "17"),
            ("name_0", "PIX"),
            ("method_1", "credit_card"),
            ("min_1", "2"),
            ("max_1", "12"),
            ("code_1", "03"),
            ("name_1", "Cartão parcelado"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("{tab}?saved=1#payments"));
    assert_eq!(
        serde_json::to_value(payments().await.rows).unwrap(),
        json!([
            {"method": "pix", "code": "17", "name": "PIX"},
            {"method": "credit_card", "min_installments": 2, "max_installments": 12,
             "code": "03", "name": "Cartão parcelado"}
        ])
    );
    let page = app.get(r.location(), &[&session]).await;
    assert!(page
        .body
        .contains("id=\"max_1\" name=\"max_1\" type=\"text\" value=\"12\""));

    // A count that is not a number is refused at its row; a row without an ERP code by
    // the engine (its position named); nothing changes either way.
    let saved = payments().await.rows;
    let r = post(
        "payment-map",
        vec![
            ("pay_rows", "1"),
            ("method_0", "boleto"),
            ("min_0", "dois"),
            ("code_0", "15"),
            ("name_0", "Boleto"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("pay_0", "As parcelas são um número inteiro.");
    assert!(r.body.contains("value=\"dois\""));
    let r = post(
        "payment-map",
        vec![
            ("pay_rows", "1"),
            ("method_0", "boleto"),
            ("name_0", "Boleto"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("row 1"), "{}", r.body);
    assert_eq!(payments().await.rows, saved);
    // Removing every row saves an empty table.
    let r = post(
        "payment-map",
        vec![
            ("pay_rows", "1"),
            ("method_0", "pix"),
            ("code_0", "17"),
            ("name_0", "PIX"),
            ("pay_remove_0", "1"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(payments().await.rows.is_empty());

    // Customer field rules: typed values, one condition of each kind, and a condition
    // with no cell of its own (a channel) kept through an edit.
    assert!(fields().await.is_empty());
    let channel = c.id.to_string();
    app.engine
        .set_customer_fields(
            tenant,
            c.id,
            &json!([{"field": "obs", "value": "12", "when": [{"channel": channel}]}]),
        )
        .await
        .unwrap();
    let page = app.get(&tab, &[&session]).await;
    assert!(
        page.body
            .contains("id=\"value_0\" name=\"value_0\" type=\"text\" value=\"&#34;12&#34;\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("+ condições"));
    let extra = serde_json::to_string(&json!([{"channel": channel}])).unwrap();
    let r = post(
        "customer-fields",
        vec![
            ("field_rows", "2"),
            ("field_0", "obs"),
            ("value_0", "\"12\""),
            ("extra_0", extra.as_str()),
            ("field_1", "produtor_rural"),
            ("value_1", "true"),
            ("document_1", "cpf"),
            ("state_1", "MT"),
            ("shipping_1", "PAC"),
            ("path_1", "customer.note"),
            ("equals_1", "fazenda"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("{tab}?saved=1#customer-fields"));
    assert_eq!(
        serde_json::to_value(fields().await).unwrap(),
        json!([
            {"field": "obs", "value": "12", "when": [{"channel": channel}]},
            {"field": "produtor_rural", "value": true, "when": [
                {"document": "cpf"}, {"state": "MT"}, {"shipping_method": "PAC"},
                {"platform_field": {"path": "customer.note", "equals": "fazenda"}}
            ]}
        ])
    );
    let page = app.get(&tab, &[&session]).await;
    assert!(page.body.contains("<option value=\"MT\" selected>"));
    assert!(page.body.contains("<option value=\"cpf\" selected>"));
    // A bad field name is refused by the engine and nothing changes.
    let before = fields().await;
    let r = post(
        "customer-fields",
        vec![
            ("field_rows", "1"),
            ("field_0", "produtor rural"),
            ("value_0", "true"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("row 1"), "{}", r.body);
    assert!(r.body.contains("value=\"produtor rural\""));
    assert_eq!(fields().await, before);
    // Both forms check the session's CSRF token.
    for what in ["payment-map", "customer-fields"] {
        let path = format!("/console/channels/{}/{what}", c.id);
        let r = app
            .post(&path, &[&session], "csrf=forged&field_rows=0&pay_rows=0")
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
    }
    assert_eq!(fields().await, before);
}
