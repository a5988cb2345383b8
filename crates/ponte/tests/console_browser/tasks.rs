//! A task run now from Tarefas agendadas: the channel's order import, against a store
//! of 450 orders (three pages) whose last page is slow, so the run page's progress
//! fragment is seen halfway (200 read) and then finished, updated by htmx in place.

use crate::browser::{eventually, Browser};
use crate::common::task;
use crate::shop::Bare;
use fantoccini::Locator;
use ponte_sim::nuvemshop::{Fault, FaultKind, Method};
use serde_json::json;
use std::time::Duration;

/// The orders at the store: three pages of the listing (200 a page).
const ORDERS: usize = 450;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_runs_now_and_shows_its_progress() {
    let shop = Bare::open().await;
    let (channel, _) = shop.p.nuvemshop_channel(&shop.sim, "all").await;
    let import = task(&shop.p, &channel, "import_orders").await;
    let task_id = import["id"].as_str().unwrap().to_owned();
    shop.sim.sim.generate_orders(ORDERS, 16);
    // The third page keeps the store busy: the first two are read meanwhile.
    for ms in [0, 0, 2500] {
        shop.sim.sim.inject(
            Fault::new("/orders", 1, FaultKind::Delay(Duration::from_millis(ms)))
                .with_method(Method::GET),
        );
    }

    let mut b = Browser::open(&shop.p.base, "tasks").await;
    let admin = crate::shop::person(&shop.p, "admin").await;
    b.sign_in(&admin).await;
    b.wait_h1("Pedidos").await;
    b.click_text("Tarefas agendadas").await;
    b.wait_h1("Tarefas agendadas").await;
    b.page("tasks").await;
    let row = b.texts(&format!("#task-{task_id} td")).await;
    assert_eq!(
        row[..3],
        ["Importar pedidos", "Loja Teste", "Nunca executada"],
        "{row:?}"
    );

    b.click(&format!("#run-{task_id}")).await;
    b.wait_h1("Execução: Importar pedidos · Loja Teste").await;
    b.page("task-run").await;
    // Anything htmx swaps in keeps this; a new page would not.
    b.client
        .execute("window.ponteSamePage = true", vec![])
        .await
        .unwrap();

    // Halfway: running, the first page read.
    eventually("the run halfway", || async {
        let state = b.client.find(Locator::Id("run-state")).await.ok()?;
        let bar = b.client.find(Locator::Id("run-bar")).await.ok()?;
        let running = state.text().await.ok()? == "Em execução";
        (running && bar.attr("value").await.ok()?.as_deref() == Some("200")).then_some(())
    })
    .await;
    b.screenshot("task-run-progress").await;

    // Finished, in the same page.
    b.wait_text_of("#run-state", "Concluída").await;
    let same = b
        .client
        .execute("return window.ponteSamePage === true", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the progress was updated in place");
    b.page("task-run-done").await;
    let run_id = b.path().await.rsplit('/').next().unwrap().to_owned();
    let run = shop.p.get(&format!("/api/v1/task-runs/{run_id}")).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let counts = &run["counts"];
    assert!(counts["seen"].as_u64().unwrap() >= ORDERS as u64, "{run}");
    let bar = b.find("#run-bar").await;
    assert_eq!(
        bar.attr("value").await.unwrap(),
        Some(counts["seen"].to_string())
    );
    let created = counts["created"].as_u64().unwrap();
    assert!(created > 0, "{run}");
    let shown = b.texts("#run-counts dt, #run-counts dd").await;
    let at = shown.iter().position(|t| t == "Novos").unwrap();
    assert_eq!(shown[at + 1], created.to_string(), "{shown:?}");
    assert_eq!(shop.p.all_orders().await.len() as u64, created);

    // The task's run history, and the list with its last run.
    b.click_text("Histórico de execuções").await;
    b.wait_h1("Histórico de execuções: Importar pedidos · Loja Teste")
        .await;
    b.page("task-runs").await;
    let runs = b.texts("tbody tr").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].contains("Executar agora") && runs[0].contains("Concluída"));
    b.click_text("← Tarefas agendadas").await;
    b.wait_h1("Tarefas agendadas").await;
    b.page("tasks-after-run").await;
    let row = b.texts(&format!("#task-{task_id} td")).await;
    assert!(row[2].contains("Concluída"), "{row:?}");
    b.close().await;
}
