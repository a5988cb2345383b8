//! ERP actions on an order (separation, invoice, collection order, shipment, shipping
//! exception, delivery, cancellation): what each records, which are allowed, and what
//! repeating one means.
//!
//! Rules (documented in the API too):
//! - The same action with the same content again is one event ([`Decision::AlreadyDone`]);
//!   the same action with different content is refused (`action_conflict`).
//! - Nothing but a repeat is accepted on a cancelled order (`order_cancelled`).
//! - Separation, invoice, collection order, shipment and delivery need a paid order
//!   (`order_not_paid`).
//! - Separation is refused once the order is past it (`invalid_transition`).
//! - An invoice is accepted at any paid stage: an NF-e issued after the platform already
//!   marked the order shipped is still recorded and sent; the status never moves back.
//! - A collection order needs the invoice (`not_invoiced`) and comes before shipment.
//! - Delivery needs a shipped order (`not_shipped`).
//! - A shipping exception (the carrier could not deliver: wrong address, nobody home,
//!   damaged...) needs a shipped order (`not_shipped`) not yet delivered
//!   (`invalid_transition`); the order stays `shipped`. One per order, like every
//!   action: a second with other content is `action_conflict`.
//! - Cancellation is allowed up to and including `invoiced` (the ERP cancels the NF-e at
//!   SEFAZ itself, within its legal window); once shipped it is refused (`already_shipped`):
//!   that is a return, not a cancellation.

use crate::nfe::{NfeKey, NfeSummary};
use crate::{ErrorCode, OrderStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The kinds of ERP action, which are also the kinds of status send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Picking (or production) started.
    Separation,
    /// NF-e authorized.
    Invoice,
    /// Carrier pickup order created.
    CollectionOrder,
    /// Handed to the carrier, with tracking.
    Shipment,
    /// The carrier met a problem delivering it.
    ShipmentException,
    /// Received by the customer.
    Delivery,
    /// Cancelled in the ERP.
    Cancel,
}

impl ActionKind {
    /// Every kind, in lifecycle order.
    pub const ALL: [ActionKind; 7] = [
        Self::Separation,
        Self::Invoice,
        Self::CollectionOrder,
        Self::Shipment,
        Self::ShipmentException,
        Self::Delivery,
        Self::Cancel,
    ];

    /// API and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Separation => "separation",
            Self::Invoice => "invoice",
            Self::CollectionOrder => "collection_order",
            Self::Shipment => "shipment",
            Self::ShipmentException => "shipment_exception",
            Self::Delivery => "delivery",
            Self::Cancel => "cancel",
        }
    }

    /// Parses an API and storage name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Separation or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum SeparationKind {
    /// Picking from stock ("em separação").
    #[default]
    Separation,
    /// Made to order ("em produção").
    Production,
}

/// Picking started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Separation {
    /// Separation or production.
    pub kind: SeparationKind,
}

/// An authorized NF-e. The XML itself is stored apart; `has_xml` says whether it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invoice {
    /// NF-e number.
    pub number: String,
    /// NF-e series.
    pub series: String,
    /// The 44-digit access key (check digit verified).
    pub access_key: NfeKey,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// Invoice total in centavos.
    pub total_cents: i64,
    /// Where the XML or DANFE can be downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xml_url: Option<String>,
    /// Whether the authorized XML was given (and stored).
    #[serde(default)]
    pub has_xml: bool,
}

/// A carrier pickup order (ordem de coleta); the order stays `invoiced`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CollectionOrder {
    /// The carrier's pickup-order code.
    pub code: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Handed to the carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shipment {
    /// Tracking code. Some platforms require it (the send then fails without a call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_code: Option<String>,
    /// Tracking page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_url: Option<String>,
    /// Carrier name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// When it left.
    pub shipped_at: DateTime<Utc>,
}

/// The carrier could not deliver (yet): what happened and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShipmentException {
    /// What happened, in the ERP's words (1 to 500 characters).
    pub observation: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// Received by the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Delivery {
    /// When.
    pub delivered_at: DateTime<Utc>,
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The customer gave up.
    Customer,
    /// Out of stock.
    Inventory,
    /// Suspected fraud.
    Fraud,
    /// Not paid in time (automatic cancellation).
    PaymentExpired,
    /// Anything else (say why in `note`).
    Other,
}

impl CancelReason {
    /// API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Inventory => "inventory",
            Self::Fraud => "fraud",
            Self::PaymentExpired => "payment_expired",
            Self::Other => "other",
        }
    }
}

/// Cancelled in the ERP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cancellation {
    /// Why.
    pub reason: CancelReason,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One ERP action with its content. Also the snapshot a status send carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// See [`Separation`].
    Separation(Separation),
    /// See [`Invoice`].
    Invoice(Invoice),
    /// See [`CollectionOrder`].
    CollectionOrder(CollectionOrder),
    /// See [`Shipment`].
    Shipment(Shipment),
    /// See [`ShipmentException`].
    ShipmentException(ShipmentException),
    /// See [`Delivery`].
    Delivery(Delivery),
    /// See [`Cancellation`].
    Cancel(Cancellation),
}

