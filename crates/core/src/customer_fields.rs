//! Default customer fields ("Campos Padrões de Cliente"): rules that set a field on
//! every imported order's customer for the ERP (e.g. `produtor_rural = true` for every
//! buyer of an agricultural store), each with optional conditions over the order. A
//! rule is data: a field name, a value (text, number, true/false) and conditions from
//! a fixed list; no rule can run code.

use crate::document::DocumentKind;
use crate::order::{ExtraField, MappedOrder};
use crate::status_vocab::RowError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest field name.
const MAX_FIELD: usize = 64;
/// Longest text value or compared value.
const MAX_TEXT: usize = 500;

/// The 27 Brazilian states: UF and name (platforms send either).
pub const UFS: [(&str, &str); 27] = [
    ("AC", "Acre"),
    ("AL", "Alagoas"),
    ("AP", "Amapá"),
    ("AM", "Amazonas"),
    ("BA", "Bahia"),
    ("CE", "Ceará"),
    ("DF", "Distrito Federal"),
    ("ES", "Espírito Santo"),
    ("GO", "Goiás"),
    ("MA", "Maranhão"),
    ("MT", "Mato Grosso"),
    ("MS", "Mato Grosso do Sul"),
    ("MG", "Minas Gerais"),
    ("PA", "Pará"),
    ("PB", "Paraíba"),
    ("PR", "Paraná"),
    ("PE", "Pernambuco"),
    ("PI", "Piauí"),
    ("RJ", "Rio de Janeiro"),
    ("RN", "Rio Grande do Norte"),
    ("RS", "Rio Grande do Sul"),
    ("RO", "Rondônia"),
    ("RR", "Roraima"),
    ("SC", "Santa Catarina"),
    ("SP", "São Paulo"),
    ("SE", "Sergipe"),
    ("TO", "Tocantins"),
];

/// Whether an address's state (a UF or a state's name) is `uf`.
fn is_state(given: &str, uf: &str) -> bool {
    let given = given.trim();
    given.eq_ignore_ascii_case(uf)
        || UFS
            .iter()
            .any(|(u, name)| *u == uf && given.to_lowercase() == name.to_lowercase())
}

/// One rule: `field` is set to `value` on the customer of every order that meets all
/// of `when` (no conditions: every order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    /// The ERP's customer field (`produtor_rural`).
    pub field: String,
    /// Text, number or true/false.
    #[schema(value_type = Object)]
    pub value: Value,
    /// Conditions, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<Condition>,
}

/// A condition over the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The buyer's document is a CPF (`cpf`) or a CNPJ (`cnpj`), valid or not.
    Document(DocumentKind),
    /// The state (UF) of the delivery address (else the billing address), given there
    /// as a UF or a state's name.
    State(String),
    /// The order came from this channel (its id).
    Channel(String),
    /// The shipping option's name or code equals this.
    ShippingMethod(String),
    /// A field of the platform's payload (a dotted path, `customer.note`; array items
    /// by index) equals this value.
    PlatformField {
        /// Dotted path into the payload.
        path: String,
        /// The value it must equal (text, number or true/false).
        #[schema(value_type = Object)]
        equals: Value,
    },
}

/// Reads and checks a rule list sent as a JSON array: a field name (letters, digits,
/// `_`, `.`, `-`; 1 to 64), a text/number/true-false value, and known conditions with
/// valid arguments. The first bad rule is named.
pub fn check_field_rules(rows: &Value) -> Result<Vec<FieldRule>, RowError> {
    let list = rows
        .as_array()
        .ok_or_else(|| RowError::new(0, "the rules must be a list"))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let n = i + 1;
            let r = FieldRule::deserialize(v).map_err(|e| RowError::new(n, e.to_string()))?;
            check_rule(&r).map_err(|m| RowError::new(n, m))?;
            Ok(r)
        })
        .collect()
}

fn scalar(v: &Value, what: &str) -> Result<(), String> {
    match v {
        Value::String(s) if s.chars().count() <= MAX_TEXT => Ok(()),
        Value::String(_) => Err(format!("{what} is longer than {MAX_TEXT} characters")),
        Value::Number(_) | Value::Bool(_) => Ok(()),
        _ => Err(format!(
            "{what} must be text, a number or true/false (got {v})"
        )),
    }
}

fn check_rule(r: &FieldRule) -> Result<(), String> {
    let f = r.field.as_str();
    if f.is_empty()
        || f.chars().count() > MAX_FIELD
        || !f
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(format!(
            "field `{f}` must have 1 to {MAX_FIELD} letters, digits, `_`, `.` or `-`"
        ));
    }
    scalar(&r.value, "value")?;
    for c in &r.when {
        match c {
            Condition::Document(_) => {}
            Condition::State(uf) if UFS.iter().any(|(u, _)| u == uf) => {}
            Condition::State(uf) => return Err(format!("`{uf}` is not a state (UF)")),
            Condition::Channel(id) if id.parse::<crate::ChannelId>().is_ok() => {}
            Condition::Channel(id) => return Err(format!("`{id}` is not a channel id")),
            Condition::ShippingMethod(m) if !m.trim().is_empty() => {}
            Condition::ShippingMethod(_) => return Err("shipping_method must not be empty".into()),
            Condition::PlatformField { path, equals } => {
                if path.is_empty() || path.split('.').any(str::is_empty) {
                    return Err(format!("`{path}` is not a dotted path"));
                }
                scalar(equals, "equals")?;
            }
        }
    }
    Ok(())
}

