//! Correios, API Rastro (CWS). Facts: platforms.md "6. Brazilian carriers", from the
//! Correios "Manual de Integração" (Rev. 09/2023 V2.2, §§ 8, 11, 14, = MAN) and
//! third-party clients:
//!
//! - token: `POST {base}/token/v1/autentica/cartaopostagem` with HTTP Basic auth
//!   (idCorreios user, access code) and the postage card as JSON (MAN § 8). The body key
//!   `numero`, the answer's `token` and `expiraEm` and the ~24 h lifetime are
//!   third-party; `expiraEm` without an offset is read as Brasília time (assumed).
//! - tracking: `GET {base}/srorastro/v1/objetos/{code}?resultado=T` with
//!   `Authorization: Bearer` (MAN §§ 11, 14). Several codes in one call as repeated
//!   `codigosObjetos` parameters, at most 50 per call: third-party.
//! - answer: `objetos[{codObjeto, eventos[{codigo, tipo, dtHrCriado, descricao,
//!   unidade{endereco{cidade, uf}}}]}]`, events newest first (MAN § 14); unknown codes
//!   come back in `objetos[]` with a `mensagem` (third-party). `dtHrCriado` without an
//!   offset is read as Brasília time (assumed).
//! - delivered: `BDE`, `BDI` or `BDR` with `tipo` `01` (MAN example `BDE/01`; the
//!   BDI/BDR rule is third-party). Other `tipo`s of those codes are failed attempts or
//!   exceptions (third-party): undeliverable. An event whose description says the
//!   object is going back to the sender ("devolvido", "devolução") is `returned`: an
//!   assumption, the material lists no return code.
//! - the API's request limits are not published: the account's budget defaults to 5
//!   calls per second (assumed); a 429 waits for `Retry-After` like any platform's.

use super::settings::check_secret;
use super::{Carrier, CarrierSettings, Tracked, TrackingEvent, TrackingOutcome};
use crate::http_call::{retry_after, send};
use crate::settings::from_value;
use crate::{ConfigError, Outbound, PlatformError, PlatformErrorKind, RateLimit};
use async_trait::async_trait;
use chrono::{DateTime, Duration as CDuration, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::Mutex;

/// Most codes per tracking call (third-party).
pub const MAX_CODES_PER_CALL: usize = 50;

/// A token is renewed this long before it expires.
const TOKEN_MARGIN_MINUTES: i64 = 5;

/// Credentials of a Correios account (sealed at rest, never shown).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorreiosCredentials {
    /// The idCorreios user (HTTP Basic user of the token call).
    pub user: String,
    /// The access code generated in CWS (HTTP Basic password).
    pub access_code: String,
    /// The postage card number (cartão de postagem).
    pub postage_card: String,
}

impl std::fmt::Debug for CorreiosCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CorreiosCredentials { .. }")
    }
}

/// Validates settings with Correios' defaults.
pub(crate) fn settings(v: &serde_json::Value) -> Result<serde_json::Value, ConfigError> {
    Ok(CarrierSettings::parse(v, super::CarrierKind::Correios)?.to_value())
}

/// Parses and checks credentials.
pub(crate) fn credentials(v: &serde_json::Value) -> Result<CorreiosCredentials, ConfigError> {
    let c: CorreiosCredentials = from_value(v)?;
    check_secret("user", &c.user)?;
    check_secret("access_code", &c.access_code)?;
    check_secret("postage_card", &c.postage_card)?;
    Ok(c)
}

/// The token call's answer (third-party keys).
#[derive(Deserialize)]
struct TokenAnswer {
    token: String,
    #[serde(rename = "expiraEm")]
    expira_em: Option<String>,
}

/// `GET /srorastro/v1/objetos…` (MAN § 14).
#[derive(Deserialize)]
struct RastroAnswer {
    #[serde(default)]
    objetos: Vec<Objeto>,
}

#[derive(Deserialize)]
struct Objeto {
    #[serde(rename = "codObjeto")]
    cod_objeto: String,
    #[serde(default)]
    mensagem: Option<String>,
    #[serde(default)]
    eventos: Vec<Evento>,
}

#[derive(Deserialize)]
struct Evento {
    codigo: String,
    #[serde(default)]
    tipo: Option<serde_json::Value>,
    #[serde(rename = "dtHrCriado")]
    dt_hr_criado: String,
    #[serde(default)]
    descricao: String,
    #[serde(default)]
    detalhe: Option<String>,
    #[serde(default)]
    unidade: Option<Unidade>,
}

#[derive(Deserialize)]
struct Unidade {
    #[serde(default)]
    endereco: Option<Endereco>,
}

#[derive(Deserialize)]
struct Endereco {
    #[serde(default)]
    cidade: Option<String>,
    #[serde(default)]
    uf: Option<String>,
}

