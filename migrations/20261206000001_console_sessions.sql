-- The operator console's sign-in sessions (`/console`): an operator or admin
-- token exchanged for a session cookie. The cookie's value is kept only as
-- its SHA-256; the session lives while its token does (revoking the token
-- ends it), until it is signed out, idle too long, or reaches its absolute
-- expiry.
CREATE TABLE carepath.console_sessions (
    session_sha256 text        PRIMARY KEY,
    token_name     text        NOT NULL REFERENCES carepath.api_tokens (name),
    -- Every form of the session carries this value (synchronizer token).
    csrf_token     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    signed_out_at  timestamptz
);
CREATE INDEX console_sessions_expiry ON carepath.console_sessions (expires_at);
