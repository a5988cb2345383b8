//! Generated data: the product catalogue and realistic Brazilian orders.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{json, Map, Value};

use super::brdata::{self, pick};
use super::catalogue::{Product, Variant};
use super::fmt::{money, ts};
use super::status::{CancelReason, OrderStatus, PaymentStatus, ShippingStatus};

/// How the customer paid (`payment_details.method`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentMethod {
    /// Pix (instant transfer).
    Pix,
    /// Boleto bancário.
    Boleto,
    /// Credit card with brand (`visa`, `mastercard`, `elo`, `amex`, `hipercard`)
    /// and number of installments.
    CreditCard {
        /// `credit_card_company`.
        company: String,
        /// `installments`.
        installments: u32,
    },
}

impl PaymentMethod {
    fn method(&self) -> &'static str {
        match self {
            Self::Pix => "pix",
            Self::Boleto => "boleto",
            Self::CreditCard { .. } => "credit_card",
        }
    }

    /// Assumption: `gateway` is the payment provider (as in the docs' gateway
    /// table), and the method lives in `payment_details.method`.
    fn gateway(&self) -> (&'static str, &'static str) {
        match self {
            Self::Pix => ("nuvempago", "Nuvem Pago"),
            Self::Boleto => ("pagseguro", "PagSeguro"),
            Self::CreditCard { .. } => ("mercadopago", "Mercado Pago"),
        }
    }
}

/// Correios service chosen at checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShippingOption {
    /// Correios PAC (economy).
    CorreiosPac,
    /// Correios SEDEX (express).
    CorreiosSedex,
}

impl ShippingOption {
    fn name(self) -> &'static str {
        match self {
            Self::CorreiosPac => "Correios PAC",
            Self::CorreiosSedex => "Correios SEDEX",
        }
    }
    fn code(self) -> &'static str {
        match self {
            Self::CorreiosPac => "correios-pac",
            Self::CorreiosSedex => "correios-sedex",
        }
    }
    fn days(self) -> (u32, u32) {
        match self {
            Self::CorreiosPac => (5, 10),
            Self::CorreiosSedex => (1, 3),
        }
    }
}

/// The buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    /// Full name (or company name).
    pub name: String,
    /// E-mail.
    pub email: String,
    /// CPF (11 digits) or CNPJ (14 digits), digits only; may be invalid on purpose.
    pub identification: String,
    /// Phone, e.g. `+5511987654321`.
    pub phone: String,
}

/// Shipping (and billing) address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAddress {
    /// Street.
    pub street: String,
    /// House number.
    pub number: String,
    /// Complement (`floor` in Nuvemshop).
    pub floor: Option<String>,
    /// Neighbourhood (`locality`).
    pub locality: String,
    /// City.
    pub city: String,
    /// State name, e.g. `São Paulo` (`province`).
    pub province: String,
    /// CEP, 8 digits.
    pub zipcode: String,
}

/// One line of a new order. With `variant_id` of a catalogue variant the product,
/// name, SKU and price come from the catalogue (fields given here override
/// them); an unknown `variant_id` (or `None` when the catalogue is empty) creates
/// that product/variant in the catalogue so the order references something that
/// exists. `None` with a non-empty catalogue uses the first catalogue variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    /// Variant bought.
    pub variant_id: Option<u64>,
    /// Product id for a variant that must be created.
    pub product_id: Option<u64>,
    /// Quantity.
    pub quantity: u32,
    /// Unit price in cents.
    pub price_cents: Option<i64>,
    /// Product name at purchase time.
    pub name: Option<String>,
    /// SKU.
    pub sku: Option<String>,
}

impl Default for NewLine {
    fn default() -> Self {
        Self {
            variant_id: None,
            product_id: None,
            quantity: 1,
            price_cents: None,
            name: None,
            sku: None,
        }
    }
}

/// An order to create with [`super::NuvemshopSim::create_order`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Order id; `None` takes the next id (ids increase with creation).
    pub id: Option<u64>,
    /// `status`.
    pub status: OrderStatus,
    /// `payment_status` (`paid` sets `paid_at`).
    pub payment_status: PaymentStatus,
    /// Buyer.
    pub customer: NewCustomer,
    /// Shipping and billing address.
    pub address: NewAddress,
    /// Lines (at least one is used: empty means one default line).
    pub lines: Vec<NewLine>,
    /// Payment method.
    pub payment: PaymentMethod,
    /// Correios service.
    pub shipping: ShippingOption,
    /// `shipping_cost_customer` in cents.
    pub shipping_cost_cents: i64,
    /// `discount` in cents.
    pub discount_cents: i64,
    /// Customer note.
    pub note: Option<String>,
}

