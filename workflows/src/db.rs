//! Connecting, migrating, and refusing to run on an unmigrated database.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// `CAREPATH_STUCK_AFTER_SECS`, 900 (15 minutes) by default.
fn stuck_after_secs() -> String {
    std::env::var("CAREPATH_STUCK_AFTER_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(900)
        .to_string()
}

/// A pool of at most `max_connections` connections to the PostgreSQL server
/// at `url` (`DATABASE_URL`), each set up for journeys (TCP keepalives, the
/// overdue threshold) by `SET` after connecting rather than by startup
/// options, which PgBouncer refuses.
///
/// # Errors
/// One sentence, without the URL's password or the server's source lines:
/// not a `postgres://` URL, the server refusing or not answering, the
/// database missing, authentication refused ([`connect_error`]).
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool> {
    let options = connect_options(url)?;
    // The pool retries failed connections until its timeout and then says
    // only "timed out": one direct attempt first gives the real reason.
    probe(&options).await?;
    let stuck_after = stuck_after_secs();
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            let stuck_after = stuck_after.clone();
            Box::pin(async move {
                sqlx::raw_sql(SESSION_SETUP).execute(&mut *conn).await?;
                sqlx::query("SELECT set_config('carepath.stuck_after_secs', $1, false)")
                    .bind(stuck_after)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .context("connecting to PostgreSQL (DATABASE_URL)")
}

/// `url` parsed, refused unless it is a `postgres://` or `postgresql://` URL
/// (sqlx would read a `mysql://` URL as PostgreSQL's defaults).
fn connect_options(url: &str) -> Result<PgConnectOptions> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !matches!(scheme, Some("postgres" | "postgresql")) {
        bail!(
            "DATABASE_URL is not a PostgreSQL URL: it must look like \
             postgres://USER:PASSWORD@HOST:PORT/DATABASE{}",
            scheme.map_or(String::new(), |s| format!(" (it starts with {s}://)"))
        );
    }
    let options = PgConnectOptions::from_str(url).map_err(|e| {
        anyhow::anyhow!(
            "DATABASE_URL is not a valid PostgreSQL URL: {}",
            without_source(&e)
        )
    })?;
    // PostgreSQL 12 and later print floats exactly by default; sqlx's
    // `extra_float_digits` startup parameter is one PgBouncer refuses.
    Ok(options.extra_float_digits(None))
}

/// What every new connection runs first. A journey's lock lives as long as
/// its connection: if a worker's machine vanishes without closing it, the
/// server must notice within a minute, not after the kernel's default two
/// hours. (Then `carepath.stuck_after_secs` is set from
/// `CAREPATH_STUCK_AFTER_SECS`: a running journey that records nothing for
/// that long is overdue, see `overdue_condition!`, whichever process asks.)
const SESSION_SETUP: &str = "SET tcp_keepalives_idle = 20; SET tcp_keepalives_interval = 5; \
     SET tcp_keepalives_count = 4; SET tcp_user_timeout = 40000";

/// Two connections, opened and closed before the pool: the first reports why
/// connecting fails, if it does; together they refuse a pooler that does
/// not keep a client on one server session ([`same_session_throughout`]).
/// Bounded: a pooler with no second session free does not hang the start.
async fn probe(options: &PgConnectOptions) -> Result<()> {
    use sqlx::Connection;
    let mut first = open(options).await?;
    let mut second = open(options).await?;
    let checked = tokio::time::timeout(
        PROBE_LIMIT,
        same_session_throughout(&mut first, &mut second),
    )
    .await
    .unwrap_or_else(|_| {
        Err(anyhow::anyhow!(
            "PostgreSQL at {} (or a pooler in front of it) did not serve two sessions at once \
             within {} s; carepath holds several (DATABASE_URL)",
            server(options),
            PROBE_LIMIT.as_secs()
        ))
    });
    let _ = first.close().await;
    let _ = second.close().await;
    checked
}

/// How long the start-up check may take.
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// Rounds of the session check: under load a transaction pooler can happen
/// to route a few statements as a session would; across this many, the
/// server sessions seen give it away.
const PROBE_ROUNDS: usize = 8;

async fn open(options: &PgConnectOptions) -> Result<sqlx::PgConnection> {
    use sqlx::ConnectOptions;
    match tokio::time::timeout(Duration::from_secs(10), options.connect()).await {
        Err(_) => bail!(
            "no answer from PostgreSQL at {} within 10 s (DATABASE_URL)",
            server(options)
        ),
        Ok(Err(error)) => Err(connect_error(&error, options)),
        Ok(Ok(conn)) => Ok(conn),
    }
}

/// carepath holds session advisory locks (a journey's lock) and LISTENs
/// (the queue): behind a pooler that hands one client's statements to
/// different server sessions — PgBouncer's `pool_mode = transaction` or
/// `statement` — both would break without an error. In session mode each
/// client keeps one server session (one backend pid) for its life and no
/// two clients share one, so over [`PROBE_ROUNDS`] rounds `first` sets a
/// marker, `second` reads it, `first` reads it back, each statement also
/// giving its backend's pid: any change of pid, a shared pid, the marker seen
/// on `second` or lost on `first` means the statements were pooled.
/// (PgBouncer gives the next client the session released last, so even an
/// idle one shows it in the first round.) Simple queries only: a
/// transaction pooler would also lose named prepared statements.
async fn same_session_throughout(
    first: &mut sqlx::PgConnection,
    second: &mut sqlx::PgConnection,
) -> Result<()> {
    let read =
        "SELECT pg_backend_pid(), coalesce(current_setting('carepath.session_probe', true), '')";
    let (mut firsts, mut seconds) = (Vec::new(), Vec::new());
    let mut pooled = false;
    for _ in 0..PROBE_ROUNDS {
        let marker = uuid::Uuid::new_v4().simple().to_string();
        let set = format!(
            "SELECT pg_backend_pid(), set_config('carepath.session_probe', '{marker}', false)"
        );
        firsts.push(session_of(first, &set).await?.0);
        let (pid, seen) = session_of(second, read).await?;
        seconds.push(pid);
        let (pid, kept) = session_of(first, read).await?;
        firsts.push(pid);
        pooled |= seen == marker || kept != marker;
    }
    pooled |= firsts.iter().any(|p| *p != firsts[0])
        || seconds.iter().any(|p| *p != seconds[0])
        || firsts.iter().any(|p| seconds.contains(p));
    if pooled {
        bail!(
            "DATABASE_URL leads to a connection pooler that does not keep a client on one \
             PostgreSQL session (PgBouncer with pool_mode = transaction or statement): carepath \
             holds session advisory locks and LISTENs, which that would silently break. Use \
             pool_mode = session, or connect to PostgreSQL directly"
        );
    }
    Ok(())
}

/// One simple-protocol statement's backend pid and text column.
async fn session_of(conn: &mut sqlx::PgConnection, sql: &str) -> Result<(i32, String)> {
    use sqlx::Row;
    let failed = |e: sqlx::Error| {
        anyhow::anyhow!("the start-up session check failed: {}", without_source(&e))
    };
    let row = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut *conn)
        .await
        .map_err(failed)?;
    Ok((
        row.try_get(0).map_err(failed)?,
        row.try_get(1).map_err(failed)?,
    ))
}

/// Why connecting to `options`'s server failed, in one sentence that names
/// the server, database and user but never the password.
pub fn connect_error(error: &sqlx::Error, options: &PgConnectOptions) -> anyhow::Error {
    let at = server(options);
    let database = options.get_database().unwrap_or(options.get_username());
    match error {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            anyhow::anyhow!(
                "PostgreSQL refused the connection at {at}: is a server running there? (DATABASE_URL)"
            )
        }
        sqlx::Error::Io(io) => {
            anyhow::anyhow!("cannot reach PostgreSQL at {at}: {io} (DATABASE_URL)")
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("3D000") => anyhow::anyhow!(
                "database \"{database}\" does not exist on {at}: create it (createdb {database}) \
                 or fix DATABASE_URL"
            ),
            Some("28P01" | "28000") => anyhow::anyhow!(
                "PostgreSQL at {at} refused user \"{}\": {} (DATABASE_URL)",
                options.get_username(),
                db.message()
            ),
            code => anyhow::anyhow!(
                "PostgreSQL at {at} refused the connection: {} (SQLSTATE {}; DATABASE_URL)",
                db.message(),
                code.unwrap_or("unknown")
            ),
        },
        other => anyhow::anyhow!(
            "cannot connect to PostgreSQL at {at}: {} (DATABASE_URL)",
            without_source(other)
        ),
    }
}

