-- Indexes whose plans do not depend on fresh statistics. A new or fast-growing table
-- is planned from stale statistics until autovacuum analyzes it (a minute or more):
-- with `status_sends_by_state` led by `tenant_id`, "this order's unsent sends" was
-- planned as a scan of the tenant's whole state index (milliseconds per send batch).
-- Led by `state`, the index serves every state listing as before (they filter
-- tenant and state by equality) and offers no tenant-only path; an order's sends are
-- found through `status_sends_by_order`. (SQLite plans without this problem.)
DROP INDEX status_sends_by_state;
CREATE INDEX status_sends_by_state ON status_sends (state, tenant_id, channel_id);
