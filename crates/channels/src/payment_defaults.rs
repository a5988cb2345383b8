//! Each connector's documented payment methods with the ERP payment type they map to
//! by default: the NF-e payment type codes (`tPag`: 03 credit card, 04 debit card, 05
//! store credit, 15 boleto, 16 bank deposit, 17 PIX, 18 transfer / digital wallet).
//! A merchant whose ERP numbers them otherwise saves its own table.

use ponte_core::payment_map::PaymentRule;

const CREDIT: (&str, &str) = ("03", "Cartão de crédito");
const DEBIT: (&str, &str) = ("04", "Cartão de débito");
const STORE_CREDIT: (&str, &str) = ("05", "Crédito loja");
const BOLETO: (&str, &str) = ("15", "Boleto bancário");
const DEPOSIT: (&str, &str) = ("16", "Depósito bancário");
const PIX: (&str, &str) = ("17", "PIX");
const WALLET: (&str, &str) = ("18", "Transferência bancária, carteira digital");

fn rows(list: &[(&str, Option<&str>, (&str, &str))]) -> Vec<PaymentRule> {
    list.iter()
        .map(|(method, gateway, (code, name))| PaymentRule::new(method, *gateway, code, name))
        .collect()
}

/// Nuvemshop `payment_details.method`.
pub(crate) fn nuvemshop() -> Vec<PaymentRule> {
    rows(&[
        ("pix", None, PIX),
        ("credit_card", None, CREDIT),
        ("debit_card", None, DEBIT),
        ("boleto", None, BOLETO),
        ("wire_transfer", None, DEPOSIT),
    ])
}

/// VTEX payment `group` (the payment system's kind).
pub(crate) fn vtex() -> Vec<PaymentRule> {
    rows(&[
        ("instantPayment", None, PIX),
        ("creditCard", None, CREDIT),
        ("debitCard", None, DEBIT),
        ("bankInvoice", None, BOLETO),
        ("giftCard", None, STORE_CREDIT),
    ])
}

/// Mercado Livre (Mercado Pago) `payment_type`, with `payment_method_id` telling PIX
/// apart among bank transfers.
pub(crate) fn mercadolivre() -> Vec<PaymentRule> {
    rows(&[
        ("bank_transfer", Some("pix"), PIX),
        ("credit_card", None, CREDIT),
        ("debit_card", None, DEBIT),
        ("ticket", None, BOLETO),
        ("account_money", None, WALLET),
        ("digital_wallet", None, WALLET),
        ("bank_transfer", None, DEPOSIT),
    ])
}
