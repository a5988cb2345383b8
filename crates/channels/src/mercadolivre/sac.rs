//! SAC on Mercado Livre: pre-sale questions, post-sale messages per pack and claims,
//! read after their notifications (topics `questions`, `messages`, `claims`) and
//! answered by the seller.
//!
//! Resources (platforms.md has none of them; found with the search tools):
//! - `GET /questions/{id}`: "Gestiona preguntas y respuestas"
//!   (developers.mercadolibre.com.mx/es_ar/category/gestiona-preguntas-respuestas):
//!   `{id, item_id, seller_id, status, text, date_created, answer: {text, status,
//!   date_created} | null, from: {id}}`; `status` UNANSWERED, ANSWERED, CLOSED_UNANSWERED,
//!   UNDER_REVIEW, BANNED, DELETED, DISABLED.
//! - `POST /answers` `{question_id, text}`: the same page's answering section as
//!   integrations describe it (public, cannot be edited); its answer body is ASSUMED
//!   to carry no id of its own, so the answer's message id is `{question}:answer`.
//! - `GET|POST /messages/packs/{pack}/sellers/{seller}?tag=post_sale`: "Messaging
//!   after sale" (developers.mercadolivre.com.br/en_us/introduction-services/messaging-after-sale)
//!   and "Blocked messages" (global-selling.mercadolibre.com/devsite/blocked-messages-gs):
//!   `{paging, conversation_status: {status: active|blocked, ...}, messages: [{id, from:
//!   {user_id}, to: {user_id}, text, message_date: {created}, message_attachments}]}`;
//!   `tag=post_sale` is mandatory since 2022-05-31. The POST body `{from: {user_id},
//!   to: {user_id}, text}` follows the same pages; the pack id is the order id when the
//!   order has no pack.
//! - `GET /post-purchase/v1/claims/{id}` and `GET /post-purchase/v1/claims/{id}/messages`
//!   (messages: an array of `{sender_role, receiver_role, message, date_created,
//!   attachments: [{filename}]}`, as integrations show it); a claim message is sent with
//!   `POST /post-purchase/v1/claims/{id}/actions/send-message` `{receiver_role, message}`
//!   — ASSUMED (no page found that shows the request). Claims are closed by their
//!   resolution, not by the seller: ponte does not close them.
//! - What a `messages` notification's `resource` holds is not shown on the pages found
//!   (they say only that new messages to the seller are notified): ponte takes a pack
//!   (`/messages/packs/{pack}`, or a numeric id) or a message id (hexadecimal, read with
//!   `GET /messages/{id}?tag=post_sale` to find its pack in `message_resources`; ASSUMED).
//!   `claims`: `/post-purchase/v1/claims/{id}` or the id alone (ASSUMED). "Trabajar con
//!   reclamos" (developers.mercadolibre.com.ar/es_ar/api-docs-es/trabajar-con-reclamos)
//!   confirms that claim messages can be read and sent without attachments.

use super::client::{encode, json_of, order_id_ok, Body, MlConnector};
use super::map::text;
use crate::{CallInfo, PlatformError, PlatformErrorKind, TicketSendReport};
use chrono::{DateTime, Utc};
use ponte_core::ticket::{
    Author, FetchedMessage, FetchedTicket, OutboundAction, TicketKind, TicketState,
};
use reqwest::Method;
use serde_json::{json, Value};

