//! The webhook door's group commit: verified deliveries arriving at once
//! are stored in the inbox together ([`crate::group`]), one transaction for
//! as many as were waiting, and each is acknowledged once that transaction
//! has committed — so a 200 still means the event is durable, and the
//! database flushes its WAL once per group instead of once per webhook.
//!
//! Each group costs two statements: which journeys own what its events
//! name (an event's routing partition follows its owner, so one journey's
//! events keep their order), and one insert, in arrival order. The same
//! event twice in one group (a vendor's retry racing its first delivery) is
//! one row counting two deliveries; the first copy is answered `stored`,
//! the others `duplicate`, as they would be one after the other.

use std::collections::{HashMap, HashSet};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::oneshot;

use crate::Engine;
use crate::error::{EngineError, refuses_forever};
use crate::group::{self, GroupWrite, Groups};
use crate::metrics;
use crate::store::arrivals::{self, Arrival, Row};
use crate::webhook_source::{journey_partition, reference_partition};

/// The most deliveries one transaction carries.
pub const MAX_GROUP: usize = 256;

pub(crate) struct Job {
    arrival: Arrival,
    reply: oneshot::Sender<Result<bool, EngineError>>,
}

/// A handle on the process's door writers; cheap to clone.
#[derive(Clone)]
pub(crate) struct Arrivals(Groups<ArrivalWriter>);

impl Arrivals {
    /// `writers` groups may commit at once; 0 stores each delivery on its own.
    pub(crate) fn new(pool: PgPool, writers: usize) -> Self {
        Self(Groups::new(pool, writers, MAX_GROUP, ArrivalWriter))
    }
}

impl Engine {
    /// Stores `arrival` in the inbox with whatever other deliveries are
    /// waiting, and answers once it is durable: `true` when this delivery
    /// stored the event, `false` when it was already stored (the delivery is
    /// counted on the stored row).
    ///
    /// # Errors
    /// [`EngineError::Database`] when the database refuses this row (alone:
    /// the others of its group are stored without it);
    /// [`EngineError::Interrupted`] when the group could not be written
    /// (nothing of it was): the vendor's retry will store it.
    pub async fn store_arrival(&self, arrival: Arrival) -> Result<bool, EngineError> {
        let (reply, answer) = oneshot::channel();
        match self.arrivals.0.send(Job { arrival, reply }) {
            Ok(()) => answer.await.unwrap_or_else(|_| {
                Err(EngineError::Interrupted("the inbox writer stopped".into()))
            }),
            Err(job) => {
                let mut conn = self.pool().acquire().await?;
                let stored = write_group(&mut conn, &[&job.arrival]).await?;
                Ok(stored.first().copied().unwrap_or(false))
            }
        }
    }
}

/// Writes groups of deliveries.
pub(crate) struct ArrivalWriter;

impl GroupWrite for ArrivalWriter {
    type Job = Job;

    async fn write(
        &self,
        pool: &PgPool,
        kept: &mut Option<PoolConnection<Postgres>>,
        group: Vec<Job>,
    ) {
        metrics::INBOX_GROUP_DELIVERIES.observe(group.len() as f64);
        let arrivals: Vec<&Arrival> = group.iter().map(|j| &j.arrival).collect();
        let written = write_kept(pool, kept, &arrivals).await;
        match written {
            Ok(stored) => {
                for (job, stored) in group.into_iter().zip(stored) {
                    let _ = job.reply.send(Ok(stored));
                }
            }
            // A row refused, or a deadlock with another group storing the
            // same events in another order (several API processes): each
            // delivery again on its own, so one fails only itself.
            Err(e) if (refuses_forever(&e) || is_conflict(&e)) && group.len() > 1 => {
                tracing::warn!(deliveries = group.len(), error = %e,
                    "a group of deliveries was refused; storing them one at a time");
                for job in group {
                    let alone = write_kept(pool, kept, &[&job.arrival]).await;
                    let _ = job.reply.send(match alone {
                        Ok(stored) => Ok(stored.first().copied().unwrap_or(false)),
                        Err(e) if refuses_forever(&e) => Err(EngineError::Database(e)),
                        Err(e) => Err(EngineError::Interrupted(format!(
                            "the delivery was not stored: {e}"
                        ))),
                    });
                }
            }
            Err(e) => {
                let refused = refuses_forever(&e);
                let message = format!("the delivery was not stored: {e}");
                let mut e = Some(e);
                for job in group {
                    let answer = match e.take() {
                        Some(e) if refused => EngineError::Database(e),
                        _ => EngineError::Interrupted(message.clone()),
                    };
                    let _ = job.reply.send(Err(answer));
                }
            }
        }
    }
}

/// A deadlock or serialization failure: the same rows again may pass.
fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}

/// [`write_group`] on the writer's kept connection, taken from the pool
/// when it has none.
async fn write_kept(
    pool: &PgPool,
    kept: &mut Option<PoolConnection<Postgres>>,
    arrivals: &[&Arrival],
) -> Result<Vec<bool>, sqlx::Error> {
    let mut conn = group::connection(pool, kept).await?;
    let stored = write_group(&mut conn, arrivals).await?;
    *kept = Some(conn);
    Ok(stored)
}

/// Stores `arrivals` (each in its routing partition), one row per distinct
/// event; for each arrival, in order, whether it stored its event.
async fn write_group(
    conn: &mut PgConnection,
    arrivals: &[&Arrival],
) -> Result<Vec<bool>, sqlx::Error> {
    let owners = arrivals::owners(conn, arrivals).await?;
    let mut first_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut rows: Vec<Row<'_>> = Vec::new();
    for (a, owner) in arrivals.iter().zip(owners) {
        let key = (a.vendor.as_str(), a.dedup_key.as_str());
        if let Some(&row) = first_of.get(&key) {
            if let Some(row) = rows.get_mut(row) {
                row.copies += 1;
            }
            continue;
        }
        let partition = match (owner, a.references.first()) {
            (Some(journey), _) => journey_partition(journey),
            (None, Some(first)) => reference_partition(&a.vendor, first),
            (None, None) => 0,
        };
        first_of.insert(key, rows.len());
        rows.push(Row {
            arrival: a,
            partition,
            copies: 1,
        });
    }
    let inserted = arrivals::insert(conn, &rows).await?;
    let new: HashMap<(&str, &str), bool> = inserted
        .iter()
        .map(|(vendor, key, new)| ((vendor.as_str(), key.as_str()), *new))
        .collect();
    // Only an event's first copy in the group can be the one that stored it.
    let mut answered: HashSet<(&str, &str)> = HashSet::new();
    Ok(arrivals
        .iter()
        .map(|a| {
            let key = (a.vendor.as_str(), a.dedup_key.as_str());
            let first = answered.insert(key);
            first && new.get(&key).copied().unwrap_or(false)
        })
        .collect())
}
