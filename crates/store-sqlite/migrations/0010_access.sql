-- Tenants with plans, API tokens with names and roles, people, and the audit trail.

ALTER TABLE tenants ADD COLUMN plan TEXT NOT NULL DEFAULT 'master';
ALTER TABLE tenants ADD COLUMN addons TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tenants ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;

-- Tokens get an id (existing ones: the first 16 bytes of their hash, as a UUID), a
-- name and a role; the tokens of earlier versions were provisioned at start (bootstrap)
-- and could do everything (admin).
CREATE TABLE api_tokens_v2 (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    token_hash    TEXT NOT NULL,
    bootstrap     INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    last_used_at  INTEGER,
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO api_tokens_v2 (tenant_id, id, name, role, token_hash, bootstrap, created_at)
SELECT tenant_id,
       lower(substr(token_hash, 1, 8) || '-' || substr(token_hash, 9, 4) || '-' || substr(token_hash, 13, 4)
             || '-' || substr(token_hash, 17, 4) || '-' || substr(token_hash, 21, 12)),
       'bootstrap', 'admin', token_hash, 1, created_at
FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_v2 RENAME TO api_tokens;
-- Cross-tenant: a request's token is all that names its tenant.
CREATE UNIQUE INDEX api_tokens_by_hash ON api_tokens (token_hash);

CREATE TABLE users (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    email             TEXT NOT NULL,
    name              TEXT NOT NULL,
    role              TEXT NOT NULL,
    enabled           INTEGER NOT NULL DEFAULT 1,
    password_hash     TEXT,
    reset_hash        TEXT,
    reset_expires_at  INTEGER,
    session_epoch     INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- Cross-tenant: signing in names only the e-mail, a one-time link only its token.
CREATE UNIQUE INDEX users_by_email ON users (email);
CREATE UNIQUE INDEX users_by_reset ON users (reset_hash) WHERE reset_hash IS NOT NULL;

CREATE TABLE audit_log (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    at          INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    target      TEXT,
    detail      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- A scheduled run keeps the due time that fired it: how late it started is visible.
ALTER TABLE task_runs ADD COLUMN due_at INTEGER;