/// The prefix of a question's ticket id.
pub const QUESTION: &str = "question:";
/// The prefix of a pack's message thread.
pub const PACK: &str = "pack:";
/// The prefix of one post-sale message a notification named (read to find its pack).
pub const MESSAGE: &str = "message:";
/// The prefix of a claim.
pub const CLAIM: &str = "claim:";

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text(v)?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A question as a ticket.
pub(super) fn question_ticket(q: &Value) -> Result<FetchedTicket, PlatformError> {
    let id =
        text(&q["id"]).ok_or_else(|| PlatformError::permanent("question without id".into()))?;
    let asked = time(&q["date_created"]).unwrap_or_default();
    let mut messages = vec![FetchedMessage {
        external_id: format!("{id}:question"),
        author: Author::Customer,
        text: text(&q["text"]).unwrap_or_default(),
        at: asked,
        attachments: vec![],
    }];
    let mut updated = asked;
    if let Some(a) = q["answer"].as_object().filter(|_| !q["answer"].is_null()) {
        let at = time(&a.get("date_created").cloned().unwrap_or_default()).unwrap_or(asked);
        updated = updated.max(at);
        messages.push(FetchedMessage {
            external_id: format!("{id}:answer"),
            author: Author::Seller,
            text: a.get("text").and_then(text).unwrap_or_default(),
            at,
            attachments: vec![],
        });
    }
    let state = match text(&q["status"]).as_deref() {
        Some("UNANSWERED") | Some("UNDER_REVIEW") => TicketState::Open,
        Some("ANSWERED") => TicketState::Answered,
        _ => TicketState::Closed,
    };
    Ok(FetchedTicket {
        external_id: format!("{QUESTION}{id}"),
        kind: TicketKind::Question,
        state,
        order_ref: None,
        subject: text(&q["item_id"]).map_or_else(|| "Pergunta".into(), |i| format!("Anúncio {i}")),
        messages,
        updated_at: Some(updated),
    })
}

/// A pack's post-sale conversation as a ticket.
pub(super) fn pack_ticket(pack: &str, seller: &str, v: &Value) -> FetchedTicket {
    let mut messages: Vec<FetchedMessage> = v["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            let at = time(&m["message_date"]["created"])
                .or_else(|| time(&m["date_created"]))
                .unwrap_or_default();
            Some(FetchedMessage {
                external_id: text(&m["id"])?,
                author: if text(&m["from"]["user_id"]).as_deref() == Some(seller) {
                    Author::Seller
                } else {
                    Author::Customer
                },
                text: text(&m["text"]).unwrap_or_default(),
                at,
                attachments: attachments(&m["message_attachments"]),
            })
        })
        .collect();
    messages.sort_by_key(|m| m.at);
    let state = if text(&v["conversation_status"]["status"]).as_deref() == Some("blocked") {
        TicketState::Closed
    } else if messages.last().is_some_and(|m| m.author == Author::Seller) {
        TicketState::Answered
    } else {
        TicketState::Open
    };
    FetchedTicket {
        external_id: format!("{PACK}{pack}"),
        kind: TicketKind::Message,
        state,
        order_ref: Some(pack.to_owned()),
        subject: format!("Mensagens da venda {pack}"),
        updated_at: messages.last().map(|m| m.at),
        messages,
    }
}

/// A claim with its messages as a ticket.
pub(super) fn claim_ticket(id: &str, claim: &Value, msgs: &Value) -> FetchedTicket {
    let mut messages: Vec<FetchedMessage> = msgs
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = time(&m["date_created"]).unwrap_or_default();
            FetchedMessage {
                // Claim messages carry no id (as integrations show them): their date
                // and position name them.
                external_id: text(&m["id"])
                    .unwrap_or_else(|| format!("{}#{i}", at.timestamp_millis())),
                author: match text(&m["sender_role"]).as_deref() {
                    Some("respondent") => Author::Seller,
                    Some("mediator") => Author::Platform,
                    _ => Author::Customer,
                },
                text: text(&m["message"]).unwrap_or_default(),
                at,
                attachments: attachments(&m["attachments"]),
            }
        })
        .collect();
    messages.sort_by_key(|m| m.at);
    let state = match text(&claim["status"]).as_deref() {
        Some("closed") => TicketState::Closed,
        _ if messages.last().is_some_and(|m| m.author == Author::Seller) => TicketState::Answered,
        _ => TicketState::Open,
    };
    let order_ref = (text(&claim["resource"]).as_deref() == Some("order"))
        .then(|| text(&claim["resource_id"]))
        .flatten();
    FetchedTicket {
        external_id: format!("{CLAIM}{id}"),
        kind: TicketKind::Claim,
        state,
        order_ref,
        subject: text(&claim["reason_id"])
            .map_or_else(|| "Reclamação".into(), |r| format!("Reclamação {r}")),
        updated_at: time(&claim["last_updated"]).or(messages.last().map(|m| m.at)),
        messages,
    }
}

