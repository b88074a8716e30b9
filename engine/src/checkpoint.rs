//! Group checkpoints: the completed steps of many journeys running in one
//! process are written together, one transaction (and so one WAL flush) for
//! as many steps as were waiting, instead of one commit per step.
//!
//! A run hands its completed step to the writer and waits; the writer takes
//! whatever is queued (up to [`MAX_GROUP`]), writes it in one transaction and
//! answers each run once the transaction has committed. So a step is never
//! reported done before its record is durable; a crash before the commit
//! loses the whole group, and each of its steps runs again with the same
//! idempotency key, as a step that crashed before its own commit always did.
//! Nothing waits for a group to fill: under light load a group is one step;
//! under load, the steps that arrive while a group commits form the next one.
//! Up to [`EngineConfig::checkpoint_writers`](crate::EngineConfig) groups
//! commit at once.
//!
//! The writer does not hold the journeys' locks (their runs do, on their own
//! connections), so each record carries its run's number and is written only
//! while that run is still the journey's latest ([`checkpoints::record`]). The
//! same statement reads each journey's status, which the run uses as its
//! "still running?" check before its next step.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::oneshot;

use crate::error::refuses_forever;
use crate::group::{self, GroupWrite, Groups};
use crate::metrics;
use crate::store::checkpoints::{self, Completed, Fenced, Ownership};
use crate::store::journeys::JourneyStatus;

/// The most steps one transaction carries.
pub const MAX_GROUP: usize = 256;

/// Why a step's record was not written by the group writer.
#[derive(Debug)]
pub(crate) enum NotRecorded {
    /// The journey was claimed by another run since this one claimed it.
    Superseded,
    /// The database refused this record (alone: the others of its group were
    /// written without it).
    Refused(sqlx::Error),
    /// The group could not be written (a connection lost, a database
    /// restarting); nothing of it was.
    Interrupted(String),
    /// No writer runs (turned off, or its runtime is gone); the record was
    /// not handed over and comes back, for the run to write itself.
    NoWriter(Box<Completed>),
}

pub(crate) struct Job {
    step: Completed,
    reply: oneshot::Sender<Result<JourneyStatus, NotRecorded>>,
}

/// A handle on the process's group checkpoint writers; cheap to clone.
#[derive(Clone)]
pub(crate) struct Checkpoints(Groups<StepWriter>);

impl Checkpoints {
    /// `writers` groups may commit at once; 0 turns group checkpoints off.
    pub(crate) fn new(pool: PgPool, writers: usize) -> Self {
        Self(Groups::new(pool, writers, MAX_GROUP, StepWriter))
    }

    /// Writes `step` with whatever other steps are waiting, and answers the
    /// journey's status as of the commit.
    pub(crate) async fn record(&self, step: Completed) -> Result<JourneyStatus, NotRecorded> {
        let (reply, answer) = oneshot::channel();
        if let Err(refused) = self.0.send(Job { step, reply }) {
            return Err(NotRecorded::NoWriter(Box::new(refused.step)));
        }
        // A writer that vanished mid-group may or may not have committed it:
        // the run ends, and the journey runs again from what is recorded.
        answer.await.unwrap_or_else(|_| {
            Err(NotRecorded::Interrupted(
                "the checkpoint writer stopped".into(),
            ))
        })
    }
}

/// Writes groups of step checkpoints.
pub(crate) struct StepWriter;

impl GroupWrite for StepWriter {
    type Job = Job;

    async fn write(
        &self,
        pool: &PgPool,
        conn: &mut Option<PoolConnection<Postgres>>,
        group: Vec<Job>,
    ) {
        write(pool, conn, group).await;
    }
}

/// Writes one group and answers its runs. A group the database refuses is
/// written again one record at a time, so that one bad record fails only
/// its own step. After an error the connection goes back to the pool, which
/// checks it before anyone uses it again.
async fn write(pool: &PgPool, conn: &mut Option<PoolConnection<Postgres>>, group: Vec<Job>) {
    metrics::CHECKPOINT_GROUP_STEPS.observe(group.len() as f64);
    let steps: Vec<&Completed> = group.iter().map(|j| &j.step).collect();
    let written = write_kept(pool, conn, &steps).await;
    match written {
        Ok(statuses) => answer(group, &statuses),
        Err(e) if refuses_forever(&e) && group.len() > 1 => {
            tracing::warn!(steps = group.len(), error = %e,
                "a group checkpoint was refused; writing its steps one at a time");
            for job in group {
                let alone = write_kept(pool, conn, &[&job.step]).await;
                let _ = job.reply.send(match alone {
                    Ok(statuses) => status_of(&statuses, &job.step),
                    Err(e) if refuses_forever(&e) => Err(NotRecorded::Refused(e)),
                    Err(e) => Err(NotRecorded::Interrupted(e.to_string())),
                });
            }
        }
        Err(e) if refuses_forever(&e) => {
            if let Some(job) = group.into_iter().next() {
                let _ = job.reply.send(Err(NotRecorded::Refused(e)));
            }
        }
        Err(e) => {
            let message = format!("the step's checkpoint was not written: {e}");
            for job in group {
                let _ = job
                    .reply
                    .send(Err(NotRecorded::Interrupted(message.clone())));
            }
        }
    }
}

/// [`write_group`] on the writer's kept connection, taken from the pool
/// when it has none.
async fn write_kept(
    pool: &PgPool,
    kept: &mut Option<PoolConnection<Postgres>>,
    steps: &[&Completed],
) -> Result<Vec<Fenced>, sqlx::Error> {
    let mut conn = group::connection(pool, kept).await?;
    let written = write_group(&mut conn, steps, Ownership::RunFenced).await?;
    *kept = Some(conn);
    Ok(written)
}

fn answer(group: Vec<Job>, statuses: &[Fenced]) {
    for job in group {
        let _ = job.reply.send(status_of(statuses, &job.step));
    }
}

fn status_of(statuses: &[Fenced], step: &Completed) -> Result<JourneyStatus, NotRecorded> {
    let (_, _, status) = statuses
        .iter()
        .find(|f| is_run_of(f, step))
        .ok_or(NotRecorded::Superseded)?;
    status
        .parse()
        .map_err(|e: String| NotRecorded::Refused(sqlx::Error::Decode(e.into())))
}

fn is_run_of((id, run, _): &Fenced, step: &Completed) -> bool {
    *id == step.journey_id && *run == step.run
}

/// Writes the group: one statement, or a transaction of two when a phase
/// changed. Returns the journeys whose steps were written, with their status.
pub(crate) async fn write_group(
    conn: &mut PgConnection,
    steps: &[&Completed],
    ownership: Ownership,
) -> Result<Vec<Fenced>, sqlx::Error> {
    if steps.iter().all(|s| s.phase.is_none()) {
        return checkpoints::record(conn, steps, ownership).await;
    }
    let mut tx = sqlx::Connection::begin(conn).await?;
    let fenced = checkpoints::record(&mut tx, steps, ownership).await?;
    let written: Vec<&Completed> = steps
        .iter()
        .copied()
        .filter(|s| fenced.iter().any(|f| is_run_of(f, s)))
        .collect();
    checkpoints::set_phases(&mut tx, &written).await?;
    tx.commit().await?;
    Ok(fenced)
}
