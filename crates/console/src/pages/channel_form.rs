//! The channel forms' fields: which settings each form edits and how each is entered,
//! what a field shows (the stored setting, the submitted value, or the default of a
//! new channel), how a submitted form becomes the settings and credentials the engine
//! takes, and which field an engine refusal belongs to. Credentials are write-only:
//! a secret field never shows a value.

use crate::form::Fields;
use crate::i18n::Catalogue;
use crate::refusal::Refusal;
use ponte_core::ErrorCode;
use ponte_engine::EngineError;
use ponte_store::{Channel, Warehouse};
use serde_json::{Map, Value};

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// The channel's name (not a setting).
    Name,
    /// Free text.
    Text,
    /// A number (`,` or `.` for decimals).
    Number,
    /// Sim / Não, with what a new channel starts with.
    YesNo(bool),
    /// One of these values (each named `choice.<value>` in the catalogues).
    Choice(&'static [&'static str]),
    /// One of the tenant's warehouses, or none.
    Warehouse,
    /// Any of the tenant's warehouses.
    Warehouses,
    /// A credential: write-only, never shown.
    Secret,
}

/// A field of a channel form: a settings or credentials key (labelled `setting.<key>`,
/// explained by `setting_hint.<key>`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub key: &'static str,
    pub input: Input,
}

const fn f(key: &'static str, input: Input) -> Field {
    Field { key, input }
}

const IMPORT_POLICY: &[&str] = &["paid_only", "all"];
const SHIPPING_API: &[&str] = &["fulfillment_orders", "legacy"];

/// The platforms a channel can be created for.
pub(crate) const PLATFORMS: [&str; 4] = ["nuvemshop", "vtex", "mercadolivre", "americanas"];

/// The platform tab's fields every platform has (seed 000: "Evento de vendas").
const COMMON: &[Field] = &[
    f("name", Input::Name),
    f("instant_events", Input::YesNo(true)),
    f("import_policy", Input::Choice(IMPORT_POLICY)),
];

const NUVEMSHOP: &[Field] = &[
    f("store_id", Input::Text),
    f("api_base_url", Input::Text),
    f("shipping_api", Input::Choice(SHIPPING_API)),
    f("user_agent", Input::Text),
    f("rate_limit_per_sec", Input::Number),
    f("rate_limit_burst", Input::Number),
    f("access_token", Input::Secret),
    f("app_secret", Input::Secret),
];

const VTEX: &[Field] = &[
    f("account", Input::Text),
    f("environment", Input::Text),
    f("api_base_url", Input::Text),
    f("warehouse_id", Input::Text),
    f("sales_channel", Input::Text),
    f("rate_limit_per_sec", Input::Number),
    f("rate_limit_burst", Input::Number),
    f("app_key", Input::Secret),
    f("app_token", Input::Secret),
];

const MERCADOLIVRE: &[Field] = &[
    f("seller_id", Input::Text),
    f("site_id", Input::Text),
    f("api_base_url", Input::Text),
    f("warehouse_management", Input::YesNo(false)),
    f("stock_store_id", Input::Text),
    f("rate_limit_per_sec", Input::Number),
    f("rate_limit_burst", Input::Number),
    f("client_id", Input::Secret),
    f("client_secret", Input::Secret),
    f("refresh_token", Input::Secret),
];

const AMERICANAS: &[Field] = &[
    f("api_base_url", Input::Text),
    f("rate_limit_per_sec", Input::Number),
    f("rate_limit_burst", Input::Number),
    f("user_email", Input::Secret),
    f("api_key", Input::Secret),
    f("account_manager_key", Input::Secret),
];

/// The Automações tab (seed 002).
pub(crate) const AUTOMATIONS: &[Field] = &[
    f("send_status_updates", Input::YesNo(true)),
    f("send_cancellations", Input::YesNo(true)),
    f("send_delivery_info", Input::YesNo(true)),
    f("fulfillment_mode", Input::YesNo(false)),
    f("max_attempts", Input::Number),
];

/// The Estoque tab (seed 004: which warehouses feed the channel, which one is debited).
pub(crate) const STOCK: &[Field] = &[
    f("send_stock", Input::YesNo(false)),
    f("stock_warehouses", Input::Warehouses),
    f("debit_warehouse", Input::Warehouse),
    f("stock_buffer", Input::Number),
];