/// Reads a Correios timestamp: RFC 3339, or without an offset as Brasília time.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
        .ok()?;
    // Brasília time (no daylight saving since 2019).
    FixedOffset::west_opt(3 * 3600)?
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// `tipo` as two digits (`1` and `"01"` alike).
fn tipo_of(v: Option<&serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::Number(n)) => format!("{:02}", n.as_u64().unwrap_or(0)),
        Some(serde_json::Value::String(s)) => match s.trim().parse::<u32>() {
            Ok(n) => format!("{n:02}"),
            Err(_) => s.trim().to_owned(),
        },
        _ => String::new(),
    }
}

/// What an event means (rules in the module documentation).
pub fn outcome(codigo: &str, tipo: &str, descricao: &str) -> TrackingOutcome {
    let d = descricao.to_lowercase();
    if d.contains("devolvid") || d.contains("devolução") || d.contains("devolucao") {
        return TrackingOutcome::Returned;
    }
    match (codigo, tipo) {
        ("BDE" | "BDI" | "BDR", "01") => TrackingOutcome::Delivered,
        ("BDE" | "BDI" | "BDR", _) => TrackingOutcome::Undeliverable,
        _ => TrackingOutcome::InTransit,
    }
}

/// Maps a tracking answer: one [`Tracked`] per object, events oldest first.
pub fn map_answer(body: &[u8]) -> Result<Vec<Tracked>, PlatformError> {
    let answer: RastroAnswer = serde_json::from_slice(body)
        .map_err(|e| PlatformError::permanent(format!("unreadable Correios answer: {e}")))?;
    let mut out = Vec::with_capacity(answer.objetos.len());
    for o in answer.objetos {
        let mut events = Vec::with_capacity(o.eventos.len());
        for e in o.eventos.into_iter().rev() {
            let Some(at) = parse_time(&e.dt_hr_criado) else {
                return Err(PlatformError::permanent(format!(
                    "unreadable Correios event time `{}`",
                    e.dt_hr_criado
                )));
            };
            let tipo = tipo_of(e.tipo.as_ref());
            let location =
                e.unidade
                    .and_then(|u| u.endereco)
                    .and_then(|a| match (a.cidade, a.uf) {
                        (Some(c), Some(uf)) => Some(format!("{c}/{uf}")),
                        (c, uf) => c.or(uf),
                    });
            let description = match e.detalhe {
                Some(d) if !d.is_empty() => format!("{} ({d})", e.descricao),
                _ => e.descricao.clone(),
            };
            events.push(TrackingEvent {
                outcome: outcome(&e.codigo, &tipo, &e.descricao),
                code: format!("{}/{tipo}", e.codigo),
                at,
                description,
                location,
            });
        }
        out.push(Tracked {
            code: o.cod_objeto,
            events,
            message: o.mensagem,
        });
    }
    Ok(out)
}

/// A Correios account.
pub struct Correios {
    settings: CarrierSettings,
    credentials: CorreiosCredentials,
    http: Outbound,
    /// The bearer token and until when it is used.
    token: Mutex<Option<(String, DateTime<Utc>)>>,
}

impl Correios {
    pub(crate) fn new(
        settings: CarrierSettings,
        credentials: CorreiosCredentials,
        http: Outbound,
    ) -> Self {
        Self {
            settings,
            credentials,
            http,
            token: Mutex::new(None),
        }
    }

    /// A token: the one held while it is fresh, else a new one (one call).
    async fn token(&self, calls: &mut u32) -> Result<String, PlatformError> {
        let mut held = self.token.lock().await;
        if let Some((t, until)) = held.as_ref() {
            if *until > Utc::now() {
                return Ok(t.clone());
            }
        }
        *calls += 1;
        let req = self
            .http
            .post(format!(
                "{}/token/v1/autentica/cartaopostagem",
                self.settings.api_base_url
            ))
            .basic_auth(&self.credentials.user, Some(&self.credentials.access_code))
            .header("Accept", "application/json")
            .json(&serde_json::json!({ "numero": self.credentials.postage_card }));
        let (_, body) = send(req, "POST /token/v1/autentica/cartaopostagem".into(), wait).await;
        let answer: TokenAnswer = serde_json::from_slice(&body?)
            .map_err(|e| PlatformError::permanent(format!("unreadable Correios token: {e}")))?;
        let now = Utc::now();
        let until = answer
            .expira_em
            .as_deref()
            .and_then(parse_time)
            .unwrap_or(now + CDuration::hours(24))
            .min(now + CDuration::hours(24))
            - CDuration::minutes(TOKEN_MARGIN_MINUTES);
        *held = Some((answer.token.clone(), until));
        Ok(answer.token)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    async fn rastro(&self, token: &str, codes: &[String]) -> Result<Vec<u8>, PlatformError> {
        let base = &self.settings.api_base_url;
        let req = match codes {
            [one] => self
                .http
                .get(format!("{base}/srorastro/v1/objetos/{}", encode(one)))
                .query(&[("resultado", "T")]),
            many => {
                let mut q: Vec<(&str, &str)> = many
                    .iter()
                    .map(|c| ("codigosObjetos", c.as_str()))
                    .collect();
                q.push(("resultado", "T"));
                self.http
                    .get(format!("{base}/srorastro/v1/objetos"))
                    .query(&q)
            }
        };
        let req = req.bearer_auth(token).header("Accept", "application/json");
        send(req, "GET /srorastro/v1/objetos".into(), wait).await.1
    }

    /// One tracking call with the held (or a new) token; `calls` counts the requests.
    async fn track_once(
        &self,
        calls: &mut u32,
        codes: &[String],
    ) -> Result<Vec<Tracked>, PlatformError> {
        let token = self.token(calls).await?;
        *calls += 1;
        map_answer(&self.rastro(&token, codes).await?)
    }
}

/// Keeps a tracking code to the characters codes have (letters and digits).
fn encode(code: &str) -> String {
    code.chars().filter(char::is_ascii_alphanumeric).collect()
}

fn wait(h: &reqwest::header::HeaderMap) -> Duration {
    retry_after(h).unwrap_or(Duration::from_secs(1))
}

#[async_trait]
impl Carrier for Correios {
    fn batch_size(&self) -> usize {
        MAX_CODES_PER_CALL
    }

