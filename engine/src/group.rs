//! Group commit: many callers' writes gathered into one transaction, so one
//! WAL flush carries all of them. The step checkpoints
//! ([`crate::checkpoint`]) and the webhook door's inbox rows
//! ([`crate::arrivals`]) are written this way.
//!
//! A caller queues its job with a reply channel and waits; a writer takes
//! whatever is queued (up to a group's maximum), writes it and answers each
//! caller once the transaction has committed. Nothing waits for a group to
//! fill: under light load a group is one job; under load, the jobs that
//! arrive while a group commits form the next one. Up to `writers` groups
//! commit at once.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::sync::{Mutex as AsyncMutex, mpsc};

/// How long a writer keeps its connection without a group to write.
pub const KEEP_IDLE: Duration = Duration::from_secs(1);

/// What writes one kind of group.
pub(crate) trait GroupWrite: Send + Sync + 'static {
    /// One caller's job, with its reply channel.
    type Job: Send + 'static;

    /// Writes `group` (on `conn`, taken from `pool` when `None`; left
    /// `None` after an error, so the pool checks the connection before
    /// anyone uses it again) and answers its callers.
    fn write(
        &self,
        pool: &PgPool,
        conn: &mut Option<PoolConnection<Postgres>>,
        group: Vec<Self::Job>,
    ) -> impl Future<Output = ()> + Send;
}

/// A handle on a process's writers of one kind; cheap to clone. The writers
/// are started by the first job, in that caller's runtime, and stop when
/// the last handle is dropped.
pub(crate) struct Groups<W: GroupWrite> {
    pool: PgPool,
    writers: usize,
    max_group: usize,
    write: Arc<W>,
    queue: Arc<Mutex<Option<mpsc::UnboundedSender<W::Job>>>>,
}

impl<W: GroupWrite> Clone for Groups<W> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            writers: self.writers,
            max_group: self.max_group,
            write: self.write.clone(),
            queue: self.queue.clone(),
        }
    }
}

impl<W: GroupWrite> Groups<W> {
    /// `writers` groups of at most `max_group` jobs may commit at once; 0
    /// writers turns grouping off ([`Groups::send`] gives every job back).
    pub(crate) fn new(pool: PgPool, writers: usize, max_group: usize, write: W) -> Self {
        Self {
            pool,
            writers,
            max_group: max_group.max(1),
            write: Arc::new(write),
            queue: Arc::default(),
        }
    }

    /// Queues `job` for the next group; gives it back when no writer runs
    /// (turned off, or outside a Tokio runtime), for the caller to write
    /// itself.
    pub(crate) fn send(&self, job: W::Job) -> Result<(), W::Job> {
        let Some(queue) = self.queue() else {
            return Err(job);
        };
        queue.send(job).map_err(|refused| refused.0)
    }

    /// The writers' queue, starting them if none runs.
    fn queue(&self) -> Option<mpsc::UnboundedSender<W::Job>> {
        if self.writers == 0 {
            return None;
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = queue.as_ref().filter(|q| !q.is_closed()) {
            return Some(q.clone());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(AsyncMutex::new(rx));
        for _ in 0..self.writers {
            let writer = Writer {
                pool: self.pool.clone(),
                write: self.write.clone(),
                max_group: self.max_group,
                queue: rx.clone(),
            };
            runtime.spawn(writer.run());
        }
        *queue = Some(tx.clone());
        Some(tx)
    }
}

struct Writer<W: GroupWrite> {
    pool: PgPool,
    write: Arc<W>,
    max_group: usize,
    queue: Arc<AsyncMutex<mpsc::UnboundedReceiver<W::Job>>>,
}

impl<W: GroupWrite> Writer<W> {
    /// Takes every job queued (up to its maximum) as a group, writes it, and
    /// goes on; while it writes, the next group gathers. It keeps its
    /// connection from one group to the next (a pool checkout pings the
    /// server first: a round trip per group) until it has been idle for
    /// [`KEEP_IDLE`]; then the connection goes back to the pool, which checks
    /// it before it is used again — so an idle writer neither holds a
    /// connection nor writes on one the server closed meanwhile.
    async fn run(self) {
        let mut conn = None;
        loop {
            let group = {
                let mut queue = self.queue.lock().await;
                let first = if conn.is_some() {
                    match tokio::time::timeout(KEEP_IDLE, queue.recv()).await {
                        Ok(first) => first,
                        Err(_idle) => {
                            conn = None;
                            continue;
                        }
                    }
                } else {
                    queue.recv().await
                };
                let Some(first) = first else {
                    return;
                };
                let mut group = vec![first];
                while group.len() < self.max_group {
                    match queue.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                group
            };
            self.write.write(&self.pool, &mut conn, group).await;
        }
    }
}

/// `conn`, or one from `pool` when there is none.
///
/// # Errors
/// The pool's.
pub(crate) async fn connection(
    pool: &PgPool,
    conn: &mut Option<PoolConnection<Postgres>>,
) -> Result<PoolConnection<Postgres>, sqlx::Error> {
    match conn.take() {
        Some(conn) => Ok(conn),
        None => pool.acquire().await,
    }
}
