-- Prices (issue 21): a SKU's current price, scheduled prices, a channel's price
-- settings and what each channel should show. Money in centavos; a price as the
-- targets compare it is its JSON text (ponte_store::price_text).

CREATE TABLE prices (
    tenant_id         uuid NOT NULL,
    sku               text NOT NULL,
    price             bigint NOT NULL,
    promotional_price bigint,
    promotional_from  timestamptz,
    promotional_until timestamptz,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, sku)
);

-- A price taking effect at a moment; its timer is a `price_schedule` job due then.
CREATE TABLE scheduled_prices (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    sku               text NOT NULL,
    price             bigint NOT NULL,
    promotional_price bigint,
    promotional_from  timestamptz,
    promotional_until timestamptz,
    effective_at      timestamptz NOT NULL,
    state             text NOT NULL,
    created_at        timestamptz NOT NULL,
    settled_at        timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX scheduled_prices_by_sku ON scheduled_prices (tenant_id, sku, effective_at)
    WHERE state = 'waiting';

CREATE TABLE channel_prices (
    tenant_id   uuid NOT NULL,
    channel_id  uuid NOT NULL,
    send_prices boolean NOT NULL,
    markup_bp   bigint NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, channel_id)
);

-- What each channel should show per SKU (desired, pushed: price JSON text).
CREATE TABLE price_targets (
    tenant_id  uuid NOT NULL,
    channel_id uuid NOT NULL,
    sku        text NOT NULL,
    product_id text NOT NULL,
    variant_id text NOT NULL,
    desired    text NOT NULL,
    changed_at timestamptz NOT NULL,
    pushed     text,
    pushed_at  timestamptz,
    state      text NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    last_error text,
    PRIMARY KEY (tenant_id, channel_id, sku)
);
CREATE INDEX price_targets_pending ON price_targets (tenant_id, channel_id, product_id)
    WHERE state = 'pending';
