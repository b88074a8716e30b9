-- The operator console's sign-in sessions (`/console`): an operator or admin
-- token exchanged for a session cookie, or a person signed in through the
-- deployment's OpenID Connect provider. The cookie's value is kept only as
-- its SHA-256. A session lives until it is signed out, idle too long, or
-- reaches its absolute expiry — and, opened with a token, while the token
-- does (revoking the token ends it).
CREATE TABLE carepath.console_sessions (
    session_sha256 text        PRIMARY KEY,
    -- Exactly one of: the token it was opened with, or the person (their
    -- verified email, else the provider's subject id).
    token_name     text        REFERENCES carepath.api_tokens (name),
    person         text,
    role           text        NOT NULL CHECK (role IN ('operator', 'admin')),
    -- Every form of the session carries this value (synchronizer token).
    csrf_token     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    signed_out_at  timestamptz,
    CHECK ((token_name IS NULL) <> (person IS NULL))
);
CREATE INDEX console_sessions_expiry ON carepath.console_sessions (expires_at);
