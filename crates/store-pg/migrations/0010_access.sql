-- Tenants with plans, API tokens with names and roles, people, and the audit trail.

ALTER TABLE tenants
    ADD COLUMN plan text NOT NULL DEFAULT 'master',
    ADD COLUMN addons jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN enabled boolean NOT NULL DEFAULT true;

-- Tokens get an id (existing ones: the first 16 bytes of their hash, as a UUID), a
-- name and a role; the tokens of earlier versions were provisioned at start (bootstrap)
-- and could do everything (admin).
ALTER TABLE api_tokens
    ADD COLUMN id uuid,
    ADD COLUMN name text NOT NULL DEFAULT 'bootstrap',
    ADD COLUMN role text NOT NULL DEFAULT 'admin',
    ADD COLUMN bootstrap boolean NOT NULL DEFAULT true,
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN last_used_at timestamptz;
UPDATE api_tokens SET id = substr(token_hash, 1, 32)::uuid;
ALTER TABLE api_tokens
    ALTER COLUMN id SET NOT NULL,
    ALTER COLUMN name DROP DEFAULT,
    ALTER COLUMN role DROP DEFAULT,
    ALTER COLUMN bootstrap SET DEFAULT false,
    DROP CONSTRAINT api_tokens_pkey,
    ADD PRIMARY KEY (tenant_id, id);

CREATE TABLE users (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    email             text NOT NULL,
    name              text NOT NULL,
    role              text NOT NULL,
    enabled           boolean NOT NULL DEFAULT true,
    password_hash     text,
    reset_hash        text,
    reset_expires_at  timestamptz,
    session_epoch     bigint NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- Cross-tenant: signing in names only the e-mail, a one-time link only its token.
CREATE UNIQUE INDEX users_by_email ON users (email);
CREATE UNIQUE INDEX users_by_reset ON users (reset_hash) WHERE reset_hash IS NOT NULL;

CREATE TABLE audit_log (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    at          timestamptz NOT NULL,
    actor_kind  text NOT NULL,
    actor_id    text NOT NULL,
    actor_name  text NOT NULL,
    kind        text NOT NULL,
    target      text,
    detail      jsonb NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- A scheduled run keeps the due time that fired it: how late it started is visible.
ALTER TABLE task_runs ADD COLUMN due_at timestamptz;
