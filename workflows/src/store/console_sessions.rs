//! `carepath.console_sessions`: the operator console's sign-in sessions,
//! kept by the SHA-256 of their cookie. Issuing cookies and checking CSRF is
//! the API's business; this is the table.

use sqlx::{FromRow, PgExecutor};

/// Who a session was opened for.
#[derive(Debug, Clone, Copy)]
pub enum Holder<'a> {
    /// An API token, by name: the session lives while the token does.
    Token(&'a str),
    /// A person an OpenID Connect provider vouched for, by id.
    Person(&'a str),
}

/// A live session, as the console authenticates a request by it.
#[derive(Debug, Clone, FromRow)]
pub struct LiveSession {
    /// The token it was opened with, if it was.
    pub token_name: Option<String>,
    /// The person it was opened for, if it was.
    pub person: Option<String>,
    /// `operator` or `admin`, as stored.
    pub role: String,
    /// The value every form of the session must carry.
    pub csrf_token: String,
}

/// Opens a session for `holder` with `role`, good for at most `lifetime_secs` seconds.
///
/// # Errors
/// The database's.
pub async fn open(
    db: impl PgExecutor<'_>,
    session_sha256: &str,
    holder: Holder<'_>,
    role: &str,
    csrf_token: &str,
    lifetime_secs: i64,
) -> Result<(), sqlx::Error> {
    let (token, person) = match holder {
        Holder::Token(name) => (Some(name), None),
        Holder::Person(id) => (None, Some(id)),
    };
    sqlx::query(
        "INSERT INTO carepath.console_sessions
                (session_sha256, token_name, person, role, csrf_token, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
    )
    .bind(session_sha256)
    .bind(token)
    .bind(person)
    .bind(role)
    .bind(csrf_token)
    .bind(lifetime_secs as f64)
    .execute(db)
    .await?;
    Ok(())
}

/// The session whose cookie hashes to `session_sha256`, if it is live: not
/// signed out, before its expiry, seen within `idle_secs` seconds, and (if
/// opened with a token) its token not revoked. Marks it seen now, so
/// idleness counts from this request.
///
/// # Errors
/// The database's.
pub async fn touch(
    db: impl PgExecutor<'_>,
    session_sha256: &str,
    idle_secs: i64,
) -> Result<Option<LiveSession>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE carepath.console_sessions s SET last_seen_at = now()
          WHERE s.session_sha256 = $1
            AND s.signed_out_at IS NULL AND s.expires_at > now()
            AND s.last_seen_at > now() - make_interval(secs => $2)
            AND (s.token_name IS NULL OR EXISTS (
                    SELECT 1 FROM carepath.api_tokens t
                     WHERE t.name = s.token_name AND t.revoked_at IS NULL))
      RETURNING s.token_name, s.person, s.role, s.csrf_token",
    )
    .bind(session_sha256)
    .bind(idle_secs as f64)
    .fetch_optional(db)
    .await
}

/// [`touch`] without marking the session seen: for requests the page makes
/// by itself (live refreshes, the event stream), which are not the person
/// at work and must not keep an idle session alive.
///
/// # Errors
/// The database's.
pub async fn peek(
    db: impl PgExecutor<'_>,
    session_sha256: &str,
    idle_secs: i64,
) -> Result<Option<LiveSession>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.token_name, s.person, s.role, s.csrf_token FROM carepath.console_sessions s
          WHERE s.session_sha256 = $1
            AND s.signed_out_at IS NULL AND s.expires_at > now()
            AND s.last_seen_at > now() - make_interval(secs => $2)
            AND (s.token_name IS NULL OR EXISTS (
                    SELECT 1 FROM carepath.api_tokens t
                     WHERE t.name = s.token_name AND t.revoked_at IS NULL))",
    )
    .bind(session_sha256)
    .bind(idle_secs as f64)
    .fetch_optional(db)
    .await
}

/// Ends the session (sign-out); `false` when it was not open.
///
/// # Errors
/// The database's.
pub async fn sign_out(db: impl PgExecutor<'_>, session_sha256: &str) -> Result<bool, sqlx::Error> {
    let ended = sqlx::query(
        "UPDATE carepath.console_sessions SET signed_out_at = now()
          WHERE session_sha256 = $1 AND signed_out_at IS NULL",
    )
    .bind(session_sha256)
    .execute(db)
    .await?
    .rows_affected();
    Ok(ended == 1)
}

/// Ends every open session of `holder` (a person removed at the identity
/// provider, a token under suspicion); how many were open.
///
/// # Errors
/// The database's.
pub async fn end_all(db: impl PgExecutor<'_>, holder: Holder<'_>) -> Result<u64, sqlx::Error> {
    let (token, person) = match holder {
        Holder::Token(name) => (Some(name), None),
        Holder::Person(id) => (None, Some(id)),
    };
    Ok(sqlx::query(
        "UPDATE carepath.console_sessions SET signed_out_at = now()
          WHERE signed_out_at IS NULL AND expires_at > now()
            AND (token_name = $1 OR person = $2)",
    )
    .bind(token)
    .bind(person)
    .execute(db)
    .await?
    .rows_affected())
}

/// Deletes sessions that ended more than a day ago; how many.
///
/// # Errors
/// The database's.
pub async fn purge_ended(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM carepath.console_sessions
          WHERE coalesce(signed_out_at, expires_at) < now() - interval '1 day'",
    )
    .execute(db)
    .await?
    .rows_affected())
}