/// `host:port`, or the socket folder and port.
fn server(options: &PgConnectOptions) -> String {
    format!("{}:{}", options.get_host(), options.get_port())
}

/// An error's own message, without the chain sqlx appends.
fn without_source(error: &sqlx::Error) -> String {
    let mut text = error.to_string();
    // sqlx ends some messages with where it raised them,
    // "(sqlx_postgres::connection::tls:95)", and a server error with the
    // server's source line, "at line 948".
    if let Some(at) = text.rfind(" (sqlx_").filter(|_| text.ends_with(')')) {
        text.truncate(at);
    }
    if let Some(at) = text.rfind(" at line ")
        && text[at + 9..].bytes().all(|b| b.is_ascii_digit())
    {
        text.truncate(at);
    }
    text
}

/// Where the application records its own migrations (the workspace's
/// `migrations/` folder), beside the engine's.
pub const APP_TABLE: &str = "carepath._migrations";

/// Before the engine had migrations of its own, one migrator recorded
/// everything in `_sqlx_migrations`, from this version ...
const LEGACY_FIRST: i64 = 20261123000001;
/// ... to this one; its end state is exactly the engine's and the
/// application's first migrations.
const LEGACY_LAST: i64 = 20261130000002;

/// The application's first migration: what a database migrated before the
/// split already holds. Adoption records it, and nothing after it, as applied.
const APP_BASELINE: i64 = 20261201000002;
/// The engine's first migration, likewise.
const ENGINE_BASELINE: i64 = 20261201000001;

