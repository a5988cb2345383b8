-- Prices (issue 21): a SKU's current price, scheduled prices, a channel's price
-- settings and what each channel should show. Money in centavos; a price as the
-- targets compare it is its JSON text (ponte_store::price_text).

CREATE TABLE prices (
    tenant_id         TEXT NOT NULL,
    sku               TEXT NOT NULL,
    price             INTEGER NOT NULL,
    promotional_price INTEGER,
    promotional_from  INTEGER,
    promotional_until INTEGER,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, sku)
);

-- A price taking effect at a moment; its timer is a `price_schedule` job due then.
CREATE TABLE scheduled_prices (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    sku               TEXT NOT NULL,
    price             INTEGER NOT NULL,
    promotional_price INTEGER,
    promotional_from  INTEGER,
    promotional_until INTEGER,
    effective_at      INTEGER NOT NULL,
    state             TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    settled_at        INTEGER,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX scheduled_prices_by_sku ON scheduled_prices (tenant_id, sku, effective_at)
    WHERE state = 'waiting';

CREATE TABLE channel_prices (
    tenant_id   TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    send_prices INTEGER NOT NULL,
    markup_bp   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel_id)
);

-- What each channel should show per SKU (desired, pushed: price JSON text).
CREATE TABLE price_targets (
    tenant_id  TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    sku        TEXT NOT NULL,
    product_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    desired    TEXT NOT NULL,
    changed_at INTEGER NOT NULL,
    pushed     TEXT,
    pushed_at  INTEGER,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (tenant_id, channel_id, sku)
);
CREATE INDEX price_targets_pending ON price_targets (tenant_id, channel_id, product_id)
    WHERE state = 'pending';
