//! `carepath.journey_keys`: the business identifiers a journey learned,
//! looked up by an operator's search (see [`crate::search`]).

use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// Records that `journey_id` is known by each `(kinds[i], keys[i])`, in
/// one statement. Idempotent: a step that is run again after a crash
/// records nothing new.
///
/// # Errors
/// The database's (no journey with `journey_id` breaks a foreign key).
pub async fn insert(
    db: impl PgExecutor<'_>,
    journey_id: Uuid,
    kinds: &[String],
    keys: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO carepath.journey_keys (kind, key, journey_id)
         SELECT kind, key, $3 FROM unnest($1::text[], $2::text[]) AS t(kind, key)
         ON CONFLICT DO NOTHING",
    )
    .bind(kinds)
    .bind(keys)
    .bind(journey_id)
    .execute(db)
    .await?;
    Ok(())
}

/// A journey an identifier names, and the kind of identifier that named it.
#[derive(Debug, Clone, FromRow)]
pub struct Hit {
    /// The journey.
    pub journey_id: Uuid,
    /// What named it: a `journey_keys` kind (`case`, `patient`…), or
    /// `idempotency_key` / `journey_id` for what the journey row holds.
    pub kind: String,
}

/// The journeys any of `(kinds[i], keys[i])` names, any workflow's journey
/// started with the idempotency key `idempotency_key` (within
/// `workflows`), and the journeys whose id starts with the searched prefix
/// (`id_range`) or ends with `id_tail`, newest first, at most `limit` rows.
///
/// # Errors
/// The database's.
pub async fn find(
    db: impl PgExecutor<'_>,
    lookup: &Lookup<'_>,
    limit: i64,
) -> Result<Vec<Hit>, sqlx::Error> {
    // Each arm is an index probe: the keys' primary key, the journeys'
    // (workflow, idempotency_key) unique index, and the primary key's range.
    sqlx::query_as(
        "SELECT journey_id, kind FROM (
             SELECT k.journey_id, k.kind
               FROM unnest($1::text[], $2::text[]) AS t(kind, key)
               JOIN carepath.journey_keys k ON k.kind = t.kind AND k.key = t.key
             UNION ALL
             SELECT id, 'idempotency_key' FROM carepath.journeys
              WHERE workflow = ANY($3) AND idempotency_key = $4
             UNION ALL
             SELECT id, 'journey_id' FROM carepath.journeys
              WHERE $5::uuid IS NOT NULL AND id BETWEEN $5 AND $6
             UNION ALL
             SELECT id, 'journey_id' FROM carepath.journeys
              WHERE $8::text IS NOT NULL AND reverse(id::text) LIKE $8
         ) hits
         ORDER BY journey_id DESC
         LIMIT $7",
    )
    .bind(lookup.kinds)
    .bind(lookup.keys)
    .bind(lookup.workflows)
    .bind(lookup.idempotency_key)
    .bind(lookup.id_range.map(|r| r.0))
    .bind(lookup.id_range.map(|r| r.1))
    .bind(limit)
    .bind(
        lookup
            .id_tail
            .map(|t| format!("{}%", t.chars().rev().collect::<String>())),
    )
    .fetch_all(db)
    .await
}

/// What [`find`] looks for.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// The kinds of `journey_keys` to probe, paired with `keys`.
    pub kinds: &'a [String],
    /// The keys (clear or keyed hashes), paired with `kinds`.
    pub keys: &'a [String],
    /// The workflows whose idempotency keys are probed.
    pub workflows: &'a [String],
    /// The idempotency key to probe.
    pub idempotency_key: &'a str,
    /// The lowest and highest journey ids with the searched prefix.
    pub id_range: Option<(Uuid, Uuid)>,
    /// The last characters of a journey id (lowercase hex, dashes as in the
    /// id's text).
    pub id_tail: Option<&'a str>,
}
