-- Recurring tasks, fired by compare-and-set on next_run_at.
CREATE TABLE schedules (
    tenant_id     uuid NOT NULL,
    key           text NOT NULL,
    kind          text NOT NULL,
    channel_id    uuid,
    interval_secs bigint NOT NULL,
    enabled       boolean NOT NULL,
    next_run_at   timestamptz NOT NULL,
    last_fired_at timestamptz,
    PRIMARY KEY (tenant_id, key)
);
-- Instances look for due schedules of every tenant.
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled;

-- Token buckets shared by every instance.
CREATE TABLE rate_buckets (
    tenant_id  uuid NOT NULL,
    key        text NOT NULL,
    tokens     double precision NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
