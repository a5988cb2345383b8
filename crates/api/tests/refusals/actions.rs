//! ERP actions: each rule of `ponte_core::action` refuses with its code, and a refused
//! action leaves the order, its timeline and its status sends as they were.

use crate::fixtures::invoice;
use crate::harness::{covered, Api, Covered};
use ponte_core::ErrorCode as E;
use ponte_core::OrderStatus;
use serde_json::{json, Value};

pub fn covers() -> Vec<Covered> {
    let mut out = vec![];
    for (action, _) in actions() {
        let path = format!("/api/v1/orders/{{id}}/{action}");
        out.push(("post".to_owned(), path.clone(), E::ActionConflict));
        out.push(("post".to_owned(), path.clone(), E::OrderCancelled));
        if action != "cancel" {
            out.push(("post".to_owned(), path, E::OrderNotPaid));
        }
    }
    out.extend(covered(&[
        (
            "post",
            "/api/v1/orders/{id}/separation",
            E::InvalidTransition,
        ),
        (
            "post",
            "/api/v1/orders/{id}/collection-order",
            E::InvalidTransition,
        ),
        (
            "post",
            "/api/v1/orders/{id}/collection-order",
            E::NotInvoiced,
        ),
        ("post", "/api/v1/orders/{id}/delivery", E::NotShipped),
        (
            "post",
            "/api/v1/orders/{id}/shipment-exception",
            E::NotShipped,
        ),
        (
            "post",
            "/api/v1/orders/{id}/shipment-exception",
            E::InvalidTransition,
        ),
        (
            "post",
            "/api/v1/orders/{id}/shipment-exception",
            E::ValidationFailed,
        ),
        ("post", "/api/v1/orders/{id}/cancel", E::AlreadyShipped),
        (
            "post",
            "/api/v1/orders/{id}/collection-order",
            E::ValidationFailed,
        ),
        ("post", "/api/v1/orders/{id}/shipment", E::ValidationFailed),
    ]));
    out
}

const T1: &str = "2026-01-02T03:04:05Z";
const T2: &str = "2026-01-03T03:04:05Z";

/// Every action with a body it accepts.
fn actions() -> Vec<(&'static str, Value)> {
    vec![
        ("separation", json!({"kind": "separation"})),
        ("invoice", invoice()),
        (
            "collection-order",
            json!({"code": "COL-1", "created_at": T1}),
        ),
        (
            "shipment",
            json!({"tracking_code": "AA123", "shipped_at": T1}),
        ),
        (
            "shipment-exception",
            json!({"observation": "Destinatário ausente", "occurred_at": T1}),
        ),
        ("delivery", json!({"delivered_at": T1})),
        ("cancel", json!({"reason": "customer"})),
    ]
}

async fn refused(api: &Api, order: &str, action: &str, body: Value, code: E) {
    let path = format!("/api/v1/orders/{order}/{action}");
    api.refuses("POST", &path, Some(body), code).await;
}

#[tokio::test]
async fn every_action_but_cancel_needs_a_paid_order() {
    let api = Api::new().await;
    let c = api.channel().await;
    for status in [OrderStatus::AwaitingPayment, OrderStatus::PaymentInReview] {
        let o = api.order(&c, status).await;
        for (action, body) in actions() {
            if action != "cancel" {
                refused(&api, &o, action, body, E::OrderNotPaid).await;
            }
        }
        // Cancelling an unpaid order is allowed.
        api.act(&o, "cancel", json!({"reason": "payment_expired"}))
            .await;
    }
}

#[tokio::test]
async fn nothing_but_a_repeat_is_accepted_on_a_cancelled_order() {
    let api = Api::new().await;
    let c = api.channel().await;
    let by_erp = api.order(&c, OrderStatus::Approved).await;
    api.act(&by_erp, "cancel", json!({"reason": "customer"}))
        .await;
    let by_platform = api.order(&c, OrderStatus::Cancelled).await;
    for (action, body) in actions() {
        if action != "cancel" {
            refused(&api, &by_erp, action, body.clone(), E::OrderCancelled).await;
        }
        refused(&api, &by_platform, action, body, E::OrderCancelled).await;
    }
    // The ERP's own cancellation again is one event, not a refusal.
    let again = api
        .act(&by_erp, "cancel", json!({"reason": "customer"}))
        .await;
    assert_eq!(again["changed"], false);
}

#[tokio::test]
async fn another_action_of_a_recorded_kind_is_action_conflict() {
    let api = Api::new().await;
    let c = api.channel().await;
    let o = api.order(&c, OrderStatus::Approved).await;
    let mut other_invoice = invoice();
    other_invoice["number"] = "27".into();
    let others = [
        ("separation", json!({"kind": "production"})),
        ("invoice", other_invoice),
        (
            "collection-order",
            json!({"code": "COL-2", "created_at": T1}),
        ),
        (
            "shipment",
            json!({"tracking_code": "BB456", "shipped_at": T1}),
        ),
        (
            "shipment-exception",
            json!({"observation": "Endereço não encontrado", "occurred_at": T1}),
        ),
        ("delivery", json!({"delivered_at": T2})),
    ];
    for ((action, body), (other_action, other)) in actions().into_iter().zip(others) {
        assert_eq!(action, other_action);
        api.act(&o, action, body.clone()).await;
        refused(&api, &o, action, other, E::ActionConflict).await;
        let again = api.act(&o, action, body).await;
        assert_eq!(again["changed"], false, "{action} repeated");
    }
    let cancelled = api.order(&c, OrderStatus::Approved).await;
    api.act(&cancelled, "cancel", json!({"reason": "customer"}))
        .await;
    let other = json!({"reason": "fraud"});
    refused(&api, &cancelled, "cancel", other, E::ActionConflict).await;
}

