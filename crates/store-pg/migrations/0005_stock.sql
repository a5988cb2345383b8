-- Stock (issue 5). Same tables and columns as the SQLite migration 0005, native types.
-- As everywhere in this schema, primary keys start with tenant_id (the ledger's and
-- the push history's seq too, like the timeline's id).

CREATE TABLE products (
    tenant_id  uuid NOT NULL,
    sku        text NOT NULL,
    name       text NOT NULL,
    ean        text,
    unit       text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, sku)
);

CREATE TABLE warehouses (
    tenant_id  uuid NOT NULL,
    code       text NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

-- One listing per channel and SKU.
CREATE TABLE listings (
    tenant_id  uuid NOT NULL,
    channel_id uuid NOT NULL,
    sku        text NOT NULL,
    product_id text NOT NULL,
    variant_id text NOT NULL,
    source     text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, sku)
);
CREATE INDEX listings_by_sku ON listings (tenant_id, sku);

-- Each channel's stock settings (the engine writes them from the channel's settings).
CREATE TABLE channel_stock (
    tenant_id       uuid NOT NULL,
    channel_id      uuid NOT NULL,
    send_stock      boolean NOT NULL,
    warehouses      jsonb NOT NULL,
    debit_warehouse text,
    buffer          bigint NOT NULL,
    PRIMARY KEY (tenant_id, channel_id)
);

-- The append-only ledger.
CREATE TABLE stock_ledger (
    seq       bigserial NOT NULL,
    tenant_id uuid NOT NULL,
    sku       text NOT NULL,
    warehouse text NOT NULL,
    kind      text NOT NULL,
    quantity  bigint NOT NULL,
    reason    text NOT NULL,
    order_id  uuid,
    at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX stock_ledger_by_sku ON stock_ledger (tenant_id, sku, seq);

-- Current balances (the ledger folded).
CREATE TABLE stock_levels (
    tenant_id  uuid NOT NULL,
    sku        text NOT NULL,
    warehouse  text NOT NULL,
    physical   bigint NOT NULL,
    reserved   bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, sku, warehouse)
);

-- What each order currently does to stock, per SKU.
CREATE TABLE order_stock (
    tenant_id uuid NOT NULL,
    order_id  uuid NOT NULL,
    sku       text NOT NULL,
    warehouse text NOT NULL,
    reserved  bigint NOT NULL,
    debited   bigint NOT NULL,
    PRIMARY KEY (tenant_id, order_id, sku)
);

-- Order lines whose SKU is not a product.
CREATE TABLE unmapped_lines (
    tenant_id  uuid NOT NULL,
    order_id   uuid NOT NULL,
    line       integer NOT NULL,
    channel_id uuid NOT NULL,
    sku        text,
    product_id text,
    variant_id text,
    quantity   bigint NOT NULL,
    seen_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, order_id, line)
);

-- What each channel should show per SKU, and what it was last told.
CREATE TABLE stock_targets (
    tenant_id  uuid NOT NULL,
    channel_id uuid NOT NULL,
    sku        text NOT NULL,
    product_id text NOT NULL,
    variant_id text NOT NULL,
    desired    bigint NOT NULL,
    changed_at timestamptz NOT NULL,
    pushed     bigint,
    pushed_at  timestamptz,
    state      text NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    last_error text,
    PRIMARY KEY (tenant_id, channel_id, sku)
);
CREATE INDEX stock_targets_pending ON stock_targets (tenant_id, channel_id, product_id)
    WHERE state = 'pending';

-- Every push call.
CREATE TABLE stock_pushes (
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
CREATE INDEX stock_pushes_by_channel ON stock_pushes (tenant_id, channel_id, seq);
-- SKUs of each push, to list a SKU's pushes.
CREATE TABLE stock_push_skus (
    tenant_id uuid NOT NULL,
    push_seq  bigint NOT NULL,
    sku       text NOT NULL,
    PRIMARY KEY (tenant_id, sku, push_seq)
);
