-- ERP actions and status sends (issue 4).

-- What the ERP recorded about the order (separation, invoice, shipment, ...), JSON.
ALTER TABLE orders ADD COLUMN fulfilment TEXT NOT NULL DEFAULT '{}';

-- Documents the ERP gave (the authorized NF-e XML), one per kind and order.
CREATE TABLE order_documents (
    tenant_id  TEXT NOT NULL,
    order_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    content    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, order_id, kind)
);

-- One row per ERP event to tell a platform. An order's sends go out in seq order.
CREATE TABLE status_sends (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    channel_id    TEXT NOT NULL,
    order_id      TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    action        TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts_used INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX status_sends_by_order ON status_sends (tenant_id, order_id, seq);
CREATE INDEX status_sends_by_state ON status_sends (tenant_id, state, channel_id);

-- Every attempt of every send; `outcome` is 'started' until its result is recorded.
CREATE TABLE send_attempts (
    tenant_id     TEXT NOT NULL,
    send_id       TEXT NOT NULL,
    n             INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    outcome       TEXT NOT NULL,
    request       TEXT,
    http_status   INTEGER,
    response      TEXT,
    duration_ms   INTEGER,
    error_code    TEXT,
    error         TEXT,
    PRIMARY KEY (tenant_id, send_id, n)
);
