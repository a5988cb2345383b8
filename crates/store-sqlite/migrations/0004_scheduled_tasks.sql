-- Scheduled tasks and their runs (issue 6). The schedules table of 0002 was never
-- used by any release: scheduled_tasks replaces it.
DROP TABLE schedules;

CREATE TABLE scheduled_tasks (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    key           TEXT NOT NULL,
    kind          TEXT NOT NULL,
    channel_id    TEXT,
    interval_secs INTEGER NOT NULL,
    enabled       INTEGER NOT NULL,
    next_run_at   INTEGER NOT NULL,
    cursor        INTEGER,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX scheduled_tasks_by_key ON scheduled_tasks (tenant_id, key);
CREATE INDEX scheduled_tasks_due ON scheduled_tasks (next_run_at) WHERE enabled = 1;

-- One row per run; counts are the run's progress (JSON).
CREATE TABLE task_runs (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    channel_id  TEXT,
    trigger     TEXT NOT NULL,
    since       INTEGER,
    state       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    counts      TEXT NOT NULL DEFAULT '{}',
    error       TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX task_runs_by_task ON task_runs (tenant_id, task_id, id);
-- At most one queued or running run per task.
CREATE UNIQUE INDEX task_runs_one_active ON task_runs (tenant_id, task_id)
    WHERE state IN ('queued', 'running');

-- Tenant-wide settings (auto-cancel deadline, ...).
ALTER TABLE tenants ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

-- Sweeps find orders by status (payment refresh, auto-cancel).
CREATE INDEX orders_by_status ON orders (tenant_id, status, id);
