//! Payment DE-PARA: the platform's payment method, gateway and installments -> the
//! ERP's payment type (code and name, e.g. `17 PIX`). Rows are tried in order; the
//! first that matches names the ERP type.

use crate::order::Payment;
use crate::status_vocab::RowError;
use serde::{Deserialize, Serialize};

/// Longest ERP payment type code.
const MAX_CODE: usize = 20;
/// Longest ERP payment type name.
const MAX_NAME: usize = 100;

/// One row: every field that is set must match (`None` matches anything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRule {
    /// The platform's payment method (`pix`, `credit_card`, VTEX `instantPayment`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The gateway or payment system (`Pix`, `visa`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Fewest installments (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_installments: Option<u32>,
    /// Most installments (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_installments: Option<u32>,
    /// The ERP's payment type code (`17`).
    pub code: String,
    /// The ERP's payment type name (`PIX`).
    pub name: String,
}

/// The ERP payment type an order's payment maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErpPayment {
    /// The ERP's payment type code.
    pub code: String,
    /// The ERP's payment type name.
    pub name: String,
    /// The row of the channel's payment table that matched (from 1).
    pub row: usize,
}

impl PaymentRule {
    /// A row on method (and gateway) alone.
    pub fn new(method: &str, gateway: Option<&str>, code: &str, name: &str) -> PaymentRule {
        PaymentRule {
            method: Some(method.to_owned()),
            gateway: gateway.map(str::to_owned),
            min_installments: None,
            max_installments: None,
            code: code.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Whether method and gateway match (installments aside).
    pub fn matches_method(&self, method: Option<&str>, gateway: Option<&str>) -> bool {
        fn ok(want: &Option<String>, got: Option<&str>) -> bool {
            want.as_deref().is_none_or(|w| got == Some(w))
        }
        ok(&self.method, method) && ok(&self.gateway, gateway)
    }

    fn matches(&self, p: &Payment) -> bool {
        let n = p.installments;
        self.matches_method(p.method.as_deref(), p.gateway.as_deref())
            && self
                .min_installments
                .is_none_or(|m| n.is_some_and(|n| n >= m))
            && self
                .max_installments
                .is_none_or(|m| n.is_some_and(|n| n <= m))
    }
}

/// The ERP payment type of `p`: the first matching row, `None` when none matches.
pub fn resolve(rows: &[PaymentRule], p: &Payment) -> Option<ErpPayment> {
    rows.iter()
        .enumerate()
        .find(|(_, r)| r.matches(p))
        .map(|(i, r)| ErpPayment {
            code: r.code.clone(),
            name: r.name.clone(),
            row: i + 1,
        })
}

/// Reads and checks a payment table sent as a JSON array of rows: a code and a name
/// (1 to 20 and 1 to 100 characters), platform values not empty, installments from 1
/// with the least not above the most. The first bad row is named.
pub fn check_payment_rows(rows: &serde_json::Value) -> Result<Vec<PaymentRule>, RowError> {
    let list = rows
        .as_array()
        .ok_or_else(|| RowError::new(0, "the table must be a list of rows"))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let n = i + 1;
            let r = PaymentRule::deserialize(v).map_err(|e| RowError::new(n, e.to_string()))?;
            check_row(&r).map_err(|m| RowError::new(n, m))?;
            Ok(r)
        })
        .collect()
}

fn check_row(r: &PaymentRule) -> Result<(), String> {
    let code = r.code.trim();
    if code.is_empty() || code.chars().count() > MAX_CODE {
        return Err(format!("code must have 1 to {MAX_CODE} characters"));
    }
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(format!("name must have 1 to {MAX_NAME} characters"));
    }
    for (field, v) in [("method", &r.method), ("gateway", &r.gateway)] {
        if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(format!(
                "{field} must not be empty (leave it out to match any)"
            ));
        }
    }
    if r.min_installments == Some(0) || r.max_installments == Some(0) {
        return Err("installments start at 1".into());
    }
    if let (Some(a), Some(b)) = (r.min_installments, r.max_installments) {
        if a > b {
            return Err(format!(
                "min_installments ({a}) is above max_installments ({b})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pay(method: &str, installments: Option<u32>) -> Payment {
        Payment {
            method: Some(method.into()),
            installments,
            ..Payment::default()
        }
    }

    #[test]
    fn first_matching_row_names_the_erp_type() {
        let rows = check_payment_rows(&json!([
            {"method": "pix", "code": "17", "name": "PIX"},
            {"method": "credit_card", "min_installments": 2, "code": "03", "name": "Cartão parcelado"},
            {"method": "credit_card", "code": "03", "name": "Cartão de crédito"}
        ]))
        .unwrap();
        let erp = resolve(&rows, &pay("pix", None)).unwrap();
        assert_eq!((erp.code.as_str(), erp.row), ("17", 1));
        assert_eq!(resolve(&rows, &pay("credit_card", Some(3))).unwrap().row, 2);
        assert_eq!(resolve(&rows, &pay("credit_card", Some(1))).unwrap().row, 3);
        assert_eq!(resolve(&rows, &pay("boleto", None)), None);
    }

    #[test]
    fn bad_rows_are_named() {
        let bad = |rows: serde_json::Value| check_payment_rows(&rows).unwrap_err();
        let ok = json!({"method": "pix", "code": "17", "name": "PIX"});
        let e = bad(json!([ok, {"method": "pix", "code": "", "name": "PIX"}]));
        assert_eq!(e.row, 2);
        assert!(e.message.contains("code"), "{e}");
        let e = bad(
            json!([{"method": "x", "code": "1", "name": "X", "min_installments": 3, "max_installments": 2}]),
        );
        assert!(e.message.contains("above"), "{e}");
        let e = bad(json!([{"method": " ", "code": "1", "name": "X"}]));
        assert!(e.message.contains("method must not be empty"), "{e}");
        let e = bad(json!([{"metodo": "pix", "code": "1", "name": "X"}]));
        assert!(e.message.contains("unknown field"), "{e}");
        assert_eq!(bad(json!([{"method": "pix", "code": "1"}])).row, 1);
    }
}
