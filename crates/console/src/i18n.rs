//! Message catalogues: every string the console shows, by dotted key, in Portuguese
//! (`i18n/pt-BR/*.toml`, the default) and English (`i18n/en/*.toml`), one file per
//! area. Templates ask `t.s("orders.title")`; tests prove both catalogues hold every
//! key used.

use axum::http::{header, HeaderMap};
use std::collections::HashMap;

/// A console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Português (Brasil), the default.
    PtBr,
    /// English.
    En,
}

impl Lang {
    /// The tag (`pt-BR`, `en`), as in `<html lang>` and the language cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::PtBr => "pt-BR",
            Lang::En => "en",
        }
    }

    /// Parses a tag this console serves.
    pub fn parse(tag: &str) -> Option<Lang> {
        match tag {
            "pt-BR" | "pt" => Some(Lang::PtBr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language cookie if set, else the `Accept-Language` preference (English when
    /// English ranks above Portuguese), else Portuguese.
    pub(crate) fn of(headers: &HeaderMap) -> Lang {
        if let Some(l) = crate::session::cookie(headers, LANG_COOKIE).and_then(|v| Lang::parse(&v))
        {
            return l;
        }
        let Some(accept) = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Lang::PtBr;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut it = part.trim().split(";q=");
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q: f32 = it.next().and_then(|q| q.trim().parse().ok()).unwrap_or(1.0);
            let lang = if tag.starts_with("pt") {
                Lang::PtBr
            } else if tag.starts_with("en") {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::PtBr, |b| b.1)
    }
}

/// The cookie that remembers the language switch.
pub(crate) const LANG_COOKIE: &str = "ponte_lang";

/// One language's strings.
#[derive(Debug)]
pub struct Catalogue {
    lang: Lang,
    strings: HashMap<String, String>,
}

impl Catalogue {
    /// The string for `key`; the key itself when missing (a test keeps none missing).
    pub fn s<'a>(&'a self, key: &'a str) -> &'a str {
        self.strings.get(key).map_or(key, String::as_str)
    }

    /// The string for `prefix.name` (e.g. an order status), or `name` when missing.
    pub fn of<'a>(&'a self, prefix: &str, name: &'a str) -> &'a str {
        self.strings
            .get(&format!("{prefix}.{name}"))
            .map_or(name, String::as_str)
    }

    /// Its language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.strings.keys().map(String::as_str)
    }

    fn parse(lang: Lang, files: &[&str]) -> Result<Self, toml::de::Error> {
        let mut strings = HashMap::new();
        for text in files {
            let table: toml::Table = toml::from_str(text)?;
            flatten("", &table, &mut strings);
        }
        Ok(Catalogue { lang, strings })
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

/// One catalogue file per area of the console, in each language.
macro_rules! catalogue_files {
    ($($area:literal),* $(,)?) => {
        const PT_BR: [&str; [$($area),*].len()] = [$(include_str!(concat!("../i18n/pt-BR/", $area, ".toml"))),*];
        const EN: [&str; [$($area),*].len()] = [$(include_str!(concat!("../i18n/en/", $area, ".toml"))),*];
    };
}

catalogue_files![
    "common",
    "tickets",
    "orders",
    "sends",
    "channels",
    "tasks",
    "codes",
    "actions",
    "stock",
    "prices",
    "deliveries",
    "settings",
    "access",
    "endpoints",
];

/// Both catalogues, parsed once at start.
#[derive(Debug)]
pub(crate) struct Catalogues {
    pt: Catalogue,
    en: Catalogue,
}

impl Catalogues {
    /// Parses the embedded catalogues.
    pub(crate) fn load() -> Result<Self, toml::de::Error> {
        Ok(Catalogues {
            pt: Catalogue::parse(Lang::PtBr, &PT_BR)?,
            en: Catalogue::parse(Lang::En, &EN)?,
        })
    }

    /// One language's catalogue.
    pub(crate) fn get(&self, lang: Lang) -> &Catalogue {
        match lang {
            Lang::PtBr => &self.pt,
            Lang::En => &self.en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_core::action::ActionKind;
    use ponte_core::{ErrorCode, OrderStatus};
    use ponte_store::SendState;
    use std::collections::BTreeSet;

    fn both() -> Catalogues {
        Catalogues::load().unwrap()
    }

    #[test]
    fn both_catalogues_hold_the_same_keys() {
        let c = both();
        let pt: BTreeSet<_> = c.pt.keys().collect();
        let en: BTreeSet<_> = c.en.keys().collect();
        assert_eq!(
            pt.difference(&en).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "in pt-BR only"
        );
        assert_eq!(
            en.difference(&pt).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "in en only"
        );
    }

    /// Every `s("key")` in the templates and the sources names a key of the catalogues.
    #[test]
    fn every_key_used_is_in_the_catalogues() {
        let c = both();
        let mut used = BTreeSet::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["templates", "src", "src/pages"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices("s(\"") {
                    let rest = &text[i + 3..];
                    let key = &rest[..rest.find('"').unwrap()];
                    if key.contains('.') && !key.contains(' ') {
                        used.insert(key.to_owned());
                    }
                }
            }
        }
        assert!(used.len() > 20, "{used:?}");
        let missing: Vec<_> = used
            .iter()
            .filter(|k| !c.pt.strings.contains_key(*k))
            .collect();
        assert!(missing.is_empty(), "keys missing: {missing:?}");
    }

    /// Statuses, send states, action kinds and error codes are all named.
    #[test]
    fn every_code_has_a_name() {
        let c = both();
        let mut keys: Vec<String> = OrderStatus::ALL
            .iter()
            .map(|s| format!("status.{}", s.as_str()))
            .collect();
        keys.extend(
            [
                SendState::Pending,
                SendState::Succeeded,
                SendState::Failed,
                SendState::Blocked,
            ]
            .iter()
            .map(|s| format!("send_state.{}", s.as_str())),
        );
        keys.extend(
            ActionKind::ALL
                .iter()
                .map(|k| format!("kind.{}", k.as_str())),
        );
        keys.extend(
            ErrorCode::ALL
                .iter()
                .map(|e| format!("code.{}", e.as_str())),
        );
        for cat in [&c.pt, &c.en] {
            let missing: Vec<_> = keys
                .iter()
                .filter(|k| !cat.strings.contains_key(*k))
                .collect();
            assert!(missing.is_empty(), "{:?} misses {missing:?}", cat.lang);
        }
    }

    #[test]
    fn accept_language_picks_english_only_when_preferred() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_LANGUAGE, v.parse().unwrap());
            m
        };
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::PtBr);
        assert_eq!(Lang::of(&h("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::of(&h("pt-BR,pt;q=0.9,en;q=0.8")), Lang::PtBr);
        assert_eq!(Lang::of(&h("fr, en;q=0.5, pt;q=0.7")), Lang::PtBr);
        assert_eq!(Lang::of(&h("de")), Lang::PtBr);
        let mut both = h("en");
        both.insert(header::COOKIE, "ponte_lang=pt-BR".parse().unwrap());
        assert_eq!(Lang::of(&both), Lang::PtBr);
    }
}
