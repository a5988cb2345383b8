-- Every price push call (issue 21), like stock_pushes.
CREATE TABLE price_pushes (
    seq         bigserial NOT NULL,
    tenant_id   uuid NOT NULL,
    channel_id  uuid NOT NULL,
    at          timestamptz NOT NULL,
    request     text NOT NULL,
    items       jsonb NOT NULL,
    http_status integer,
    duration_ms bigint NOT NULL,
    outcome     text NOT NULL,
    error       text,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX price_pushes_by_channel ON price_pushes (tenant_id, channel_id, seq);
-- SKUs of each push, to list a SKU's pushes.
CREATE TABLE price_push_skus (
    tenant_id uuid NOT NULL,
    push_seq  bigint NOT NULL,
    sku       text NOT NULL,
    PRIMARY KEY (tenant_id, sku, push_seq)
);
