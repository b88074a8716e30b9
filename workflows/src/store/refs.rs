//! Which journey owns a vendor's resource (a case, an order).

use sqlx::PgExecutor;
use uuid::Uuid;

/// Records that `journey_id` owns the vendor's `kind` `reference`. Idempotent.
pub async fn link(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
    vendor: &str,
    kind: &str,
    reference: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO carepath.journey_refs (vendor, kind, ref, journey_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (vendor, kind, ref) DO NOTHING",
    )
    .bind(vendor)
    .bind(kind)
    .bind(reference)
    .bind(journey_id)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn owner(
    db: impl PgExecutor<'_>,
    vendor: &str,
    kind: &str,
    reference: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT journey_id FROM carepath.journey_refs WHERE vendor = $1 AND kind = $2 AND ref = $3",
    )
    .bind(vendor)
    .bind(kind)
    .bind(reference)
    .fetch_optional(db)
    .await
}
