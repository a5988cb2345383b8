//! Orders to create: the public description ([`NewOrder`]) and a generator of
//! realistic ones.

use rand::Rng;

use super::catalog::{self, pick, Sku};
use super::status::OrderStatus;

/// How the customer paid (`paymentData.transactions[].payments[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentMethod {
    /// Pix (`paymentSystem` 125, group `instantPayment`, as in the spec's example).
    Pix,
    /// Boleto bancário (`paymentSystem` 6, group `bankInvoice`).
    Boleto,
    /// Credit card (`group` `creditCard`) with brand (`Visa`, `Mastercard`,
    /// `Elo`, `American Express`, `Hipercard`) and installments.
    CreditCard {
        /// `paymentSystemName`.
        brand: String,
        /// `installments`.
        installments: u32,
    },
}

/// Shipping service chosen at checkout (`logisticsInfo[].selectedSla`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sla {
    /// `Normal` (economy, Correios PAC).
    Normal,
    /// `Expressa` (express, Correios SEDEX).
    Expressa,
}

impl Sla {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Expressa => "Expressa",
        }
    }
    pub(crate) fn business_days(self) -> u32 {
        match self {
            Self::Normal => 7,
            Self::Expressa => 2,
        }
    }
    pub(crate) fn carrier(self) -> (&'static str, &'static str) {
        match self {
            Self::Normal => ("1a2b3c4", "Correios PAC"),
            Self::Expressa => ("5d6e7f8", "Correios SEDEX"),
        }
    }
}

/// A company buyer (B2B order: `isCorporate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corporate {
    /// `corporateName`.
    pub name: String,
    /// `corporateDocument`: CNPJ, 14 digits.
    pub cnpj: String,
    /// `stateInscription`.
    pub state_inscription: String,
}

/// The buyer (`clientProfileData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    /// `firstName`.
    pub first_name: String,
    /// `lastName`.
    pub last_name: String,
    /// `email`.
    pub email: String,
    /// `document`: CPF, 11 digits.
    pub cpf: String,
    /// `phone`, e.g. `+5511987654321`.
    pub phone: String,
    /// Company data for B2B orders.
    pub corporate: Option<Corporate>,
}

/// Shipping address (`shippingData.address`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAddress {
    /// `street`.
    pub street: String,
    /// `number`.
    pub number: String,
    /// `complement`.
    pub complement: Option<String>,
    /// `neighborhood`.
    pub neighborhood: String,
    /// `city`.
    pub city: String,
    /// `state`: UF, two letters.
    pub state: String,
    /// `postalCode`: `01310-100`.
    pub postal_code: String,
}

/// One line of a new order. `sku_id` of a catalogue SKU takes its product,
/// name, ref id, EAN and price (fields given here override them); an unknown
/// `sku_id` is added to the catalogue; `None` takes the first SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    /// SKU id (`items[].id`).
    pub sku_id: Option<String>,
    /// Quantity.
    pub quantity: u32,
    /// Unit selling price in cents.
    pub price_cents: Option<i64>,
    /// SKU name.
    pub name: Option<String>,
}

impl Default for NewItem {
    fn default() -> Self {
        Self {
            sku_id: None,
            quantity: 1,
            price_cents: None,
            name: None,
        }
    }
}

/// An order to create with [`super::VtexSim::create_order`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Initial status. Only statuses before `start-handling`, plus `handling`,
    /// `invoiced` and `canceled`, make sense; others are accepted as given.
    pub status: OrderStatus,
    /// Buyer.
    pub customer: NewCustomer,
    /// Shipping address.
    pub address: NewAddress,
    /// Lines (empty means one default line).
    pub items: Vec<NewItem>,
    /// Payment.
    pub payment: PaymentMethod,
    /// Shipping service.
    pub sla: Sla,
    /// Shipping price in cents (the `Shipping` total).
    pub shipping_cents: i64,
    /// Discount in cents (positive; the `Discounts` total is its negative).
    pub discount_cents: i64,
    /// Three-letter affiliate (marketplace) code, e.g. `MLB`. `Some` makes a
    /// marketplace order: `origin` `Fulfillment`, order id `{AFF}-{n}-01`,
    /// `marketplaceOrderId` `{n}-01`, notifications with `Domain`
    /// `Fulfillment`. `None`: the store's own sale (`origin` `Marketplace`).
    pub affiliate: Option<String>,
}

