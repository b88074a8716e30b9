//! Vendor holds, shared by every worker process: a vendor on hold is not
//! called before its hold ends, by anyone.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Who sets the holds carepath puts on a vendor by itself (an open breaker,
/// a 429's Retry-After); an operator's pause is set by the operator's actor.
pub const AUTOMATIC: &str = "carepath";

/// A hold in force on a vendor.
#[derive(Debug, Clone)]
pub struct Hold {
    /// When it ends (the database's clock).
    pub until: DateTime<Utc>,
    /// Why: the failure that set it, or the operator's reason.
    pub reason: String,
    /// Who set it: [`AUTOMATIC`], or an operator's actor (`token:<name>`).
    pub set_by: String,
}

impl Hold {
    /// Whether an operator paused the vendor (until resumed), rather than
    /// carepath holding it after failures or a 429.
    pub fn by_operator(&self) -> bool {
        self.set_by != AUTOMATIC
    }
}

/// The vendor's hold, if one is in force now.
///
/// # Errors
/// The database's.
pub async fn current(pool: &PgPool, vendor: &str) -> Result<Option<Hold>, sqlx::Error> {
    let row: Option<(DateTime<Utc>, String, String)> = sqlx::query_as(
        "SELECT until, reason, set_by FROM carepath.vendor_holds
          WHERE vendor = $1 AND until > clock_timestamp()",
    )
    .bind(vendor)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(until, reason, set_by)| Hold {
        until,
        reason,
        set_by,
    }))
}

/// Holds the vendor for `lasting` from now (the database's now, like every
/// check of the hold); an existing hold that ends later stands. Returns the
/// hold in force afterwards.
///
/// # Errors
/// The database's.
pub async fn hold(
    pool: &PgPool,
    vendor: &str,
    lasting: std::time::Duration,
    reason: &str,
    set_by: &str,
) -> Result<Hold, sqlx::Error> {
    sqlx::query(
        "INSERT INTO carepath.vendor_holds (vendor, until, reason, set_by)
         VALUES ($1, clock_timestamp() + make_interval(secs => $2), $3, $4)
         ON CONFLICT (vendor) DO UPDATE
            SET until = EXCLUDED.until, reason = EXCLUDED.reason,
                set_by = EXCLUDED.set_by, set_at = now()
          WHERE carepath.vendor_holds.until < EXCLUDED.until",
    )
    .bind(vendor)
    .bind(lasting.as_secs_f64())
    .bind(reason)
    .bind(set_by)
    .execute(pool)
    .await?;
    Ok(current(pool, vendor).await?.unwrap_or(Hold {
        until: Utc::now() + chrono::Duration::from_std(lasting).unwrap_or_default(),
        reason: reason.to_owned(),
        set_by: set_by.to_owned(),
    }))
}

/// Lifts the vendor's hold, whoever set it and however long it had left;
/// `false` when there was none (an ended hold's row counts as one).
///
/// # Errors
/// The database's.
pub async fn release(pool: &PgPool, vendor: &str) -> Result<bool, sqlx::Error> {
    let released = sqlx::query("DELETE FROM carepath.vendor_holds WHERE vendor = $1")
        .bind(vendor)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(released > 0)
}