/// The ticket a `questions`, `messages` or `claims` notification points at.
pub(super) fn notified(topic: &str, resource: &str) -> Option<String> {
    let last = |prefixes: &[&str]| {
        let id = prefixes
            .iter()
            .find_map(|p| resource.strip_prefix(p))
            .unwrap_or(resource);
        order_id_ok(id).then(|| id.to_owned())
    };
    match topic {
        "questions" => last(&["/questions/"]).map(|id| format!("{QUESTION}{id}")),
        "messages" => last(&["/messages/packs/", "/packs/"])
            .map(|id| format!("{PACK}{id}"))
            .or_else(|| {
                // A message id (hexadecimal): its pack is read from the message.
                let id = resource.strip_prefix("/messages/").unwrap_or(resource);
                let ok = !id.is_empty()
                    && id.len() <= 64
                    && id.bytes().all(|b| b.is_ascii_alphanumeric());
                ok.then(|| format!("{MESSAGE}{id}"))
            }),
        "claims" => {
            last(&["/post-purchase/v1/claims/", "/claims/"]).map(|id| format!("{CLAIM}{id}"))
        }
        _ => None,
    }
}

fn attachments(v: &Value) -> Vec<String> {
    v.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|a| text(&a["filename"]))
        .collect()
}

fn refused(id: &str) -> PlatformError {
    PlatformError::permanent(format!("not a Mercado Livre ticket: {id}"))
}

impl MlConnector {
    fn pack_path(&self, pack: &str) -> String {
        format!(
            "/messages/packs/{pack}/sellers/{}?tag=post_sale",
            encode(&self.settings().seller_id)
        )
    }

