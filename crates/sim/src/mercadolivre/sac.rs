//! SAC resources: questions and their answers, post-sale messages per pack, claims
//! and their messages; each change notified (topics `questions`, `messages`, `claims`).
//!
//! Sources (platforms.md has none): "Gestiona preguntas y respuestas" for questions
//! (`GET /questions/{id}`, statuses) and `POST /answers {question_id, text}`; "Messaging
//! after sale" and "Blocked messages" for `/messages/packs/{pack}/sellers/{seller}?tag=post_sale`
//! (mandatory `tag`, `conversation_status.status` active or blocked). Assumed (no page
//! found): the answer body (the question with its answer), a 2,000-character answer
//! limit, answering an answered question (400 `question_already_answered`), the
//! 350-character post-sale limit (as integrations describe it), a blocked conversation
//! refusing messages (400 `blocked_conversation`), the claim resources
//! (`/post-purchase/v1/claims/{id}`, `/messages`, `/actions/send-message`) and what each
//! notification's `resource` holds (`/questions/{id}`, `/messages/packs/{pack}`,
//! `/post-purchase/v1/claims/{id}`; a buyer's message is notified by its id,
//! `/messages/{id}`, read with `GET /messages/{id}?tag=post_sale` whose
//! `message_resources` name its pack).
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::Utc;
use serde_json::{json, Value};

use super::routes::{ml_error, ok, AppState};
use super::state::ts;
use super::MlSim;

/// Longest answer to a question.
pub const ANSWER_MAX: usize = 2000;
/// Longest post-sale message.
pub const MESSAGE_MAX: usize = 350;

/// The simulator's SAC records.
#[derive(Debug, Default)]
pub(crate) struct SacStore {
    pub questions: BTreeMap<u64, Value>,
    /// pack id -> (blocked, messages)
    pub packs: BTreeMap<u64, (bool, Vec<Value>)>,
    /// claim id -> (claim, messages)
    pub claims: BTreeMap<u64, (Value, Vec<Value>)>,
}

fn now() -> String {
    ts(Utc::now())
}

impl MlSim {
    /// A buyer asks a question on a listing: stored `UNANSWERED`, notified.
    pub fn ask_question(&self, item_id: &str, text: &str) -> u64 {
        let id = {
            let mut s = self.store();
            let id = s.next_id(13_000_000_000);
            let q = json!({"id": id, "seller_id": self.config().seller_id.parse::<u64>().unwrap_or(0),
                "item_id": item_id, "status": "UNANSWERED", "text": text, "date_created": now(),
                "deleted_from_listing": false, "hold": false, "answer": null, "from": {"id": 162_981_404}});
            s.sac.questions.insert(id, q);
            id
        };
        self.notify("questions", format!("/questions/{id}"));
        id
    }

    /// A question as served.
    pub fn question(&self, id: u64) -> Option<Value> {
        self.store().sac.questions.get(&id).cloned()
    }

    /// The buyer writes on a pack's conversation: stored, notified.
    pub fn buyer_message(&self, pack_id: u64, text: &str) -> String {
        let buyer = 90_000 + pack_id % 1000;
        let id = self.add_pack_message(pack_id, buyer, self.seller(), text);
        self.notify("messages", format!("/messages/{id}"));
        id
    }

    /// A pack's messages as served.
    pub fn pack_messages(&self, pack_id: u64) -> Vec<Value> {
        self.store()
            .sac
            .packs
            .get(&pack_id)
            .map(|p| p.1.clone())
            .unwrap_or_default()
    }

    /// Blocks a conversation (the buyer blocked it, or its time ran out).
    pub fn block_pack(&self, pack_id: u64) {
        self.store().sac.packs.entry(pack_id).or_default().0 = true;
    }