impl Action {
    /// Its kind.
    pub fn kind(&self) -> ActionKind {
        match self {
            Self::Separation(_) => ActionKind::Separation,
            Self::Invoice(_) => ActionKind::Invoice,
            Self::CollectionOrder(_) => ActionKind::CollectionOrder,
            Self::Shipment(_) => ActionKind::Shipment,
            Self::ShipmentException(_) => ActionKind::ShipmentException,
            Self::Delivery(_) => ActionKind::Delivery,
            Self::Cancel(_) => ActionKind::Cancel,
        }
    }
}

/// What the ERP has told ponte about an order: one slot per action kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Fulfilment {
    /// Picking started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separation: Option<Separation>,
    /// The NF-e.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<Invoice>,
    /// The pickup order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_order: Option<CollectionOrder>,
    /// The shipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment: Option<Shipment>,
    /// The shipping exception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_exception: Option<ShipmentException>,
    /// The delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// The cancellation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
}

impl Fulfilment {
    /// Whether the slot of `action`'s kind holds exactly `action`; `None` when empty.
    fn same_as_recorded(&self, action: &Action) -> Option<bool> {
        match action {
            Action::Separation(a) => self.separation.as_ref().map(|r| r == a),
            Action::Invoice(a) => self.invoice.as_ref().map(|r| r == a),
            Action::CollectionOrder(a) => self.collection_order.as_ref().map(|r| r == a),
            Action::Shipment(a) => self.shipment.as_ref().map(|r| r == a),
            Action::ShipmentException(a) => self.shipment_exception.as_ref().map(|r| r == a),
            Action::Delivery(a) => self.delivery.as_ref().map(|r| r == a),
            Action::Cancel(a) => self.cancellation.as_ref().map(|r| r == a),
        }
    }

    /// Records an applied action in its slot.
    pub fn record(&mut self, action: Action) {
        match action {
            Action::Separation(a) => self.separation = Some(a),
            Action::Invoice(a) => self.invoice = Some(a),
            Action::CollectionOrder(a) => self.collection_order = Some(a),
            Action::Shipment(a) => self.shipment = Some(a),
            Action::ShipmentException(a) => self.shipment_exception = Some(a),
            Action::Delivery(a) => self.delivery = Some(a),
            Action::Cancel(a) => self.cancellation = Some(a),
        }
    }
}

/// What to do with an accepted action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Record it; the order's status becomes `status` (maybe unchanged).
    Apply {
        /// The status after the action.
        status: OrderStatus,
    },
    /// Already recorded with this exact content: nothing to do.
    AlreadyDone,
}

/// Why an action was refused. Each has a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The order is cancelled.
    #[error("the order is cancelled")]
    OrderCancelled,
    /// Payment is not confirmed.
    #[error("the order is not paid")]
    NotPaid,
    /// The same action was recorded with other content.
    #[error("a different {0:?} was already recorded for this order")]
    Conflict(ActionKind),
    /// The order is already past this step.
    #[error("the order is {0}; it cannot go back to this step")]
    InvalidTransition(OrderStatus),
    /// A collection order needs the invoice first.
    #[error("the order has no invoice yet")]
    NotInvoiced,
    /// Delivery needs a shipment first.
    #[error("the order has not been shipped")]
    NotShipped,
    /// A shipped order cannot be cancelled (it is a return).
    #[error("the order was shipped; a return is not a cancellation")]
    AlreadyShipped,
}

impl ActionError {
    /// Stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::OrderCancelled => ErrorCode::OrderCancelled,
            Self::NotPaid => ErrorCode::OrderNotPaid,
            Self::Conflict(_) => ErrorCode::ActionConflict,
            Self::InvalidTransition(_) => ErrorCode::InvalidTransition,
            Self::NotInvoiced => ErrorCode::NotInvoiced,
            Self::NotShipped => ErrorCode::NotShipped,
            Self::AlreadyShipped => ErrorCode::AlreadyShipped,
        }
    }
}

