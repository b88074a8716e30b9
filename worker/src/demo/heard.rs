//! When each journey heard from the clinical network, for the demo's
//! evidence that a lost webhook was asked for before a later one arrived.

use std::collections::HashMap;

use carepath_engine::vault::{JourneySeal, Place};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// The clinical webhooks each journey received (`carepath.signals`): when
/// it received each, and when its event happened (its `occurred_at`).
pub(super) async fn heard(
    pool: &PgPool,
    journeys: &[Uuid],
) -> Result<HashMap<Uuid, Vec<(DateTime<Utc>, DateTime<Utc>)>>, sqlx::Error> {
    let rows: Vec<(Uuid, String, String, DateTime<Utc>, serde_json::Value)> = sqlx::query_as(
        "SELECT journey_id, source, event_id, received_at, payload FROM carepath.signals
          WHERE journey_id = ANY($1) AND source = 'clinical'",
    )
    .bind(journeys)
    .fetch_all(pool)
    .await?;
    // The payloads are sealed (PHI at rest): opened here, in memory, with
    // the key ring the demo's processes were given.
    let vault = carepath_workflows::settings::Settings::load(None)
        .map(|s| s.vault())
        .unwrap_or_default();
    let mut seals: HashMap<Uuid, Option<JourneySeal>> = HashMap::new();
    let mut by_journey: HashMap<Uuid, Vec<_>> = HashMap::new();
    for (journey, source, event_id, received, payload) in rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = seals.entry(journey) {
            slot.insert(JourneySeal::for_reading(&vault, pool, journey).await.ok());
        }
        let Some(Some(seal)) = seals.get(&journey) else {
            continue;
        };
        let place = Place::signal_payload(journey, &source, &event_id);
        let Ok(payload) = seal.open(&place, payload) else {
            continue;
        };
        let occurred = payload["occurred_at"].as_str();
        let Some(occurred) = occurred.and_then(|o| DateTime::parse_from_rfc3339(o).ok()) else {
            continue;
        };
        by_journey
            .entry(journey)
            .or_default()
            .push((received, occurred.with_timezone(&Utc)));
    }
    Ok(by_journey)
}