    /// The buyer opens a claim on an order: stored with its first message, notified.
    pub fn open_claim(&self, order_id: u64, reason_id: &str, text: &str) -> u64 {
        let id = {
            let mut s = self.store();
            let id = s.next_id(5_000_000_000);
            let claim = json!({"id": id, "resource": "order", "resource_id": order_id,
                "status": "opened", "stage": "claim", "type": "mediations", "reason_id": reason_id,
                "date_created": now(), "last_updated": now()});
            let first = claim_message("complainant", text);
            s.sac.claims.insert(id, (claim, vec![first]));
            id
        };
        self.notify("claims", format!("/post-purchase/v1/claims/{id}"));
        id
    }

    /// A claim's messages as served.
    pub fn claim_messages(&self, claim_id: u64) -> Vec<Value> {
        self.store()
            .sac
            .claims
            .get(&claim_id)
            .map(|c| c.1.clone())
            .unwrap_or_default()
    }

    /// Closes a claim (its resolution), notified.
    pub fn close_claim(&self, claim_id: u64) {
        if let Some(c) = self.store().sac.claims.get_mut(&claim_id) {
            c.0["status"] = json!("closed");
            c.0["last_updated"] = json!(now());
        }
        self.notify("claims", format!("/post-purchase/v1/claims/{claim_id}"));
    }

    fn seller(&self) -> u64 {
        self.config().seller_id.parse().unwrap_or(0)
    }

    fn add_pack_message(&self, pack_id: u64, from: u64, to: u64, text: &str) -> String {
        let id = format!("{:032x}", ulid::Ulid::generate().0);
        let m = json!({"id": id, "site_id": "MLB", "from": {"user_id": from}, "to": {"user_id": to},
            "status": "available", "text": text, "message_date": {"created": now(), "received": now(),
            "available": now(), "notified": now(), "read": null}, "message_attachments": null,
            "message_moderation": {"status": "clean"},
            "message_resources": [{"id": pack_id.to_string(), "name": "packs"}]});
        self.store().sac.packs.entry(pack_id).or_default().1.push(m);
        id
    }
}

fn claim_message(role: &str, text: &str) -> Value {
    let other = if role == "respondent" {
        "complainant"
    } else {
        "respondent"
    };
    json!({"sender_role": role, "receiver_role": other, "message": text, "date_created": now(),
        "last_updated": now(), "message_date": now(), "attachments": [], "status": "available",
        "stage": "claim"})
}

fn body_json(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|_| ml_error(400, "bad_request", "invalid JSON body"))
}

fn id_of(s: &str) -> Option<u64> {
    s.parse().ok()
}

pub(super) async fn question(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match id_of(&id).and_then(|id| st.sim.question(id)) {
        Some(q) => ok(&q),
        None => ml_error(404, "not_found", format!("question {id} not found")),
    }
}

pub(super) async fn answer(State(st): State<AppState>, body: Bytes) -> Response {
    let b = match body_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(id), Some(text)) = (b["question_id"].as_u64(), b["text"].as_str()) else {
        return ml_error(400, "bad_request", "question_id and text are required");
    };
    if text.trim().is_empty() || text.chars().count() > ANSWER_MAX {
        return ml_error(
            400,
            "invalid_text",
            format!("text must have 1 to {ANSWER_MAX} characters"),
        );
    }
    let answered = {
        let mut s = st.sim.store();
        let Some(q) = s.sac.questions.get_mut(&id) else {
            return ml_error(404, "not_found", format!("question {id} not found"));
        };
        if q["status"] != "UNANSWERED" {
            return ml_error(
                400,
                "question_already_answered",
                format!("question {id} is {}", q["status"]),
            );
        }
        q["status"] = json!("ANSWERED");
        q["answer"] = json!({"text": text, "status": "ACTIVE", "date_created": now()});
        q.clone()
    };
    st.sim.notify("questions", format!("/questions/{id}"));
    ok(&answered)
}

fn tagged(q: &[(String, String)]) -> Result<(), Response> {
    if q.iter().any(|(k, v)| k == "tag" && v == "post_sale") {
        Ok(())
    } else {
        Err(ml_error(400, "bad_request", "tag=post_sale is required"))
    }
}

