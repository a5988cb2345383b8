//! The `filter` object shared by the feed and hook configurations.
//!
//! Documented (Feed v3 guide): `FromWorkflow` filters status changes by
//! `status[]`; `FromOrders` evaluates a JSONata `expression` against the order
//! document on every change, and with `disableSingleFire: false` an order
//! appears only once. Combining the two types' fields answers 409. Without a
//! filter, `FromWorkflow` with every status applies.
//!
//! Assumption: the simulator evaluates only a small JSONata subset — `path op
//! literal` comparisons (`=`, `!=`, `>`, `>=`, `<`, `<=`; paths with dots, e.g.
//! `clientProfileData.isCorporate`; string, number, boolean literals) joined by
//! `and` / `or` (no parentheses other than around the whole expression). Any
//! other expression matches every change (and is logged at `warn`).

use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Empty `status` means every status.
    FromWorkflow { status: Vec<String> },
    FromOrders {
        expression: String,
        disable_single_fire: bool,
    },
}

impl Default for Filter {
    fn default() -> Self {
        Self::FromWorkflow { status: Vec::new() }
    }
}

/// Why a filter was refused: `(http status, message)`.
pub type FilterError = (u16, String);

impl Filter {
    /// Parses the `filter` object of a configuration body (`None`: absent).
    pub fn parse(v: Option<&Value>) -> Result<Self, FilterError> {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Ok(Self::default());
        };
        let Some(obj) = v.as_object() else {
            return Err((400, "filter must be an object".into()));
        };
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
        let has_status = obj.contains_key("status");
        let has_orders_fields =
            obj.contains_key("expression") || obj.contains_key("disableSingleFire");
        match kind {
            "FromWorkflow" => {
                if has_orders_fields {
                    return Err((
                        409,
                        "FromWorkflow filters do not accept expression or disableSingleFire".into(),
                    ));
                }
                let status = match obj.get("status") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|s| {
                            s.as_str()
                                .map(str::to_owned)
                                .ok_or((400, "status must be an array of strings".to_owned()))
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err((400, "status must be an array of strings".into())),
                };
                Ok(Self::FromWorkflow { status })
            }
            "FromOrders" => {
                if has_status {
                    return Err((409, "FromOrders filters do not accept status".into()));
                }
                let expression = obj
                    .get("expression")
                    .and_then(Value::as_str)
                    .ok_or((400, "FromOrders filters need an expression".to_owned()))?
                    .to_owned();
                let disable_single_fire = obj
                    .get("disableSingleFire")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if Expr::parse(&expression).is_none() {
                    tracing::warn!(%expression, "vtex sim: JSONata expression not supported, it matches every change");
                }
                Ok(Self::FromOrders {
                    expression,
                    disable_single_fire,
                })
            }
            "" => Err((400, "filter.type is required".into())),
            other => Err((400, format!("unknown filter type {other:?}"))),
        }
    }

    pub fn render(&self) -> Value {
        match self {
            Self::FromWorkflow { status } => json!({"type": "FromWorkflow", "status": status}),
            Self::FromOrders {
                expression,
                disable_single_fire,
            } => json!({
                "type": "FromOrders",
                "expression": expression,
                "disableSingleFire": disable_single_fire,
            }),
        }
    }

    /// Whether a change passes. `status_changed`: the change moved the order to
    /// `state`; `doc`: the order document after the change.
    pub fn matches(&self, state: &str, status_changed: bool, doc: &Value) -> bool {
        match self {
            Self::FromWorkflow { status } => {
                status_changed && (status.is_empty() || status.iter().any(|s| s == state))
            }
            Self::FromOrders { expression, .. } => {
                Expr::parse(expression).is_none_or(|e| e.eval(doc))
            }
        }
    }

    /// `FromOrders` with `disableSingleFire: false`: each order once.
    pub fn single_fire(&self) -> bool {
        matches!(
            self,
            Self::FromOrders {
                disable_single_fire: false,
                ..
            }
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Cmp(Vec<String>, String, Lit),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

fn split_kw<'a>(s: &'a str, kw: &str) -> Option<(&'a str, &'a str)> {
    // Split at the first ` kw ` outside string literals.
    let bytes = s.as_bytes();
    let pat = format!(" {kw} ");
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            in_str = !in_str;
        } else if !in_str && s[i..].starts_with(&pat) {
            return Some((&s[..i], &s[i + pat.len()..]));
        }
        i += 1;
    }
    None
}

