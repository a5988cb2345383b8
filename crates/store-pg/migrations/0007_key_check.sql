-- Deployment-wide facts (issue 14), not owned by a tenant. `master_key_check`: a value
-- derived from the master key the credentials are encrypted with (never the key), so an
-- instance started with another key refuses to start instead of failing work.
CREATE TABLE deployment (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
