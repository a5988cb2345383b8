-- Recurring tasks, fired by compare-and-set on next_run_at.
CREATE TABLE schedules (
    tenant_id     TEXT NOT NULL,
    key           TEXT NOT NULL,
    kind          TEXT NOT NULL,
    channel_id    TEXT,
    interval_secs INTEGER NOT NULL,
    enabled       INTEGER NOT NULL,
    next_run_at   INTEGER NOT NULL,
    last_fired_at INTEGER,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled = 1;

-- Token buckets shared by every instance.
CREATE TABLE rate_buckets (
    tenant_id  TEXT NOT NULL,
    key        TEXT NOT NULL,
    tokens     REAL NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