impl Default for NewOrder {
    fn default() -> Self {
        Self {
            status: OrderStatus::ReadyForHandling,
            customer: NewCustomer {
                first_name: "Maria".into(),
                last_name: "Silva".into(),
                email: "maria.silva@example.com.br".into(),
                cpf: "52998224725".into(),
                phone: "+5511987654321".into(),
                corporate: None,
            },
            address: NewAddress {
                street: "Avenida Paulista".into(),
                number: "1000".into(),
                complement: Some("Apto 12".into()),
                neighborhood: "Bela Vista".into(),
                city: "São Paulo".into(),
                state: "SP".into(),
                postal_code: "01310-100".into(),
            },
            items: vec![NewItem::default()],
            payment: PaymentMethod::Pix,
            sla: Sla::Normal,
            shipping_cents: 2390,
            discount_cents: 0,
            affiliate: None,
        }
    }
}

/// A random, realistic order over `skus`.
pub fn random_order<R: Rng + ?Sized>(rng: &mut R, skus: &[Sku]) -> NewOrder {
    let (city, uf, ddd, cep, _) = catalog::PLACES[rng.gen_range(0..catalog::PLACES.len())];
    let first = pick(rng, catalog::FIRST_NAMES).to_owned();
    let last = pick(rng, catalog::SURNAMES).to_owned();
    let email = format!(
        "{}{}@{}",
        catalog::email_local(&format!("{first} {last}")),
        rng.gen_range(1..999),
        pick(rng, catalog::EMAIL_DOMAINS)
    );
    let corporate = rng.gen_bool(0.12).then(|| Corporate {
        name: format!(
            "{} {} Ltda",
            pick(rng, catalog::COMPANY_WORDS),
            pick(rng, catalog::SURNAMES)
        ),
        cnpj: catalog::random_cnpj(rng),
        state_inscription: format!("{:012}", rng.gen_range(0..1_000_000_000_000u64)),
    });
    let customer = NewCustomer {
        first_name: first,
        last_name: last,
        email,
        cpf: catalog::random_cpf(rng),
        phone: format!("+55{ddd}9{:08}", rng.gen_range(0..100_000_000u32)),
        corporate,
    };
    let address = NewAddress {
        street: pick(rng, catalog::STREETS).to_owned(),
        number: rng.gen_range(1..3000).to_string(),
        complement: rng
            .gen_bool(0.3)
            .then(|| format!("Apto {}", rng.gen_range(1..300))),
        neighborhood: pick(rng, catalog::NEIGHBORHOODS).to_owned(),
        city: city.to_owned(),
        state: uf.to_owned(),
        postal_code: format!(
            "{cep}{:03}-{:03}",
            rng.gen_range(0..1000u32),
            rng.gen_range(0..1000u32)
        ),
    };
    let n = rng.gen_range(1..=3usize).min(skus.len().max(1));
    let mut items: Vec<NewItem> = Vec::with_capacity(n);
    while items.len() < n && !skus.is_empty() {
        let sku = &skus[rng.gen_range(0..skus.len())];
        if items.iter().all(|i| i.sku_id.as_deref() != Some(&sku.id)) {
            items.push(NewItem {
                sku_id: Some(sku.id.clone()),
                quantity: rng.gen_range(1..=3),
                ..NewItem::default()
            });
        }
    }
    let payment = match rng.gen_range(0..10) {
        0..=3 => PaymentMethod::Pix,
        4..=5 => PaymentMethod::Boleto,
        _ => PaymentMethod::CreditCard {
            brand: pick(
                rng,
                &["Visa", "Mastercard", "Elo", "American Express", "Hipercard"],
            )
            .to_owned(),
            installments: [1u32, 1, 2, 3, 6, 10][rng.gen_range(0..6)],
        },
    };
    let sla = if rng.gen_bool(0.7) {
        Sla::Normal
    } else {
        Sla::Expressa
    };
    let shipping_cents = match sla {
        Sla::Normal => rng.gen_range(1500..3500),
        Sla::Expressa => rng.gen_range(2500..6000),
    } / 10
        * 10;
    // Mostly waiting for the integration, as a live store looks.
    let status = match rng.gen_range(0..100) {
        0..=14 => OrderStatus::PaymentPending,
        15..=54 => OrderStatus::ReadyForHandling,
        55..=69 => OrderStatus::Handling,
        70..=89 => OrderStatus::Invoiced,
        _ => OrderStatus::Canceled,
    };
    NewOrder {
        status,
        customer,
        address,
        items,
        payment,
        sla,
        shipping_cents,
        discount_cents: if rng.gen_bool(0.15) { 1000 } else { 0 },
        affiliate: rng
            .gen_bool(0.2)
            .then(|| pick(rng, &["MLB", "AMZ", "SHP", "MGZ"]).to_owned()),
    }
}
