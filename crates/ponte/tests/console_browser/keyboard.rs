//! The same work without a mouse: Tab to each field and button, type, Enter or Space
//! to act. Signs in, reaches Erros from the menu and resends two refused sends.

use crate::browser::Browser;
use crate::shop::{person, Shop, PASSWORD};
use fantoccini::key::Key;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_with_the_keyboard() {
    let shop = Shop::open().await;
    let mut b = Browser::open(&shop.p.base, "keyboard").await;

    // Sign in: the e-mail field has the focus; type, Tab to the password, type, Tab to
    // the button, Enter.
    let email = person(&shop.p, "operator").await;
    b.goto("/console/login", "sign-in").await;
    assert!(b.focused("#email").await);
    b.type_text(&email).await;
    b.tab_to("#password", 1).await;
    b.type_text(PASSWORD).await;
    b.tab_to("#sign-in", 3).await;
    b.press(Key::Enter).await;
    b.wait_path("/console/orders").await;
    b.wait_h1("Pedidos").await;
    b.page("orders").await;

    // The first Tab reaches the skip link; the menu leads to Erros.
    b.tab_to("a.skip", 1).await;
    b.tab_to("nav a[href='/console/errors']", 10).await;
    b.press(Key::Enter).await;
    b.wait_h1("Erros").await;
    b.page("errors").await;

    // Two refused sends checked with Space, resent with the button.
    shop.fix();
    for o in [&shop.cnpj, &shop.refused[1]] {
        let checkbox = format!("#sel-{}", o.send);
        b.tab_to(&checkbox, 40).await;
        b.press(Key::Space).await;
        assert!(b.find(&checkbox).await.is_selected().await.unwrap());
    }
    let left = format!("#sel-{}", shop.refused[0].send);
    assert!(!b.find(&left).await.is_selected().await.unwrap());
    b.tab_to("#resend-selected", 40).await;
    b.press(Key::Enter).await;
    b.wait_text_of("#resent-count", "2").await;
    b.page("errors-resent").await;
    shop.wait_sent(&shop.cnpj, "succeeded").await;
    shop.wait_sent(&shop.refused[1], "succeeded").await;
    let s = shop
        .p
        .get(&format!("/api/v1/status-sends/{}", shop.refused[0].send))
        .await;
    assert_eq!(s["state"], "failed", "not selected, not resent: {s}");
    b.close().await;
}
