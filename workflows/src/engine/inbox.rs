//! Routes stored webhooks to journeys, after they were acknowledged: each
//! becomes a signal (deduplicated by its event id) on the journey that owns the
//! resource it is about, or is parked as unmatched for an operator.

use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::Engine;
use super::error::EngineError;
use super::ops::{Actor, signal_in};
use crate::store::refs;

/// The resources a vendor's event may be about, by the field naming them.
const REFERENCES: [(&str, &str); 3] = [
    ("case", "case_id"),
    ("order", "order_id"),
    ("patient", "patient_id"),
];

#[derive(sqlx::FromRow)]
struct Stored {
    id: i64,
    vendor: String,
    dedup_key: String,
    event_type: Option<String>,
    body: Vec<u8>,
    /// Still within the grace period in which an unmatched event is retried.
    young: bool,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct RouteReport {
    pub applied: usize,
    pub unmatched: usize,
    /// Unmatched events put back to be looked at again shortly.
    pub deferred: usize,
}

impl Engine {
    /// Routes up to `batch` received webhooks, oldest first. One router at a
    /// time (a transaction-scoped advisory lock), so a journey's events become
    /// signals in the order they arrived.
    pub async fn route_inbox_once(&self, batch: i64) -> Result<RouteReport, EngineError> {
        let mut tx = self.pool.begin().await?;
        let routing: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext('carepath.inbox'))")
                .fetch_one(&mut *tx)
                .await?;
        let mut report = RouteReport::default();
        if !routing {
            return Ok(report);
        }
        let rows: Vec<Stored> = sqlx::query_as(
            "SELECT id, vendor, dedup_key, event_type, body,
                    received_at > now() - make_interval(secs => $2) AS young
               FROM carepath.webhook_inbox
              WHERE status = 'received' AND route_after <= now()
              ORDER BY id LIMIT $1",
        )
        .bind(batch)
        .bind(self.config.unmatched_grace.as_secs_f64())
        .fetch_all(&mut *tx)
        .await?;
        for row in rows {
            let event: Value = serde_json::from_slice(&row.body).unwrap_or(Value::Null);
            let (status, journey, note) = route_one(
                &mut tx,
                &row.vendor,
                &row.dedup_key,
                row.event_type.as_deref(),
                event,
            )
            .await?;
            if status == "unmatched" && row.young {
                // 0.25 s, 0.5 s, 1 s, ... capped at 8 s, until the grace ends.
                sqlx::query(
                    "UPDATE carepath.webhook_inbox
                        SET route_attempts = route_attempts + 1,
                            route_after = now() + make_interval(
                                secs => least(8.0, 0.25 * power(2, route_attempts)))
                      WHERE id = $1",
                )
                .bind(row.id)
                .execute(&mut *tx)
                .await?;
                report.deferred += 1;
                continue;
            }
            if status == "applied" {
                report.applied += 1;
            } else {
                report.unmatched += 1;
            }
            sqlx::query(
                "UPDATE carepath.webhook_inbox
                    SET status = $2, journey_id = $3, note = $4, processed_at = now()
                  WHERE id = $1",
            )
            .bind(row.id)
            .bind(status)
            .bind(journey)
            .bind(note)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(report)
    }
}

async fn route_one(
    tx: &mut Transaction<'_, Postgres>,
    vendor: &str,
    dedup_key: &str,
    event_type: Option<&str>,
    event: Value,
) -> Result<(&'static str, Option<Uuid>, Option<String>), EngineError> {
    let mut owner = None;
    for (kind, field) in REFERENCES {
        if let Some(reference) = event["data"][field].as_str()
            && let Some(journey) = refs::owner(&mut **tx, vendor, kind, reference).await?
        {
            owner = Some(journey);
            break;
        }
    }
    let Some(journey) = owner else {
        return Ok((
            "unmatched",
            None,
            Some("no journey owns the resource this event is about".into()),
        ));
    };
    // `case.approved` → signal `clinical.case`: a journey waits on the resource,
    // and reads what happened from the payload.
    let topic = event_type
        .and_then(|t| t.split('.').next())
        .unwrap_or("event");
    let name = format!("{vendor}.{topic}");
    let actor = Actor::new(format!("webhook:{vendor}"));
    match signal_in(tx, journey, &name, vendor, dedup_key, &event, &actor).await {
        Ok(_) => Ok(("applied", Some(journey), None)),
        Err(EngineError::NotApplicable { status, .. }) => Ok((
            "applied",
            Some(journey),
            Some(format!("ignored: the journey is {status}")),
        )),
        Err(e) => Err(e),
    }
}
