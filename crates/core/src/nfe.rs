//! NF-e (Brazilian electronic invoice): the 44-digit access key and the figures ponte
//! reads from an authorized NF-e XML (layout 4.00, docs/platforms.md §7).

use crate::money::parse_cents;
use chrono::{DateTime, Utc};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde::{Deserialize, Serialize};

/// A validated 44-digit NF-e access key (chave de acesso).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String)]
pub struct NfeKey(String);

/// Why a string is not an access key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NfeKeyError {
    /// Not 44 digits.
    #[error("an NF-e access key has 44 digits")]
    Format,
    /// The last digit does not match.
    #[error("the NF-e access key's check digit is wrong")]
    CheckDigit,
}

impl NfeKey {
    /// Parses a key, accepting spaces and the `NFe` prefix of the XML `Id` attribute.
    /// Assumption (unverified): keys stay numeric; the alphanumeric CNPJ is not yet
    /// part of the key layout ponte has seen.
    pub fn parse(s: &str) -> Result<NfeKey, NfeKeyError> {
        let s: String = s
            .trim()
            .trim_start_matches("NFe")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if s.len() != 44 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NfeKeyError::Format);
        }
        let digits: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        if check_digit(&digits[..43]) != digits[43] {
            return Err(NfeKeyError::CheckDigit);
        }
        Ok(NfeKey(s))
    }

    /// The 44 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The issuer's CNPJ (or CPF, zero-padded), positions 7-20.
    pub fn issuer(&self) -> &str {
        &self.0[6..20]
    }

    /// Model: 55 (NF-e) or 65 (NFC-e).
    pub fn model(&self) -> &str {
        &self.0[20..22]
    }
}

/// Mod 11 with weights 2..9 from the right; remainders 0 and 1 give 0.
fn check_digit(digits: &[u32]) -> u32 {
    let sum: u32 = digits
        .iter()
        .rev()
        .zip([2, 3, 4, 5, 6, 7, 8, 9].iter().cycle())
        .map(|(d, w)| d * w)
        .sum();
    match sum % 11 {
        0 | 1 => 0,
        r => 11 - r,
    }
}

impl TryFrom<String> for NfeKey {
    type Error = NfeKeyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        NfeKey::parse(&s)
    }
}

impl From<NfeKey> for String {
    fn from(k: NfeKey) -> String {
        k.0
    }
}

/// What ponte reads from an NF-e XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfeSummary {
    /// Access key.
    pub key: NfeKey,
    /// Number (`ide/nNF`).
    pub number: String,
    /// Series (`ide/serie`).
    pub series: String,
    /// Issue time (`ide/dhEmi`).
    pub issued_at: Option<DateTime<Utc>>,
    /// Total in centavos (`total/ICMSTot/vNF`).
    pub total_cents: i64,
    /// `protNFe/infProt/cStat` is 100 (authorized).
    pub authorized: bool,
    /// `ide/tpAmb` is 2 (homologation, not a real invoice).
    pub homologation: bool,
}