pub(super) async fn message(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = tagged(&q) {
        return r;
    }
    let found = st
        .sim
        .store()
        .sac
        .packs
        .values()
        .flat_map(|p| p.1.iter())
        .find(|m| m["id"] == id.as_str())
        .cloned();
    match found {
        Some(m) => ok(&json!({"messages": [m]})),
        None => ml_error(404, "not_found", format!("message {id} not found")),
    }
}

pub(super) async fn pack_messages(
    State(st): State<AppState>,
    Path((pack, seller)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = tagged(&q) {
        return r;
    }
    if seller != st.sim.config().seller_id {
        return ml_error(403, "forbidden", "not this seller's conversation");
    }
    let Some(pack) = id_of(&pack) else {
        return ml_error(404, "not_found", "pack not found");
    };
    let (blocked, messages) = st
        .sim
        .store()
        .sac
        .packs
        .get(&pack)
        .cloned()
        .unwrap_or_default();
    let status = if blocked { "blocked" } else { "active" };
    ok(&json!({
        "paging": {"limit": 10, "offset": 0, "total": messages.len()},
        "conversation_status": {"path": format!("/packs/{pack}/sellers/{seller}"), "status": status,
            "substatus": if blocked { json!("blocked_by_buyer") } else { Value::Null },
            "status_date": now(), "status_update_allowed": false, "claim_ids": null, "shipping_id": null},
        "messages": messages,
    }))
}

pub(super) async fn post_pack_message(
    State(st): State<AppState>,
    Path((pack, seller)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Response {
    if let Err(r) = tagged(&q) {
        return r;
    }
    if seller != st.sim.config().seller_id {
        return ml_error(403, "forbidden", "not this seller's conversation");
    }
    let Some(pack) = id_of(&pack) else {
        return ml_error(404, "not_found", "pack not found");
    };
    let b = match body_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(to), Some(text)) = (b["to"]["user_id"].as_u64(), b["text"].as_str()) else {
        return ml_error(400, "bad_request", "to.user_id and text are required");
    };
    if text.trim().is_empty() || text.chars().count() > MESSAGE_MAX {
        return ml_error(
            400,
            "invalid_text",
            format!("text must have 1 to {MESSAGE_MAX} characters"),
        );
    }
    if st.sim.store().sac.packs.get(&pack).is_some_and(|p| p.0) {
        return ml_error(400, "blocked_conversation", "the conversation is blocked");
    }
    let id = st.sim.add_pack_message(pack, st.sim.seller(), to, text);
    ok(&json!({"id": id, "status": "available", "text": text, "to": {"user_id": to}}))
}

pub(super) async fn claim(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let c = id_of(&id).and_then(|id| st.sim.store().sac.claims.get(&id).map(|c| c.0.clone()));
    match c {
        Some(c) => ok(&c),
        None => ml_error(404, "not_found", format!("claim {id} not found")),
    }
}

pub(super) async fn claim_messages(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match id_of(&id).filter(|id| st.sim.store().sac.claims.contains_key(id)) {
        Some(id) => ok(&Value::Array(st.sim.claim_messages(id))),
        None => ml_error(404, "not_found", format!("claim {id} not found")),
    }
}

pub(super) async fn claim_send(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let b = match body_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(text) = b["message"].as_str().filter(|t| !t.trim().is_empty()) else {
        return ml_error(400, "bad_request", "message is required");
    };
    let Some(id) = id_of(&id) else {
        return ml_error(404, "not_found", "claim not found");
    };
    let mut s = st.sim.store();
    let Some(c) = s.sac.claims.get_mut(&id) else {
        return ml_error(404, "not_found", format!("claim {id} not found"));
    };
    if c.0["status"] == "closed" {
        return ml_error(400, "claim_closed", "the claim is closed");
    }
    c.1.push(claim_message("respondent", text));
    c.0["last_updated"] = json!(now());
    ok(&json!({"status": "ok"}))
}
