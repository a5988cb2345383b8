-- Outbound events and webhooks (issue 19). Same tables and columns as the SQLite
-- migration 0011, native types.

-- The last event number handed out per tenant. The statement that writes a
-- transaction's events bumps this row (its last write), so the row stays locked until
-- that transaction commits: a tenant's numbers are handed out in commit order and a
-- reader's cursor never skips an event committed late. (A bigserial would not do: a
-- transaction holding a lower number may commit after one holding a higher number.)
CREATE TABLE event_seqs (
    tenant_id uuid PRIMARY KEY,
    last_seq  bigint NOT NULL
);

-- One row per recorded change, numbered per tenant in commit order.
CREATE TABLE events (
    tenant_id  uuid NOT NULL,
    seq        bigint NOT NULL,
    id         uuid NOT NULL,
    type       text NOT NULL,
    at         timestamptz NOT NULL,
    channel_id uuid,
    order_id   uuid,
    data       jsonb NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

-- Where an integrator wants events: filters (types, channel), the signing secret
-- (sealed by the vault; the previous one still signs until `old_secret_until`), and
-- `cursor_seq`, the tenant's events already queued for it.
CREATE TABLE webhook_endpoints (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL,
    url                text NOT NULL,
    description        text NOT NULL DEFAULT '',
    event_types        jsonb,
    channel_id         uuid,
    rate_limit_per_sec integer,
    secret             bytea NOT NULL,
    old_secret         bytea,
    old_secret_until   timestamptz,
    enabled            boolean NOT NULL DEFAULT true,
    disabled_reason    text,
    failing_since      timestamptz,
    cursor_seq         bigint NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- One event to deliver to one endpoint. `order_key` (the order, or the event when it
-- has none) keeps an order's events in sequence per endpoint.
CREATE TABLE webhook_messages (
    tenant_id     uuid NOT NULL,
    endpoint_id   uuid NOT NULL,
    event_seq     bigint NOT NULL,
    order_key     text NOT NULL,
    state         text NOT NULL,
    attempts_used integer NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL,
    lease_owner   text,
    lease_until   timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, endpoint_id, event_seq)
);
CREATE INDEX webhook_messages_due ON webhook_messages (state, next_at);
CREATE INDEX webhook_messages_by_order ON webhook_messages (tenant_id, endpoint_id, order_key, event_seq);

-- Every delivery attempt: status, duration and an excerpt of the answer.
CREATE TABLE webhook_attempts (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    event_seq   bigint NOT NULL,
    n           integer NOT NULL,
    started_at  timestamptz NOT NULL,
    outcome     text NOT NULL,
    http_status integer,
    response    text,
    duration_ms bigint,
    error       text,
    PRIMARY KEY (tenant_id, id)
);
-- An endpoint's attempts, newest first; an event's attempts at one endpoint.
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (tenant_id, endpoint_id, id);
CREATE INDEX webhook_attempts_by_event ON webhook_attempts (tenant_id, endpoint_id, event_seq);