    /// Reads a ticket.
    pub(super) async fn read_ticket(
        &self,
        external_id: &str,
    ) -> (Vec<CallInfo>, Result<FetchedTicket, PlatformError>) {
        if let Some(q) = external_id
            .strip_prefix(QUESTION)
            .filter(|i| order_id_ok(i))
        {
            let (info, r) = self.get_json(&format!("/questions/{q}"), &[]).await;
            return (vec![info], r.and_then(|v| question_ticket(&v)));
        }
        if let Some(m) = external_id.strip_prefix(MESSAGE) {
            // `GET /messages/{id}?tag=post_sale` ("Get messages by ID" on the messaging
            // page): the message names its pack in `message_resources` (ASSUMED shape:
            // `[{id, name: "packs"}]`).
            let path = format!("/messages/{}?tag=post_sale", encode(m));
            let (info, r) = self.get_json(&path, &[]).await;
            let mut calls = vec![info];
            let pack = r.and_then(|v| {
                // The message itself, or a list holding it (ASSUMED either way).
                let m = if v["messages"].is_array() {
                    &v["messages"][0]
                } else {
                    &v
                };
                let found = m["message_resources"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .find(|r| matches!(r["name"].as_str(), Some("packs" | "orders")))
                    .and_then(|r| text(&r["id"]));
                found.ok_or_else(|| PlatformError::permanent(format!("message {m} names no pack")))
            });
            let pack = match pack {
                Ok(p) if order_id_ok(&p) => p,
                Ok(p) => return (calls, Err(refused(&p))),
                Err(e) => return (calls, Err(e)),
            };
            let (info, r) = self.get_json(&self.pack_path(&pack), &[]).await;
            calls.push(info);
            let seller = &self.settings().seller_id;
            return (calls, r.map(|v| pack_ticket(&pack, seller, &v)));
        }
        if let Some(p) = external_id.strip_prefix(PACK).filter(|i| order_id_ok(i)) {
            let (info, r) = self.get_json(&self.pack_path(p), &[]).await;
            let seller = &self.settings().seller_id;
            return (vec![info], r.map(|v| pack_ticket(p, seller, &v)));
        }
        if let Some(c) = external_id.strip_prefix(CLAIM).filter(|i| order_id_ok(i)) {
            let (info, claim) = self
                .get_json(&format!("/post-purchase/v1/claims/{c}"), &[])
                .await;
            let mut calls = vec![info];
            let claim = match claim {
                Ok(v) => v,
                Err(e) => return (calls, Err(e)),
            };
            let (info, msgs) = self
                .get_json(&format!("/post-purchase/v1/claims/{c}/messages"), &[])
                .await;
            calls.push(info);
            return (calls, msgs.map(|m| claim_ticket(c, &claim, &m)));
        }
        (vec![], Err(refused(external_id)))
    }

    /// Answers a ticket (ML closes none: questions are answered, conversations and
    /// claims end on the platform).
    pub(super) async fn answer_ticket(
        &self,
        external_id: &str,
        action: OutboundAction,
        text_: &str,
    ) -> TicketSendReport {
        let mut calls = vec![];
        if action == OutboundAction::Close {
            return TicketSendReport {
                request: String::new(),
                calls,
                result: Err(PlatformError::permanent(
                    "Mercado Livre does not let a seller close this ticket".into(),
                )),
            };
        }
        let chars = text_.chars().count();
        let (path, body, fixed_id): (String, Value, Option<String>) = if let Some(q) = external_id
            .strip_prefix(QUESTION)
            .filter(|i| order_id_ok(i))
        {
            let qid = number(q);
            let answer = format!("{q}:answer");
            (
                "/answers".into(),
                json!({"question_id": qid, "text": text_}),
                Some(answer),
            )
        } else if let Some(p) = external_id.strip_prefix(PACK).filter(|i| order_id_ok(i)) {
            // The buyer is the other party of the conversation.
            let (info, r) = self.get_json(&self.pack_path(p), &[]).await;
            calls.push(info);
            let seller = self.settings().seller_id.clone();
            let buyer = r.map(|v| {
                v["messages"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|m| [text(&m["from"]["user_id"]), text(&m["to"]["user_id"])])
                    .flatten()
                    .find(|u| *u != seller)
            });
            let buyer = match buyer {
                Ok(Some(b)) => b,
                Ok(None) => {
                    return report(
                        calls,
                        "GET messages".into(),
                        Err(PlatformError::permanent(
                            "the conversation names no buyer to answer".into(),
                        )),
                    )
                }
                Err(e) => return report(calls, "GET messages".into(), Err(e)),
            };
            (
                self.pack_path(p),
                json!({"from": {"user_id": number(&seller)}, "to": {"user_id": number(&buyer)},
                           "text": text_}),
                None,
            )
        } else if let Some(c) = external_id.strip_prefix(CLAIM).filter(|i| order_id_ok(i)) {
            (
                format!("/post-purchase/v1/claims/{c}/actions/send-message"),
                json!({"receiver_role": "complainant", "message": text_}),
                None,
            )
        } else {
            return report(calls, String::new(), Err(refused(external_id)));
        };
        let label = format!(
            "POST {} ({chars} characters)",
            path.split('?').next().unwrap_or(&path)
        );
        let (info, r) = self.call(Method::POST, &path, &[], Body::Json(&body)).await;
        calls.push(info);
        let r = match r {
            // An answer refused because the question is answered: after a crash the
            // answer may be ours (sent, its result lost). ML keeps one answer per
            // question, so the same text there is success.
            Err(e) if e.kind == PlatformErrorKind::Permanent && fixed_id.is_some() => {
                let q = external_id.trim_start_matches(QUESTION);
                let (info, now) = self.get_json(&format!("/questions/{q}"), &[]).await;
                calls.push(info);
                match now {
                    Ok(v) if text(&v["answer"]["text"]).as_deref() == Some(text_.trim()) => {
                        return report(calls, label, Ok(fixed_id));
                    }
                    _ => Err(e),
                }
            }
            r => r,
        };
        // The message's id: fixed for a question's answer, else the one ML returns.
        let result =
            r.map(|(_, b)| fixed_id.or_else(|| text(&json_of(&b).unwrap_or(Value::Null)["id"])));
        report(calls, label, result)
    }
}

/// An ML id as the number ML writes it (as text when it is not one).
fn number(id: &str) -> Value {
    id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n))
}

fn report(
    calls: Vec<CallInfo>,
    request: String,
    result: Result<Option<String>, PlatformError>,
) -> TicketSendReport {
    TicketSendReport {
        request,
        calls,
        result,
    }
}
