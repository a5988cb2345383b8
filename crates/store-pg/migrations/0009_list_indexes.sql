-- Indexes the lists need with real volumes (a million orders, millions of status
-- sends), and plans that do not depend on fresh statistics. Same indexes as the SQLite
-- migration 0009 where the two differ only in expression syntax.
--
-- A new or fast-growing table is planned from stale statistics until autovacuum
-- analyzes it (a minute or more): with `status_sends_by_state` led by `tenant_id`, "this
-- order's unsent sends" was planned as a scan of the tenant's whole state index. Led by
-- `state` it offers no tenant-only path; an order's sends are found through
-- `status_sends_by_order`. Ending in `id`, it serves "sends in this state, newest first"
-- without sorting.
DROP INDEX status_sends_by_state;
CREATE INDEX status_sends_by_state ON status_sends (state, tenant_id, id);
-- The history of one channel, newest first.
CREATE INDEX status_sends_by_channel ON status_sends (tenant_id, channel_id, id);
-- The history of a period, and the id bounds a period implies (`push_period`).
CREATE INDEX status_sends_by_created ON status_sends (tenant_id, created_at, id);

-- Orders of one channel, newest first.
CREATE INDEX orders_by_channel ON orders (tenant_id, channel_id, id);
-- When the order was placed (its import time when the platform gave none): the
-- console's period filter.
ALTER TABLE orders ADD COLUMN placed_at timestamptz;
UPDATE orders SET placed_at = COALESCE((data->>'placed_at')::timestamptz, created_at);
ALTER TABLE orders ALTER COLUMN placed_at SET NOT NULL;
CREATE INDEX orders_by_placed ON orders (tenant_id, placed_at, id);
-- The search box (`ponte_store::OrderSearch`): number, customer document, e-mail, and
-- name prefix (byte order, so that a range finds every name with the prefix).
CREATE INDEX orders_by_number ON orders (tenant_id, (data->>'number'));
CREATE INDEX orders_by_document ON orders (tenant_id, (data->'customer'->'document'->>'normalized'));
CREATE INDEX orders_by_email ON orders (tenant_id, lower(data->'customer'->>'email'));
CREATE INDEX orders_by_name ON orders (tenant_id, (lower(data->'customer'->>'name') COLLATE "C"));
