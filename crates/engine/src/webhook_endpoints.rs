//! Webhook endpoints: registered with a URL (public addresses only, as platform calls),
//! filters and a signing secret shown once; rotated with the old secret still signing
//! for a day; recover and resend queue deliveries again.

use crate::webhook_sign::{new_key, serialize_key};
use crate::{Engine, EngineError};
use chrono::{DateTime, Duration, Utc};
use ponte_core::event::EventType;
use ponte_core::{AttemptId, ChannelId, EndpointId, ErrorCode, TenantId};
use ponte_store::webhooks::{WebhookAttempt, WebhookEndpoint};
use ponte_store::{Page, PageRequest};

/// How long the secret replaced by a rotation still signs.
pub const OLD_SECRET_SIGNS_FOR: Duration = Duration::hours(24);

/// Longest description.
const MAX_DESCRIPTION: usize = 200;

/// A new endpoint's fields.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    /// Where events are POSTed (http or https, a public address).
    pub url: String,
    /// Only these types (`None`: all).
    pub events: Option<Vec<EventType>>,
    /// Only events of this channel.
    pub channel_id: Option<ChannelId>,
    /// What it is for.
    pub description: Option<String>,
    /// Most deliveries a second.
    pub rate_limit_per_sec: Option<u32>,
}

/// Changes to an endpoint (absent fields stay).
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    /// New URL.
    pub url: Option<String>,
    /// New type filter (`Some(None)`: all types).
    pub events: Option<Option<Vec<EventType>>>,
    /// New channel filter (`Some(None)`: all channels).
    pub channel_id: Option<Option<ChannelId>>,
    /// New description.
    pub description: Option<String>,
    /// New rate limit (`Some(None)`: none).
    pub rate_limit_per_sec: Option<Option<u32>>,
    /// Enables (its queue goes out again) or disables it.
    pub enabled: Option<bool>,
}

fn not_found() -> EngineError {
    EngineError::NotFound(ErrorCode::EndpointNotFound)
}

fn aad(id: EndpointId) -> Vec<u8> {
    format!("webhook-endpoint:{id}").into_bytes()
}