/// Why an NF-e XML was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NfeXmlError {
    /// Not well-formed XML.
    #[error("the NF-e XML is not well-formed: {0}")]
    Xml(String),
    /// A field ponte needs is missing or wrong.
    #[error("the NF-e XML has no valid {0}")]
    Missing(&'static str),
    /// The key in `infNFe/@Id` and in the protocol differ.
    #[error("the NF-e XML's access keys disagree")]
    KeyMismatch,
    /// Bad key.
    #[error(transparent)]
    Key(#[from] NfeKeyError),
}

impl NfeSummary {
    /// Reads an `nfeProc` (or bare `NFe`) document.
    pub fn from_xml(xml: &str) -> Result<NfeSummary, NfeXmlError> {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().trim_text(true);
        let mut path: Vec<String> = vec![];
        let (
            mut id_key,
            mut prot_key,
            mut number,
            mut series,
            mut issued,
            mut total,
            mut stat,
            mut amb,
        ) = (None, None, None, None, None, None, None, None);
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if name == "infNFe" {
                        if let Ok(Some(a)) = e.try_get_attribute("Id") {
                            id_key = Some(String::from_utf8_lossy(&a.value).into_owned());
                        }
                    }
                    path.push(name);
                }
                Ok(Event::End(_)) => {
                    path.pop();
                }
                Ok(Event::Text(t)) => {
                    let text = t
                        .unescape()
                        .map_err(|e| NfeXmlError::Xml(e.to_string()))?
                        .into_owned();
                    let tail: Vec<&str> = path.iter().rev().take(2).map(String::as_str).collect();
                    match tail.as_slice() {
                        ["nNF", "ide"] => number = Some(text),
                        ["serie", "ide"] => series = Some(text),
                        ["dhEmi", "ide"] => {
                            issued = DateTime::parse_from_rfc3339(&text)
                                .ok()
                                .map(|d| d.with_timezone(&Utc))
                        }
                        ["tpAmb", "ide"] => amb = Some(text),
                        ["vNF", "ICMSTot"] => total = parse_cents(&text),
                        ["chNFe", "infProt"] => prot_key = Some(text),
                        ["cStat", "infProt"] => stat = Some(text),
                        _ => {}
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return Err(NfeXmlError::Xml(e.to_string())),
            }
        }
        let key = match (id_key, prot_key) {
            (Some(a), Some(b)) => {
                let (a, b) = (NfeKey::parse(&a)?, NfeKey::parse(&b)?);
                if a != b {
                    return Err(NfeXmlError::KeyMismatch);
                }
                a
            }
            (Some(k), None) | (None, Some(k)) => NfeKey::parse(&k)?,
            (None, None) => return Err(NfeXmlError::Missing("access key")),
        };
        Ok(NfeSummary {
            key,
            number: number.ok_or(NfeXmlError::Missing("ide/nNF"))?,
            series: series.ok_or(NfeXmlError::Missing("ide/serie"))?,
            issued_at: issued,
            total_cents: total.ok_or(NfeXmlError::Missing("total/ICMSTot/vNF"))?,
            authorized: stat.as_deref() == Some("100"),
            homologation: amb.as_deref() == Some("2"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FIXTURE_KEY: &str = "43180906929383000163550010000000261000010301";

    #[test]
    fn keys() {
        let k = NfeKey::parse(FIXTURE_KEY).unwrap();
        assert_eq!(k.issuer(), "06929383000163");
        assert_eq!(k.model(), "55");
        assert_eq!(NfeKey::parse(&format!("NFe{FIXTURE_KEY}")), Ok(k));
        assert_eq!(
            NfeKey::parse("4318 0906 9293 8300 0163 5500 1000 0000 2610 0001 0301").map(|k| k.0),
            Ok(FIXTURE_KEY.into())
        );
        assert_eq!(
            NfeKey::parse(&FIXTURE_KEY.replace("0301", "0302")),
            Err(NfeKeyError::CheckDigit)
        );
        assert_eq!(NfeKey::parse("123"), Err(NfeKeyError::Format));
        assert_eq!(NfeKey::parse(&"a".repeat(44)), Err(NfeKeyError::Format));
    }

    #[test]
    fn reads_the_fixture() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/nfe/nfe_layout4_com_prot.xml"
        );
        let xml = std::fs::read_to_string(path).unwrap();
        let s = NfeSummary::from_xml(&xml).unwrap();
        assert_eq!(s.key.as_str(), FIXTURE_KEY);
        assert_eq!((s.number.as_str(), s.series.as_str()), ("26", "1"));
        assert_eq!(s.total_cents, 50_000);
        assert!(s.authorized);
        assert!(s.homologation, "the fixture is a homologation document");
        assert_eq!(
            s.issued_at.map(|t| t.to_rfc3339()),
            Some("2018-09-25T03:00:00+00:00".into())
        );
        let tampered = xml.replace(
            &format!("<chNFe>{FIXTURE_KEY}"),
            "<chNFe>43180906929383000163550010000000271000010306",
        );
        assert!(NfeSummary::from_xml(&tampered).is_err());
        assert!(matches!(
            NfeSummary::from_xml("<nfeProc><NFe>"),
            Err(NfeXmlError::Xml(_)) | Err(NfeXmlError::Missing(_))
        ));
    }

    proptest! {
        #[test]
        fn a_wrong_check_digit_is_always_refused(base in proptest::collection::vec(0u32..10, 43), delta in 1u32..10) {
            let dv = check_digit(&base);
            let mut s: String = base.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
            s.push(char::from_digit((dv + delta) % 10, 10).unwrap());
            if (dv + delta) % 10 != dv {
                prop_assert_eq!(NfeKey::parse(&s), Err(NfeKeyError::CheckDigit));
            }
        }

        #[test]
        fn xml_reader_never_panics(s in ".{0,200}") {
            let _ = NfeSummary::from_xml(&s);
        }
    }
}