#[tokio::test]
async fn a_step_the_order_is_past_is_invalid_transition() {
    let api = Api::new().await;
    let c = api.channel().await;
    let o = api.order(&c, OrderStatus::Approved).await;
    api.act(&o, "invoice", invoice()).await;
    refused(&api, &o, "separation", json!({}), E::InvalidTransition).await;
    api.act(&o, "shipment", json!({"shipped_at": T1})).await;
    let collection = json!({"code": "COL-1", "created_at": T1});
    refused(
        &api,
        &o,
        "collection-order",
        collection,
        E::InvalidTransition,
    )
    .await;
}

#[tokio::test]
async fn a_collection_order_before_the_invoice_is_not_invoiced() {
    let api = Api::new().await;
    let c = api.channel().await;
    let o = api.order(&c, OrderStatus::Approved).await;
    let collection = json!({"code": "COL-1", "created_at": T1});
    refused(
        &api,
        &o,
        "collection-order",
        collection.clone(),
        E::NotInvoiced,
    )
    .await;
    api.act(&o, "separation", json!({})).await;
    refused(&api, &o, "collection-order", collection, E::NotInvoiced).await;
}

#[tokio::test]
async fn a_delivery_before_the_shipment_is_not_shipped() {
    let api = Api::new().await;
    let c = api.channel().await;
    let o = api.order(&c, OrderStatus::Approved).await;
    let delivery = json!({"delivered_at": T1});
    refused(&api, &o, "delivery", delivery.clone(), E::NotShipped).await;
    api.act(&o, "invoice", invoice()).await;
    refused(&api, &o, "delivery", delivery, E::NotShipped).await;
}

#[tokio::test]
async fn a_shipping_exception_needs_a_shipped_order_not_yet_delivered() {
    let api = Api::new().await;
    let c = api.channel().await;
    let o = api.order(&c, OrderStatus::Approved).await;
    let exception = json!({"observation": "Destinatário ausente", "occurred_at": T1});
    refused(
        &api,
        &o,
        "shipment-exception",
        exception.clone(),
        E::NotShipped,
    )
    .await;
    for observation in ["", "   ", &"x".repeat(501)] {
        let bad = json!({"observation": observation, "occurred_at": T1});
        refused(&api, &o, "shipment-exception", bad, E::ValidationFailed).await;
    }
    let delivered = api.order(&c, OrderStatus::Delivered).await;
    let e = exception.clone();
    refused(
        &api,
        &delivered,
        "shipment-exception",
        e,
        E::InvalidTransition,
    )
    .await;
    // Shipped: recorded, the order stays shipped, and a delivery may follow.
    api.act(&o, "shipment", json!({"shipped_at": T1})).await;
    let done = api.act(&o, "shipment-exception", exception).await;
    assert_eq!(done["order"]["status"], "shipped", "{done}");
    let done = api.act(&o, "delivery", json!({"delivered_at": T2})).await;
    assert_eq!(done["order"]["status"], "delivered", "{done}");
}

#[tokio::test]
async fn cancelling_a_shipped_order_is_already_shipped() {
    let api = Api::new().await;
    let c = api.channel().await;
    let shipped_here = api.order(&c, OrderStatus::Approved).await;
    api.act(&shipped_here, "shipment", json!({"shipped_at": T1}))
        .await;
    let shipped_there = api.order(&c, OrderStatus::Shipped).await;
    let delivered_there = api.order(&c, OrderStatus::Delivered).await;
    for o in [shipped_here, shipped_there, delivered_there] {
        let cancel = json!({"reason": "customer"});
        refused(&api, &o, "cancel", cancel, E::AlreadyShipped).await;
    }
}

#[tokio::test]
async fn a_field_the_action_does_not_accept_is_validation_failed() {
    let api = Api::new().await;
    let c = api.channel().await;
    let o = api.order(&c, OrderStatus::Approved).await;
    api.act(&o, "invoice", invoice()).await;
    for code in ["", "   "] {
        let collection = json!({"code": code, "created_at": T1});
        refused(
            &api,
            &o,
            "collection-order",
            collection,
            E::ValidationFailed,
        )
        .await;
    }
    for url in [
        "ftp://carrier.example/track",
        "rastreio",
        "https://",
        "https://a b.example",
    ] {
        let shipment = json!({"tracking_url": url, "shipped_at": T1});
        refused(&api, &o, "shipment", shipment, E::ValidationFailed).await;
    }
}
