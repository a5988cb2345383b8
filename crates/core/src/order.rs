//! An order as ponte keeps it, independent of the platform it came from.

use crate::document::TaxDocument;
use crate::status::OrderStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Everything ponte keeps of a platform order, mapped from the platform's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderData {
    /// The platform's id of the order (the integration key).
    pub external_id: String,
    /// The number shown to the customer.
    pub number: Option<String>,
    /// ponte's status, from the channel's status table.
    pub status: OrderStatus,
    /// Payment as the platform reports it.
    pub payment: Payment,
    /// Order lines.
    pub items: Vec<OrderItem>,
    /// The buyer.
    pub customer: Customer,
    /// Billing address, when given.
    pub billing_address: Option<Address>,
    /// Delivery address, when given.
    pub shipping_address: Option<Address>,
    /// Chosen shipping option.
    pub shipping: Shipping,
    /// Amounts, in centavos.
    pub totals: Totals,
    /// ISO 4217 currency.
    pub currency: Option<String>,
    /// When the order was placed at the platform.
    pub placed_at: Option<DateTime<Utc>>,
    /// The platform's last change of the order.
    pub platform_updated_at: Option<DateTime<Utc>>,
    /// When payment was confirmed.
    pub paid_at: Option<DateTime<Utc>>,
    /// When the platform cancelled it.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The platform's own status fields, kept for display and DE-PARA.
    pub platform_status: PlatformStatus,
    /// What the platform says to watch for (empty for most orders; the API lists them
    /// with the order's other `flags`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platform_flags: Vec<OrderFlag>,
}

/// Something the platform says about an order that the ERP must heed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderFlag {
    /// The platform suspects fraud (Mercado Livre `fraud_risk_detected`): do not ship;
    /// shipping statuses are refused.
    FraudRisk,
}

impl OrderFlag {
    /// The flag's name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FraudRisk => "fraud_risk",
        }
    }
}

/// The platform's own status fields, verbatim.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlatformStatus {
    /// Order status (e.g. Nuvemshop `open|closed|cancelled`).
    pub status: Option<String>,
    /// Payment status (e.g. `pending|authorized|paid`).
    pub payment_status: Option<String>,
    /// Shipping status (e.g. `unpacked|fulfilled`).
    pub shipping_status: Option<String>,
}

/// Payment information.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    /// Platform payment status.
    pub status: Option<String>,
    /// Payment method (pix, boleto, credit_card, ...).
    pub method: Option<String>,
    /// Gateway or payment system name.
    pub gateway: Option<String>,
    /// Card installments.
    pub installments: Option<u32>,
    /// The ERP's payment type, from the channel's payment table (absent: no row maps
    /// this method).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erp: Option<crate::payment_map::ErpPayment>,
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderItem {
    /// The SKU, when the platform sends one.
    pub sku: Option<String>,
    /// Product name.
    pub name: Option<String>,
    /// Units.
    pub quantity: i64,
    /// Unit price in centavos.
    pub unit_price_cents: Option<i64>,
    /// Platform product id.
    pub product_id: Option<String>,
    /// Platform variant id.
    pub variant_id: Option<String>,
    /// GTIN / EAN, when given.
    pub barcode: Option<String>,
}

/// The buyer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Customer {
    /// Full name.
    pub name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// CPF or CNPJ, validated; an invalid one is kept and flagged.
    pub document: Option<TaxDocument>,
    /// A company buyer: the platform says so, or the document is a CNPJ.
    #[serde(default)]
    pub is_company: bool,
    /// The company's corporate name (razão social), where the platform gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corporate_name: Option<String>,
    /// State registration (inscrição estadual, IE), where the platform gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_registration: Option<String>,
    /// Fields the channel's default customer field rules set, each with its rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_fields: Vec<ExtraField>,
}

/// A customer field set by a default customer field rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExtraField {
    /// The ERP's field name.
    pub field: String,
    /// Text, number or true/false.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// The rule that set it (from 1).
    pub rule: usize,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    /// Recipient name.
    pub name: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// House number.
    pub number: Option<String>,
    /// Complement (floor, apartment).
    pub complement: Option<String>,
    /// Neighbourhood (bairro).
    pub district: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State (UF) or province.
    pub state: Option<String>,
    /// CEP / zip code.
    pub zipcode: Option<String>,
    /// Country code.
    pub country: Option<String>,
    /// Phone at the address.
    pub phone: Option<String>,
}

/// Shipping choice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shipping {
    /// Option name shown to the buyer.
    pub option: Option<String>,
    /// Option code.
    pub code: Option<String>,
    /// Carrier.
    pub carrier: Option<String>,
    /// What the buyer paid for shipping, in centavos.
    pub cost_cents: Option<i64>,
}

/// Amounts in centavos.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Totals {
    /// Sum of lines.
    pub subtotal_cents: Option<i64>,
    /// Discounts.
    pub discount_cents: Option<i64>,
    /// Shipping charged.
    pub shipping_cents: Option<i64>,
    /// Grand total.
    pub total_cents: Option<i64>,
}

/// What a connector makes of a platform order.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedOrder {
    /// The order.
    pub data: OrderData,
    /// The platform already closed or fulfilled it: not to be imported when new.
    pub closed_at_platform: bool,
    /// The platform's payload, verbatim.
    pub raw: serde_json::Value,
}
