-- Deliveries are claimed endpoint by endpoint (each its share of the slots), so an
-- endpoint's due messages are found without reading the others' backlog.
CREATE INDEX webhook_messages_due_by_endpoint
    ON webhook_messages (tenant_id, endpoint_id, state, next_at, event_seq);
