//! Default customer fields, on the channel's DE-PARA tab: rows of an ERP customer field,
//! its value and the conditions an order must meet (document kind, state, shipping
//! method, a field of the platform's payload). Values are typed as JSON reads them
//! (`true`, `12`), anything else is text, and text that JSON would read otherwise is
//! shown in quotes (`"12"`), so a saved rule comes back as it was.

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
use ponte_core::customer_fields::{Condition, FieldRule};
use ponte_core::ErrorCode;
use serde_json::{json, Value};

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/channels/{id}/customer-fields", post(save))
}

/// A rule as shown: one cell per condition kind; conditions with no cell of their own
/// (a channel, a second condition of a kind) ride along as JSON in `extra`.
#[derive(Default)]
pub(crate) struct FieldRow {
    pub field: String,
    pub value: String,
    /// `cpf`, `cnpj` or blank.
    pub document: String,
    /// A UF or blank.
    pub state: String,
    pub shipping: String,
    pub path: String,
    pub equals: String,
    /// The other conditions, as a JSON list (blank when none).
    pub extra: String,
    pub error: Option<Refusal>,
}

/// A value as typed in a cell: text JSON would read as something else is quoted.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) if serde_json::from_str::<Value>(s).is_ok() => v.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A cell's value: what JSON reads in it when that is text, a number or true/false,
/// else the text as typed.
fn value_of(typed: &str) -> Value {
    match serde_json::from_str::<Value>(typed) {
        Ok(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v,
        _ => Value::String(typed.to_owned()),
    }
}

impl From<FieldRule> for FieldRow {
    fn from(r: FieldRule) -> Self {
        let mut row = FieldRow {
            field: r.field,
            value: cell(&r.value),
            ..FieldRow::default()
        };
        let mut extra = vec![];
        for c in r.when {
            match c {
                Condition::Document(k) if row.document.is_empty() => {
                    row.document = json!(k).as_str().unwrap_or_default().to_owned();
                }
                Condition::State(uf) if row.state.is_empty() => row.state = uf,
                Condition::ShippingMethod(m) if row.shipping.is_empty() => row.shipping = m,
                Condition::PlatformField { path, equals } if row.path.is_empty() => {
                    row.path = path;
                    row.equals = cell(&equals);
                }
                other => extra.push(other),
            }
        }
        if !extra.is_empty() {
            row.extra = serde_json::to_string(&extra).unwrap_or_default();
        }
        row
    }
}

impl FieldRow {
    /// The text cells (field and value, then the free-text conditions): input name,
    /// value, label's catalogue key.
    pub(crate) fn cells(&self) -> [(&'static str, &str, &'static str); 5] {
        [
            ("field", &self.field, "status_map.field"),
            ("value", &self.value, "status_map.value"),
            ("shipping", &self.shipping, "status_map.shipping"),
            ("path", &self.path, "status_map.path"),
            ("equals", &self.equals, "status_map.equals"),
        ]
    }
}

/// The saved rules as rows, with blank rows to fill.
pub(crate) fn shown(rules: Vec<FieldRule>) -> Vec<FieldRow> {
    blank_rows(rules.into_iter().map(FieldRow::from).collect())
}

/// The rows submitted (removed and blank ones left out) and the rules they make, for
/// the engine to check.
pub(crate) fn read(form: &Fields, bad_extra: &str) -> (Sent, Vec<Value>, bool) {
    let (mut rows, mut rules, mut bad) = (vec![], vec![], false);
    for i in rows_sent(form, "field_rows", "field_remove") {
        let cell = |n: &str| form.get(&format!("{n}_{i}")).unwrap_or_default().trim();
        let mut row = FieldRow {
            field: cell("field").to_owned(),
            value: cell("value").to_owned(),
            document: cell("document").to_owned(),
            state: cell("state").to_owned(),
            shipping: cell("shipping").to_owned(),
            path: cell("path").to_owned(),
            equals: cell("equals").to_owned(),
            extra: cell("extra").to_owned(),
            error: None,
        };
        if row.field.is_empty() && row.value.is_empty() {
            continue;
        }
        let mut when = vec![];
        for (kind, v) in [
            ("document", &row.document),
            ("state", &row.state),
            ("shipping_method", &row.shipping),
        ] {
            if !v.is_empty() {
                when.push(json!({ kind: v }));
            }
        }
        if !row.path.is_empty() {
            when.push(
                json!({"platform_field": {"path": row.path, "equals": value_of(&row.equals)}}),
            );
        }
        if !row.extra.is_empty() {
            match serde_json::from_str::<Vec<Value>>(&row.extra) {
                Ok(more) => when.extend(more),
                Err(_) => {
                    row.error = Some(Refusal::console(ErrorCode::ValidationFailed, bad_extra));
                    bad = true;
                }
            }
        }
        let mut rule = json!({"field": row.field, "value": value_of(&row.value)});
        if !when.is_empty() {
            rule["when"] = Value::Array(when);
        }
        rules.push(rule);
        rows.push(row);
    }
    let sent = Sent {
        fields: Some(blank_rows(rows)),
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
    save_table(state, s, id, body, Table::CustomerFields).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_value_comes_back_as_it_was() {
        for v in [
            json!("Sim"),
            json!("12"),
            json!("true"),
            json!(12),
            json!(true),
            json!("\"a\""),
        ] {
            assert_eq!(value_of(&cell(&v)), v, "{v}");
        }
        assert_eq!(cell(&json!("12")), "\"12\"");
        assert_eq!(value_of("produtor rural"), json!("produtor rural"));
    }
}