impl Default for NewOrder {
    fn default() -> Self {
        Self {
            id: None,
            status: OrderStatus::Open,
            payment_status: PaymentStatus::Pending,
            customer: NewCustomer {
                name: "Maria Silva".into(),
                email: "maria.silva@example.com.br".into(),
                identification: "52998224725".into(),
                phone: "+5511987654321".into(),
            },
            address: NewAddress {
                street: "Avenida Paulista".into(),
                number: "1000".into(),
                floor: Some("Apto 12".into()),
                locality: "Bela Vista".into(),
                city: "São Paulo".into(),
                province: "São Paulo".into(),
                zipcode: "01310100".into(),
            },
            lines: vec![NewLine::default()],
            payment: PaymentMethod::Pix,
            shipping: ShippingOption::CorreiosPac,
            shipping_cost_cents: 2390,
            discount_cents: 0,
            note: None,
        }
    }
}

/// A line after catalogue resolution.
#[derive(Debug, Clone)]
pub struct ResolvedLine {
    pub product_id: u64,
    pub variant_id: u64,
    pub name: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub price_cents: i64,
    pub quantity: u32,
    pub weight: Option<String>,
}

/// Extra state for generated orders beyond `NewOrder`.
#[derive(Debug, Clone, Default)]
pub struct GenExtras {
    pub shipping: Option<ShippingStatus>,
    pub tracking: Option<String>,
    pub cancel_reason: Option<CancelReason>,
}

/// Builds the deterministic catalogue every sim starts with.
pub fn catalogue<R: Rng + ?Sized>(rng: &mut R, now: DateTime<Utc>) -> BTreeMap<u64, Product> {
    let mut out = BTreeMap::new();
    let mut variant_id = 800_000_001u64;
    for (i, (name, stem, base, weight, values)) in brdata::PRODUCTS.iter().enumerate() {
        let product_id = 200_000_001 + i as u64;
        let variants = values
            .iter()
            .enumerate()
            .map(|(j, v)| {
                let id = variant_id;
                variant_id += 1;
                let sku_value: String = brdata::email_local(v)
                    .to_uppercase()
                    .chars()
                    .take(6)
                    .collect();
                Variant {
                    id,
                    product_id,
                    position: j + 1,
                    sku: Some(format!("{stem}-{:03}-{sku_value}", i + 1)),
                    barcode: Some(brdata::random_ean13(rng)),
                    price: Some(*base),
                    promotional_price: None,
                    stock_management: true,
                    stock: Some(rng.gen_range(20..400)),
                    values: vec![json!({ "pt": v })],
                    weight: Some((*weight).to_owned()),
                    extra: Map::new(),
                    created_at: now,
                    updated_at: now,
                }
            })
            .collect();
        out.insert(
            product_id,
            Product {
                id: product_id,
                name: (*name).to_owned(),
                variants,
                info: Default::default(),
            },
        );
    }
    out
}

