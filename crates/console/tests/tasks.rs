//! Tarefas agendadas in process: the list with its interval and switch forms,
//! "Executar agora", run history, the progress fragment htmx polls, and a manual sync
//! run against the simulator until its progress stops.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use chrono::TimeZone;
use common::{form, loopback, App};
use ponte_engine::{ChannelInput, Workers};
use ponte_sim::nuvemshop::{NuvemshopSim, SimConfig};
use ponte_store::{Channel, ScheduledTask, TaskKind};
use serde_json::json;
use std::time::{Duration, Instant};

/// A Nuvemshop channel calling `base`, and its orders import task.
async fn channel(app: &App, base: &str) -> (Channel, ScheduledTask) {
    let tenant = app.engine.default_tenant();
    let c = app
        .engine
        .create_channel(
            tenant,
            ChannelInput {
                platform: "nuvemshop".into(),
                name: "Loja Centro".into(),
                settings: json!({"store_id": "123456", "api_base_url": base}),
                credentials: json!({"access_token": "sim-token", "app_secret": "sim-secret"}),
            },
        )
        .await
        .unwrap();
    let import = app
        .engine
        .scheduled_tasks(tenant, Some(c.id))
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.kind == TaskKind::ImportOrders)
        .unwrap();
    (c, import)
}

