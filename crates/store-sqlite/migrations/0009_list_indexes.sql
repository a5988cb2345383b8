-- Indexes the lists need with real volumes (a million orders, millions of status
-- sends). Same indexes as the PostgreSQL migration 0009 where the two differ only in
-- expression syntax.
--
-- Sends in one state, newest first, without sorting (the history filtered by state,
-- the Errors list).
DROP INDEX status_sends_by_state;
CREATE INDEX status_sends_by_state ON status_sends (tenant_id, state, id);
-- The history of one channel, newest first.
CREATE INDEX status_sends_by_channel ON status_sends (tenant_id, channel_id, id);
-- The history of a period, and the id bounds a period implies (`push_period`).
CREATE INDEX status_sends_by_created ON status_sends (tenant_id, created_at, id);

-- Orders of one channel, newest first.
CREATE INDEX orders_by_channel ON orders (tenant_id, channel_id, id);
-- When the order was placed, Unix microseconds (its import time when the platform
-- gave none): the console's period filter.
ALTER TABLE orders ADD COLUMN placed_at INTEGER NOT NULL DEFAULT 0;
UPDATE orders SET placed_at = COALESCE(
    CAST(unixepoch(json_extract(data, '$.placed_at'), 'subsec') * 1000000 AS INTEGER),
    created_at);
CREATE INDEX orders_by_placed ON orders (tenant_id, placed_at, id);
-- The search box (`ponte_store::OrderSearch`): number, customer document, e-mail, and
-- name prefix.
CREATE INDEX orders_by_number ON orders (tenant_id, json_extract(data, '$.number'));
CREATE INDEX orders_by_document ON orders (tenant_id, json_extract(data, '$.customer.document.normalized'));
CREATE INDEX orders_by_email ON orders (tenant_id, lower(json_extract(data, '$.customer.email')));
CREATE INDEX orders_by_name ON orders (tenant_id, lower(json_extract(data, '$.customer.name')));
