//! The ERP's actions from the order page, recorded as the API records them (the same
//! engine call): invoice (NF-e fields, read from its XML when one is uploaded),
//! shipment with tracking, delivery, cancellation. A refusal shows the code's message
//! next to the field concerned, with 422, and changes nothing.

use crate::form::{Fields, Form, Upload};
use crate::format::{local_input, money_input, parse_date_time, parse_money};
use crate::i18n::Catalogue;
use crate::pages::orders::{order_page, unavailable};
use crate::refusal::Refusal;
use crate::session::Session;
use crate::Console;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use ponte_core::action::{
    is_http_url, Action, CancelReason, Cancellation, Delivery, InvoiceError, InvoiceInput,
    Shipment, ShipmentException,
};
use ponte_core::nfe::NfeSummary;
use ponte_core::{ErrorCode, OrderId};
use ponte_engine::{ActionReport, EngineError, SendPlan};

/// The largest invoice form accepted, its NF-e XML included (an authorized NF-e's XML
/// is tens of kilobytes).
const MAX_INVOICE_BODY: usize = 2 * 1024 * 1024;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route(
            "/orders/{id}/invoice",
            post(invoice).layer(DefaultBodyLimit::max(MAX_INVOICE_BODY)),
        )
        .route("/orders/{id}/shipment", post(shipment))
        .route("/orders/{id}/shipment-exception", post(shipment_exception))
        .route("/orders/{id}/delivery", post(delivery))
        .route("/orders/{id}/cancel", post(cancel))
}

/// The reasons the cancellation form offers, in its order.
pub(crate) const CANCEL_REASONS: [CancelReason; 5] = [
    CancelReason::Customer,
    CancelReason::Inventory,
    CancelReason::Fraud,
    CancelReason::PaymentExpired,
    CancelReason::Other,
];

/// One of the order page's action forms.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Invoice,
    Shipment,
    ShipmentException,
    Delivery,
    Cancel,
}

/// The order page's action forms and what the last action did.
#[derive(Debug, Default)]
pub(crate) struct ActionForms {
    /// NF-e.
    pub invoice: Form,
    /// Shipment with tracking.
    pub shipment: Form,
    /// Shipping exception.
    pub exception: Form,
    /// Delivery.
    pub delivery: Form,
    /// Cancellation.
    pub cancel: Form,
    /// The action just recorded.
    pub done: Option<Done>,
}

impl ActionForms {
    /// Blank forms whose dates say now.
    pub(crate) fn new(now: DateTime<Utc>, tz: chrono_tz::Tz) -> Self {
        let mut f = ActionForms::default();
        let now = local_input(now, tz);
        f.shipment.set("shipped_at", now.clone());
        f.exception.set("occurred_at", now.clone());
        f.delivery.set("delivered_at", now);
        f
    }

    fn slot(&mut self, slot: Slot) -> &mut Form {
        match slot {
            Slot::Invoice => &mut self.invoice,
            Slot::Shipment => &mut self.shipment,
            Slot::ShipmentException => &mut self.exception,
            Slot::Delivery => &mut self.delivery,
            Slot::Cancel => &mut self.cancel,
        }
    }
}

/// What an accepted action did, as catalogue keys.
#[derive(Debug)]
pub(crate) struct Done {
    /// The action kind (`invoice`, ...).
    pub kind: &'static str,
    /// Whether and how the platform will be told.
    pub outcome: &'static str,
    /// Why it will not be (a code's key).
    pub reason: Option<String>,
}

impl Done {
    fn of(r: &ActionReport, kind: &'static str) -> Done {
        let (outcome, reason) = match &r.send {
            SendPlan::Queued(_) => ("actions.queued", None),
            SendPlan::NotSent(why) => ("actions.not_sent", Some(why.code())),
            SendPlan::AlreadyRecorded if !r.changed => ("actions.already", None),
            SendPlan::AlreadyRecorded => ("actions.recorded", None),
        };
        Done {
            kind,
            outcome,
            reason: reason.map(|c| format!("code.{}", c.as_str())),
        }
    }
}

