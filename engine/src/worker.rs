//! A worker process's engine loops: apalis workers fetching journey tasks,
//! the reconciler, the inbox router, and a graceful shutdown that hands
//! in-flight journeys back instead of abandoning them. The application runs
//! its own loops beside them (carepath's readers of vendors' event feeds).

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage, Pubsub};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::Engine;
use crate::dispatch::NotifyThenRecheck;
use crate::queue::{JOURNEY_QUEUE, JourneyTask};
use crate::reconciler::ReconcilerConfig;
use crate::webhook_source::INBOX_PARTITIONS;

/// How a worker process runs journeys. [`Default`] suits production; tests
/// shorten the intervals.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Prefix of the apalis worker names; a random suffix keeps names unique
    /// across restarts, which apalis's orphan recovery depends on.
    pub name: String,
    /// Journeys run at once by this process.
    pub concurrency: usize,
    /// How often an idle worker looks for due tasks. LISTEN/NOTIFY only reports
    /// tasks due at insert time, not timers coming due: this interval bounds the
    /// delay a timer can add. (A notification apalis drops while a fetch is in
    /// flight is made good by [`crate::dispatch`]'s rechecks.)
    pub poll_interval: Duration,
    /// The queue's heartbeat: a worker that misses
    /// [`missed_heartbeats`](Self::missed_heartbeats) of them is presumed dead.
    pub heartbeat: Duration,
    /// Heartbeats a worker may miss before its tasks are taken over.
    pub missed_heartbeats: usize,
    /// How long a shutdown waits for in-flight journeys to reach a step boundary.
    pub shutdown_grace: Duration,
    /// How often the reconciler looks for journeys whose task was lost.
    pub reconcile_every: Duration,
    /// What the reconciler counts as lost.
    pub reconciler: ReconcilerConfig,
    /// Inbox routers this process runs side by side, each routing its share
    /// of the inbox's partitions (1 to
    /// [`INBOX_PARTITIONS`](crate::webhook_source::INBOX_PARTITIONS)).
    pub inbox_routers: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            name: default_name(),
            concurrency: 16,
            poll_interval: Duration::from_millis(200),
            heartbeat: Duration::from_secs(2),
            missed_heartbeats: 5,
            shutdown_grace: Duration::from_secs(30),
            reconcile_every: Duration::from_secs(5),
            reconciler: ReconcilerConfig::default(),
            inbox_routers: 4,
        }
    }
}

/// The pod's name in Kubernetes (HOSTNAME), else `carepath`.
fn default_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "carepath".into())
}

/// Runs journeys, the reconciler and the inbox router until `stop` is
/// cancelled, then shuts down gracefully: journeys under way finish their
/// step or are handed back within [`WorkerConfig::shutdown_grace`].
///
/// # Errors
/// The queue's monitor failing to shut down cleanly.
pub async fn run(
    engine: Engine,
    cfg: WorkerConfig,
    stop: CancellationToken,
) -> Result<(), MonitorError> {
    let reconciler = tokio::spawn(reconcile_loop(engine.clone(), cfg.clone(), stop.clone()));
    let routers = spawn_routers(&engine, &cfg, &stop);
    let pool = engine.pool().clone();
    let factory_cfg = cfg.clone();
    let release = stop.clone();
    // apalis limits concurrency per worker instance, and a restarted instance
    // does not wait for its predecessor's tasks; this bound holds per process,
    // so journeys never hold more lock connections than the pool was sized for.
    let slots = Arc::new(Semaphore::new(cfg.concurrency));
    let monitor = Monitor::new()
        .register(move |restarts| {
            let queue = Config::default()
                .queue(JOURNEY_QUEUE)
                .batch_size(factory_cfg.concurrency)
                .heartbeat_interval(factory_cfg.heartbeat)
                .missed_heartbeats(factory_cfg.missed_heartbeats);
            let wake = Strategy::new().apply(NotifyThenRecheck::new(
                Pubsub::new(pool.clone(), JOURNEY_QUEUE.to_owned()),
                factory_cfg.poll_interval,
            ));
            // A restart follows a database error: give the database a moment
            // rather than hammering it, longer the more often it happens.
            let pause = Duration::from_millis(250 * (restarts.min(20) as u64));
            let backend = PostgresStorage::<JourneyTask>::new(&pool)
                .with_config(queue)
                .poll_with_strategy(wake)
                .before_start(move |_| async move {
                    tokio::time::sleep(pause).await;
                    Ok(())
                });
            let name = format!("{}-{}", factory_cfg.name, uuid::Uuid::new_v4().simple());
            WorkerBuilder::new(name)
                .backend(backend)
                .data(engine.clone())
                .data(release.clone())
                .data(slots.clone())
                .concurrency(factory_cfg.concurrency)
                .parallelize(tokio::spawn)
                .build(handle)
        })
        .should_restart(|ctx, error| {
            tracing::warn!(worker = ctx.name(), %error, "queue worker stopped; restarting");
            true
        })
        .shutdown_timeout(cfg.shutdown_grace);
    let stopped = stop.clone();
    let result = monitor
        .run_with_signal(async move {
            stopped.cancelled().await;
            Ok(())
        })
        .await;
    let _ = reconciler.await;
    for router in routers {
        let _ = router.await;
    }
    result
}

