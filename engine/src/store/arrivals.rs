//! The webhook door's inbox rows, written a group at a time
//! ([`crate::arrivals`]): the journeys that own what each event names (to
//! choose its routing partition), then one insert for the whole group —
//! the same row, dedup key and delivery count as [`super::inbox::store`]
//! writes for one event.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::inbox::Source;
use crate::webhook_source::Reference;

/// A verified delivery, as the door stores it.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The sending vendor (the door's `{vendor}`).
    pub vendor: String,
    /// How it came.
    pub source: Source,
    /// The vendor's event id, or what its source keys the event by.
    pub dedup_key: String,
    /// The event's type, when its source names one.
    pub event_type: Option<String>,
    /// The body as stored (sealed when encryption is on).
    pub body: Vec<u8>,
    /// The headers kept with it (a JSON object).
    pub headers: Value,
    /// What the event is about, in its source's order
    /// ([`crate::webhook_source::routable_references`]).
    pub references: Vec<Reference>,
}

/// One row to insert: an arrival, its partition, and how many copies of it
/// the group held (each a delivery).
pub struct Row<'a> {
    /// The arrival (its first copy in the group).
    pub arrival: &'a Arrival,
    /// Its routing partition.
    pub partition: i16,
    /// Copies of it in the group (1 or more).
    pub copies: i32,
}

/// For each of `arrivals`, in order, the journey that owns the first of its
/// references any journey owns, if one does.
///
/// # Errors
/// The database's.
pub async fn owners(
    conn: &mut PgConnection,
    arrivals: &[&Arrival],
) -> Result<Vec<Option<Uuid>>, sqlx::Error> {
    let mut at = Vec::new();
    let (mut vendors, mut kinds, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for (i, a) in arrivals.iter().enumerate() {
        for r in &a.references {
            at.push(i32::try_from(i).unwrap_or(i32::MAX));
            vendors.push(a.vendor.as_str());
            kinds.push(r.kind.as_str());
            ids.push(r.id.as_str());
        }
    }
    let mut owners = vec![None; arrivals.len()];
    if at.is_empty() {
        return Ok(owners);
    }
    let found: Vec<(i32, Uuid)> = sqlx::query_as(
        "SELECT DISTINCT ON (t.at) t.at, r.journey_id
           FROM unnest($1::int4[], $2::text[], $3::text[], $4::text[])
                WITH ORDINALITY AS t(at, vendor, kind, ref, n)
           JOIN carepath.journey_refs r
             ON r.vendor = t.vendor AND r.kind = t.kind AND r.ref = t.ref
          ORDER BY t.at, t.n",
    )
    .bind(&at)
    .bind(&vendors)
    .bind(&kinds)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    for (i, journey) in found {
        if let Some(owner) = usize::try_from(i).ok().and_then(|i| owners.get_mut(i)) {
            *owner = Some(journey);
        }
    }
    Ok(owners)
}

/// Inserts `rows` in their order (their ids follow it), each distinct by
/// vendor and dedup key; a row already stored counts its copies as
/// deliveries instead. Returns, per row stored or counted, its vendor, dedup
/// key and whether this insert stored it.
///
/// # Errors
/// The database's (the whole group, or none of it, is written).
pub async fn insert(
    conn: &mut PgConnection,
    rows: &[Row<'_>],
) -> Result<Vec<(String, String, bool)>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO carepath.webhook_inbox
                (vendor, dedup_key, event_type, body, headers, source, route_partition, deliveries)
         SELECT vendor, dedup_key, event_type, body, headers, source, route_partition, deliveries
           FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[], $6::text[],
                       $7::int2[], $8::int4[])
                WITH ORDINALITY
                AS a(vendor, dedup_key, event_type, body, headers, source, route_partition,
                     deliveries, n)
          ORDER BY n
         ON CONFLICT ON CONSTRAINT webhook_inbox_dedup
         DO UPDATE SET deliveries = carepath.webhook_inbox.deliveries + EXCLUDED.deliveries
         RETURNING vendor, dedup_key, (xmax = 0)",
    )
    .bind(
        rows.iter()
            .map(|r| r.arrival.vendor.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.arrival.dedup_key.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.arrival.event_type.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.arrival.body.as_slice())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| &r.arrival.headers).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.arrival.source.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.partition).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.copies).collect::<Vec<_>>())
    .fetch_all(conn)
    .await
}
