//! Invoices (NF-e): the access key, the XML and the other fields each refuse with
//! their code, and a refused invoice records nothing (no invoice, no status send).

use crate::fixtures::{invoice, nfe_xml, NFE_KEY};
use crate::harness::{covered, Api, Covered};
use ponte_core::ErrorCode as E;
use ponte_core::OrderStatus;
use serde_json::Value;

pub fn covers() -> Vec<Covered> {
    covered(&[
        ("post", "/api/v1/orders/{id}/invoice", E::InvalidNfeKey),
        ("post", "/api/v1/orders/{id}/invoice", E::InvalidNfeXml),
        ("post", "/api/v1/orders/{id}/invoice", E::NfeNotAuthorized),
        ("post", "/api/v1/orders/{id}/invoice", E::NfeXmlMismatch),
        ("post", "/api/v1/orders/{id}/invoice", E::InvalidInvoice),
    ])
}

/// A paid order and the path of its invoice action.
async fn setup() -> (Api, String) {
    let api = Api::new().await;
    let c = api.channel().await;
    let o = api.order(&c, OrderStatus::Approved).await;
    (api, format!("/api/v1/orders/{o}/invoice"))
}

/// The valid invoice with `field` set to `value`.
fn with(field: &str, value: impl Into<Value>) -> Value {
    let mut b = invoice();
    b[field] = value.into();
    b
}

/// The valid invoice with the fixture XML edited by `edit`.
fn with_xml(edit: impl Fn(String) -> String) -> Value {
    with("xml", edit(nfe_xml()))
}

#[tokio::test]
async fn a_key_that_is_not_44_digits_with_its_check_digit_is_invalid_nfe_key() {
    let (api, path) = setup().await;
    let wrong_digit = format!("{}2", &NFE_KEY[..43]);
    for key in [
        "123",
        "",
        &"a".repeat(44),
        &format!("{NFE_KEY}1"),
        wrong_digit.as_str(),
    ] {
        let body = with("access_key", key);
        api.refuses("POST", &path, Some(body), E::InvalidNfeKey)
            .await;
    }
}

#[tokio::test]
async fn xml_that_is_not_an_nfe_is_invalid_nfe_xml() {
    let (api, path) = setup().await;
    for xml in ["<nfeProc><NFe>", "not xml at all <<", "<nfeProc></nfeProc>"] {
        let body = with("xml", xml);
        api.refuses("POST", &path, Some(body), E::InvalidNfeXml)
            .await;
    }
    let no_total = with_xml(|x| x.replace("<vNF>500.00</vNF>", ""));
    api.refuses("POST", &path, Some(no_total), E::InvalidNfeXml)
        .await;
}

#[tokio::test]
async fn xml_without_its_authorization_is_nfe_not_authorized() {
    let (api, path) = setup().await;
    let refused = with_xml(|x| x.replace("<cStat>100</cStat>", "<cStat>110</cStat>"));
    api.refuses("POST", &path, Some(refused), E::NfeNotAuthorized)
        .await;
}

#[tokio::test]
async fn xml_saying_other_figures_than_the_fields_is_nfe_xml_mismatch() {
    let (api, path) = setup().await;
    let xml = nfe_xml();
    for (field, value) in [
        ("total_cents", Value::from(40_000)),
        ("number", "27".into()),
        ("series", "2".into()),
    ] {
        let mut body = with(field, value);
        body["xml"] = xml.clone().into();
        api.refuses("POST", &path, Some(body), E::NfeXmlMismatch)
            .await;
    }
    // The fixture's own figures are accepted: the refusals were about the mismatch.
    api.call("POST", &path, Some(&with("xml", xml))).await.ok();
}

#[tokio::test]
async fn another_wrong_invoice_field_is_invalid_invoice() {
    let (api, path) = setup().await;
    for body in [
        with("number", "abc"),
        with("number", ""),
        with("series", " "),
        with("series", "A1"),
        with("total_cents", -1),
        with("xml_url", "ftp://erp.example/nfe.xml"),
        with("xml_url", "nfe.xml"),
    ] {
        api.refuses("POST", &path, Some(body), E::InvalidInvoice)
            .await;
    }
}
