-- Carrier accounts and shipment tracking (issue 23, carrier tracking).
CREATE TABLE carrier_accounts (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    carrier     text NOT NULL,
    name        text NOT NULL,
    is_default  boolean NOT NULL,
    settings    jsonb NOT NULL,
    credentials bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX carrier_accounts_by_name ON carrier_accounts (tenant_id, name);
-- Every tracking event recorded, by order and event key: the same event read again
-- adds nothing.
CREATE TABLE tracking_events (
    tenant_id uuid NOT NULL,
    order_id  uuid NOT NULL,
    event_key text NOT NULL,
    at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, order_id, event_key)
);
-- When each order's carrier was last asked (least recently polled go first).
CREATE TABLE shipment_polls (
    tenant_id uuid NOT NULL,
    order_id  uuid NOT NULL,
    polled_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, order_id)
);
