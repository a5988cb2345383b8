-- ERP actions and status sends (issue 4). Same tables and columns as the SQLite
-- migration 0003, native types.

-- What the ERP recorded about the order (separation, invoice, shipment, ...).
ALTER TABLE orders ADD COLUMN fulfilment jsonb NOT NULL DEFAULT '{}';

-- Documents the ERP gave (the authorized NF-e XML), one per kind and order.
CREATE TABLE order_documents (
    tenant_id  uuid NOT NULL,
    order_id   uuid NOT NULL,
    kind       text NOT NULL,
    content    text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, order_id, kind)
);

-- One row per ERP event to tell a platform. An order's sends go out in seq order.
CREATE TABLE status_sends (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    channel_id    uuid NOT NULL,
    order_id      uuid NOT NULL,
    external_id   text NOT NULL,
    seq           bigint NOT NULL,
    kind          text NOT NULL,
    action        jsonb NOT NULL,
    state         text NOT NULL,
    attempts_used integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL,
    error_code    text,
    error_message text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- An order's sends in order (the head of its queue, the next seq).
CREATE UNIQUE INDEX status_sends_by_order ON status_sends (tenant_id, order_id, seq);
-- Errors listings and "resend every failed send of a channel".
CREATE INDEX status_sends_by_state ON status_sends (tenant_id, state, channel_id);

-- Every attempt of every send; `outcome` is 'started' until its result is recorded.
CREATE TABLE send_attempts (
    tenant_id   uuid NOT NULL,
    send_id     uuid NOT NULL,
    n           integer NOT NULL,
    started_at  timestamptz NOT NULL,
    outcome     text NOT NULL,
    request     text,
    http_status integer,
    response    text,
    duration_ms bigint,
    error_code  text,
    error       text,
    PRIMARY KEY (tenant_id, send_id, n)
);

-- Whether another worker is running an order's send job (the queue only indexes
-- pending keys).
CREATE INDEX jobs_running_by_key ON jobs (tenant_id, unique_key)
    WHERE state = 'running' AND unique_key IS NOT NULL;