impl Expr {
    fn parse(raw: &str) -> Option<Self> {
        let mut s = raw.trim();
        while s.starts_with('(') && s.ends_with(')') {
            s = s[1..s.len() - 1].trim();
        }
        if let Some((a, b)) = split_kw(s, "or") {
            return Some(Self::Or(
                Box::new(Self::parse(a)?),
                Box::new(Self::parse(b)?),
            ));
        }
        if let Some((a, b)) = split_kw(s, "and") {
            return Some(Self::And(
                Box::new(Self::parse(a)?),
                Box::new(Self::parse(b)?),
            ));
        }
        for op in ["!=", ">=", "<=", "=", ">", "<"] {
            if let Some((l, r)) = s.split_once(op) {
                let path: Vec<String> = l.trim().split('.').map(str::to_owned).collect();
                if path.iter().any(|p| {
                    p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                }) {
                    return None;
                }
                let r = r.trim();
                let lit = if let Some(x) = r.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                    Lit::Str(x.to_owned())
                } else if r == "true" || r == "false" {
                    Lit::Bool(r == "true")
                } else {
                    Lit::Num(r.parse().ok()?)
                };
                return Some(Self::Cmp(path, op.to_owned(), lit));
            }
        }
        None
    }

    fn eval(&self, doc: &Value) -> bool {
        match self {
            Self::And(a, b) => a.eval(doc) && b.eval(doc),
            Self::Or(a, b) => a.eval(doc) || b.eval(doc),
            Self::Cmp(path, op, lit) => {
                let mut v = doc;
                for p in path {
                    match v.get(p) {
                        Some(x) => v = x,
                        None => return false,
                    }
                }
                let ord = match (v, lit) {
                    (Value::String(a), Lit::Str(b)) => a.as_str().partial_cmp(b.as_str()),
                    (Value::Number(a), Lit::Num(b)) => a.as_f64().and_then(|a| a.partial_cmp(b)),
                    (Value::Bool(a), Lit::Bool(b)) => a.partial_cmp(b),
                    _ => None,
                };
                let Some(ord) = ord else {
                    return op == "!=";
                };
                match op.as_str() {
                    "=" => ord.is_eq(),
                    "!=" => ord.is_ne(),
                    ">" => ord.is_gt(),
                    ">=" => ord.is_ge(),
                    "<" => ord.is_lt(),
                    "<=" => ord.is_le(),
                    _ => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_match() {
        let f = Filter::parse(Some(
            &json!({"type": "FromWorkflow", "status": ["handling"]}),
        ))
        .unwrap();
        assert!(f.matches("handling", true, &json!({})));
        assert!(!f.matches("invoiced", true, &json!({})));
        assert!(!f.matches("handling", false, &json!({})));
        let err = Filter::parse(Some(
            &json!({"type": "FromWorkflow", "status": [], "expression": "x"}),
        ));
        assert_eq!(err.unwrap_err().0, 409);
        let err = Filter::parse(Some(
            &json!({"type": "FromOrders", "expression": "x", "status": []}),
        ));
        assert_eq!(err.unwrap_err().0, 409);
        let f = Filter::parse(Some(&json!({"type": "FromOrders", "expression": "value > 100 and status = \"invoiced\"", "disableSingleFire": false}))).unwrap();
        assert!(f.single_fire());
        assert!(f.matches("x", false, &json!({"value": 150, "status": "invoiced"})));
        assert!(!f.matches("x", false, &json!({"value": 50, "status": "invoiced"})));
        let f = Filter::parse(Some(&json!({"type": "FromOrders", "expression": "(status = \"handling\" and clientProfileData.isCorporate = true)"}))).unwrap();
        assert!(f.matches(
            "x",
            false,
            &json!({"status": "handling", "clientProfileData": {"isCorporate": true}})
        ));
        // Unsupported syntax matches everything.
        let f = Filter::parse(Some(
            &json!({"type": "FromOrders", "expression": "$count(items) > 0"}),
        ))
        .unwrap();
        assert!(f.matches("x", false, &json!({})));
        assert_eq!(Filter::parse(None).unwrap(), Filter::default());
    }
}