/// A random, realistic order over the catalogue's variants.
pub fn random_order<R: Rng + ?Sized>(
    rng: &mut R,
    variants: &[(u64, u64)],
    invalid_doc_fraction: f64,
) -> (NewOrder, GenExtras) {
    let (city, province, ddd, cep) = brdata::PLACES[rng.gen_range(0..brdata::PLACES.len())];
    let company = rng.gen_bool(0.15);
    let person = format!(
        "{} {}",
        pick(rng, brdata::FIRST_NAMES),
        pick(rng, brdata::SURNAMES)
    );
    let (name, email, mut doc) = if company {
        let n = format!(
            "{} {} {}",
            pick(rng, brdata::COMPANY_WORDS),
            pick(rng, brdata::SURNAMES),
            pick(rng, brdata::COMPANY_SUFFIX)
        );
        let domain: String = brdata::email_local(&n).replace('.', "");
        (
            n,
            format!("contato@{domain}.com.br"),
            brdata::random_cnpj(rng),
        )
    } else {
        let email = format!(
            "{}{}@{}",
            brdata::email_local(&person),
            rng.gen_range(1..999),
            pick(rng, brdata::EMAIL_DOMAINS)
        );
        (person.clone(), email, brdata::random_cpf(rng))
    };
    if rng.gen_bool(invalid_doc_fraction.clamp(0.0, 1.0)) {
        doc = brdata::corrupt(&doc);
    }
    let phone = format!("+55{ddd}9{:08}", rng.gen_range(0..100_000_000u32));
    let address = NewAddress {
        street: pick(rng, brdata::STREETS).to_owned(),
        number: rng.gen_range(1..3000).to_string(),
        floor: rng
            .gen_bool(0.3)
            .then(|| format!("Apto {}", rng.gen_range(1..300))),
        locality: pick(rng, brdata::LOCALITIES).to_owned(),
        city: city.to_owned(),
        province: province.to_owned(),
        zipcode: format!("{cep}{:06}", rng.gen_range(0..1_000_000u32)),
    };
    let n_lines = rng.gen_range(1..=4usize).min(variants.len().max(1));
    let mut lines: Vec<NewLine> = Vec::with_capacity(n_lines);
    while lines.len() < n_lines && !variants.is_empty() {
        let (_, vid) = variants[rng.gen_range(0..variants.len())];
        if lines.iter().all(|l| l.variant_id != Some(vid)) {
            lines.push(NewLine {
                variant_id: Some(vid),
                quantity: rng.gen_range(1..=3),
                ..NewLine::default()
            });
        }
    }
    let payment = match rng.gen_range(0..10) {
        0..=3 => PaymentMethod::Pix,
        4..=5 => PaymentMethod::Boleto,
        _ => PaymentMethod::CreditCard {
            company: pick(rng, &["visa", "mastercard", "elo", "amex", "hipercard"]).to_owned(),
            installments: *[1u32, 1, 2, 3, 6, 10, 12]
                .get(rng.gen_range(0..7))
                .unwrap_or(&1),
        },
    };
    let shipping = if rng.gen_bool(0.7) {
        ShippingOption::CorreiosPac
    } else {
        ShippingOption::CorreiosSedex
    };
    let shipping_cost_cents = match shipping {
        ShippingOption::CorreiosPac => rng.gen_range(1500..3500),
        ShippingOption::CorreiosSedex => rng.gen_range(2500..6000),
    } / 10
        * 10;
    let discount_cents = if rng.gen_bool(0.15) { 1000 } else { 0 };
    // Mostly open + pending, as a live store looks.
    let roll = rng.gen_range(0..100);
    let payment_status = match roll {
        0..=49 => PaymentStatus::Pending,
        50..=79 => PaymentStatus::Paid,
        80..=87 => PaymentStatus::Authorized,
        88..=91 => PaymentStatus::Abandoned,
        92..=95 => PaymentStatus::Voided,
        _ => PaymentStatus::Refunded,
    };
    let mut extras = GenExtras::default();
    let mut status = OrderStatus::Open;
    match payment_status {
        PaymentStatus::Voided | PaymentStatus::Refunded => {
            status = OrderStatus::Cancelled;
            extras.cancel_reason = Some(match rng.gen_range(0..4) {
                0 => CancelReason::Customer,
                1 => CancelReason::Inventory,
                2 => CancelReason::Fraud,
                _ => CancelReason::Other,
            });
        }
        PaymentStatus::Paid => match rng.gen_range(0..10) {
            0..=4 => {}
            5..=6 => extras.shipping = Some(ShippingStatus::Unshipped),
            7..=8 => extras.shipping = Some(ShippingStatus::Shipped),
            _ => {
                extras.shipping = Some(ShippingStatus::Shipped);
                status = OrderStatus::Closed;
            }
        },
        _ => {}
    }
    if extras.shipping == Some(ShippingStatus::Shipped) {
        extras.tracking = Some(format!(
            "{}{:09}BR",
            pick(rng, &["QB", "OJ", "NX", "AA"]),
            rng.gen_range(0..1_000_000_000u32)
        ));
    }
    let order = NewOrder {
        id: None,
        status,
        payment_status,
        customer: NewCustomer {
            name,
            email,
            identification: doc,
            phone,
        },
        address,
        lines,
        payment,
        shipping,
        shipping_cost_cents,
        discount_cents,
        note: rng
            .gen_bool(0.1)
            .then(|| "Entregar no período da tarde, por favor.".to_owned()),
    };
    (order, extras)
}

/// Identity of the order being built.
pub struct DocIds {
    pub id: u64,
    pub number: u64,
    pub customer_id: u64,
    pub address_id: u64,
    pub token: String,
}

/// USD per BRL used for `price_usd` (assumed fixed rate).
const USD_PER_BRL: f64 = 0.18;

