//! An operator's day with the mouse: signs in with e-mail and password, opens the orders that arrived (an NF-e
//! XML too large for the invoice form is refused next to its field), resends
//! two of the sends the platform refused, reads the history and downloads it as CSV,
//! looks at the channels, switches to English and signs out; an admin then reads the
//! resend in Auditoria.

use crate::browser::Browser;
use crate::shop::{person, Shop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_works_through_the_console() {
    let shop = Shop::open().await;
    let mut b = Browser::open(&shop.p.base, "operator").await;

    // A page asked for before signing in leads to the sign-in, then back to it.
    b.goto("/console/errors", "signed-out").await;
    b.wait_path("/console/login").await;
    b.wait_h1("Entrar no ponte").await;

    let operator = person(&shop.p, "operator").await;
    b.sign_in(&operator).await;
    b.wait_h1("Pedidos").await;
    b.page("orders").await;
    for (o, customer) in [
        (&shop.cpf, "Maria Silva"),
        (&shop.cnpj, "Comercial Andrade Ltda"),
        (&shop.refused[0], "João Pereira"),
        (&shop.refused[1], "Ana Souza"),
    ] {
        let row = b.row(&o.number).await;
        assert_eq!(row[2], "Loja Teste", "{row:?}");
        assert_eq!(row[3], customer, "{row:?}");
    }
    let sim_order = shop.sim.sim.order(shop.cpf.ext).unwrap();
    assert_eq!(sim_order["total"], "2512.92", "{sim_order}");
    assert_eq!(b.row(&shop.cpf.number).await[5], "R$ 2.512,92");

    // The order page: items, the customer's CPF, totals in reais.
    b.click_text(&shop.cpf.number).await;
    b.wait_h1(&format!("Pedido {}", shop.cpf.number)).await;
    b.page("order").await;
    let items = b.texts("#h-items + table tbody tr").await;
    assert_eq!(items.len(), 2, "{items:?}");
    for text in [
        "CAM-AZUL-M",
        "Camiseta Azul M",
        "R$ 1.234,56",
        "MEIA-01",
        "R$ 19,90",
    ] {
        assert!(
            items.iter().any(|i| i.contains(text)),
            "{text} in {items:?}"
        );
    }
    let totals = b.text("dl.totals").await;
    for text in ["R$ 2.489,02", "R$ 23,90", "R$ 2.512,92"] {
        assert!(totals.contains(text), "{text} in {totals:?}");
    }
    b.wait_text("529.982.247-25").await;
    b.wait_text("Maria Silva").await;

    // A company's order shows its CNPJ.
    b.goto(&format!("/console/orders/{}", shop.cnpj.id), "order-cnpj")
        .await;
    b.wait_text("11.222.333/0001-81").await;
    b.wait_text("Comercial Andrade Ltda").await;

    // An NF-e XML past the invoice form's 2 MB is refused next to the file field.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("nfe.xml");
    std::fs::write(&big, format!("<nfeProc>{}", " ".repeat(3 * 1024 * 1024))).unwrap();
    b.upload("XML da NF-e autorizada", &big).await;
    b.click_text("Registrar nota fiscal").await;
    b.wait_text_of(
        "#invoice-xml-error",
        "Conteúdo grande demais. O arquivo XML deve ter no máximo 2 MB.",
    )
    .await;
    b.page("invoice-too-large").await;

    // Erros: the three refused sends, each after three attempts.
    b.click_text("Erros").await;
    b.wait_h1("Erros").await;
    b.page("errors").await;
    for o in [&shop.cnpj, &shop.refused[0], &shop.refused[1]] {
        let row = b.row(&o.ext.to_string()).await;
        assert_eq!(row[4], "3/3", "{row:?}");
    }
    assert!(
        b.client
            .find(fantoccini::Locator::Css(&format!("#sel-{}", shop.cpf.send)))
            .await
            .is_err(),
        "the sent one is not an error"
    );

    // The platform is fixed; two are selected and resent.
    shop.fix();
    for o in [&shop.cnpj, &shop.refused[0]] {
        b.click(&format!("#sel-{}", o.send)).await;
    }
    b.click_text("Reenviar selecionados").await;
    b.wait_text_of("#resent-count", "2").await;
    b.page("errors-resent").await;
    shop.wait_sent(&shop.cnpj, "succeeded").await;
    shop.wait_sent(&shop.refused[0], "succeeded").await;

    // The history shows them sent, the one left out still failed.
    b.click_text("Histórico de envios").await;
    b.wait_h1("Histórico de Envio de Situação").await;
    b.page("history").await;
    for (o, state) in [
        (&shop.cpf, "Enviado"),
        (&shop.cnpj, "Enviado"),
        (&shop.refused[0], "Enviado"),
        (&shop.refused[1], "Com erro"),
    ] {
        let row = b.row(&o.ext.to_string()).await;
        assert_eq!(row[4], state, "{row:?}");
    }

    // The same as CSV.
    let file = b.download("#csv").await;
    assert_eq!(file.file_name().unwrap(), "historico-envios.csv");
    let mut csv = csv::Reader::from_path(&file).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "id",
            "created_at",
            "channel_id",
            "order_id",
            "external_id",
            "seq",
            "kind",
            "state",
            "attempts_used",
            "max_attempts",
            "attempts",
            "last_http_status",
            "last_error_code",
            "last_error",
            "updated_at"
        ]
    );
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    for (o, state, attempts) in [
        (&shop.cpf, "succeeded", "1"),
        (&shop.cnpj, "succeeded", "4"),
        (&shop.refused[0], "succeeded", "4"),
        (&shop.refused[1], "failed", "3"),
    ] {
        let r = rows
            .iter()
            .find(|r| r[0] == o.send)
            .unwrap_or_else(|| panic!("{} in {rows:?}", o.send));
        assert_eq!(
            (&r[3], &r[4], &r[6], &r[7], &r[10]),
            (
                o.id.as_str(),
                o.ext.to_string().as_str(),
                "separation",
                state,
                attempts
            ),
            "{r:?}"
        );
    }

    // Canais.
    b.click_text("Canais").await;
    b.wait_h1("Canais").await;
    b.page("channels").await;
    b.wait_text("Loja Teste").await;

    // In English, and back.
    b.click_text("English").await;
    b.wait_h1("Channels").await;
    b.page("channels-en").await;
    assert_eq!(
        b.texts("nav a").await,
        [
            "Orders",
            "Errors",
            "Send history",
            "Customer service",
            "Channels",
            "Scheduled tasks",
            "Stock",
            "Webhooks",
            "Outgoing webhooks",
            "Settings"
        ]
    );
    b.click_text("Errors").await;
    b.wait_h1("Errors").await;
    b.page("errors-en").await;
    b.wait_text("Resend selected").await;
    b.click_text("Português").await;
    b.wait_h1("Erros").await;

    b.click_text("Sair").await;
    b.wait_path("/console/login").await;
    b.page("signed-out-again").await;
    b.goto("/console/orders", "orders-after-sign-out").await;
    b.wait_path("/console/login").await;

    // An admin reads in Auditoria who resent what.
    let admin = person(&shop.p, "admin").await;
    b.sign_in(&admin).await;
    b.wait_h1("Pedidos").await;
    b.click_text("Auditoria").await;
    b.wait_h1("Auditoria").await;
    b.wait_text("Envios reenviados").await;
    b.wait_text(&operator).await;
    b.page("audit").await;
    // Pessoas and Tokens, the admin's other pages.
    b.click_text("Pessoas").await;
    b.wait_h1("Pessoas").await;
    b.wait_text(&operator).await;
    b.page("people").await;
    b.click_text("Tokens").await;
    b.wait_h1("Tokens de API").await;
    b.wait_text("bootstrap").await;
    b.page("tokens").await;
    b.close().await;
}
