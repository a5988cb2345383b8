-- Product data (issue 21): the fields the platforms take, which of them each channel
-- receives, what each channel should show (its carried fields as sorted JSON text,
-- ponte_core::catalog::CatalogValue) and every push call, like prices.

ALTER TABLE products ADD COLUMN description text;
ALTER TABLE products ADD COLUMN brand text;
ALTER TABLE products ADD COLUMN ncm text;
ALTER TABLE products ADD COLUMN weight_g bigint;
ALTER TABLE products ADD COLUMN height_mm bigint;
ALTER TABLE products ADD COLUMN width_mm bigint;
ALTER TABLE products ADD COLUMN length_mm bigint;
ALTER TABLE products ADD COLUMN active boolean NOT NULL DEFAULT true;

-- The fields a channel receives (a JSON array of names; empty: nothing is sent).
CREATE TABLE channel_catalog (
    tenant_id  uuid NOT NULL,
    channel_id uuid NOT NULL,
    fields     text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, channel_id)
);

CREATE TABLE catalog_targets (
    tenant_id    uuid NOT NULL,
    channel_id   uuid NOT NULL,
    sku          text NOT NULL,
    product_id   text NOT NULL,
    variant_id   text NOT NULL,
    desired      text NOT NULL,
    changed_at   timestamptz NOT NULL,
    pushed       text,
    pushed_at    timestamptz,
    state        text NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    attempted_at timestamptz,
    PRIMARY KEY (tenant_id, channel_id, sku)
);
CREATE INDEX catalog_targets_pending ON catalog_targets (tenant_id, channel_id, product_id)
    WHERE state = 'pending';

CREATE TABLE catalog_pushes (
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
CREATE INDEX catalog_pushes_by_channel ON catalog_pushes (tenant_id, channel_id, seq);
CREATE TABLE catalog_push_skus (
    tenant_id uuid NOT NULL,
    push_seq  bigint NOT NULL,
    sku       text NOT NULL,
    PRIMARY KEY (tenant_id, sku, push_seq)
);