/// The submitted form kept to show again: these fields' values.
fn keep(f: &Fields, names: &[&'static str]) -> Form {
    let mut form = Form::default();
    for name in names {
        if let Some(v) = f.get(name) {
            form.set(name, v);
        }
    }
    form
}

/// A value the console cannot take, with the catalogue's message (`actions.*`) on why.
fn invalid(t: &Catalogue, key: &str) -> Refusal {
    Refusal::console(ErrorCode::ValidationFailed, t.s(key))
}

/// A required field's value, refused when blank.
fn required(form: &mut Form, field: &'static str, t: &Catalogue) -> String {
    let v = form.value(field).to_owned();
    if v.is_empty() {
        form.refuse(field, invalid(t, "actions.required"));
    }
    v
}

/// A date and time field (tenant's zone), refused when blank or not a date.
fn when(
    form: &mut Form,
    field: &'static str,
    tz: chrono_tz::Tz,
    t: &Catalogue,
) -> Option<DateTime<Utc>> {
    let at = parse_date_time(form.value(field), tz);
    if at.is_none() && !required(form, field, t).is_empty() {
        form.refuse(field, invalid(t, "actions.invalid_date"));
    }
    at
}

/// An invoice refusal as the engine words it (the API answers the same error), or the
/// error when it is not a refusal.
fn invoice_refusal(e: InvoiceError) -> Result<Refusal, EngineError> {
    let e = EngineError::Invoice(e);
    Refusal::of(&e).ok_or(e)
}

/// Which field of the invoice form an invoice refusal is about.
fn invoice_field(e: &InvoiceError) -> &'static str {
    match e {
        InvoiceError::Key(_) => "access_key",
        InvoiceError::Xml(_) | InvoiceError::NotAuthorized => "xml",
        InvoiceError::Mismatch("access key") => "access_key",
        InvoiceError::Mismatch("number") => "number",
        InvoiceError::Mismatch("series") => "series",
        InvoiceError::Mismatch("total") => "total",
        InvoiceError::Mismatch(_) => "xml",
        // Its message starts with the field's name.
        InvoiceError::Invalid(msg) => match msg.split_whitespace().next() {
            Some("number") => "number",
            Some("series") => "series",
            Some("total_cents") => "total",
            _ => "form",
        },
    }
}

/// The order id of the path; `None` answers 404.
fn order_id(id: &str) -> Option<OrderId> {
    id.parse().ok()
}

/// The invoice form (multipart: it may carry the NF-e XML).
async fn invoice(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Multipart,
) -> Response {
    let upload = match Fields::checked_multipart(&s, body).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Some(id) = order_id(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let tz = state.time_zone;
    let t = state.catalogues.get(s.lang);
    let f = match upload {
        Upload::Read(f) => f,
        Upload::TooLarge => {
            let mut form = Form::default();
            let why = Refusal::console(ErrorCode::PayloadTooLarge, t.s("actions.xml_too_large"));
            form.refuse("xml", why);
            return refused(&state, &s, id, Slot::Invoice, form).await;
        }
    };
    let mut form = keep(
        &f,
        &["number", "series", "access_key", "issued_at", "total"],
    );
    let xml = if f.binary("xml") {
        let why = Refusal::console(ErrorCode::InvalidNfeXml, t.s("actions.xml_not_text"));
        form.refuse("xml", why);
        None
    } else {
        f.get("xml").map(str::to_owned)
    };
    // Fields left blank are read from the XML.
    if let Some(x) = &xml {
        match NfeSummary::from_xml(x) {
            Ok(n) => {
                let mut fill = |field: &'static str, v: String| {
                    if form.value(field).is_empty() {
                        form.set(field, v);
                    }
                };
                fill("number", n.number);
                fill("series", n.series);
                fill("access_key", n.key.as_str().to_owned());
                fill("total", money_input(n.total_cents));
                if let Some(at) = n.issued_at {
                    fill("issued_at", local_input(at, tz));
                }
            }
            Err(e) => match invoice_refusal(InvoiceError::from(e)) {
                Ok(why) => form.refuse("xml", why),
                Err(e) => return unavailable(&e.to_string()),
            },
        }
    }
    let number = required(&mut form, "number", t);
    let series = required(&mut form, "series", t);
    let access_key = required(&mut form, "access_key", t);
    let issued_at = when(&mut form, "issued_at", tz, t);
    let total = parse_money(form.value("total"));
    if total.is_none() && !required(&mut form, "total", t).is_empty() {
        form.refuse("total", invalid(t, "actions.invalid_amount"));
    }
    let (Some(issued_at), Some(total_cents), false) = (issued_at, total, form.refused()) else {
        return refused(&state, &s, id, Slot::Invoice, form).await;
    };
    let input = InvoiceInput {
        number,
        series,
        access_key,
        issued_at,
        total_cents,
        xml,
        xml_url: None,
    };
    match input.validate() {
        Ok((invoice, xml)) => {
            let action = Action::Invoice(invoice);
            record(&state, &s, id, Slot::Invoice, form, action, xml).await
        }
        Err(e) => {
            let field = invoice_field(&e);
            match invoice_refusal(e) {
                Ok(why) => form.refuse(field, why),
                Err(e) => return unavailable(&e.to_string()),
            }
            refused(&state, &s, id, Slot::Invoice, form).await
        }
    }
}