/// Decides an action against the order's status and what was recorded before
/// (rules in the module documentation).
pub fn decide(
    status: OrderStatus,
    facts: &Fulfilment,
    action: &Action,
) -> Result<Decision, ActionError> {
    match facts.same_as_recorded(action) {
        Some(true) => return Ok(Decision::AlreadyDone),
        Some(false) => return Err(ActionError::Conflict(action.kind())),
        None => {}
    }
    if status == OrderStatus::Cancelled {
        return Err(ActionError::OrderCancelled);
    }
    if let Action::Cancel(_) = action {
        return if status >= OrderStatus::Shipped {
            Err(ActionError::AlreadyShipped)
        } else {
            Ok(Decision::Apply {
                status: OrderStatus::Cancelled,
            })
        };
    }
    if !status.is_paid() {
        return Err(ActionError::NotPaid);
    }
    let status = match action {
        Action::Separation(_) if status > OrderStatus::InSeparation => {
            return Err(ActionError::InvalidTransition(status))
        }
        Action::Separation(_) => OrderStatus::InSeparation,
        Action::Invoice(_) => status.advance(OrderStatus::Invoiced),
        Action::CollectionOrder(_) if facts.invoice.is_none() => {
            return Err(ActionError::NotInvoiced)
        }
        Action::CollectionOrder(_) if status >= OrderStatus::Shipped => {
            return Err(ActionError::InvalidTransition(status))
        }
        Action::CollectionOrder(_) => status,
        Action::Shipment(_) => status.advance(OrderStatus::Shipped),
        Action::ShipmentException(_) | Action::Delivery(_) if status < OrderStatus::Shipped => {
            return Err(ActionError::NotShipped)
        }
        Action::ShipmentException(_) if status > OrderStatus::Shipped => {
            return Err(ActionError::InvalidTransition(status))
        }
        Action::ShipmentException(_) => status,
        Action::Delivery(_) => OrderStatus::Delivered,
        Action::Cancel(_) => OrderStatus::Cancelled,
    };
    Ok(Decision::Apply { status })
}

/// An invoice as the ERP posts it, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceInput {
    /// NF-e number.
    pub number: String,
    /// NF-e series.
    pub series: String,
    /// 44-digit access key.
    pub access_key: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// Total in centavos.
    pub total_cents: i64,
    /// The authorized NF-e XML (`nfeProc`); when given, its figures must match.
    #[serde(default)]
    pub xml: Option<String>,
    /// Where the XML or DANFE can be downloaded (http or https).
    #[serde(default)]
    pub xml_url: Option<String>,
}

/// Why an invoice was refused. Each has a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    /// Bad access key.
    #[error("access_key: {0}")]
    Key(#[from] crate::nfe::NfeKeyError),
    /// Bad XML.
    #[error("xml: {0}")]
    Xml(#[from] crate::nfe::NfeXmlError),
    /// The XML has no authorization protocol (cStat 100).
    #[error("xml: the NF-e is not authorized (no protNFe with cStat 100)")]
    NotAuthorized,
    /// The XML says something else than the fields.
    #[error("xml: its {0} differs from the one given")]
    Mismatch(&'static str),
    /// Another field is wrong.
    #[error("{0}")]
    Invalid(&'static str),
}

impl InvoiceError {
    /// Stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Key(_) => ErrorCode::InvalidNfeKey,
            Self::Xml(_) => ErrorCode::InvalidNfeXml,
            Self::NotAuthorized => ErrorCode::NfeNotAuthorized,
            Self::Mismatch(_) => ErrorCode::NfeXmlMismatch,
            Self::Invalid(_) => ErrorCode::InvalidInvoice,
        }
    }
}

/// Leading zeros do not make another NF-e number ("000123" is 123).
fn same_number(a: &str, b: &str) -> bool {
    a.trim().trim_start_matches('0') == b.trim().trim_start_matches('0')
}

/// Whether `s` is an absolute http(s) URL without spaces.
pub fn is_http_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > 8
        && !s.chars().any(char::is_whitespace)
}

impl InvoiceInput {
    /// Validates the invoice (key check digit, XML figures) and returns it with the XML.
    pub fn validate(self) -> Result<(Invoice, Option<String>), InvoiceError> {
        let key = NfeKey::parse(&self.access_key)?;
        let number = self.number.trim().to_owned();
        let series = self.series.trim().to_owned();
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvoiceError::Invalid("number must be digits"));
        }
        if series.is_empty() || !series.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvoiceError::Invalid("series must be digits"));
        }
        if self.total_cents < 0 {
            return Err(InvoiceError::Invalid("total_cents must not be negative"));
        }
        if let Some(url) = &self.xml_url {
            if !is_http_url(url) {
                return Err(InvoiceError::Invalid("xml_url must be an http(s) URL"));
            }
        }
        if let Some(xml) = &self.xml {
            let nfe = NfeSummary::from_xml(xml)?;
            if !nfe.authorized {
                return Err(InvoiceError::NotAuthorized);
            }
            if nfe.key != key {
                return Err(InvoiceError::Mismatch("access key"));
            }
            if !same_number(&nfe.number, &number) {
                return Err(InvoiceError::Mismatch("number"));
            }
            if !same_number(&nfe.series, &series) {
                return Err(InvoiceError::Mismatch("series"));
            }
            if nfe.total_cents != self.total_cents {
                return Err(InvoiceError::Mismatch("total"));
            }
        }
        let invoice = Invoice {
            number,
            series,
            access_key: key,
            issued_at: self.issued_at,
            total_cents: self.total_cents,
            xml_url: self.xml_url,
            has_xml: self.xml.is_some(),
        };
        Ok((invoice, self.xml))
    }
}

#[cfg(test)]
mod tests;
