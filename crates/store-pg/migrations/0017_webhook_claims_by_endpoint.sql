-- Deliveries are claimed endpoint by endpoint (each its share of the slots), so an
-- endpoint's due messages are found without reading the others' backlog.
CREATE INDEX webhook_messages_due_by_endpoint
    ON webhook_messages (tenant_id, endpoint_id, state, next_at, event_seq);

-- An order's later message waits while an earlier one is pending: that check looks up
-- the message's queue (endpoint and order) alone. With the endpoint also a constant of
-- the claim, a planner without fresh statistics would otherwise compare every pending
-- message of the endpoint with every other (seconds on a backlog of thousands).
ALTER TABLE webhook_messages
    ADD COLUMN queue_key text GENERATED ALWAYS AS (endpoint_id::text || ' ' || order_key) STORED;
CREATE INDEX webhook_messages_pending_in_queue
    ON webhook_messages (queue_key, event_seq) WHERE state = 'pending';
