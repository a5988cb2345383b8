-- Promotional window edges (issue 21): a channel that keeps no windows of its own
-- (every platform but VTEX) is pushed again when a window opens or closes; the edge
-- is a `price_edge` job due then, which finds the prices by their window.
ALTER TABLE channel_prices ADD COLUMN window_edges boolean NOT NULL DEFAULT true;
UPDATE channel_prices cp SET window_edges = false FROM channels c
    WHERE c.tenant_id = cp.tenant_id AND c.id = cp.channel_id AND c.platform = 'vtex';
CREATE INDEX prices_by_promotional_from ON prices (tenant_id, promotional_from)
    WHERE promotional_price IS NOT NULL;
CREATE INDEX prices_by_promotional_until ON prices (tenant_id, promotional_until)
    WHERE promotional_price IS NOT NULL;
-- When a push call last carried the target (whatever its outcome).
ALTER TABLE price_targets ADD COLUMN attempted_at timestamptz;
