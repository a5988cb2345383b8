//! Correios simulator: the CWS token (`POST /token/v1/autentica/cartaopostagem`, HTTP
//! Basic) and API Rastro (`GET /srorastro/v1/objetos/{codes}` and
//! `GET /srorastro/v1/objetos?codigosObjetos=…`, Bearer), objects whose events tests
//! add, a request limit (429), tokens that expire or are revoked (401), and faults.
//!
//! Sources: platforms.md "6. Brazilian carriers" (Correios Manual de Integração Rev.
//! 09/2023 V2.2 §§ 8, 11, 14 = MAN, and third-party clients); answer shape from
//! fixtures/correios. Assumptions (the material is silent or third-party only):
//! - the token answer is `{ambiente, id, perfil, cartaoPostagem{numero}, emissao,
//!   expiraEm, token}` with 201, times in Brasília time without an offset
//!   (third-party); a wrong user, access code or card answers 401;
//! - several codes per call (repeated `codigosObjetos`, or comma-joined in the path),
//!   at most 50 (third-party); more answers 400;
//! - an unknown code comes back as `{codObjeto, mensagem: "SRO-020: …"}` in `objetos`
//!   (third-party);
//! - errors are `{"msgs": [message]}`; 429 carries `Retry-After: 1`; the limit is a
//!   leaky bucket over every tracking call ([`CorreiosConfig::limit_per_sec`], the real
//!   number is not published).

mod routes;

use crate::lock;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub use crate::faults::{Fault, FaultKind};
pub use crate::reqlog::RequestRecord;
pub use crate::server::ServerHandle;
pub use axum::http::Method;

use crate::bucket::LeakyBucket;
use crate::faults::FaultQueue;
use crate::reqlog::RequestLog;

/// Most codes per tracking call (third-party).
pub const MAX_CODES: usize = 50;

/// Simulator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CorreiosConfig {
    /// The idCorreios user (Basic auth user of the token call).
    pub user: String,
    /// The access code (Basic auth password).
    pub access_code: String,
    /// The postage card the token body must name.
    pub postage_card: String,
    /// How long a token is valid (third-party: about 24 h).
    pub token_ttl: Duration,
    /// Tracking calls per second before 429 (`None`: no limit).
    pub limit_per_sec: Option<u32>,
    /// How many requests [`CorreiosSim::requests`] keeps.
    pub request_log_capacity: usize,
}

impl Default for CorreiosConfig {
    fn default() -> Self {
        Self {
            user: "loja-sim".into(),
            access_code: "sim-access-code".into(),
            postage_card: "0076770702".into(),
            token_ttl: Duration::from_secs(24 * 3600),
            limit_per_sec: Some(10),
            request_log_capacity: 100_000,
        }
    }
}

/// One event of an object, as a test adds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEvent {
    /// `PO`, `RO`, `OEC`, `BDE`, …
    pub codigo: String,
    /// `01`, `20`, …
    pub tipo: String,
    /// The words shown.
    pub descricao: String,
    /// City of the unit.
    pub cidade: String,
    /// State of the unit.
    pub uf: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl SimEvent {
    /// An event now in São Paulo/SP.
    pub fn now(codigo: &str, tipo: &str, descricao: &str) -> Self {
        Self {
            codigo: codigo.into(),
            tipo: tipo.into(),
            descricao: descricao.into(),
            cidade: "SAO PAULO".into(),
            uf: "SP".into(),
            at: Utc::now(),
        }
    }
}

#[derive(Default)]
pub(crate) struct Store {
    /// Events by object code, oldest first.
    pub(crate) objects: HashMap<String, Vec<SimEvent>>,
    /// Valid tokens and until when.
    pub(crate) tokens: HashMap<String, Instant>,
    pub(crate) tokens_issued: u64,
    /// Codes asked for, per tracking call answered 200.
    pub(crate) asked: Vec<usize>,
}

pub(crate) struct Inner {
    pub(crate) config: CorreiosConfig,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: FaultQueue,
    pub(crate) log: RequestLog,
    pub(crate) bucket: Mutex<Option<LeakyBucket>>,
}

/// Handle to a simulated Correios. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct CorreiosSim {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for CorreiosSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorreiosSim").finish_non_exhaustive()
    }
}

impl CorreiosSim {
    /// A Correios with no objects.
    pub fn new(config: CorreiosConfig) -> Self {
        let bucket = config
            .limit_per_sec
            .map(|n| LeakyBucket::new(n, f64::from(n)));
        Self {
            inner: Arc::new(Inner {
                log: RequestLog::new(config.request_log_capacity),
                config,
                store: Mutex::new(Store::default()),
                faults: FaultQueue::default(),
                bucket: Mutex::new(bucket),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CorreiosConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        lock(&self.inner.store)
    }

    /// Serves the API until [`ServerHandle::shutdown`].
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> ServerHandle {
        let (tx, rx) = watch::channel(false);
        let app = routes::router(routes::AppState {
            sim: self.clone(),
            shutdown: rx.clone(),
        });
        crate::server::serve("correios", "", listener, app, (tx, rx), None)
    }

    /// Queues a fault; faults apply in injection order.
    pub fn inject(&self, fault: Fault) {
        self.inner.faults.push(fault);
    }

    /// Requests answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.inner.log.snapshot()
    }

    /// How many logged requests had `method` and a path starting with `prefix`.
    pub fn request_count(&self, method: &Method, prefix: &str) -> usize {
        self.inner.log.count(method, prefix)
    }

    /// Adds an event to an object (created with it).
    pub fn add_event(&self, code: &str, event: SimEvent) {
        self.store()
            .objects
            .entry(code.to_owned())
            .or_default()
            .push(event);
    }

    /// Posts an object (`PO/01 Objeto postado`).
    pub fn post(&self, code: &str) {
        self.add_event(code, SimEvent::now("PO", "01", "Objeto postado"));
    }

    /// Delivers an object (`BDE/01 Objeto entregue ao destinatário`, MAN § 14).
    pub fn deliver(&self, code: &str) {
        self.add_event(
            code,
            SimEvent::now("BDE", "01", "Objeto entregue ao destinatário"),
        );
    }

    /// A failed delivery attempt (`BDE` with another `tipo`, third-party).
    pub fn fail_delivery(&self, code: &str) {
        self.add_event(code, SimEvent::now("BDE", "20", "Carteiro não atendido"));
    }

    /// An object sent back (`BDE/23 Objeto devolvido ao remetente`: assumed wording).
    pub fn return_to_sender(&self, code: &str) {
        self.add_event(
            code,
            SimEvent::now("BDE", "23", "Objeto devolvido ao remetente"),
        );
    }

    /// Every token stops working (the next tracking call answers 401).
    pub fn revoke_tokens(&self) {
        self.store().tokens.clear();
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.store().tokens_issued
    }

    /// How many codes each successful tracking call asked for.
    pub fn codes_per_call(&self) -> Vec<usize> {
        self.store().asked.clone()
    }
}
