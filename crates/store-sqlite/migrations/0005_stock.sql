-- Stock (issue 5): catalogue, ledger, balances, order effects, channel values, pushes.

CREATE TABLE products (
    tenant_id  TEXT NOT NULL,
    sku        TEXT NOT NULL,
    name       TEXT NOT NULL,
    ean        TEXT,
    unit       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, sku)
);

CREATE TABLE warehouses (
    tenant_id  TEXT NOT NULL,
    code       TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

-- One listing per channel and SKU.
CREATE TABLE listings (
    tenant_id  TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    sku        TEXT NOT NULL,
    product_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, sku)
);
CREATE INDEX listings_by_sku ON listings (tenant_id, sku);

-- Each channel's stock settings (the engine writes them from the channel's settings).
CREATE TABLE channel_stock (
    tenant_id       TEXT NOT NULL,
    channel_id      TEXT NOT NULL,
    send_stock      INTEGER NOT NULL,
    warehouses      TEXT NOT NULL,
    debit_warehouse TEXT,
    buffer          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel_id)
);

-- The append-only ledger.
CREATE TABLE stock_ledger (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    sku       TEXT NOT NULL,
    warehouse TEXT NOT NULL,
    kind      TEXT NOT NULL,
    quantity  INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    order_id  TEXT,
    at        INTEGER NOT NULL
);
CREATE INDEX stock_ledger_by_sku ON stock_ledger (tenant_id, sku, seq);

-- Current balances (the ledger folded).
CREATE TABLE stock_levels (
    tenant_id  TEXT NOT NULL,
    sku        TEXT NOT NULL,
    warehouse  TEXT NOT NULL,
    physical   INTEGER NOT NULL,
    reserved   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, sku, warehouse)
);

-- What each order currently does to stock, per SKU.
CREATE TABLE order_stock (
    tenant_id TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    sku       TEXT NOT NULL,
    warehouse TEXT NOT NULL,
    reserved  INTEGER NOT NULL,
    debited   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, order_id, sku)
);

-- Order lines whose SKU is not a product.
CREATE TABLE unmapped_lines (
    tenant_id  TEXT NOT NULL,
    order_id   TEXT NOT NULL,
    line       INTEGER NOT NULL,
    channel_id TEXT NOT NULL,
    sku        TEXT,
    product_id TEXT,
    variant_id TEXT,
    quantity   INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, order_id, line)
);

-- What each channel should show per SKU, and what it was last told.
CREATE TABLE stock_targets (
    tenant_id  TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    sku        TEXT NOT NULL,
    product_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    desired    INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    pushed     INTEGER,
    pushed_at  INTEGER,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (tenant_id, channel_id, sku)
);
CREATE INDEX stock_targets_pending ON stock_targets (tenant_id, channel_id, product_id)
    WHERE state = 'pending';

-- Every push call.
CREATE TABLE stock_pushes (
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
CREATE INDEX stock_pushes_by_channel ON stock_pushes (tenant_id, channel_id, seq);
-- SKUs of each push, to list a SKU's pushes.
CREATE TABLE stock_push_skus (
    tenant_id TEXT NOT NULL,
    push_seq  INTEGER NOT NULL,
    sku       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sku, push_seq)
);
