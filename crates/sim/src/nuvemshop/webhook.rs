//! Signed webhook notifications, as Nuvemshop sends them: a JSON body with the
//! store id, the event and the resource id only, signed with
//! `X-Linkedstore-HMAC-SHA256` = lowercase hex HMAC-SHA256(raw body, app secret).

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::NuvemshopSim;
use crate::SimError;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Linkedstore-HMAC-SHA256";

/// Lowercase hex HMAC-SHA256 of `body` with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this never fails.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

impl NuvemshopSim {
    /// `{"store_id":<store_id>,"event":"<event>","id":<id>}` (numbers, in this key
    /// order, no spaces), the documented order-event payload.
    pub fn notification_body(&self, event: &str, id: u64) -> Vec<u8> {
        let event = serde_json::to_string(event).unwrap_or_else(|_| "\"\"".into());
        format!(
            "{{\"store_id\":{},\"event\":{event},\"id\":{id}}}",
            self.inner.config.store_id
        )
        .into_bytes()
    }

    /// The `X-Linkedstore-HMAC-SHA256` value for `body`.
    pub fn signature(&self, body: &[u8]) -> String {
        sign(self.inner.config.app_secret.as_bytes(), body)
    }

    /// POSTs a signed notification for `event` about `order_id` to `url`;
    /// returns the receiver's status code.
    pub async fn send_webhook(
        &self,
        client: &reqwest::Client,
        url: &str,
        event: &str,
        order_id: u64,
    ) -> Result<u16, SimError> {
        let body = self.notification_body(event, order_id);
        self.post_signed(client, url, body).await
    }

    /// POSTs an already built body with its signature.
    pub async fn post_signed(
        &self,
        client: &reqwest::Client,
        url: &str,
        body: Vec<u8>,
    ) -> Result<u16, SimError> {
        let sig = self.signature(&body);
        let resp = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::USER_AGENT,
                "Nuvemshop-Webhooks (ponte-sim)",
            )
            .header(SIGNATURE_HEADER, sig)
            .body(body)
            .send()
            .await?;
        Ok(resp.status().as_u16())
    }

    /// Sends `event` about `order_id` to every webhook registered for that
    /// event (through `POST /webhooks`). One attempt each, 10 s timeout (the
    /// platform's retries are not simulated). Returns `(url, result)` pairs.
    pub async fn fire_subscriptions(
        &self,
        event: &str,
        order_id: u64,
    ) -> Vec<(String, Result<u16, SimError>)> {
        let urls: Vec<String> = self
            .read()
            .webhooks
            .values()
            .filter(|w| w.event == event)
            .map(|w| w.url.clone())
            .collect();
        if urls.is_empty() {
            return Vec::new();
        }
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                let msg = e.to_string();
                return urls
                    .into_iter()
                    .map(|u| (u, Err(SimError::Invalid(format!("http client: {msg}")))))
                    .collect();
            }
        };
        let mut out = Vec::with_capacity(urls.len());
        for url in urls {
            let r = self.send_webhook(&client, &url, event, order_id).await;
            out.push((url, r));
        }
        out
    }
}
