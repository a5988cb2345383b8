-- Product data (issue 21): the fields the platforms take, which of them each channel
-- receives, what each channel should show (its carried fields as sorted JSON text,
-- ponte_core::catalog::CatalogValue) and every push call, like prices.

ALTER TABLE products ADD COLUMN description TEXT;
ALTER TABLE products ADD COLUMN brand TEXT;
ALTER TABLE products ADD COLUMN ncm TEXT;
ALTER TABLE products ADD COLUMN weight_g INTEGER;
ALTER TABLE products ADD COLUMN height_mm INTEGER;
ALTER TABLE products ADD COLUMN width_mm INTEGER;
ALTER TABLE products ADD COLUMN length_mm INTEGER;
ALTER TABLE products ADD COLUMN active INTEGER NOT NULL DEFAULT 1;

-- The fields a channel receives (a JSON array of names; empty: nothing is sent).
CREATE TABLE channel_catalog (
    tenant_id  TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    fields     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel_id)
);

CREATE TABLE catalog_targets (
    tenant_id    TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    sku          TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    variant_id   TEXT NOT NULL,
    desired      TEXT NOT NULL,
    changed_at   INTEGER NOT NULL,
    pushed       TEXT,
    pushed_at    INTEGER,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    attempted_at INTEGER,
    PRIMARY KEY (tenant_id, channel_id, sku)
);
CREATE INDEX catalog_targets_pending ON catalog_targets (tenant_id, channel_id, product_id)
    WHERE state = 'pending';

CREATE TABLE catalog_pushes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    at          INTEGER NOT NULL,
    request     TEXT NOT NULL,
    items       TEXT NOT NULL,
    http_status INTEGER,
    duration_ms INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    error       TEXT
);
CREATE INDEX catalog_pushes_by_channel ON catalog_pushes (tenant_id, channel_id, seq);
CREATE TABLE catalog_push_skus (
    tenant_id TEXT NOT NULL,
    push_seq  INTEGER NOT NULL,
    sku       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sku, push_seq)
);
