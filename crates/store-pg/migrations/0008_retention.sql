-- Retention (hardening issue): the periodic sweep deletes old raw deliveries, send
-- attempts, task runs and stock push records, finding them by age through these
-- indexes. Orders, timelines and the stock ledger are kept. Same indexes and column as
-- the SQLite migration 0008. (Building them holds a lock on each table for a time
-- proportional to its size: on a large database, run `ponte migrate` in a quiet hour.)
-- Finished deliveries by age (those still `received` are never deleted; ingest inserts
-- them, so this partial index costs webhook ingest nothing).
CREATE INDEX deliveries_done_by_received ON deliveries (received_at) WHERE state <> 'received';
CREATE INDEX send_attempts_by_started ON send_attempts (started_at);
CREATE INDEX task_runs_by_finished ON task_runs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX stock_pushes_by_at ON stock_pushes (at);
-- A push's SKU rows go with it.
CREATE INDEX stock_push_skus_by_push ON stock_push_skus (tenant_id, push_seq);
-- Poll gaps counted by runs the sweep deleted, so a channel's total stays the same.
ALTER TABLE scheduled_tasks ADD COLUMN pruned_gaps bigint NOT NULL DEFAULT 0;