/// The process's inbox routers, each routing its share of the partitions.
fn spawn_routers(
    engine: &Engine,
    cfg: &WorkerConfig,
    stop: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let n = cfg.inbox_routers.clamp(1, INBOX_PARTITIONS as usize);
    (0..n)
        .map(|i| {
            // The first router also routes the events stored without a
            // partition (older builds'), which go before the rest.
            let unpartitioned = (i == 0).then_some(None);
            let partitions = unpartitioned
                .into_iter()
                .chain(
                    (0..INBOX_PARTITIONS)
                        .filter(|p| *p as usize % n == i)
                        .map(Some),
                )
                .collect();
            tokio::spawn(inbox_loop(
                engine.clone(),
                partitions,
                cfg.poll_interval,
                stop.clone(),
            ))
        })
        .collect()
}

async fn handle(
    task: JourneyTask,
    engine: Data<Engine>,
    release: Data<CancellationToken>,
    slots: Data<Arc<Semaphore>>,
) -> Result<(), BoxDynError> {
    let _slot = slots.acquire().await?;
    match engine.run_task(task, &release).await {
        Ok(outcome) => {
            tracing::debug!(journey_id = %task.journey_id, ?outcome, "journey run ended");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(journey_id = %task.journey_id, %error,
                "journey run interrupted; it stays due and will be picked up again");
            Err(error.into())
        }
    }
}

async fn reconcile_loop(engine: Engine, cfg: WorkerConfig, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(cfg.reconcile_every) => {}
        }
        match engine.reconcile_once(&cfg.reconciler).await {
            Ok(r) if r.requeued > 0 => {
                tracing::info!(
                    requeued = r.requeued,
                    pruned = r.pruned,
                    "reconciler requeued journeys"
                )
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "reconciler pass failed"),
        }
    }
}

/// Routes the stored webhooks of `partitions` to their journeys (`None`:
/// those stored without a partition); one router per partition at a time,
/// across processes. Only partitions with due events are visited.
async fn inbox_loop(
    engine: Engine,
    partitions: Vec<Option<i16>>,
    every: Duration,
    stop: CancellationToken,
) {
    loop {
        let mut full = false;
        let due = match crate::store::inbox::due_partitions(engine.pool()).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "inbox routing failed");
                Vec::new()
            }
        };
        for partition in partitions.iter().filter(|p| due.contains(p)) {
            let pass = match partition {
                Some(p) => engine.route_partition_once(*p, 200).await,
                None => engine.route_unpartitioned_once(200).await,
            };
            match pass {
                // A full batch: there may be more, go again at once.
                Ok(r) if r.handled() == 200 => full = true,
                Ok(r) if r.unmatched > 0 || r.parked > 0 => tracing::warn!(
                    unmatched = r.unmatched,
                    parked = r.parked,
                    "webhooks matched no journey or could not be processed; parked for operators"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "inbox routing failed"),
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