impl Engine {
    /// Refuses a URL that is not http(s) or reaches a non-public address.
    async fn check_endpoint_url(&self, url: &str) -> Result<(), EngineError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|_| EngineError::Invalid(format!("url `{url}` is not a URL")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(EngineError::Invalid(format!(
                "url `{url}` is not an http(s) URL"
            )));
        }
        match self.http.check_url(url).await {
            Err(e @ ponte_channels::ConfigError::ForbiddenAddress(_)) => Err(e.into()),
            Err(e) => Err(EngineError::Invalid(e.to_string())),
            Ok(()) => Ok(()),
        }
    }

    async fn check_channel_filter(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
    ) -> Result<(), EngineError> {
        let Some(c) = channel else {
            return Ok(());
        };
        match self.store.channel(c).await? {
            Some(ch) if ch.tenant_id == tenant => Ok(()),
            _ => Err(EngineError::Invalid(format!(
                "channel_id {c}: no such channel"
            ))),
        }
    }

    /// Registers an endpoint; returns it with its secret (`whsec_…`, shown once). It
    /// receives the events committed from now on.
    pub async fn create_endpoint(
        &self,
        tenant: TenantId,
        input: EndpointInput,
    ) -> Result<(WebhookEndpoint, String), EngineError> {
        self.check_endpoint_url(&input.url).await?;
        self.check_channel_filter(tenant, input.channel_id).await?;
        let description = checked_description(input.description.unwrap_or_default())?;
        checked_rate(input.rate_limit_per_sec)?;
        let id = EndpointId::new();
        let key = new_key();
        let now = self.clock.now();
        let ep = WebhookEndpoint {
            tenant_id: tenant,
            id,
            url: input.url,
            description,
            event_types: input.events,
            channel_id: input.channel_id,
            rate_limit_per_sec: input.rate_limit_per_sec,
            secret: self.cipher.seal(&key, &aad(id))?,
            old_secret: None,
            old_secret_until: None,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_endpoint(&ep).await?;
        Ok((ep, serialize_key(&key)))
    }

    /// A tenant's endpoint.
    pub async fn endpoint(
        &self,
        tenant: TenantId,
        id: EndpointId,
    ) -> Result<WebhookEndpoint, EngineError> {
        self.store.endpoint(tenant, id).await?.ok_or_else(not_found)
    }

    /// A tenant's endpoints.
    pub async fn endpoints(&self, tenant: TenantId) -> Result<Vec<WebhookEndpoint>, EngineError> {
        Ok(self.store.endpoints(tenant).await?)
    }

    /// Changes an endpoint. Enabling it clears why it was disabled and how long it has
    /// been failing.
    pub async fn update_endpoint(
        &self,
        tenant: TenantId,
        id: EndpointId,
        patch: EndpointPatch,
    ) -> Result<WebhookEndpoint, EngineError> {
        let mut ep = self.endpoint(tenant, id).await?;
        if let Some(url) = patch.url {
            self.check_endpoint_url(&url).await?;
            ep.url = url;
        }
        if let Some(c) = patch.channel_id {
            self.check_channel_filter(tenant, c).await?;
            ep.channel_id = c;
        }
        if let Some(t) = patch.events {
            ep.event_types = t;
        }
        if let Some(d) = patch.description {
            ep.description = checked_description(d)?;
        }
        if let Some(r) = patch.rate_limit_per_sec {
            checked_rate(r)?;
            ep.rate_limit_per_sec = r;
        }
        match patch.enabled {
            Some(true) if !ep.enabled => {
                ep.enabled = true;
                ep.disabled_reason = None;
                ep.failing_since = None;
            }
            Some(false) if ep.enabled => {
                ep.enabled = false;
                ep.disabled_reason = Some("by_user".into());
            }
            _ => {}
        }
        ep.updated_at = self.clock.now();
        if !self.store.update_endpoint(&ep).await? {
            return Err(not_found());
        }
        Ok(ep)
    }

    /// Deletes an endpoint with its queue and attempts.
    pub async fn delete_endpoint(
        &self,
        tenant: TenantId,
        id: EndpointId,
    ) -> Result<(), EngineError> {
        if self.store.delete_endpoint(tenant, id).await? {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    /// Gives an endpoint a new secret (returned, shown once); the old one still signs
    /// for [`OLD_SECRET_SIGNS_FOR`].
    pub async fn rotate_endpoint_secret(
        &self,
        tenant: TenantId,
        id: EndpointId,
    ) -> Result<(WebhookEndpoint, String), EngineError> {
        let mut ep = self.endpoint(tenant, id).await?;
        let key = new_key();
        let now = self.clock.now();
        ep.old_secret = Some(std::mem::replace(
            &mut ep.secret,
            self.cipher.seal(&key, &aad(id))?,
        ));
        ep.old_secret_until = Some(now + OLD_SECRET_SIGNS_FOR);
        ep.updated_at = now;
        if !self.store.update_endpoint(&ep).await? {
            return Err(not_found());
        }
        Ok((ep, serialize_key(&key)))
    }

    /// The keys that sign an endpoint's deliveries at `now`: its secret, and the one
    /// before the last rotation while that still signs.
    pub(crate) fn signing_keys(
        &self,
        ep: &WebhookEndpoint,
        now: DateTime<Utc>,
    ) -> Result<Vec<Vec<u8>>, EngineError> {
        let mut keys = vec![self.cipher.open(&ep.secret, &aad(ep.id))?];
        if let (Some(old), Some(until)) = (&ep.old_secret, ep.old_secret_until) {
            if now < until {
                keys.push(self.cipher.open(old, &aad(ep.id))?);
            }
        }
        Ok(keys)
    }

    /// An endpoint's delivery attempts, newest first.
    pub async fn endpoint_attempts(
        &self,
        tenant: TenantId,
        id: EndpointId,
        page: &PageRequest,
    ) -> Result<Page<WebhookAttempt>, EngineError> {
        self.endpoint(tenant, id).await?;
        Ok(self.store.webhook_attempts(tenant, id, page).await?)
    }

    /// Sends again every event the endpoint wants committed since `since`; how many.
    pub async fn recover_endpoint(
        &self,
        tenant: TenantId,
        id: EndpointId,
        since: DateTime<Utc>,
    ) -> Result<u64, EngineError> {
        self.endpoint(tenant, id).await?;
        let n = self
            .store
            .recover_deliveries(tenant, id, since, self.clock.now())
            .await?;
        self.webhook_wake.notify_one();
        Ok(n)
    }

    /// Sends again the message of one attempt.
    pub async fn resend_attempt(
        &self,
        tenant: TenantId,
        id: EndpointId,
        attempt: AttemptId,
    ) -> Result<(), EngineError> {
        self.endpoint(tenant, id).await?;
        let now = self.clock.now();
        if !self.store.resend_attempt(tenant, id, attempt, now).await? {
            return Err(EngineError::NotFound(ErrorCode::AttemptNotFound));
        }
        self.webhook_wake.notify_one();
        Ok(())
    }
}

fn checked_description(d: String) -> Result<String, EngineError> {
    let d = d.trim().to_owned();
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(EngineError::Invalid(format!(
            "description has more than {MAX_DESCRIPTION} characters"
        )));
    }
    Ok(d)
}

fn checked_rate(r: Option<u32>) -> Result<(), EngineError> {
    match r {
        Some(0) => Err(EngineError::Invalid(
            "rate_limit_per_sec must be at least 1".into(),
        )),
        _ => Ok(()),
    }
}
