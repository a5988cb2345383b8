//! DE-PARA of payments, on the channel's DE-PARA tab: rows of platform payment method,
//! gateway and installments to the ERP's payment type (code and name), first match
//! wins. Edited as a table like the status rows; saving replaces the channel's table.

use crate::form::Fields;
use crate::pages::channel_status_map::{blank_rows, rows_sent, save_table, Sent, Table};
use crate::refusal::Refusal;
use crate::session::Session;
use crate::Console;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use ponte_core::payment_map::PaymentRule;
use ponte_core::ErrorCode;
use serde_json::{Map, Value};

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/channels/{id}/payment-map", post(save))
}

/// A row of the payment table as shown (every cell as typed).
#[derive(Default)]
pub(crate) struct PayRow {
    pub method: String,
    pub gateway: String,
    pub min: String,
    pub max: String,
    pub code: String,
    pub name: String,
    pub error: Option<Refusal>,
}

impl From<PaymentRule> for PayRow {
    fn from(r: PaymentRule) -> Self {
        let n = |v: Option<u32>| v.map(|n| n.to_string()).unwrap_or_default();
        PayRow {
            method: r.method.unwrap_or_default(),
            gateway: r.gateway.unwrap_or_default(),
            min: n(r.min_installments),
            max: n(r.max_installments),
            code: r.code,
            name: r.name,
            error: None,
        }
    }
}

impl PayRow {
    /// The text cells: input name, value, label's catalogue key.
    pub(crate) fn cells(&self) -> [(&'static str, &str, &'static str); 6] {
        [
            ("method", &self.method, "status_map.method"),
            ("gateway", &self.gateway, "status_map.gateway"),
            ("min", &self.min, "status_map.min_installments"),
            ("max", &self.max, "status_map.max_installments"),
            ("code", &self.code, "status_map.erp_code"),
            ("name", &self.name, "status_map.erp_name"),
        ]
    }
}

/// The saved (or default) rules as rows, with blank rows to fill.
pub(crate) fn shown(rules: Vec<PaymentRule>) -> Vec<PayRow> {
    blank_rows(rules.into_iter().map(PayRow::from).collect())
}

/// The rows submitted (removed and blank ones left out) and the rules they make; an
/// installment count that is not a whole number is refused next to it.
pub(crate) fn read(form: &Fields, not_a_number: &str) -> (Sent, Vec<Value>, bool) {
    let (mut rows, mut rules, mut bad) = (vec![], vec![], false);
    for i in rows_sent(form, "pay_rows", "pay_remove") {
        let cell = |n: &str| form.get(&format!("{n}_{i}")).unwrap_or_default().trim();
        let mut row = PayRow {
            method: cell("method").to_owned(),
            gateway: cell("gateway").to_owned(),
            min: cell("min").to_owned(),
            max: cell("max").to_owned(),
            code: cell("code").to_owned(),
            name: cell("name").to_owned(),
            error: None,
        };
        let cells = [&row.method, &row.gateway, &row.min, &row.max];
        if cells
            .iter()
            .chain([&&row.code, &&row.name])
            .all(|c| c.is_empty())
        {
            continue;
        }
        let mut rule = Map::new();
        for (k, v) in [("method", &row.method), ("gateway", &row.gateway)] {
            if !v.is_empty() {
                rule.insert(k.into(), v.as_str().into());
            }
        }
        for (k, v) in [
            ("min_installments", &row.min),
            ("max_installments", &row.max),
        ] {
            if v.is_empty() {
                continue;
            }
            match v.parse::<u32>() {
                Ok(n) => {
                    rule.insert(k.into(), n.into());
                }
                Err(_) => {
                    row.error = Some(Refusal::console(ErrorCode::ValidationFailed, not_a_number));
                    bad = true;
                }
            }
        }
        rule.insert("code".into(), row.code.as_str().into());
        rule.insert("name".into(), row.name.as_str().into());
        rules.push(Value::Object(rule));
        rows.push(row);
    }
    let sent = Sent {
        payments: Some(blank_rows(rows)),
        ..Sent::default()
    };
    (sent, rules, bad)
}

async fn save(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    save_table(state, s, id, body, Table::Payments).await
}
