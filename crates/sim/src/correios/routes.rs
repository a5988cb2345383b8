//! Router, gate (faults, request log) and handlers.
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::{CorreiosSim, SimEvent, MAX_CODES};
use crate::faults::{raw_response, FaultKind};
use crate::reqlog::RequestRecord;

/// Router state.
#[derive(Clone)]
pub struct AppState {
    pub sim: CorreiosSim,
    pub shutdown: watch::Receiver<bool>,
}

pub fn router(st: AppState) -> Router {
    Router::new()
        .route("/token/v1/autentica/cartaopostagem", post(token))
        .route("/srorastro/v1/objetos", get(objetos_query))
        .route("/srorastro/v1/objetos/{codes}", get(objetos_path))
        .fallback(|| async { error(404, "recurso não encontrado") })
        .layer(middleware::from_fn_with_state(st.clone(), gate))
        .with_state(st)
}

fn json_response(status: u16, body: &Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
    )
        .into_response()
}

/// `{"msgs": [message]}` (assumed error shape).
fn error(status: u16, message: impl Into<String>) -> Response {
    json_response(status, &json!({"msgs": [message.into()]}))
}

fn too_many() -> Response {
    let mut r = error(429, "Too Many Requests");
    r.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn fault_response(kind: &FaultKind) -> Response {
    match kind {
        FaultKind::Redirect(_) | FaultKind::Oversized(_) => kind.common_response(),
        FaultKind::Unauthorized => error(401, "token inválido"),
        FaultKind::Raw {
            status,
            headers,
            body,
        } => raw_response(*status, headers, body),
        FaultKind::RateLimited { .. } => too_many(),
        FaultKind::Status(code) => error(*code, "falha simulada"),
        FaultKind::Delay(_) => error(500, "erro interno"),
    }
}

async fn gate(State(st): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let at = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let resp = match st.sim.inner.faults.take(&method, &path) {
        Some(FaultKind::Delay(d)) => {
            let mut rx = st.shutdown.clone();
            let stopped = tokio::select! {
                () = tokio::time::sleep(d) => false,
                _ = rx.wait_for(|s| *s) => true,
            };
            if stopped {
                error(503, "shutting down")
            } else {
                next.run(req).await
            }
        }
        Some(kind) => fault_response(&kind),
        None => next.run(req).await,
    };
    st.sim.inner.log.push(RequestRecord {
        method,
        path,
        query,
        status: resp.status().as_u16(),
        at,
    });
    resp
}

/// Brasília time without an offset (as `dtHrCriado` in MAN § 14).
fn local(t: chrono::DateTime<Utc>) -> String {
    (t - chrono::Duration::hours(3))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// `POST /token/v1/autentica/cartaopostagem`.
async fn token(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let cfg = &st.sim.inner.config;
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    if basic.as_deref() != Some(&format!("{}:{}", cfg.user, cfg.access_code)) {
        return error(401, "usuário ou código de acesso inválido");
    }
    let card = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["numero"].as_str().map(str::to_owned));
    if card.as_deref() != Some(cfg.postage_card.as_str()) {
        return error(401, "cartão de postagem inválido");
    }
    let token = format!("sim.{:032x}", rand::random::<u128>());
    let now = Utc::now();
    let expires = now + chrono::Duration::from_std(cfg.token_ttl).unwrap_or_default();
    {
        let mut s = st.sim.store();
        s.tokens
            .insert(token.clone(), Instant::now() + cfg.token_ttl);
        s.tokens_issued += 1;
    }
    json_response(
        201,
        &json!({"ambiente": "PRODUCAO", "id": cfg.user, "perfil": "PJ",
                "cartaoPostagem": {"numero": cfg.postage_card},
                "emissao": local(now), "expiraEm": local(expires), "token": token}),
    )
}

async fn objetos_path(
    State(st): State<AppState>,
    Path(codes): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let codes = codes
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    objetos(&st, &headers, codes, q.as_deref().unwrap_or_default())
}

async fn objetos_query(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let q = q.unwrap_or_default();
    let codes = pairs(&q)
        .filter(|(k, _)| *k == "codigosObjetos")
        .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|c| !c.is_empty())
        .collect();
    objetos(&st, &headers, codes, &q)
}

fn pairs(q: &str) -> impl Iterator<Item = (&str, &str)> {
    q.split('&').filter_map(|p| p.split_once('='))
}

/// `GET /srorastro/v1/objetos…` (MAN § 14).
fn objetos(st: &AppState, headers: &HeaderMap, codes: Vec<String>, q: &str) -> Response {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let valid = st
        .sim
        .store()
        .tokens
        .get(&bearer)
        .is_some_and(|until| *until > Instant::now());
    if !valid {
        return error(401, "token inválido ou expirado");
    }
    if let Some(b) = crate::lock(&st.sim.inner.bucket).as_mut() {
        if b.try_acquire(Instant::now()).is_err() {
            return too_many();
        }
    }
    if codes.is_empty() || codes.len() > MAX_CODES {
        return error(400, format!("informe de 1 a {MAX_CODES} objetos"));
    }
    let last_only = pairs(q).any(|(k, v)| k == "resultado" && v == "U");
    let mut s = st.sim.store();
    s.asked.push(codes.len());
    let objetos: Vec<Value> = codes
        .iter()
        .map(|c| match s.objects.get(c) {
            None => json!({"codObjeto": c,
                           "mensagem": "SRO-020: Objeto não encontrado na base de dados dos Correios."}),
            Some(events) => {
                let mut shown: Vec<&SimEvent> = events.iter().rev().collect();
                if last_only {
                    shown.truncate(1);
                }
                json!({
                    "codObjeto": c,
                    "tipoPostal": {"sigla": &c[..c.len().min(2)], "descricao": "ENCOMENDA SEDEX (ETIQ LOGICA)", "categoria": "SEDEX"},
                    "modalidade": "F",
                    "eventos": shown.iter().map(|e| json!({
                        "codigo": e.codigo, "tipo": e.tipo, "dtHrCriado": local(e.at),
                        "descricao": e.descricao,
                        "unidade": {"tipo": "Unidade de Distribuição", "endereco": {"uf": e.uf, "cidade": e.cidade}},
                    })).collect::<Vec<_>>(),
                })
            }
        })
        .collect();
    json_response(
        200,
        &json!({"versao": "1.8.7", "quantidade": objetos.len(),
                "resultado": if last_only { "Último Evento" } else { "Todos os Eventos" },
                "objetos": objetos}),
    )
}
