-- API bearer tokens, stored as SHA-256 hashes (tokens are 256-bit random, so
-- a fast hash is enough; the plain token is shown once, at creation).
CREATE TABLE carepath.api_tokens (
    id          uuid PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    role        text        NOT NULL CHECK (role IN ('product', 'operator', 'admin')),
    token_hash  text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Operator actions that belong to no single journey (vendor pause and resume,
-- bulk retries, token management). Append-only like journey history.
CREATE TABLE carepath.operator_audit (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text        NOT NULL,
    action  text        NOT NULL,
    target  text        NOT NULL,
    detail  jsonb       NOT NULL DEFAULT '{}'
);

CREATE TRIGGER operator_audit_append_only
    BEFORE UPDATE OR DELETE ON carepath.operator_audit
    FOR EACH ROW EXECUTE FUNCTION carepath.history_is_append_only();