    fn rate_limit(&self) -> RateLimit {
        RateLimit {
            burst: self.settings.rate_limit_burst,
            per_sec: self.settings.rate_limit_per_sec,
        }
    }

    async fn track(&self, codes: &[String]) -> (u32, Result<Vec<Tracked>, PlatformError>) {
        let mut calls = 0;
        let first = self.track_once(&mut calls, codes).await;
        // A 401 may be a token revoked early: one new token, one more try.
        let result = match first {
            Err(e) if e.kind == PlatformErrorKind::Auth => {
                self.forget_token().await;
                self.track_once(&mut calls, codes).await
            }
            r => r,
        };
        (calls, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MAN § 14's example answer (fixtures/correios, provenance in SOURCES.md).
    fn fixture() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/correios/rastro_objeto_response.json"
        ))
        .unwrap_or_default()
    }

    #[test]
    fn the_manuals_example_maps_oldest_first_with_delivery_last() {
        let t = map_answer(&fixture()).unwrap_or_default();
        assert_eq!(t.len(), 1, "{t:?}");
        let o = &t[0];
        assert_eq!(o.code, "DG049186226BR");
        let codes: Vec<_> = o
            .events
            .iter()
            .map(|e| (e.code.as_str(), e.outcome))
            .collect();
        assert_eq!(
            codes,
            [
                ("PO/01", TrackingOutcome::InTransit),
                ("RO/01", TrackingOutcome::InTransit),
                ("OEC/03", TrackingOutcome::InTransit),
                ("BDE/01", TrackingOutcome::Delivered),
            ]
        );
        let last = o
            .events
            .last()
            .map(|e| (e.at.to_rfc3339(), e.location.clone()));
        assert_eq!(
            last,
            Some(("2022-03-11T20:03:00+00:00".into(), Some("XAPURI/AC".into()))),
            "Brasília time"
        );
    }

    #[test]
    fn an_unknown_object_carries_its_message() {
        // Shape third-party (platforms.md: not-found objects come back with `mensagem`).
        let body = br#"{"objetos": [{"codObjeto": "XX000000000BR", "mensagem": "SRO-020: Objeto n\u00e3o encontrado"}]}"#;
        let t = map_answer(body).unwrap_or_default();
        assert_eq!(t.len(), 1);
        assert!(t[0].events.is_empty() && t[0].message.is_some(), "{t:?}");
    }

    #[test]
    fn outcomes_follow_the_documented_codes() {
        assert_eq!(
            outcome("BDE", "01", "Objeto entregue ao destinatário"),
            TrackingOutcome::Delivered
        );
        assert_eq!(outcome("BDI", "01", "x"), TrackingOutcome::Delivered);
        assert_eq!(outcome("BDR", "01", "x"), TrackingOutcome::Delivered);
        assert_eq!(
            outcome("BDE", "20", "Carteiro não atendido"),
            TrackingOutcome::Undeliverable
        );
        assert_eq!(
            outcome("BDE", "23", "Objeto devolvido ao remetente"),
            TrackingOutcome::Returned
        );
        assert_eq!(
            outcome("OEC", "01", "Objeto saiu para entrega"),
            TrackingOutcome::InTransit
        );
        assert_eq!(tipo_of(Some(&serde_json::json!(1))), "01");
        assert_eq!(tipo_of(Some(&serde_json::json!("1"))), "01");
    }
}