/// Builds the order document with the keys of the documented order example
/// plus the fields listed in the sim's brief (`sku`, `name`, `barcode`,
/// `payment_details`, `identification`, `contact_identification`, `total`,
/// `paid_at`, `cancelled_at`, customer `phone`).
pub fn order_doc(
    ids: &DocIds,
    o: &NewOrder,
    lines: &[ResolvedLine],
    extras: &GenExtras,
    now: DateTime<Utc>,
) -> Map<String, Value> {
    let t = ts(now);
    let subtotal: i64 = lines
        .iter()
        .map(|l| l.price_cents * i64::from(l.quantity))
        .sum();
    let total = subtotal - o.discount_cents + o.shipping_cost_cents;
    let weight_kg: f64 = lines
        .iter()
        .map(|l| {
            l.weight
                .as_deref()
                .and_then(|w| w.parse::<f64>().ok())
                .unwrap_or(0.0)
                * f64::from(l.quantity)
        })
        .sum();
    let (gateway, gateway_name) = o.payment.gateway();
    let (company, installments) = match &o.payment {
        PaymentMethod::CreditCard {
            company,
            installments,
        } => (Value::String(company.clone()), installments.to_string()),
        _ => (Value::Null, "1".to_owned()),
    };
    let (min_days, max_days) = o.shipping.days();
    let shipping_status = extras.shipping.unwrap_or(ShippingStatus::Unpacked);
    let cancelled = o.status == OrderStatus::Cancelled;
    let a = &o.address;
    let c = &o.customer;
    let address = json!({
        "address": a.street, "city": a.city, "country": "BR", "created_at": t,
        "default": true, "floor": a.floor, "id": ids.address_id, "locality": a.locality,
        "number": a.number, "phone": c.phone, "province": a.province,
        "updated_at": t, "zipcode": a.zipcode,
    });
    let mut shipping_address = address.clone();
    if let Value::Object(m) = &mut shipping_address {
        m.insert("name".into(), json!(c.name));
        m.insert(
            "customs".into(),
            json!({"reference": null, "between_streets": null}),
        );
    }
    let products: Vec<Value> = lines
        .iter()
        .map(|l| {
            json!({
                "depth": null, "height": null, "width": null,
                "price": money(l.price_cents), "product_id": l.product_id,
                "quantity": l.quantity, "free_shipping": false, "variant_id": l.variant_id,
                "weight": l.weight, "sku": l.sku, "name": l.name, "barcode": l.barcode,
            })
        })
        .collect();
    let v = json!({
        "id": ids.id,
        "number": ids.number,
        "name": format!("#{}", ids.number),
        "token": ids.token,
        "cancel_reason": extras.cancel_reason.filter(|_| cancelled).map(|r| r.as_str()),
        "cancelled_at": cancelled.then(|| t.clone()),
        "created_at": t,
        "updated_at": t,
        "paid_at": (o.payment_status == PaymentStatus::Paid).then(|| t.clone()),
        "shipped_at": (shipping_status == ShippingStatus::Shipped).then(|| t.clone()),
        "currency": "BRL",
        "language": "pt",
        "gateway": gateway,
        "gateway_id": format!("{}", 10_000_000_000u64 + ids.id),
        "gateway_name": gateway_name,
        "payment_details": {"method": o.payment.method(), "credit_card_company": company, "installments": installments},
        "landing_site": "https://loja-sim.lojavirtualnuvem.com.br/",
        "location_id": null,
        "note": o.note,
        "owner_note": null,
        "status": o.status.as_str(),
        "payment_status": o.payment_status.as_str(),
        "shipping_status": shipping_status.as_str(),
        "shipping": "correios",
        "shipping_option": o.shipping.name(),
        "shipping_option_code": o.shipping.code(),
        "shipping_option_reference": null,
        "shipping_tracking_number": extras.tracking,
        "shipping_tracking_url": extras.tracking.as_ref().map(|c| format!("https://rastreamento.correios.com.br/app/index.php?objeto={c}")),
        "shipping_min_days": min_days,
        "shipping_max_days": max_days,
        "shipping_cost_owner": money(o.shipping_cost_cents),
        "shipping_cost_customer": money(o.shipping_cost_cents),
        "shipping_pickup_type": "ship",
        "shipping_store_branch_name": null,
        "subtotal": money(subtotal),
        "discount": money(o.discount_cents),
        "total": money(total),
        "price": money(total),
        "price_usd": money((total as f64 * USD_PER_BRL).round() as i64),
        "weight": format!("{weight_kg:.3}"),
        "coupon": if o.discount_cents > 0 { json!([{"code": "BEMVINDO10"}]) } else { json!([]) },
        "products": products,
        "billing_address": a.street, "billing_city": a.city, "billing_country": "BR",
        "billing_default": true, "billing_floor": a.floor, "billing_locality": a.locality,
        "billing_number": a.number, "billing_phone": c.phone, "billing_province": a.province,
        "billing_zipcode": a.zipcode,
        "extra": {},
        "storefront": "store",
        "shipping_address": shipping_address,
        "contact_identification": c.identification,
        "customer": {
            "created_at": t, "email": c.email, "id": ids.customer_id, "last_order_id": ids.id,
            "name": c.name, "identification": c.identification, "phone": c.phone,
            "total_spent": money(total), "total_spent_currency": "BRL", "updated_at": t,
            "default_address": address,
        },
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
