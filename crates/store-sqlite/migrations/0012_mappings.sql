-- A channel's DE-PARA tables (statuses, payment types, default customer fields): the
-- rows as the merchant saved them, a JSON array checked by the engine. No row for a
-- kind: the connector's documented defaults apply.
CREATE TABLE channel_mappings (
    tenant_id  TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, kind)
);

-- A remap run's window ends here (orders placed before it); `since` starts it.
ALTER TABLE task_runs ADD COLUMN until_at INTEGER;
