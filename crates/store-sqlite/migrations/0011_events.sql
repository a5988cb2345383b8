-- Outbound events and webhooks (issue 19). Same tables and columns as the PostgreSQL
-- migration 0011, SQLite types.

-- One row per recorded change. SQLite has one writer, so the rowid (`seq`) order is
-- commit order: the event feed's cursor. AUTOINCREMENT: a seq is never reused after
-- retention deletes old events.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    channel_id TEXT,
    order_id   TEXT,
    data       TEXT NOT NULL
);
-- A tenant's feed, in commit order.
CREATE INDEX events_by_tenant ON events (tenant_id, seq);

-- Where an integrator wants events: filters (types, channel), the signing secret
-- (sealed by the vault; the previous one still signs until `old_secret_until`), and
-- `cursor_seq`, the tenant's events already queued for it.
CREATE TABLE webhook_endpoints (
    tenant_id          TEXT NOT NULL,
    id                 TEXT NOT NULL,
    url                TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    event_types        TEXT,
    channel_id         TEXT,
    rate_limit_per_sec INTEGER,
    secret             BLOB NOT NULL,
    old_secret         BLOB,
    old_secret_until   INTEGER,
    enabled            INTEGER NOT NULL DEFAULT 1,
    disabled_reason    TEXT,
    failing_since      INTEGER,
    cursor_seq         INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- One event to deliver to one endpoint. `order_key` (the order, or the event when it
-- has none) keeps an order's events in sequence per endpoint.
CREATE TABLE webhook_messages (
    tenant_id     TEXT NOT NULL,
    endpoint_id   TEXT NOT NULL,
    event_seq     INTEGER NOT NULL,
    order_key     TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts_used INTEGER NOT NULL DEFAULT 0,
    next_at       INTEGER NOT NULL,
    lease_owner   TEXT,
    lease_until   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, endpoint_id, event_seq)
);
CREATE INDEX webhook_messages_due ON webhook_messages (state, next_at);
CREATE INDEX webhook_messages_by_order ON webhook_messages (tenant_id, endpoint_id, order_key, event_seq);

-- Every delivery attempt: status, duration and an excerpt of the answer.
CREATE TABLE webhook_attempts (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_seq   INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    http_status INTEGER,
    response    TEXT,
    duration_ms INTEGER,
    error       TEXT,
    PRIMARY KEY (tenant_id, id)
);
-- An endpoint's attempts, newest first; an event's attempts at one endpoint.
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (tenant_id, endpoint_id, id);
CREATE INDEX webhook_attempts_by_event ON webhook_attempts (tenant_id, endpoint_id, event_seq);
