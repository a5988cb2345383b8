-- ponte schema, PostgreSQL. Same tables and columns as the SQLite schema, native types.
-- Every table's primary key and main indexes start with tenant_id, so the schema can be
-- distributed by tenant later. The few lookups that cannot know the tenant (a token, a
-- webhook's channel id, the job queue itself) have their own indexes, marked below.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX tenants_one_default ON tenants (is_default) WHERE is_default;

CREATE TABLE api_tokens (
    tenant_id   uuid NOT NULL,
    token_hash  text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, token_hash)
);
-- Cross-tenant: a request's token is all that names its tenant.
CREATE UNIQUE INDEX api_tokens_by_hash ON api_tokens (token_hash);

CREATE TABLE channels (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    platform    text NOT NULL,
    name        text NOT NULL,
    settings    jsonb NOT NULL,
    credentials bytea NOT NULL,
    enabled     boolean NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- Cross-tenant: a webhook knows only its channel id.
CREATE UNIQUE INDEX channels_by_id ON channels (id);

CREATE TABLE deliveries (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    channel_id   uuid NOT NULL,
    received_at  timestamptz NOT NULL,
    event        text NOT NULL,
    resource_id  text,
    body         bytea NOT NULL,
    state        text NOT NULL,
    error        text,
    processed_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
-- Timelines, the resource filter, and settling an order's deliveries after its import.
CREATE INDEX deliveries_by_resource ON deliveries (tenant_id, channel_id, resource_id);

CREATE TABLE jobs (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    unique_key  text,
    state       text NOT NULL,
    run_at      timestamptz NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    started_at  timestamptz,
    lease_owner text,
    lease_until timestamptz,
    last_error  text,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX jobs_one_pending_per_key ON jobs (tenant_id, unique_key)
    WHERE state = 'pending' AND unique_key IS NOT NULL;
-- Cross-tenant: the queue is claimed in run_at order whatever the tenant.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'pending';
-- Cross-tenant: a worker's leases (heartbeat, completion, release) and the reaper.
CREATE INDEX jobs_by_lease ON jobs (lease_owner, id) WHERE state = 'running';
CREATE INDEX jobs_by_lease_until ON jobs (lease_until) WHERE state = 'running';

CREATE TABLE orders (
    tenant_id           uuid NOT NULL,
    id                  uuid NOT NULL,
    channel_id          uuid NOT NULL,
    external_id         text NOT NULL,
    status              text NOT NULL,
    platform_updated_at timestamptz,
    data                jsonb NOT NULL,
    raw                 jsonb NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX orders_by_external ON orders (tenant_id, channel_id, external_id);
CREATE INDEX orders_by_updated ON orders (tenant_id, updated_at);

CREATE TABLE order_skips (
    tenant_id           uuid NOT NULL,
    channel_id          uuid NOT NULL,
    external_id         text NOT NULL,
    reason              text NOT NULL,
    platform_updated_at timestamptz,
    at                  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, external_id)
);

CREATE TABLE timeline (
    tenant_id   uuid NOT NULL,
    id          bigserial NOT NULL,
    channel_id  uuid NOT NULL,
    external_id text NOT NULL,
    at          timestamptz NOT NULL,
    kind        text NOT NULL,
    detail      jsonb NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX timeline_by_order ON timeline (tenant_id, channel_id, external_id, at);
