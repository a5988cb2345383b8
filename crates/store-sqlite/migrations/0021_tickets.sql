-- SAC tickets (issue 23): questions, post-sale message threads and claims downloaded
-- from channels (one per channel and platform resource), or recorded in ponte
-- (channel_id NULL). Messages, with ponte's outbound answers and their attempts, are
-- kept with the ticket as JSON.
CREATE TABLE tickets (
    tenant_id           TEXT NOT NULL,
    id                  TEXT NOT NULL,
    channel_id          TEXT,
    external_id         TEXT,
    kind                TEXT NOT NULL,
    state               TEXT NOT NULL,
    order_id            TEXT,
    order_ref           TEXT,
    subject             TEXT NOT NULL,
    messages            TEXT NOT NULL,
    -- ponte's answers that failed for good (listed with the Errors until resent)
    failed_answers      INTEGER NOT NULL DEFAULT 0,
    platform_updated_at INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX tickets_by_resource ON tickets (tenant_id, channel_id, external_id);
CREATE INDEX tickets_by_change ON tickets (tenant_id, updated_at);
