//! SAC tickets (customer service): what a channel's question, post-sale message thread
//! or claim looks like once read from the platform, before ponte stores it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a ticket is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    /// A question before the sale (on a listing).
    Question,
    /// A message thread after the sale (on an order or pack).
    Message,
    /// A claim or complaint about an order.
    Claim,
}

impl TicketKind {
    /// Every kind.
    pub const ALL: [TicketKind; 3] = [Self::Question, Self::Message, Self::Claim];

    /// API and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Question => "question",
            Self::Message => "message",
            Self::Claim => "claim",
        }
    }

    /// Parses an API and storage name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    /// Waiting for the seller.
    Open,
    /// The seller answered; the customer may write again.
    Answered,
    /// Closed (on the platform, or by ponte where the platform allows).
    Closed,
}

impl TicketState {
    /// Every state.
    pub const ALL: [TicketState; 3] = [Self::Open, Self::Answered, Self::Closed];

    /// API and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Answered => "answered",
            Self::Closed => "closed",
        }
    }

    /// Parses an API and storage name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    /// The buyer (or would-be buyer).
    Customer,
    /// The seller (from ponte or from the platform's own pages).
    Seller,
    /// The platform itself (a mediator in a claim).
    Platform,
}

impl Author {
    /// API and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Seller => "seller",
            Self::Platform => "platform",
        }
    }
}

/// One message as the platform gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchedMessage {
    /// The platform's id of the message (stable: the same message read again is one).
    pub external_id: String,
    /// Who wrote it.
    pub author: Author,
    /// Its text.
    pub text: String,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Links to its attachments.
    pub attachments: Vec<String>,
}

/// A ticket as the platform gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchedTicket {
    /// ponte's name of the platform resource (`question:123`, `pack:456`, `claim:789`).
    pub external_id: String,
    /// What it is about.
    pub kind: TicketKind,
    /// Its state on the platform.
    pub state: TicketState,
    /// The platform id of its order, when it has one.
    pub order_ref: Option<String>,
    /// A short subject (the listing, the claim's reason).
    pub subject: String,
    /// Its messages, in any order.
    pub messages: Vec<FetchedMessage>,
    /// When the platform last changed it, when it says.
    pub updated_at: Option<DateTime<Utc>>,
}

/// What ponte asks a platform about a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboundAction {
    /// Post a text as the seller's answer.
    Answer,
    /// Close the ticket.
    Close,
}