/// What a condition is checked against, besides the order.
#[derive(Debug, Clone, Copy)]
pub struct RuleContext<'a> {
    /// The order's channel id.
    pub channel: &'a str,
}

fn holds(c: &Condition, o: &MappedOrder, ctx: RuleContext<'_>) -> bool {
    let d = &o.data;
    match c {
        Condition::Document(kind) => d
            .customer
            .document
            .as_ref()
            .is_some_and(|doc| doc.kind == Some(*kind)),
        Condition::State(uf) => d
            .shipping_address
            .as_ref()
            .and_then(|a| a.state.as_deref())
            .or_else(|| d.billing_address.as_ref().and_then(|a| a.state.as_deref()))
            .is_some_and(|s| is_state(s, uf)),
        Condition::Channel(id) => id.eq_ignore_ascii_case(ctx.channel),
        Condition::ShippingMethod(m) => {
            d.shipping.option.as_deref() == Some(m.as_str())
                || d.shipping.code.as_deref() == Some(m.as_str())
        }
        Condition::PlatformField { path, equals } => {
            let mut at = &o.raw;
            for part in path.split('.') {
                let next = match at {
                    Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => at.get(part),
                };
                match next {
                    Some(v) => at = v,
                    None => return false,
                }
            }
            at == equals
        }
    }
}

/// Sets the fields of every rule whose conditions hold on the order's customer,
/// naming the rule (from 1) that set each; a later rule for the same field wins.
pub fn apply_field_rules(rules: &[FieldRule], order: &mut MappedOrder, ctx: RuleContext<'_>) {
    let mut fields: Vec<ExtraField> = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        if !r.when.iter().all(|c| holds(c, order, ctx)) {
            continue;
        }
        let set = ExtraField {
            field: r.field.clone(),
            value: r.value.clone(),
            rule: i + 1,
        };
        match fields.iter_mut().find(|f| f.field == r.field) {
            Some(f) => *f = set,
            None => fields.push(set),
        }
    }
    order.data.customer.extra_fields = fields;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::TaxDocument;
    use crate::order::*;
    use crate::OrderStatus;
    use serde_json::json;

    fn order(doc: &str, uf: &str) -> MappedOrder {
        MappedOrder {
            data: OrderData {
                external_id: "1".into(),
                number: None,
                status: OrderStatus::Approved,
                payment: Payment::default(),
                items: vec![],
                customer: Customer {
                    document: Some(TaxDocument::parse(doc)),
                    ..Customer::default()
                },
                billing_address: None,
                shipping_address: Some(Address {
                    state: Some(uf.into()),
                    ..Address::default()
                }),
                shipping: Shipping {
                    option: Some("PAC".into()),
                    ..Shipping::default()
                },
                totals: Totals::default(),
                currency: None,
                placed_at: None,
                platform_updated_at: None,
                paid_at: None,
                cancelled_at: None,
                platform_status: PlatformStatus::default(),
                platform_flags: vec![],
            },
            closed_at_platform: false,
            raw: json!({"note_attributes": [{"name": "ie", "value": "isento"}]}),
        }
    }

    const CTX: RuleContext<'static> = RuleContext { channel: "c" };

    #[test]
    fn rules_set_fields_when_their_conditions_hold() {
        let rules = check_field_rules(&json!([
            {"field": "produtor_rural", "value": true},
            {"field": "tipo", "value": "PJ", "when": [{"document": "cnpj"}]},
            {"field": "regiao", "value": 1, "when": [{"state": "SP"}, {"shipping_method": "PAC"}]},
            {"field": "ie", "value": "ISENTO", "when": [{"platform_field": {"path": "note_attributes.0.value", "equals": "isento"}}]},
            {"field": "produtor_rural", "value": false, "when": [{"state": "RJ"}]}
        ]))
        .unwrap();
        let mut company = order("11.222.333/0001-81", "São Paulo");
        apply_field_rules(&rules, &mut company, CTX);
        let f = &company.data.customer.extra_fields;
        let names: Vec<(&str, usize)> = f.iter().map(|x| (x.field.as_str(), x.rule)).collect();
        assert_eq!(
            names,
            vec![("produtor_rural", 1), ("tipo", 2), ("regiao", 3), ("ie", 4)]
        );
        let mut person = order("529.982.247-25", "RJ");
        apply_field_rules(&rules, &mut person, CTX);
        let f = &person.data.customer.extra_fields;
        assert_eq!(f[0].value, json!(false));
        assert_eq!(f[0].rule, 5);
        assert!(!f.iter().any(|x| x.field == "tipo"));
    }

    #[test]
    fn bad_rules_are_named() {
        let bad = |rows: Value| check_field_rules(&rows).unwrap_err();
        let ok = json!({"field": "a", "value": 1});
        let e = bad(json!([ok, {"field": "b", "value": {"x": 1}}]));
        assert_eq!(e.row, 2);
        assert!(e.message.contains("text, a number or true/false"), "{e}");
        let e = bad(json!([{"field": "a", "value": 1, "when": [{"state": "XX"}]}]));
        assert!(e.message.contains("not a state"), "{e}");
        let e = bad(json!([{"field": "a", "value": 1, "when": [{"document": "rg"}]}]));
        assert!(e.message.contains("unknown variant"), "{e}");
        let e = bad(json!([{"field": "a", "value": 1, "when": [{"script": "rm -rf"}]}]));
        assert!(e.message.contains("unknown variant"), "{e}");
        let e = bad(json!([{"field": "drop table", "value": 1}]));
        assert!(e.message.contains("letters, digits"), "{e}");
    }
}