/// The platform tab's fields (the create form's too): name, the shared ones, then the
/// platform's settings and credentials. Empty for a platform the console does not know.
pub(crate) fn platform_fields(platform: &str) -> Vec<&'static Field> {
    let own = match platform {
        "nuvemshop" => NUVEMSHOP,
        "vtex" => VTEX,
        "mercadolivre" => MERCADOLIVRE,
        "americanas" => AMERICANAS,
        _ => &[],
    };
    COMMON.iter().chain(own).collect()
}

/// A field as a template shows it.
pub(crate) struct FieldView {
    pub key: &'static str,
    /// `text`, `number`, `yesno`, `choice`, `warehouse`, `warehouses` or `secret`.
    pub kind: &'static str,
    /// The value shown (never a secret's).
    pub value: String,
    /// The values checked (`warehouses`).
    pub values: Vec<String>,
    /// (value, label) of a `choice` or `warehouse`.
    pub options: Vec<(String, String)>,
    pub error: Option<Refusal>,
}

/// Where the values shown come from.
pub(crate) enum Shown<'a> {
    /// A new channel: the defaults.
    New,
    /// The channel as stored.
    Stored(&'a Channel),
    /// The form as submitted (a refusal shows it again).
    Submitted(&'a Fields),
}

/// The fields as a template shows them, with each refusal next to its field.
pub(crate) fn views(
    fields: &[&'static Field],
    shown: &Shown<'_>,
    t: &Catalogue,
    warehouses: &[Warehouse],
    refusals: &[(&'static str, Refusal)],
) -> Vec<FieldView> {
    fields
        .iter()
        .map(|fd| {
            let (value, values) = shown_value(fd, shown);
            let options = match fd.input {
                Input::Choice(opts) => opts
                    .iter()
                    .map(|o| ((*o).to_owned(), t.of("choice", o).to_owned()))
                    .collect(),
                Input::Warehouse | Input::Warehouses => warehouses
                    .iter()
                    .map(|w| (w.code.clone(), format!("{} · {}", w.code, w.name)))
                    .collect(),
                _ => vec![],
            };
            FieldView {
                key: fd.key,
                kind: kind(fd.input),
                value,
                values,
                options,
                error: refusals
                    .iter()
                    .find(|(k, _)| *k == fd.key)
                    .map(|(_, r)| r.clone()),
            }
        })
        .collect()
}

fn kind(input: Input) -> &'static str {
    match input {
        Input::Name | Input::Text => "text",
        Input::Number => "number",
        Input::YesNo(_) => "yesno",
        Input::Choice(_) => "choice",
        Input::Warehouse => "warehouse",
        Input::Warehouses => "warehouses",
        Input::Secret => "secret",
    }
}

fn shown_value(fd: &Field, shown: &Shown<'_>) -> (String, Vec<String>) {
    match (fd.input, shown) {
        (Input::Secret, _) => (String::new(), vec![]),
        (Input::YesNo(default), Shown::New) => (default.to_string(), vec![]),
        (Input::Choice(opts), Shown::New) => (opts.first().copied().unwrap_or("").into(), vec![]),
        (_, Shown::New) => (String::new(), vec![]),
        (Input::Name, Shown::Stored(c)) => (c.name.clone(), vec![]),
        (Input::Warehouses, Shown::Stored(c)) => {
            let list = c.settings.get(fd.key).and_then(Value::as_array);
            let codes = list
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned));
            (String::new(), codes.collect())
        }
        (_, Shown::Stored(c)) => (text_of(c.settings.get(fd.key)), vec![]),
        (Input::Warehouses, Shown::Submitted(form)) => (
            String::new(),
            form.all(fd.key).into_iter().map(str::to_owned).collect(),
        ),
        (_, Shown::Submitted(form)) => (form.get(fd.key).unwrap_or_default().to_owned(), vec![]),
    }
}

/// A stored setting as a form shows it (`2.0` as `2`).
fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(x)) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
            _ => n.to_string(),
        },
        _ => String::new(),
    }
}

