-- Scheduled tasks and their runs (issue 6). Same tables and columns as the SQLite
-- migration 0004, native types. The schedules table of 0002 was never used by any
-- release: scheduled_tasks replaces it.
DROP TABLE schedules;

CREATE TABLE scheduled_tasks (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    key           text NOT NULL,
    kind          text NOT NULL,
    channel_id    uuid,
    interval_secs bigint NOT NULL,
    enabled       boolean NOT NULL,
    next_run_at   timestamptz NOT NULL,
    cursor        timestamptz,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX scheduled_tasks_by_key ON scheduled_tasks (tenant_id, key);
CREATE INDEX scheduled_tasks_due ON scheduled_tasks (next_run_at) WHERE enabled;

-- One row per run; counts are the run's progress.
CREATE TABLE task_runs (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    task_id     uuid NOT NULL,
    kind        text NOT NULL,
    channel_id  uuid,
    trigger     text NOT NULL,
    since       timestamptz,
    state       text NOT NULL,
    created_at  timestamptz NOT NULL,
    started_at  timestamptz,
    finished_at timestamptz,
    counts      jsonb NOT NULL DEFAULT '{}',
    error       text,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX task_runs_by_task ON task_runs (tenant_id, task_id, id);
-- At most one queued or running run per task.
CREATE UNIQUE INDEX task_runs_one_active ON task_runs (tenant_id, task_id)
    WHERE state IN ('queued', 'running');

-- Tenant-wide settings (auto-cancel deadline, ...).
ALTER TABLE tenants ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';

-- Sweeps find orders by status (payment refresh, auto-cancel).
CREATE INDEX orders_by_status ON orders (tenant_id, status, id);
