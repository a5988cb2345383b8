//! Every public error code in one table: the code a client or an operator sees, the
//! HTTP status the API answers it with (none for codes only recorded in a history),
//! a title and when it happens. One condition, one code, everywhere; `ponte errors`
//! prints this table and `docs/errors.md` is generated from it.

macro_rules! codes {
    ($( $name:ident = $code:literal, $status:expr, $title:literal, $when:literal; )*) => {
        /// A public error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $(
                #[doc = $when]
                $name,
            )*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(Self::$name),*];

            /// The code as clients see it (`snake_case`).
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$name => $code,)* }
            }

            /// The HTTP status the API answers it with; `None` for codes recorded in a
            /// history (status sends, deliveries) and never answered.
            pub fn http_status(self) -> Option<u16> {
                match self { $(Self::$name => $status,)* }
            }

            /// A short title.
            pub fn title(self) -> &'static str {
                match self { $(Self::$name => $title,)* }
            }

            /// When it happens.
            pub fn when(self) -> &'static str {
                match self { $(Self::$name => $when,)* }
            }
        }
    };
}

codes! {
    Unauthorized = "unauthorized", Some(401), "Unauthorized",
        "The request has no API token, or not a valid one.";
    TenantDisabled = "tenant_disabled", Some(403), "Tenant disabled",
        "The tenant (merchant) is disabled by the installation's admin: its API and webhooks are refused and nothing is stored.";
    ForbiddenRole = "forbidden_role", Some(403), "Forbidden role",
        "The token's or person's role may not do this; the detail names the role needed.";
    PlanRequired = "plan_required", Some(422), "Plan required",
        "The tenant's plan does not include this; the detail names the plans or add-on that do.";
    TooManyAttempts = "too_many_attempts", Some(429), "Too many attempts",
        "Too many failed sign-ins for this account or from this address; try again later.";
    InvalidLogin = "invalid_login", Some(401), "Invalid sign-in",
        "The e-mail and password do not match an enabled person (which one is wrong is not said).";
    EmailTaken = "email_taken", Some(409), "E-mail taken",
        "Another person already signs in with this e-mail.";
    TenantNotFound = "tenant_not_found", Some(404), "Tenant not found",
        "No tenant with this id.";
    TokenNotFound = "token_not_found", Some(404), "Token not found",
        "No API token with this id for this tenant.";
    UserNotFound = "user_not_found", Some(404), "User not found",
        "No person with this id for this tenant.";
    InvalidBody = "invalid_body", Some(422), "Invalid body",
        "The body is JSON but not the object the route takes (a missing or unknown field, a wrong type).";
    UnsupportedMediaType = "unsupported_media_type", Some(415), "Unsupported media type",
        "The body is not sent as application/json.";
    InvalidQuery = "invalid_query", Some(400), "Invalid query",
        "A query parameter is malformed or unknown.";
    InvalidCursor = "invalid_cursor", Some(400), "Invalid cursor",
        "A pagination cursor that this API did not hand out.";
    InvalidRequest = "invalid_request", Some(400), "Invalid request",
        "A value the storage refuses (out of range, malformed id).";
    ValidationFailed = "validation_failed", Some(422), "Validation failed",
        "A field has a value the route does not accept; the detail names it.";
    PayloadTooLarge = "payload_too_large", Some(413), "Payload too large",
        "The body is larger than the route accepts (webhooks: 64 KiB).";
    NotFound = "not_found", Some(404), "Not found",
        "No such route or record.";
    ChannelNotFound = "channel_not_found", Some(404), "Channel not found",
        "No channel with this id for this tenant (API and webhook routes alike).";
    OrderNotFound = "order_not_found", Some(404), "Order not found",
        "No order with this id for this tenant.";
    StatusSendNotFound = "status_send_not_found", Some(404), "Status send not found",
        "No status send with this id for this tenant.";
    TaskNotFound = "task_not_found", Some(404), "Scheduled task not found",
        "No scheduled task with this id for this tenant.";
    TaskRunNotFound = "task_run_not_found", Some(404), "Task run not found",
        "No task run with this id for this tenant.";
    ProductNotFound = "product_not_found", Some(404), "Product not found",
        "No product with this SKU for this tenant.";
    EndpointNotFound = "webhook_endpoint_not_found", Some(404), "Webhook endpoint not found",
        "No webhook endpoint with this id for this tenant.";
    AttemptNotFound = "webhook_attempt_not_found", Some(404), "Webhook attempt not found",
        "No delivery attempt with this id for this webhook endpoint.";
    CarrierAccountNotFound = "carrier_account_not_found", Some(404), "Carrier account not found",
        "No carrier account with this id for this tenant.";
    UnknownCarrier = "unknown_carrier", Some(422), "Unknown carrier",
        "A carrier ponte has no connector for (it knows `correios` and `melhor_envio`).";
    CarrierAccountNameTaken = "carrier_account_name_taken", Some(409), "Carrier account name taken",
        "Another carrier account of the tenant already has this name.";
    TicketNotFound = "ticket_not_found", Some(404), "Ticket not found",
        "No SAC ticket with this id for this tenant.";
    TicketNotFromChannel = "ticket_not_from_channel", Some(409), "Ticket not from a channel",
        "The ticket was recorded in ponte, not downloaded from a channel: nothing about it can be sent to one.";
    TicketClosed = "ticket_closed", Some(409), "Ticket closed",
        "The ticket is closed: it takes no more answers.";
    TicketCloseUnsupported = "ticket_close_unsupported", Some(409), "Ticket cannot be closed here",
        "The platform does not let a seller close this kind of ticket.";
    UnknownSetting = "unknown_setting", Some(422), "Unknown setting",
        "A channel setting the platform does not know.";
    UnknownPlatform = "unknown_platform", Some(422), "Unknown platform",
        "A platform ponte has no connector for.";
    InvalidSettings = "invalid_settings", Some(422), "Invalid settings",
        "A channel setting or credential is missing or has a wrong value (rate limits out of bounds, a bad URL, an unknown warehouse).";
    InvalidMapping = "invalid_mapping", Some(422), "Invalid mapping",
        "A row of a channel's DE-PARA table (statuses, payment types, customer fields) names a value the platform or ponte does not have, or is malformed; the detail names the row. Nothing is saved.";
    ForbiddenAddress = "forbidden_address", Some(422), "Forbidden address",
        "A URL ponte would call is or resolves to a loopback, private, link-local or otherwise non-public address (allowed only with PONTE_ALLOW_PRIVATE_NETWORKS).";
    CredentialsRequired = "credentials_required", Some(422), "Credentials required",
        "A change makes the channel call another host without giving the credentials for it.";
    CredentialsInUse = "credentials_in_use", Some(409), "Credentials in use",
        "Another enabled channel already uses the account and key the platform keeps one subscription for (VTEX).";
    TaskBusy = "task_busy", Some(409), "Task busy",
        "The task already has a run queued or running.";
    ChannelDisabled = "channel_disabled", Some(410), "Channel disabled",
        "The channel is disabled: its webhooks (with a valid signature) are refused and nothing is sent to it.";
    MissingSignature = "missing_signature", Some(401), "Missing signature",
        "A webhook without the platform's signature or secret header.";
    InvalidSignature = "invalid_signature", Some(401), "Invalid signature",
        "A webhook whose signature or secret does not match (compared in constant time).";
    MalformedJson = "malformed_json", Some(400), "Malformed JSON",
        "A body that is not JSON, or a webhook body that is not the JSON the platform sends.";
    StoreMismatch = "store_mismatch", Some(403), "Store mismatch",
        "A webhook for another store or account than the channel's.";
    OrderCancelled = "order_cancelled", Some(409), "Order cancelled",
        "An ERP action on a cancelled order.";
    OrderNotPaid = "order_not_paid", Some(409), "Order not paid",
        "Separation, invoice, shipment or delivery on an order whose payment is not confirmed.";
    ActionConflict = "action_conflict", Some(409), "Action conflict",
        "An action different from the one already recorded for the order (another invoice, another tracking code).";
    InvalidTransition = "invalid_transition", Some(409), "Invalid transition",
        "An action for a step the order is already past (separation after invoicing).";
    NotInvoiced = "not_invoiced", Some(409), "Not invoiced",
        "A collection order before the invoice.";
    NotShipped = "not_shipped", Some(409), "Not shipped",
        "A delivery before the shipment.";
    AlreadyShipped = "already_shipped", Some(409), "Already shipped",
        "A cancellation of a shipped order (that is a return).";
    InvalidNfeKey = "invalid_nfe_key", Some(422), "Invalid NF-e key",
        "An NF-e access key that is not 44 digits with a valid check digit.";
    InvalidNfeXml = "invalid_nfe_xml", Some(422), "Invalid NF-e XML",
        "An NF-e XML that cannot be read as an NF-e (layout 4.00).";
    NfeNotAuthorized = "nfe_not_authorized", Some(422), "NF-e not authorized",
        "An NF-e XML without an authorization protocol (protNFe with cStat 100).";
    NfeXmlMismatch = "nfe_xml_mismatch", Some(422), "NF-e XML mismatch",
        "The NF-e XML says another key, number, series, date or total than the fields posted.";
    InvalidInvoice = "invalid_invoice", Some(422), "Invalid invoice",
        "Another invoice field is wrong (number, series, URL).";
    UnknownSku = "unknown_sku", Some(422), "Unknown SKU",
        "A SKU that is not a product (the rows naming it are listed).";
    UnknownWarehouse = "unknown_warehouse", Some(422), "Unknown warehouse",
        "A warehouse code that does not exist.";
    SkuExists = "sku_exists", Some(409), "SKU exists",
        "A product with this SKU already exists.";
    WarehouseExists = "warehouse_exists", Some(409), "Warehouse exists",
        "A warehouse with this code already exists.";
    InvalidGtin = "invalid_gtin", Some(422), "Invalid GTIN",
        "An EAN/GTIN with a wrong length or check digit.";
    InvalidNcm = "invalid_ncm", Some(422), "Invalid NCM",
        "An NCM that is not 8 digits (the rows are listed; nothing is saved).";
    InvalidMeasure = "invalid_measure", Some(422), "Invalid measure",
        "A negative weight or dimension (the rows are listed; nothing is saved).";
    NegativePrice = "negative_price", Some(422), "Negative price",
        "A price or promotional price below zero (the rows are listed; nothing is saved).";
    PromotionalAboveRegular = "promotional_above_regular", Some(422), "Promotional price above regular",
        "A promotional price higher than the regular price (the rows are listed; nothing is saved).";
    InvalidPromotionalWindow = "invalid_promotional_window", Some(422), "Invalid promotional window",
        "A promotional window that ends before it starts, or a window without a promotional price (the rows are listed; nothing is saved).";
    ScheduledPriceNotFound = "scheduled_price_not_found", Some(404), "Scheduled price not found",
        "No scheduled price with this id for this tenant that is still waiting (applied and cancelled ones cannot be cancelled).";
    StorageError = "storage_error", Some(500), "Storage error",
        "The database failed; the answer carries a request id and the log the full error.";
    CredentialsUnreadable = "credentials_unreadable", Some(500), "Credentials unreadable",
        "A channel's stored credentials cannot be decrypted with this master key (its jobs are held, never failed).";
    MasterKeyMismatch = "master_key_mismatch", Some(500), "Master key mismatch",
        "The master key is not the one the database's credentials were stored with (ponte stops at start).";
    ShuttingDown = "shutting_down", Some(503), "Shutting down",
        "The server is stopping; try another instance or again shortly.";
    AutomationOff = "automation_off", None, "Automation off",
        "No status send was queued: the channel's automation for this kind of event is off.";
    FulfillmentMode = "fulfillment_mode", None, "Fulfillment mode",
        "No status send was queued: the channel is in fulfillment mode, delivery information is never sent.";
    NotSupportedByPlatform = "not_supported_by_platform", None, "Not supported by the platform",
        "No status send was queued (or the send failed): the platform has nothing that takes this information.";
    MissingTrackingCode = "missing_tracking_code", None, "Missing tracking code",
        "A shipment send refused before any call: the platform needs a tracking code.";
    InvalidTrackingUrl = "invalid_tracking_url", None, "Invalid tracking URL",
        "A shipment send refused before any call: the tracking URL is not http(s).";
    InvalidXmlUrl = "invalid_xml_url", None, "Invalid XML URL",
        "An invoice send refused before any call: the NF-e XML URL is not http(s).";
    MissingNfeXml = "missing_nfe_xml", None, "Missing NF-e XML",
        "An invoice send refused before any call: the platform takes the authorized NF-e XML itself (Mercado Livre).";
    PlatformUnavailable = "platform_unavailable", None, "Platform unavailable",
        "A platform call failed with a 5xx, a timeout or a connection error (retried with backoff).";
    RateLimited = "rate_limited", None, "Rate limited",
        "A platform answered 429 (waited for, without using an attempt).";
    PlatformAuthFailed = "platform_auth_failed", None, "Platform authentication failed",
        "A platform refused the credentials (401/403): the work is held until they change.";
    PlatformNotFound = "platform_not_found", None, "Not found at the platform",
        "A platform answered 404 for the order or resource.";
    Panic = "panic", None, "Panic",
        "Handling the job panicked (a defect in ponte): it is retried, counting an attempt, or failed once out of attempts; the worker goes on.";
    PlatformRejected = "platform_rejected", None, "Rejected by the platform",
        "A platform refused the call (another 4xx, a 3xx, an answer too large or unreadable, a forbidden address): retrying will not help.";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl ErrorCode {
    /// The table as Markdown (what `ponte errors` prints and `docs/errors.md` holds).
    pub fn markdown() -> String {
        let mut out = String::from(
            "# Error codes\n\nGenerated by `ponte errors` from `ponte_core::ErrorCode`; a test keeps \
             this file equal to it.\nAPI errors are `application/problem+json` with one of these \
             `code`s; codes without an HTTP status\nare recorded in a history (status sends, \
             deliveries, task runs) and never answered.\n\n| code | HTTP | title | when |\n|---|---|---|---|\n",
        );
        for c in Self::ALL {
            let status = c.http_status().map_or("-".to_owned(), |s| s.to_string());
            out.push_str(&format!(
                "| `{}` | {status} | {} | {} |\n",
                c.as_str(),
                c.title(),
                c.when()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_with_client_or_server_statuses() {
        let mut seen = HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
            assert!(c
                .as_str()
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '_'));
            if let Some(s) = c.http_status() {
                assert!((400..600).contains(&s), "{c}: {s}");
            }
            assert!(!c.title().is_empty() && c.when().ends_with('.'), "{c}");
        }
    }
}