#[tokio::test]
async fn the_list_saves_a_task_s_interval_and_switch() {
    let app = App::with(loopback(None), false).await;
    let tenant = app.engine.default_tenant();
    let (session, csrf) = app.sign_in().await;
    let (_, import) = channel(&app, "http://127.0.0.1:9/v1").await;
    app.engine.ensure_all_tasks().await.unwrap();

    let r = app.get("/console/tasks", &[&session]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Tarefas agendadas</h1>"));
    assert!(r
        .body
        .contains("href=\"/console/tasks\" aria-current=\"page\""));
    for name in [
        "Importar pedidos",
        "Atualizar pagamentos pendentes",
        "Cancelamento automático",
        "Todos os canais",
        "Nunca executada",
        "Executar agora",
        "Sincronização manual",
    ] {
        assert!(r.body.contains(name), "{name}");
    }
    let field = format!("id=\"interval-{}\" name=\"interval\"", import.id);
    assert!(r
        .body
        .contains(&format!("<label for=\"interval-{}\">", import.id)));
    assert!(r.body.contains(&format!(
        "{field} type=\"text\" inputmode=\"decimal\" size=\"5\" value=\"10\""
    )));

    let path = format!("/console/tasks/{}", import.id);
    let stored = || async { app.engine.scheduled_task(tenant, import.id).await.unwrap() };
    let r = app
        .post(
            &path,
            &[&session],
            &form(&[("csrf", &csrf), ("interval", "15"), ("enabled", "true")]),
        )
        .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/console/tasks?saved=1")
    );
    let t = stored().await;
    assert_eq!((t.interval_secs, t.enabled), (900, true));
    let r = app.get("/console/tasks?saved=1", &[&session]).await;
    assert!(r.body.contains("id=\"notice\">Salvo.</div>"));
    assert!(r.body.contains("value=\"15\""));
    // Unticked: the task is switched off.
    let r = app
        .post(
            &path,
            &[&session],
            &form(&[("csrf", &csrf), ("interval", "15")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!stored().await.enabled);
    assert!(app
        .get("/console/tasks", &[&session])
        .await
        .body
        .contains("Desativada"));

    // Refusals next to the interval; nothing changes.
    let error = format!("id=\"interval-{}-error\"", import.id);
    let r = app
        .post(
            &path,
            &[&session],
            &form(&[("csrf", &csrf), ("interval", "dez"), ("enabled", "true")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(&error), "{}", r.body);
    assert!(r.body.contains("Informe o intervalo em minutos."));
    assert!(r.body.contains("value=\"dez\" aria-invalid=\"true\""));
    let r = app
        .post(
            &path,
            &[&session],
            &form(&[("csrf", &csrf), ("interval", "0,5"), ("enabled", "true")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(&error));
    assert!(r.body.contains("Um campo tem valor inválido."));
    assert!(r
        .body
        .contains("interval_seconds must be between 60 and 86400"));
    let t = stored().await;
    assert_eq!((t.interval_secs, t.enabled), (900, false));

    let r = app
        .post(&path, &[&session], "csrf=forged&interval=20&enabled=true")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(stored().await.interval_secs, 900);
    let r = app
        .post(
            "/console/tasks/01a24525-192a-731b-b2a8-6aa4577106bb",
            &[&session],
            &form(&[("csrf", &csrf), ("interval", "20")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn executar_agora_starts_a_run_whose_progress_renders() {
    // No workers: the run stays queued, so its page keeps polling.
    let app = App::with(loopback(None), false).await;
    let (session, csrf) = app.sign_in().await;
    let (_, import) = channel(&app, "http://127.0.0.1:9/v1").await;
    let run_now = format!("/console/tasks/{}/run", import.id);
    assert_eq!(
        app.post(&run_now, &[&session], "csrf=forged").await.status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .post(&run_now, &[&session], &form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let run_page = r.location().to_owned();
    let run_id = run_page.strip_prefix("/console/task-runs/").unwrap();
    let run = app
        .engine
        .task_run(app.engine.default_tenant(), run_id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(run.task_id, import.id);
    assert_eq!(run.trigger.as_str(), "run_now");

    let page = app.get(&run_page, &[&session]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .body
        .contains("<h1>Execução: Importar pedidos · Loja Centro</h1>"));
    let polling = format!(
        "hx-get=\"/console/task-runs/{run_id}/progress\" hx-trigger=\"every 1s\" hx-swap=\"outerHTML\""
    );
    assert!(page.body.contains(&polling), "{}", page.body);
    assert!(page
        .body
        .contains("<label for=\"run-bar\">Progresso</label>"));
    assert!(page.body.contains("Na fila"));
    assert!(page
        .body
        .contains(&format!("<a href=\"{run_page}\">Atualizar</a>")));
    let fragment = app.get(&format!("{run_page}/progress"), &[&session]).await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert!(fragment.body.starts_with("<div id=\"run-progress\""));
    assert!(fragment.body.contains(&polling));
    assert!(!fragment.body.contains("<html"));

    // A second run while this one is queued is refused, pointing at it.
    let r = app
        .post(&run_now, &[&session], &form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("A tarefa já está em execução."));
    assert!(r.body.contains(&format!(
        "href=\"/console/task-runs/{run_id}\" id=\"busy-run\""
    )));

    let history = app
        .get(&format!("/console/tasks/{}/runs", import.id), &[&session])
        .await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(history.body.contains(&format!("href=\"{run_page}\"")));
    assert!(history.body.contains("Executar agora") && history.body.contains("Na fila"));
    for missing in [
        "/console/task-runs/01a24525-192a-731b-b2a8-6aa4577106bb",
        "/console/task-runs/nope/progress",
        "/console/tasks/nope/runs",
    ] {
        assert_eq!(
            app.get(missing, &[&session]).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
}

#[tokio::test]
async fn a_manual_sync_runs_against_the_platform_until_its_progress_stops() {
    let sim = NuvemshopSim::new(SimConfig {
        bucket_size: 0,
        ..SimConfig::default()
    });
    sim.generate_orders(5, 42);
    let server = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await;
    let app = App::with(loopback(None), false).await;
    let (session, csrf) = app.sign_in().await;
    let (c, _) = channel(&app, &server.base_url()).await;
    let workers = Workers::start(app.engine.clone());

    let r = app
        .post(
            "/console/tasks/sync",
            &[&session],
            &form(&[
                ("csrf", &csrf),
                ("channel_id", &c.id.to_string()),
                ("since", "2024-01-01T00:00"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let run_page = r.location().to_owned();
    let run_id = run_page.strip_prefix("/console/task-runs/").unwrap();
    let run = app
        .engine
        .task_run(app.engine.default_tenant(), run_id.parse().unwrap())
        .await
        .unwrap();
    let midnight_in_sao_paulo = chrono::Utc.with_ymd_and_hms(2024, 1, 1, 3, 0, 0).unwrap();
    assert_eq!(run.since, Some(midnight_in_sao_paulo));

    // What htmx does: fetch the fragment every second until it stops asking.
    let deadline = Instant::now() + Duration::from_secs(20);
    let fragment = loop {
        let f = app.get(&format!("{run_page}/progress"), &[&session]).await;
        assert_eq!(f.status, StatusCode::OK);
        if !f.body.contains("hx-trigger") {
            break f.body;
        }
        assert!(Instant::now() < deadline, "still running: {}", f.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(fragment.contains("Concluída"), "{fragment}");
    assert!(
        fragment.contains("<dt>Pedidos lidos</dt><dd>5</dd>"),
        "{fragment}"
    );
    assert!(fragment.contains("<progress id=\"run-bar\""));
    let page = app.get(&run_page, &[&session]).await;
    assert!(page.body.contains("Sincronização manual"));
    assert!(
        page.body.contains("01/01/2024 00:00"),
        "since, in São Paulo time"
    );
    let list = app.get("/console/tasks", &[&session]).await;
    assert!(list.body.contains("Pedidos lidos: 5"));
    let channels = app.get("/console/channels", &[&session]).await;
    assert!(channels
        .body
        .contains(&format!("href=\"/console/task-runs/{run_id}\"")));
    workers.stop().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_manual_sync_with_a_bad_date_or_channel_starts_nothing() {
    let app = App::with(loopback(None), false).await;
    let tenant = app.engine.default_tenant();
    let (session, csrf) = app.sign_in().await;
    let (c, import) = channel(&app, "http://127.0.0.1:9/v1").await;
    let id = c.id.to_string();
    let r = app
        .post(
            "/console/tasks/sync",
            &[&session],
            &form(&[("csrf", &csrf), ("channel_id", &id), ("since", "ontem")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"sync-since-error\""));
    assert!(r
        .body
        .contains("aria-describedby=\"sync-since-hint sync-since-error\" aria-invalid=\"true\""));
    assert!(r.body.contains("Informe data e hora (dd/mm/aaaa hh:mm)."));
    assert!(r.body.contains("value=\"ontem\""));
    let r = app
        .post(
            "/console/tasks/sync",
            &[&session],
            &form(&[("csrf", &csrf), ("channel_id", "nope")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"sync-channel-error\""));
    assert!(r.body.contains("Escolha um canal."));
    let r = app
        .post(
            "/console/tasks/sync",
            &[&session],
            &form(&[("csrf", "forged"), ("channel_id", &id)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let runs = app
        .engine
        .store()
        .task_runs(
            tenant,
            import.id,
            &ponte_store::PageRequest {
                cursor: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(runs.items.is_empty(), "no run started");
}
