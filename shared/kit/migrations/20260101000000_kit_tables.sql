-- The kit's tables, created in the schema of the service that runs them (the role's
-- search_path). They belong to the kit, not to any one service: see shared/kit/src/db.rs.

-- Who changed what, when, in which request: one row per change, written in the same
-- transaction as the change itself.
CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at   timestamptz NOT NULL,
    actor         text        NOT NULL,
    action        text        NOT NULL,
    resource      text        NOT NULL,
    request_id    text        NOT NULL,
    trace_id      text,
    changes       jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_resource ON audit_log (resource, id);
CREATE INDEX audit_log_occurred ON audit_log (occurred_at);

-- Creating calls made safe to retry: the first call with a (caller, method, request_id)
-- stores its response; a repeat returns it; a different request under the same id is
-- refused.
CREATE TABLE idempotency_keys (
    caller        text        NOT NULL,
    method        text        NOT NULL,
    request_id    text        NOT NULL,
    request_hash  bytea       NOT NULL,
    response      bytea,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (caller, method, request_id)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
