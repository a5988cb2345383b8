//! The order page's ERP actions, in process against a simulated Nuvemshop store:
//! invoice (from an NF-e XML upload, or typed), shipment with tracking, delivery and
//! cancellation succeed and show on the page; every refusal shows its message next to
//! the field concerned, answers 422 and changes nothing; forms without the session's
//! CSRF token are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{loopback, App, Part, Shop};
use ponte_core::action::Fulfilment;
use ponte_core::{OrderId, OrderStatus};

const XML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/nfe/nfe_layout4_com_prot.xml"
));
/// The fixture's access key (valid check digit).
const KEY: &str = "43180906929383000163550010000000261000010301";

/// The invoice form typed by hand (no XML) with this access key, as multipart parts.
fn typed<'a>(csrf: &'a str, key: &'a str) -> [Part<'a>; 6] {
    [
        ("csrf", None, csrf.as_bytes()),
        ("number", None, b"26"),
        ("series", None, b"1"),
        ("access_key", None, key.as_bytes()),
        ("issued_at", None, b"2026-01-05T10:00"),
        ("total", None, "500,00".as_bytes()),
    ]
}

/// The order's status and what the ERP recorded on it.
async fn facts(app: &App, id: OrderId) -> (OrderStatus, Fulfilment) {
    let o = app
        .engine
        .store()
        .order(app.tenant(), id)
        .await
        .unwrap()
        .unwrap();
    (o.data.status, o.fulfilment)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoice_from_xml_shipment_and_delivery_show_on_the_order() {
    let app = App::with(loopback(None), false).await;
    let (session, csrf) = app.sign_in().await;
    let shop = Shop::open(&app, serde_json::json!({})).await;
    let id = shop.order(&app, true, &[("CAMISETA-P", 1)]).await;
    let path = format!("/console/orders/{id}");

    let page = app.get(&path, &[&session]).await;
    assert_eq!(page.status, StatusCode::OK);
    for form in [
        "invoice",
        "shipment",
        "shipment-exception",
        "delivery",
        "cancel",
    ] {
        assert!(
            page.body
                .contains(&format!("action=\"/console/orders/{id}/{form}\"")),
            "{form}"
        );
    }
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    assert!(page
        .body
        .contains("<label for=\"invoice-access_key\">Chave de acesso</label>"));

    // Only the XML: number, series, key, date and total are read from it.
    let r = app
        .post_multipart(
            &format!("{path}/invoice"),
            &[&session],
            &[
                ("csrf", None, csrf.as_bytes()),
                ("number", None, b""),
                ("xml", Some("nfe.xml"), XML.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"action-done\""), "{}", r.body);
    assert!(r.body.contains("Nota fiscal (NF-e)</strong>: registrado"));
    assert!(r.body.contains("26/1"), "{}", r.body);
    assert!(r
        .body
        .contains("4318 0906 9293 8300 0163 5500 1000 0000 2610 0001 0301"));
    let (status, f) = facts(&app, id).await;
    let inv = f.invoice.unwrap();
    assert_eq!(status, OrderStatus::Invoiced);
    assert_eq!((inv.number.as_str(), inv.series.as_str()), ("26", "1"));
    assert_eq!((inv.total_cents, inv.has_xml), (50_000, true));
    assert_eq!(inv.issued_at.to_rfc3339(), "2018-09-25T03:00:00+00:00");

    // The same again is one event.
    let r = app
        .post_multipart(
            &format!("{path}/invoice"),
            &[&session],
            &[
                ("csrf", None, csrf.as_bytes()),
                ("xml", Some("nfe.xml"), XML.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("já estava registrado"), "{}", r.body);
    // The send's history names the order by its id on the platform (sends carry no number).
    let external = app
        .engine
        .store()
        .order(app.tenant(), id)
        .await
        .unwrap()
        .unwrap()
        .data
        .external_id;
    let history = app
        .get(&format!("/console/history?order_id={id}"), &[&session])
        .await;
    assert!(history
        .body
        .contains("<th scope=\"col\">ID na plataforma</th>"));
    assert!(history
        .body
        .contains(&format!("<a href=\"/console/orders/{id}\">{external}</a>")));

    let r = app
        .post(
            &format!("{path}/shipment"),
            &[&session],
            &format!(
                "csrf={csrf}&tracking_code=BR123456789&tracking_url=https%3A%2F%2Frastreio.example%2FBR123456789\
                 &carrier=Correios&shipped_at=2026-01-05T10%3A30"
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("BR123456789 · Correios · 05/01/2026 10:30"),
        "{}",
        r.body
    );
    let (status, f) = facts(&app, id).await;
    assert_eq!(status, OrderStatus::Shipped);
    assert_eq!(
        f.shipment.unwrap().tracking_url.as_deref(),
        Some("https://rastreio.example/BR123456789")
    );

    // A shipping exception: refused without saying what happened, then recorded;
    // the order stays shipped.
    let r = app
        .post(
            &format!("{path}/shipment-exception"),
            &[&session],
            &format!("csrf={csrf}&observation=+&occurred_at=2026-01-06T09%3A00"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("exception-observation", "Preencha este campo.");
    let r = app
        .post(
            &format!("{path}/shipment-exception"),
            &[&session],
            &format!(
                "csrf={csrf}&observation=Destinat%C3%A1rio+ausente&occurred_at=2026-01-06T09%3A00"
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("Destinatário ausente · 06/01/2026 09:00"),
        "{}",
        r.body
    );
    let (status, f) = facts(&app, id).await;
    assert_eq!(status, OrderStatus::Shipped);
    assert_eq!(
        f.shipment_exception.unwrap().observation,
        "Destinatário ausente"
    );

    let r = app
        .post(
            &format!("{path}/delivery"),
            &[&session],
            &format!("csrf={csrf}&delivered_at=2026-01-07T16%3A45"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("07/01/2026 16:45"));
    assert!(r.body.contains("status-delivered\">Entregue"));

    // A delivered order cannot be cancelled: the refusal shows at the form.
    let before = facts(&app, id).await;
    let r = app
        .post(
            &format!("{path}/cancel"),
            &[&session],
            &format!("csrf={csrf}&reason=customer"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("cancel", "O pedido já foi enviado.");
    // The engine's own detail follows, marked as English.
    assert!(
        r.body.contains("<span class=\"muted\" lang=\"en\">"),
        "{}",
        r.body
    );
    assert_eq!(facts(&app, id).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_show_next_to_their_field_and_change_nothing() {
    let app = App::with(loopback(None), false).await;
    let (session, csrf) = app.sign_in().await;
    let shop = Shop::open(&app, serde_json::json!({})).await;
    let paid = shop.order(&app, true, &[("CAMISETA-M", 2)]).await;
    let invoice = format!("/console/orders/{paid}/invoice");
    let before = facts(&app, paid).await;

    // A key whose check digit is wrong.
    let bad_key = format!("{}2", &KEY[..43]);
    let r = app
        .post_multipart(&invoice, &[&session], &typed(&csrf, &bad_key))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    r.refused_at("invoice-access_key", "Chave de NF-e inválida.");
    assert!(r.body.contains(&format!("value=\"{bad_key}\"")), "kept");

    // Malformed XML, and a file that is not text.
    for content in [
        b"<nfeProc><NFe></nfe></nfeProc>".as_slice(),
        &[0xff, 0xfe, 0x00],
    ] {
        let r = app
            .post_multipart(
                &invoice,
                &[&session],
                &[
                    ("csrf", None, csrf.as_bytes()),
                    ("xml", Some("n.xml"), content),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        r.refused_at("invoice-xml", "XML de NF-e inválido.");
    }

    // An XML that says another number than the one typed.
    let r = app
        .post_multipart(
            &invoice,
            &[&session],
            &[
                ("csrf", None, csrf.as_bytes()),
                ("number", None, b"27"),
                ("xml", Some("n.xml"), XML.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at(
        "invoice-number",
        "O XML não corresponde ao valor informado.",
    );
    assert!(r.body.contains("value=\"27\""));

    // An XML past the route's 2 MB: refused at the file (what the body held is not read).
    let big = format!("{XML}{}", " ".repeat(2 * 1024 * 1024));
    let r = app
        .post_multipart(
            &invoice,
            &[&session],
            &[
                ("csrf", None, csrf.as_bytes()),
                ("number", None, b"26"),
                ("xml", Some("n.xml"), big.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at(
        "invoice-xml",
        "Conteúdo grande demais. O arquivo XML deve ter no máximo 2 MB.",
    );
    assert_eq!(facts(&app, paid).await, before);

    // A form that is not multipart as the page sends it.
    let r = app
        .post(&invoice, &[&session], &format!("csrf={csrf}&number=26"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Blank and unreadable fields.
    let r = app
        .post_multipart(
            &invoice,
            &[&session],
            &[
                ("csrf", None, csrf.as_bytes()),
                ("series", None, b"1"),
                ("issued_at", None, b"ontem"),
                ("total", None, b"muito"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("invoice-number", "Preencha este campo.");
    r.refused_at("invoice-issued_at", "Data e hora inválidas.");
    r.refused_at(
        "invoice-total",
        "Valor inválido: use, por exemplo, 1.234,56.",
    );

    // A tracking URL that is not http(s); a delivery before the shipment.
    let r = app
        .post(
            &format!("/console/orders/{paid}/shipment"),
            &[&session],
            &format!("csrf={csrf}&tracking_url=rastreio&shipped_at=2026-01-05T10%3A00"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("shipment-tracking_url", "URL de rastreio inválida.");
    let r = app
        .post(
            &format!("/console/orders/{paid}/delivery"),
            &[&session],
            &format!("csrf={csrf}&delivered_at=2026-01-05T10%3A00"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("delivery", "O pedido ainda não foi enviado.");
    assert_eq!(facts(&app, paid).await, before, "nothing changed");

    // An order awaiting payment cannot ship; once cancelled, nothing but a repeat is taken.
    let pending = shop.order(&app, false, &[("CAMISETA-G", 1)]).await;
    let r = app
        .post(
            &format!("/console/orders/{pending}/shipment"),
            &[&session],
            &format!("csrf={csrf}&shipped_at=2026-01-05T10%3A00"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("shipment", "O pedido ainda não foi pago.");
    let r = app
        .post(
            &format!("/console/orders/{pending}/cancel"),
            &[&session],
            &format!("csrf={csrf}&reason=payment_expired&note=prazo+vencido"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("status-cancelled\">Cancelado"));
    let cancelled = facts(&app, pending).await;
    assert_eq!(
        cancelled.1.cancellation.as_ref().unwrap().note.as_deref(),
        Some("prazo vencido")
    );
    let r = app
        .post_multipart(
            &format!("/console/orders/{pending}/invoice"),
            &[&session],
            &typed(&csrf, KEY),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("invoice", "O pedido está cancelado.");
    let r = app
        .post(
            &format!("/console/orders/{pending}/cancel"),
            &[&session],
            &format!("csrf={csrf}&reason=nenhum"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("cancel-reason", "Escolha um dos motivos.");
    assert_eq!(facts(&app, pending).await, cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_forms_without_the_csrf_token_are_refused() {
    let app = App::with(loopback(None), false).await;
    let (session, _) = app.sign_in().await;
    let shop = Shop::open(&app, serde_json::json!({})).await;
    let id = shop.order(&app, true, &[("CAMISETA-P", 1)]).await;
    let before = facts(&app, id).await;
    let r = app
        .post_multipart(
            &format!("/console/orders/{id}/invoice"),
            &[&session],
            &[
                ("csrf", None, b"forged"),
                ("xml", Some("nfe.xml"), XML.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for (action, form) in [
        ("shipment", "shipped_at=2026-01-05T10%3A00"),
        (
            "shipment-exception",
            "observation=x&occurred_at=2026-01-05T10%3A00",
        ),
        ("delivery", "delivered_at=2026-01-05T10%3A00"),
        ("cancel", "reason=customer"),
    ] {
        let r = app
            .post(&format!("/console/orders/{id}/{action}"), &[&session], form)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(facts(&app, id).await, before);
    // Without a session: to the sign-in page.
    let r = app
        .post(
            &format!("/console/orders/{id}/cancel"),
            &[],
            "reason=customer",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}
