//! The seller's OAuth tokens (platforms.md §3 "Auth"; issue 18 item 2).
//!
//! Access tokens last about 6 hours and every refresh returns a new refresh token
//! (the old one stops working) — the 6 h lifetime and the rotation are marked
//! unverified in the material; the code assumes both and reads `expires_in` when ML
//! sends it. `POST /oauth/token` with `grant_type=refresh_token`, `client_id`,
//! `client_secret`, `refresh_token` (form-encoded, the OAuth 2 shape).
//!
//! A token is renewed [`REFRESH_MARGIN`] before it expires, and a 401 on a call
//! forces one renewal. One renewal at a time: per connector a mutex, across instances
//! a claim in the stored credentials taken by compare-and-set
//! ([`CredentialVault::replace`]) — the winner calls ML and stores the new pair (in
//! the same write that drops the claim and the old pair); the others wait for it and
//! read the result. `invalid_grant` is an [`PlatformErrorKind::Auth`] error: the
//! engine holds the channel's work until the seller reconnects (new credentials).

use super::dto;
use super::settings::MlCredentials;
use crate::http_call::send;
use crate::{CallInfo, CredentialVault, Outbound, PlatformError, PlatformErrorKind};
use chrono::{DateTime, Duration as Span, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// How long before its expiry a token is renewed.
pub const REFRESH_MARGIN: Span = Span::minutes(5);

/// How long a renewal claim holds (a crashed claimer is taken over after it).
const CLAIM: Span = Span::seconds(30);

/// How often a waiting instance reads the stored credentials again.
const WAIT_STEP: Duration = Duration::from_millis(100);

/// Lifetime assumed when ML does not say (`expires_in` missing): 6 hours.
const DEFAULT_LIFETIME_SECS: i64 = 6 * 3600;

/// A failure getting a token: the token call made, if any, and why.
type TokenError = (Option<CallInfo>, PlatformError);

/// A channel's tokens, renewed on demand.
pub struct Tokens {
    creds: Mutex<MlCredentials>,
    vault: Option<Arc<dyn CredentialVault>>,
}

fn fresh(c: &MlCredentials, now: DateTime<Utc>, stale: Option<&str>) -> Option<String> {
    let a = c.access_token.as_ref()?;
    let ok = c.access_expires_at.is_none_or(|e| e - REFRESH_MARGIN > now);
    (ok && stale != Some(a.as_str())).then(|| a.clone())
}

fn vault_error(e: impl std::fmt::Display) -> TokenError {
    (
        None,
        PlatformError {
            kind: PlatformErrorKind::Transient,
            status: None,
            message: e.to_string(),
        },
    )
}

impl Tokens {
    /// Tokens from stored credentials; `vault` stores renewed pairs.
    pub fn new(c: &MlCredentials, vault: Option<Arc<dyn CredentialVault>>) -> Self {
        Self {
            creds: Mutex::new(c.clone()),
            vault,
        }
    }

    /// A usable access token: the current one unless it expires within
    /// [`REFRESH_MARGIN`] or is `stale` (the token a call just saw refused).
    pub async fn access(
        &self,
        http: &Outbound,
        base_url: &str,
        stale: Option<&str>,
    ) -> Result<String, TokenError> {
        let mut creds = self.creds.lock().await;
        if let Some(a) = fresh(&creds, Utc::now(), stale) {
            return Ok(a);
        }
        let Some(vault) = &self.vault else {
            let renewed = self.renew(http, base_url, &creds).await?;
            let a = renewed.access_token.clone().unwrap_or_default();
            *creds = renewed;
            return Ok(a);
        };
        loop {
            let stored = vault.load().await.map_err(vault_error)?;
            let mut current = MlCredentials::parse(&stored)
                .map_err(|e| vault_error(format!("stored credentials: {e}")))?;
            let now = Utc::now();
            // Another instance renewed them (or the seller reconnected): use that.
            if let Some(a) = fresh(&current, now, stale) {
                *creds = current;
                return Ok(a);
            }
            if current.refreshing_until.is_some_and(|u| u > now) {
                tokio::time::sleep(WAIT_STEP).await;
                continue;
            }
            current.refreshing_until = Some(now + CLAIM);
            let claimed = serde_json::to_value(&current).map_err(vault_error)?;
            if !vault
                .replace(&stored, &claimed)
                .await
                .map_err(vault_error)?
            {
                continue;
            }
            let result = self.renew(http, base_url, &current).await;
            let back = match &result {
                Ok(renewed) => serde_json::to_value(renewed).map_err(vault_error)?,
                // Claim released, the pair left as it was.
                Err(_) => stored,
            };
            // Losing here means the seller replaced the credentials meanwhile: theirs
            // stay, this connector keeps its pair until it is rebuilt.
            let _ = vault.replace(&claimed, &back).await;
            let renewed = result?;
            let a = renewed.access_token.clone().unwrap_or_default();
            *creds = renewed;
            return Ok(a);
        }
    }

    /// The credentials with a new pair from ML.
    async fn renew(
        &self,
        http: &Outbound,
        base_url: &str,
        c: &MlCredentials,
    ) -> Result<MlCredentials, TokenError> {
        let now = Utc::now();
        let (info, result) = refresh(http, base_url, c).await;
        let token = result.map_err(|e| (Some(info), e))?;
        let lifetime = token.expires_in.unwrap_or(DEFAULT_LIFETIME_SECS);
        Ok(MlCredentials {
            access_token: Some(token.access_token),
            access_expires_at: Some(now + Span::seconds(lifetime)),
            refresh_token: token
                .refresh_token
                .unwrap_or_else(|| c.refresh_token.clone()),
            refreshing_until: None,
            ..c.clone()
        })
    }
}

/// `POST /oauth/token` with the refresh token of `c`.
async fn refresh(
    http: &Outbound,
    base_url: &str,
    c: &MlCredentials,
) -> (CallInfo, Result<dto::Token, PlatformError>) {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.as_str()),
        ("refresh_token", c.refresh_token.as_str()),
    ];
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", super::client::encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let req = http
        .request(reqwest::Method::POST, format!("{base_url}/oauth/token"))
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body);
    let (info, result) = send(
        req,
        "POST /oauth/token".into(),
        super::client::rate_limit_wait,
    )
    .await;
    let result = match result {
        Ok(b) => serde_json::from_slice::<dto::Token>(&b)
            .map_err(|e| PlatformError::permanent(format!("unreadable token answer: {e}"))),
        Err(e) if invalid_grant(&e) => Err(PlatformError {
            kind: PlatformErrorKind::Auth,
            status: e.status,
            message: "invalid_grant: the refresh token was revoked or already used; \
                      the seller must reconnect the Mercado Livre account"
                .into(),
        }),
        Err(e) => Err(e),
    };
    (info, result)
}

/// Whether a token answer is OAuth's `invalid_grant` (a 400 naming it).
fn invalid_grant(e: &PlatformError) -> bool {
    matches!(e.status, Some(400 | 401)) && e.message.contains("invalid_grant")
}
