//! Which journey owns a vendor's resource (a case, an order).

use sqlx::PgExecutor;
use uuid::Uuid;

/// Records that `journey_id` owns the vendor's `kind` `reference`, and sends
/// any of the vendor's webhooks about it that were parked as unmatched (they
/// outran this record) back to be routed; the reference becomes a search
/// key of the journey ([`crate::search`]). Idempotent; a resource another
/// journey already owns stays that journey's.
///
/// # Errors
/// A database error (no journey with `journey_id` breaks a foreign key). The
/// statements are not one transaction: after a failure, calling it
/// again completes it.
pub async fn link(
    db: &sqlx::PgPool,
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
    // What routes a vendor's events to the journey also finds it for an
    // operator (`crate::search`).
    super::keys::insert(db, journey_id, &[kind.to_owned()], &[reference.to_owned()]).await?;
    // Routed from now on in the journey's partition, behind the events
    // about it already there, before those still to come.
    sqlx::query(
        "UPDATE carepath.webhook_inbox
            SET status = 'received', note = NULL, processed_at = NULL, route_after = now(),
                route_partition = $3
          WHERE status = 'unmatched' AND vendor = $1 AND refs @> ARRAY[$2]",
    )
    .bind(vendor)
    .bind(tag(kind, reference))
    .bind(crate::webhook_source::journey_partition(journey_id))
    .execute(db)
    .await?;
    Ok(())
}

/// How an unmatched inbox event lists a resource it names (`case:<id>`),
/// so [`link`] finds it.
pub fn tag(kind: &str, reference: &str) -> String {
    format!("{kind}:{reference}")
}

/// The journey that owns the vendor's `kind` `reference`, if one does.
///
/// # Errors
/// A database error.
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
