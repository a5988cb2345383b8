-- Carrier accounts and shipment tracking (issue 23, carrier tracking).
CREATE TABLE carrier_accounts (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    carrier     TEXT NOT NULL,
    name        TEXT NOT NULL,
    is_default  INTEGER NOT NULL,
    settings    TEXT NOT NULL,
    credentials BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX carrier_accounts_by_name ON carrier_accounts (tenant_id, name);
-- Every tracking event recorded, by order and event key: the same event read again
-- adds nothing.
CREATE TABLE tracking_events (
    tenant_id TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    event_key TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, order_id, event_key)
);
-- When each order's carrier was last asked (least recently polled go first).
CREATE TABLE shipment_polls (
    tenant_id TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    polled_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, order_id)
);
