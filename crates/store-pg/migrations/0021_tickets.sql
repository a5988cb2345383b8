-- SAC tickets (issue 23): questions, post-sale message threads and claims downloaded
-- from channels (one per channel and platform resource), or recorded in ponte
-- (channel_id NULL). Messages, with ponte's outbound answers and their attempts, are
-- kept with the ticket as JSON.
CREATE TABLE tickets (
    tenant_id           uuid NOT NULL,
    id                  uuid NOT NULL,
    channel_id          uuid,
    external_id         text,
    kind                text NOT NULL,
    state               text NOT NULL,
    order_id            uuid,
    order_ref           text,
    subject             text NOT NULL,
    messages            jsonb NOT NULL,
    -- ponte's answers that failed for good (listed with the Errors until resent)
    failed_answers      integer NOT NULL DEFAULT 0,
    platform_updated_at timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX tickets_by_resource ON tickets (tenant_id, channel_id, external_id);
CREATE INDEX tickets_by_change ON tickets (tenant_id, updated_at);
