//! The month partitions of `journey_steps` and `journey_history` (engine
//! migration `20261210000001`): one range of UUIDv7 journey ids per calendar
//! month (UTC), made ahead of time, and detached to the `carepath_archive`
//! schema once every journey of the month has ended and had its PHI erased.

use sqlx::{PgConnection, PgExecutor};

/// The partitioned tables, each with a partition per month.
pub const TABLES: [&str; 2] = ["journey_steps", "journey_history"];

/// How many months ahead of the current one partitions are made.
pub const MONTHS_AHEAD: i32 = 3;

/// Makes the month partitions from the current month to
/// [`MONTHS_AHEAD`] months ahead (UTC) that do not exist yet (a catalogue
/// check when they all do); how many it made. Making one takes the tables'
/// lock: it waits at most `lock_timeout_ms` for it (a long transaction
/// reading the tables, a dump) and then makes none, for the next pass to
/// try, rather than queue every checkpoint behind it.
///
/// # Errors
/// The database's, other than a lock not had in time.
pub async fn make_ahead(conn: &mut PgConnection, lock_timeout_ms: u32) -> Result<i32, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    wait_for_locks_at_most(&mut tx, lock_timeout_ms).await?;
    let made = sqlx::query_scalar(
        "SELECT carepath.create_journey_partitions(now(),
             (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => $1))
                 AT TIME ZONE 'UTC')",
    )
    .bind(MONTHS_AHEAD)
    .fetch_one(&mut *tx)
    .await;
    match made {
        Ok(made) => {
            tx.commit().await?;
            Ok(made)
        }
        Err(e) if is_lock_timeout(&e) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Bounds how long the rest of the transaction `tx` waits for any lock.
async fn wait_for_locks_at_most(tx: &mut PgConnection, ms: u32) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SET LOCAL lock_timeout = {ms}"
    )))
    .execute(tx)
    .await
    .map(|_| ())
}

fn is_lock_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
}

/// The months (`YYYY_MM`) whose partitions are attached, oldest first, that
/// ended at least `before_months` months and a day ago (a day: no journey
/// whose id was made in the month is still being started).
///
/// # Errors
/// The database's.
pub async fn months_ended(
    db: impl PgExecutor<'_>,
    before_months: i32,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT substr(c.relname, length('journey_steps_') + 1)
           FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'carepath.journey_steps'::regclass
            AND c.relname ~ '^journey_steps_[0-9]{4}_[0-9]{2}$'
            AND to_date(substr(c.relname, length('journey_steps_') + 1), 'YYYY_MM')
                + make_interval(months => 1 + $1) <= ((now() - interval '1 day') AT TIME ZONE 'UTC')::date
          ORDER BY c.relname",
    )
    .bind(before_months)
    .fetch_all(db)
    .await
}

/// Whether every journey started in `month` (`YYYY_MM`) has completed or
/// been cancelled and had its PHI erased — so its steps and history hold
/// nothing anyone may read, and none of them runs again (an erased journey
/// is not rewound). Stops at the first journey that has not.
///
/// # Errors
/// The database's.
pub async fn month_erased(db: impl PgExecutor<'_>, month: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "WITH m AS (SELECT to_date($1, 'YYYY_MM')::timestamp AS start)
         SELECT NOT EXISTS (
             SELECT 1 FROM carepath.journeys, m
              WHERE id >= carepath.v7_floor(m.start AT TIME ZONE 'UTC')
                AND id < carepath.v7_floor((m.start + interval '1 month') AT TIME ZONE 'UTC')
                AND (phi_erased_at IS NULL OR status NOT IN ('completed', 'cancelled')))",
    )
    .bind(month)
    .fetch_one(db)
    .await
}

/// Detaches `month`'s partitions of both [`TABLES`] and moves them to the
/// `carepath_archive` schema (kept, not dropped: an operator dumps and drops
/// them), in one transaction that waits at most `lock_timeout_ms` for the
/// tables' lock (every checkpoint takes it briefly). Returns whether it
/// did; `false` when the month has no attached partitions any more or the
/// lock was not had in time (the next pass tries again).
///
/// # Errors
/// The database's, other than a lock not had in time.
pub async fn archive_month(
    conn: &mut PgConnection,
    month: &str,
    lock_timeout_ms: u32,
) -> Result<bool, sqlx::Error> {
    if month.len() != 7 || !month.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return Ok(false);
    }
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // The lock partitions are made under: one archiver, and no month made
    // while one is moved.
    let ours: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock(hashtext('carepath.journey_partitions'))",
    )
    .fetch_one(&mut *tx)
    .await?;
    if !ours {
        return Ok(false);
    }
    wait_for_locks_at_most(&mut tx, lock_timeout_ms).await?;
    let mut history_detached = false;
    for table in TABLES {
        let partition = format!("{table}_{month}");
        let attached: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_inherits
                             WHERE inhrelid = to_regclass('carepath.' || $1))",
        )
        .bind(&partition)
        .fetch_one(&mut *tx)
        .await?;
        if !attached {
            continue;
        }
        history_detached |= table == "journey_history";
        let mut detach = format!(
            "ALTER TABLE carepath.{table} DETACH PARTITION carepath.{partition};
             ALTER TABLE carepath.{partition} SET SCHEMA carepath_archive;"
        );
        if table == "journey_history" {
            // Detached, it loses the row triggers it had from its parent
            // (the chain's among them): the archive takes nothing more and
            // changes nothing (its TRUNCATE trigger is its own).
            detach.push_str(&format!(
                "CREATE TRIGGER journey_history_archived
                     BEFORE INSERT OR UPDATE OR DELETE ON carepath_archive.{partition}
                     FOR EACH ROW EXECUTE FUNCTION carepath.history_is_append_only();"
            ));
        }
        match sqlx::raw_sql(sqlx::AssertSqlSafe(detach))
            .execute(&mut *tx)
            .await
        {
            Ok(_) => {}
            Err(e) if is_lock_timeout(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    if !history_detached {
        // Steps alone (a month made for one table only, before both were
        // made together): its history stays attached and is not retired.
        tx.commit().await?;
        return Ok(true);
    }
    sqlx::query("INSERT INTO carepath.archived_months (month) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(month)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}