async fn shipment(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Some(id) = order_id(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut form = keep(
        &f,
        &["tracking_code", "tracking_url", "carrier", "shipped_at"],
    );
    let t = state.catalogues.get(s.lang);
    let tracking_url = f.get("tracking_url").map(str::to_owned);
    if tracking_url.as_deref().is_some_and(|u| !is_http_url(u)) {
        let why = Refusal::console(ErrorCode::InvalidTrackingUrl, t.s("actions.http_url"));
        form.refuse("tracking_url", why);
    }
    let shipped_at = when(&mut form, "shipped_at", state.time_zone, t);
    let (Some(shipped_at), false) = (shipped_at, form.refused()) else {
        return refused(&state, &s, id, Slot::Shipment, form).await;
    };
    let action = Action::Shipment(Shipment {
        tracking_code: f.get("tracking_code").map(str::to_owned),
        tracking_url,
        carrier: f.get("carrier").map(str::to_owned),
        shipped_at,
    });
    record(&state, &s, id, Slot::Shipment, form, action, None).await
}

async fn shipment_exception(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Some(id) = order_id(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut form = keep(&f, &["observation", "occurred_at"]);
    let t = state.catalogues.get(s.lang);
    let observation = f.get("observation").unwrap_or_default().trim().to_owned();
    if observation.is_empty() {
        form.refuse("observation", invalid(t, "actions.required"));
    }
    let occurred_at = when(&mut form, "occurred_at", state.time_zone, t);
    let (Some(occurred_at), false) = (occurred_at, form.refused()) else {
        return refused(&state, &s, id, Slot::ShipmentException, form).await;
    };
    let action = Action::ShipmentException(ShipmentException {
        observation,
        occurred_at,
    });
    let slot = Slot::ShipmentException;
    record(&state, &s, id, slot, form, action, None).await
}

async fn delivery(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Some(id) = order_id(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut form = keep(&f, &["delivered_at"]);
    let t = state.catalogues.get(s.lang);
    let Some(delivered_at) = when(&mut form, "delivered_at", state.time_zone, t) else {
        return refused(&state, &s, id, Slot::Delivery, form).await;
    };
    let action = Action::Delivery(Delivery { delivered_at });
    record(&state, &s, id, Slot::Delivery, form, action, None).await
}

async fn cancel(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Some(id) = order_id(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut form = keep(&f, &["reason", "note"]);
    let reason = f
        .get("reason")
        .and_then(|r| CANCEL_REASONS.into_iter().find(|c| c.as_str() == r));
    let Some(reason) = reason else {
        let t = state.catalogues.get(s.lang);
        form.refuse("reason", invalid(t, "actions.choose_reason"));
        return refused(&state, &s, id, Slot::Cancel, form).await;
    };
    let action = Action::Cancel(Cancellation {
        reason,
        note: f.get("note").map(str::to_owned),
    });
    record(&state, &s, id, Slot::Cancel, form, action, None).await
}

/// Records the action; the order page then says what it did, or shows the refusal
/// at the form.
async fn record(
    state: &Console,
    s: &Session,
    id: OrderId,
    slot: Slot,
    mut form: Form,
    action: Action,
    xml: Option<String>,
) -> Response {
    let kind = action.kind().as_str();
    match state.engine.order_action(s.tenant, id, action, xml).await {
        Ok(r) => {
            let mut forms = ActionForms::new(Utc::now(), state.time_zone);
            forms.done = Some(Done::of(&r, kind));
            order_page(state, s, id, forms, StatusCode::OK).await
        }
        Err(EngineError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => match Refusal::of(&e) {
            Some(why) => {
                form.refuse("form", why);
                refused(state, s, id, slot, form).await
            }
            None => unavailable(&e.to_string()),
        },
    }
}

/// The order page again with the refused form (422).
async fn refused(state: &Console, s: &Session, id: OrderId, slot: Slot, form: Form) -> Response {
    let mut forms = ActionForms::new(Utc::now(), state.time_zone);
    *forms.slot(slot) = form;
    order_page(state, s, id, forms, StatusCode::UNPROCESSABLE_ENTITY).await
}