/// The application's migrations, recorded in [`APP_TABLE`].
fn app_migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("../migrations");
    migrator.dangerous_set_table_name(APP_TABLE);
    migrator.create_schema("carepath");
    migrator
}

/// The queue's and the engine's migrations (see [`carepath_engine::migrate`]),
/// then the application's.
///
/// # Errors
/// A database error, a changed migration, or a database migrated by an older
/// carepath only part of the way (see [`adopt_legacy`]).
pub async fn migrate(pool: &PgPool) -> Result<()> {
    // Before anything is written: a database carepath cannot adopt is left as it was.
    adopt_legacy(pool).await?;
    carepath_engine::migrate::queue_migrator()
        .run(pool)
        .await
        .context("applying the queue's migrations")?;
    carepath_engine::migrate::engine_migrator()
        .run(pool)
        .await
        .context("applying the engine's migrations")?;
    app_migrator()
        .run(pool)
        .await
        .context("applying carepath's migrations")?;
    // Patients from before issue 12 become records matching can find, and
    // the registry's clear PHI is hashed and sealed, by the first worker to
    // start (`patients::seal_registry`): this process has no keys.
    Ok(())
}

/// A database migrated before the engine's split already has the schema the
/// engine's and the application's first migrations create: they are recorded
/// as applied without running, each in its own table and only while that
/// table is empty, so a run cut off between the two is finished by the next.
/// One migrated only part of the way is refused, since its missing steps are
/// no longer shipped. The old record is carepath's only if it holds
/// carepath's first version (another application's sqlx migrations may share
/// the table); it is found as the old code found it, through `search_path`.
async fn adopt_legacy(pool: &PgPool) -> Result<()> {
    let legacy = carepath_engine::migrate::applied(pool, "_sqlx_migrations").await?;
    if !legacy.contains(&LEGACY_FIRST) {
        return Ok(());
    }
    if !legacy.contains(&LEGACY_LAST) {
        let last = legacy
            .iter()
            .filter(|v| (LEGACY_FIRST..=LEGACY_LAST).contains(*v))
            .max()
            .copied()
            .unwrap_or(LEGACY_FIRST);
        bail!(
            "this database was migrated by an older carepath up to {last}; migrate it to \
             {LEGACY_LAST} with that release's `carepath migrate` first"
        );
    }
    let engine = carepath_engine::migrate::applied(pool, carepath_engine::migrate::TABLE).await?;
    if engine.is_empty() {
        tracing::info!("adopting the engine's schema of a database migrated before the split");
        carepath_engine::migrate::engine_migrator()
            .skip(pool, Some(ENGINE_BASELINE))
            .await
            .context("recording the engine's migrations")?;
    }
    if carepath_engine::migrate::applied(pool, APP_TABLE)
        .await?
        .is_empty()
    {
        tracing::info!("adopting carepath's schema of a database migrated before the split");
        app_migrator()
            .skip(pool, Some(APP_BASELINE))
            .await
            .context("recording carepath's migrations")?;
    }
    Ok(())
}

/// Fails with a message saying what to do when any migration is missing.
///
/// # Errors
/// A missing migration, or a database error.
pub async fn ensure_migrated(pool: &PgPool) -> Result<()> {
    let mut missing = carepath_engine::migrate::missing(pool)
        .await
        .context("reading the migrations tables")?;
    missing.extend(
        carepath_engine::migrate::missing_from(pool, &app_migrator(), APP_TABLE)
            .await
            .context("reading the migrations table")?,
    );
    if let Some(first) = missing.first() {
        bail!(
            "the database is not migrated ({} migration(s) missing, first: {first}); \
             run `carepath migrate` first",
            missing.len()
        );
    }
    Ok(())
}
