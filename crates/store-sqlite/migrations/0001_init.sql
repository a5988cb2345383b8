-- ponte schema, SQLite. Every table starts its keys with tenant_id.
-- Timestamps are INTEGER unix microseconds (UTC); ids are UUIDv7 text.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX tenants_one_default ON tenants (is_default) WHERE is_default = 1;

CREATE TABLE api_tokens (
    tenant_id   TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, token_hash)
);
CREATE UNIQUE INDEX api_tokens_by_hash ON api_tokens (token_hash);

CREATE TABLE channels (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    platform    TEXT NOT NULL,
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL,
    credentials BLOB NOT NULL,
    enabled     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX channels_by_id ON channels (id);

CREATE TABLE deliveries (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    event        TEXT NOT NULL,
    resource_id  TEXT,
    body         BLOB NOT NULL,
    state        TEXT NOT NULL,
    error        TEXT,
    processed_at INTEGER,
    PRIMARY KEY (tenant_id, id)
);
-- Timelines, the resource filter, and settling an order's deliveries after its import.
CREATE INDEX deliveries_by_resource ON deliveries (tenant_id, channel_id, resource_id);

CREATE TABLE jobs (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    unique_key  TEXT,
    state       TEXT NOT NULL,
    run_at      INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    lease_owner TEXT,
    lease_until INTEGER,
    last_error  TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX jobs_one_pending_per_key ON jobs (tenant_id, unique_key)
    WHERE state = 'pending' AND unique_key IS NOT NULL;
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'pending';
CREATE INDEX jobs_by_lease ON jobs (lease_owner) WHERE state = 'running';

CREATE TABLE orders (
    tenant_id           TEXT NOT NULL,
    id                  TEXT NOT NULL,
    channel_id          TEXT NOT NULL,
    external_id         TEXT NOT NULL,
    status              TEXT NOT NULL,
    platform_updated_at INTEGER,
    data                TEXT NOT NULL,
    raw                 TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX orders_by_external ON orders (tenant_id, channel_id, external_id);
CREATE INDEX orders_by_updated ON orders (tenant_id, updated_at);

CREATE TABLE order_skips (
    tenant_id           TEXT NOT NULL,
    channel_id          TEXT NOT NULL,
    external_id         TEXT NOT NULL,
    reason              TEXT NOT NULL,
    platform_updated_at INTEGER,
    at                  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, external_id)
);

CREATE TABLE timeline (
    tenant_id   TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    external_id TEXT NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX timeline_by_order ON timeline (tenant_id, channel_id, external_id, at);
