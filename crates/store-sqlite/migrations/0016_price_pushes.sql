-- Every price push call (issue 21), like stock_pushes.
CREATE TABLE price_pushes (
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
CREATE INDEX price_pushes_by_channel ON price_pushes (tenant_id, channel_id, seq);
-- SKUs of each push, to list a SKU's pushes.
CREATE TABLE price_push_skus (
    tenant_id TEXT NOT NULL,
    push_seq  INTEGER NOT NULL,
    sku       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sku, push_seq)
);