/// A submitted form, read into what the engine takes.
#[derive(Debug, Default)]
pub(crate) struct Read {
    /// The channel's name, when the form has the field.
    pub name: Option<String>,
    /// Settings (a blank field of an existing channel is `null`: back to the default).
    pub settings: Map<String, Value>,
    /// The credentials given (empty: keep the current ones).
    pub credentials: Map<String, Value>,
    /// Fields the console could not read, by key.
    pub refusals: Vec<(&'static str, Refusal)>,
}

/// Reads the fields of a submitted form. `existing`: the channel exists, so a blank
/// field resets its setting to the default (else it is left out).
pub(crate) fn read(
    fields: &[&'static Field],
    form: &Fields,
    existing: bool,
    t: &Catalogue,
) -> Read {
    let mut r = Read::default();
    for fd in fields {
        let given = form.get(fd.key);
        let value = match (fd.input, given) {
            (Input::Warehouses, _) => Some(Value::Array(
                form.all(fd.key)
                    .into_iter()
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| Value::String(v.trim().to_owned()))
                    .collect(),
            )),
            (Input::Name, v) => {
                // Blank is given as empty: the engine refuses an empty name.
                r.name = Some(v.unwrap_or_default().to_owned());
                continue;
            }
            (Input::Secret, Some(v)) => {
                r.credentials.insert(fd.key.into(), v.into());
                continue;
            }
            (Input::Secret, None) => continue,
            (Input::YesNo(_), None) => continue,
            (_, None) => existing.then_some(Value::Null),
            (Input::Number, Some(v)) => match number(v) {
                Some(n) => Some(n),
                None => {
                    let why =
                        Refusal::console(ErrorCode::ValidationFailed, t.s("channel.not_a_number"));
                    r.refusals.push((fd.key, why));
                    continue;
                }
            },
            (Input::YesNo(_), Some(v)) => match v {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => {
                    r.refusals.push((fd.key, not_an_option(t)));
                    continue;
                }
            },
            (Input::Choice(opts), Some(v)) if !opts.contains(&v) => {
                r.refusals.push((fd.key, not_an_option(t)));
                continue;
            }
            (_, Some(v)) => Some(Value::String(v.to_owned())),
        };
        if let Some(v) = value {
            r.settings.insert(fd.key.into(), v);
        }
    }
    r
}

fn not_an_option(t: &Catalogue) -> Refusal {
    Refusal::console(ErrorCode::ValidationFailed, t.s("channel.not_an_option"))
}

/// A number typed by a person: `3`, `2.5` or `2,5`.
fn number(v: &str) -> Option<Value> {
    if let Ok(i) = v.parse::<i64>() {
        return Some(i.into());
    }
    let x: f64 = v.replace(',', ".").parse().ok()?;
    serde_json::Number::from_f64(x).map(Value::Number)
}

/// The field an engine refusal belongs to (`None`: the top of the form). The engine
/// names the setting in its detail (`unknown setting `x``, `store_id must be ...`,
/// `missing field `app_secret``); an address belongs to the URL the channel calls;
/// credentials refusals to the first credential.
pub(crate) fn place(
    e: &EngineError,
    fields: &[&'static Field],
    read: &Read,
) -> Option<&'static str> {
    let has = |k: &str| fields.iter().find(|f| f.key == k).map(|f| f.key);
    let first_secret = || {
        fields
            .iter()
            .find(|f| f.input == Input::Secret)
            .map(|f| f.key)
    };
    match e.code() {
        ErrorCode::UnknownSetting | ErrorCode::InvalidSettings | ErrorCode::ValidationFailed => {
            let detail = e.to_string();
            fields
                .iter()
                .filter_map(|f| named_at(&detail, f.key).map(|at| (at, f.key)))
                .min()
                .map(|(_, k)| k)
        }
        ErrorCode::ForbiddenAddress => {
            let url_given = read
                .settings
                .get("api_base_url")
                .is_some_and(|v| !v.is_null());
            if url_given {
                has("api_base_url")
            } else {
                has("account").or_else(|| has("api_base_url"))
            }
        }
        ErrorCode::CredentialsRequired | ErrorCode::CredentialsInUse => first_secret(),
        _ => None,
    }
}

/// Where `key` appears in `text` as a whole word.
fn named_at(text: &str, key: &str) -> Option<usize> {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    text.match_indices(key).map(|(i, _)| i).find(|&i| {
        !word(text[..i].chars().next_back()) && !word(text[i + key.len()..].chars().next())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Catalogues, Lang};
    use axum::body::Bytes;

    fn form(body: &str) -> Fields {
        let tenant = ponte_core::TenantId(uuid::Uuid::nil());
        let s = crate::session::Session {
            tenant,
            caller: ponte_engine::Caller {
                tenant,
                role: ponte_core::Role::Admin,
                actor: ponte_store::Actor {
                    kind: "token".into(),
                    id: String::new(),
                    name: "test".into(),
                },
            },
            csrf: "c".into(),
            lang: Lang::PtBr,
        };
        Fields::checked(&s, &Bytes::from(format!("csrf=c&{body}"))).unwrap()
    }

    #[test]
    fn every_field_and_choice_is_named_in_both_languages() {
        let c = Catalogues::load().unwrap();
        let mut keys = vec![];
        for fd in PLATFORMS
            .iter()
            .flat_map(|p| platform_fields(p))
            .chain(AUTOMATIONS.iter())
            .chain(STOCK.iter())
        {
            keys.push(format!("setting.{}", fd.key));
            keys.push(format!("setting_hint.{}", fd.key));
            if let Input::Choice(opts) = fd.input {
                keys.extend(opts.iter().map(|o| format!("choice.{o}")));
            }
        }
        keys.extend(PLATFORMS.iter().map(|p| format!("platform.{p}")));
        keys.extend(PLATFORMS.iter().map(|p| format!("status_map_values.{p}")));
        for lang in [Lang::PtBr, Lang::En] {
            let cat = c.get(lang);
            let missing: Vec<_> = keys.iter().filter(|k| cat.s(k) == k.as_str()).collect();
            assert!(missing.is_empty(), "{lang:?} misses {missing:?}");
        }
    }

    #[test]
    fn a_form_reads_into_settings_and_credentials() {
        let c = Catalogues::load().unwrap();
        let t = c.get(Lang::PtBr);
        let fields = platform_fields("nuvemshop");
        let f = form(
            "name=Loja&store_id=42&api_base_url=&rate_limit_per_sec=2%2C5&rate_limit_burst=40\
             &instant_events=false&import_policy=all&access_token=tok&app_secret=",
        );
        let r = read(&fields, &f, true, t);
        assert_eq!(r.name.as_deref(), Some("Loja"));
        assert!(r.refusals.is_empty(), "{:?}", r.refusals);
        assert_eq!(r.settings["store_id"], "42");
        assert_eq!(
            r.settings["api_base_url"],
            Value::Null,
            "blank: the default"
        );
        assert_eq!(r.settings["rate_limit_per_sec"], 2.5);
        assert_eq!(r.settings["rate_limit_burst"], 40);
        assert_eq!(r.settings["instant_events"], false);
        assert_eq!(r.settings["import_policy"], "all");
        assert_eq!(
            Value::Object(r.credentials.clone()),
            serde_json::json!({"access_token": "tok"})
        );
        // A new channel leaves blank fields out.
        assert!(!read(&fields, &f, false, t)
            .settings
            .contains_key("api_base_url"));
        let bad = read(
            &fields,
            &form("rate_limit_burst=lots&import_policy=some&instant_events=maybe"),
            true,
            t,
        );
        let keys: Vec<_> = bad.refusals.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            ["instant_events", "import_policy", "rate_limit_burst"]
        );
    }

    #[test]
    fn secrets_are_never_shown() {
        let c = Catalogues::load().unwrap();
        let f = form("name=Loja&access_token=tok-secret&app_secret=sec-secret");
        let fields = platform_fields("nuvemshop");
        let v = views(&fields, &Shown::Submitted(&f), c.get(Lang::PtBr), &[], &[]);
        for fv in v.iter().filter(|v| v.kind == "secret") {
            assert_eq!(fv.value, "");
        }
        assert_eq!(v[0].value, "Loja");
    }

    #[test]
    fn refusals_go_to_the_field_they_name() {
        let fields = platform_fields("nuvemshop");
        let read = Read::default();
        let at = |e: EngineError| place(&e, &fields, &read);
        assert_eq!(
            at(EngineError::Invalid("name must not be empty".into())),
            Some("name")
        );
        assert_eq!(at(EngineError::CredentialsRequired), Some("access_token"));
        assert_eq!(at(EngineError::ShuttingDown), None);
        assert_eq!(
            named_at("missing field `app_secret`", "app_secret"),
            Some(15)
        );
        assert_eq!(named_at("stock_warehouses lists", "warehouses"), None);
        assert_eq!(named_at("x store_id must", "store_id"), Some(2));
    }
}
