//! Routes stored webhooks to journeys, after they were acknowledged: each
//! becomes a signal (deduplicated by its event id) on the journey that owns the
//! resource it is about, or is parked as unmatched for an operator. Which
//! signal, and which resources, the vendor's [`WebhookSource`] says.
//!
//! The inbox is routed in [`INBOX_PARTITIONS`] partitions side by side, one
//! router per partition at a time; an event's partition follows its first
//! resource, so one resource's events keep their arrival order.
//!
//! Every event is routed on its own savepoint: an event whose own routing
//! fails with a data error (a value PostgreSQL refuses, a body that cannot be
//! decoded) is parked with its error and the batch goes on, so no stored row
//! can hold back the rows behind it. Only errors that say nothing about the
//! event (a lost connection) fail the batch, which is retried whole.

use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::Engine;
use crate::error::EngineError;
use crate::ops::{Actor, Delivery};
use crate::store::inbox::{self, InboxStatus, Stored};
use crate::store::refs;
use crate::vault::{Place, VaultError};
use crate::webhook_source::{INBOX_PARTITIONS, Invalid, MAX_REFERENCE, Route, WebhookSource};

/// What one routing pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct RouteReport {
    /// Events delivered to the journey that owns their resource: stored as its
    /// signal, found already stored (a redelivery), or noted as ignored because
    /// that journey had ended.
    pub applied: usize,
    /// Events no journey owns once [`EngineConfig::unmatched_grace`](crate::EngineConfig)
    /// has passed: parked as `unmatched` until a journey links a resource they
    /// name ([`crate::store::refs::link`]).
    pub unmatched: usize,
    /// Unmatched events put back to be looked at again shortly.
    pub deferred: usize,
    /// Events that could not be processed, parked with their error.
    pub parked: usize,
    /// Events about a journey's resource that its workflow does not receive.
    pub ignored: usize,
}

impl RouteReport {
    /// Events this pass took off the `received` list, whatever became of them.
    pub fn handled(&self) -> usize {
        self.applied + self.unmatched + self.deferred + self.parked + self.ignored
    }
}

/// Where one event ended.
enum Routed {
    Applied { journey: Uuid, note: Option<String> },
    Ignored { journey: Uuid, note: String },
    Unmatched { refs: Vec<String> },
}

impl Engine {
    /// Routes up to `batch` received webhooks stored without a partition,
    /// then of each inbox partition in turn ([`INBOX_PARTITIONS`]); see
    /// [`Engine::route_partition_once`].
    ///
    /// # Errors
    /// As [`Engine::route_partition_once`]; partitions routed before the
    /// error keep what they did.
    pub async fn route_inbox_once(&self, batch: i64) -> Result<RouteReport, EngineError> {
        let mut report = RouteReport::default();
        let partitions = std::iter::once(None).chain((0..INBOX_PARTITIONS).map(Some));
        for partition in partitions {
            let r = self.route_pass(partition, batch).await?;
            report.applied += r.applied;
            report.unmatched += r.unmatched;
            report.deferred += r.deferred;
            report.parked += r.parked;
            report.ignored += r.ignored;
        }
        Ok(report)
    }

    /// Routes up to `batch` received webhooks of inbox partition
    /// `partition`, oldest first. One router per partition at a time (a
    /// transaction-scoped advisory lock), and the events about one resource
    /// are all in one partition
    /// ([`inbox_partition`](crate::webhook_source::inbox_partition)), so
    /// they become signals in the order they arrived; partitions are routed
    /// side by side.
    ///
    /// The batch's rows stay locked until the pass commits, so an operator's
    /// replay or skip of one of them waits for the pass and then applies to
    /// the row as the pass left it, never to be overwritten by it.
    ///
    /// Another router already at work makes this pass return an empty report
    /// at once.
    ///
    /// # Errors
    /// Errors that say nothing about an event (a lost connection, the
    /// database unavailable, [`EngineError::Queue`]): the whole pass rolls back
    /// and its events stay `received` for the next one. An event's own data
    /// errors ([`EngineError::is_data_error`]) are not returned: the event is
    /// parked with its error and counted in [`RouteReport::parked`].
    pub async fn route_partition_once(
        &self,
        partition: i16,
        batch: i64,
    ) -> Result<RouteReport, EngineError> {
        self.route_pass(Some(partition), batch).await
    }

    /// Routes up to `batch` received webhooks stored without a partition
    /// (before the inbox had them, or by an older build during a rolling
    /// upgrade), oldest first, holding the whole inbox's lock: no partition
    /// is routed meanwhile, and none while such an event is due.
    ///
    /// # Errors
    /// As [`Engine::route_partition_once`].
    pub async fn route_unpartitioned_once(&self, batch: i64) -> Result<RouteReport, EngineError> {
        self.route_pass(None, batch).await
    }

    async fn route_pass(
        &self,
        partition: Option<i16>,
        batch: i64,
    ) -> Result<RouteReport, EngineError> {
        let mut tx = self.pool.begin().await?;
        let mut report = RouteReport::default();
        if !inbox::take_router_lock(&mut tx, partition).await? {
            return Ok(report);
        }
        // Events stored without a partition arrived before the partitions'
        // (or beside them, from an older build): they go first.
        if partition.is_some() && inbox::unpartitioned_due(&mut *tx).await? {
            return Ok(report);
        }
        let rows = inbox::due(&mut *tx, partition, batch, self.config.unmatched_grace).await?;
        for row in rows {
            let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
            let outcome = match self.route_event(&mut savepoint, &row).await {
                Ok(routed) => record(&mut savepoint, &row, routed).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(tally) => {
                    savepoint.commit().await?;
                    tally.count(&mut report);
                }
                Err(e) if e.is_data_error() => {
                    savepoint.rollback().await?;
                    park(&mut tx, row.id, &e.to_string()).await?;
                    report.parked += 1;
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        Ok(report)
    }

    /// The stored event's body, opened: a body erased (its retention
    /// passed) or altered can never be routed, and is a data error.
    async fn opened_body(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        row: &Stored,
    ) -> Result<Vec<u8>, EngineError> {
        let invalid = |problem: String| EngineError::Invalid {
            path: "body".into(),
            problem,
        };
        if row.body.is_empty() {
            return Err(invalid("was erased: its retention period passed".into()));
        }
        let place = Place::inbox_body(&row.vendor, &row.dedup_key);
        match self.open_body(&mut **tx, &place, row.body.clone()).await {
            Ok(body) => Ok(body),
            Err(e @ VaultError::Database(_)) => Err(e.into()),
            Err(e) if e.is_key_ring_problem() => Err(e.into()),
            Err(e) => Err(invalid(e.to_string())),
        }
    }

    /// Decides where one stored event goes and, when a journey owns what it
    /// is about, delivers it as that journey's signal.
    async fn route_event(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        row: &Stored,
    ) -> Result<Routed, EngineError> {
        let body = self.opened_body(tx, row).await?;
        let event: Value = serde_json::from_slice(&body).map_err(|e| EngineError::Invalid {
            path: "body".into(),
            problem: format!("is not JSON ({e})"),
        })?;
        crate::storable::check(&event).map_err(|e| EngineError::unstorable("body", e))?;
        let source = self
            .webhooks
            .get(&row.vendor)
            .ok_or_else(|| EngineError::Invalid {
                path: "vendor".into(),
                problem: format!("{:?} has no webhook source to route its events", row.vendor),
            })?;
        let Route { signal, references } = route(source.as_ref(), &event, row)?;
        let references: Vec<_> = references
            .into_iter()
            .filter(|r| !r.id.is_empty() && r.id.chars().count() <= MAX_REFERENCE)
            .collect();
        let mut owner = None;
        for r in &references {
            if let Some(journey) = refs::owner(&mut **tx, &row.vendor, &r.kind, &r.id).await? {
                owner = Some(journey);
                break;
            }
        }
        let Some(journey) = owner else {
            return Ok(Routed::Unmatched {
                refs: references
                    .iter()
                    .map(|r| refs::tag(&r.kind, &r.id))
                    .collect(),
            });
        };
        let actor = Actor::new(format!("webhook:{}", row.vendor));
        let delivery = Delivery {
            journey_id: journey,
            name: &signal,
            source: &row.vendor,
            event_id: &row.dedup_key,
            payload: &event,
        };
        let signalled = self.signal_in(tx, delivery, &actor).await;
        match signalled {
            Ok(_) => Ok(Routed::Applied {
                journey,
                note: None,
            }),
            Err(EngineError::NotApplicable { status, .. }) => Ok(Routed::Applied {
                journey,
                note: Some(format!("ignored: the journey is {status}")),
            }),
            Err(e @ EngineError::UnknownSignal { .. }) => Ok(Routed::Ignored {
                journey,
                note: e.to_string(),
            }),
            Err(e) => Err(e),
        }
    }
}

/// Asks the vendor's source where `event` (the body of `row`) goes; what it
/// cannot say is the event's own fault, and parks it.
fn route(source: &dyn WebhookSource, event: &Value, row: &Stored) -> Result<Route, EngineError> {
    let invalid = |Invalid { path, problem }| EngineError::Invalid { path, problem };
    let route = source
        .route(event, row.event_type.as_deref())
        .map_err(invalid)?;
    if route.signal.is_empty() {
        return Err(EngineError::Invalid {
            path: "type".into(),
            problem: "names no signal".into(),
        });
    }
    Ok(route)
}

/// What a routed event counts as in the pass's report.
enum Tally {
    Applied,
    Unmatched,
    Deferred,
    Ignored,
}

impl Tally {
    fn count(self, report: &mut RouteReport) {
        match self {
            Tally::Applied => report.applied += 1,
            Tally::Unmatched => report.unmatched += 1,
            Tally::Deferred => report.deferred += 1,
            Tally::Ignored => report.ignored += 1,
        }
    }
}

/// Writes where the event ended on its inbox row.
async fn record(
    tx: &mut Transaction<'_, Postgres>,
    row: &Stored,
    routed: Routed,
) -> Result<Tally, EngineError> {
    let (status, journey, note, refs, tally) = match routed {
        Routed::Unmatched { .. } if row.young => {
            inbox::defer(&mut **tx, row.id).await?;
            return Ok(Tally::Deferred);
        }
        Routed::Unmatched { refs } => (
            InboxStatus::Unmatched,
            None,
            Some("no journey owns the resource this event is about".to_owned()),
            refs,
            Tally::Unmatched,
        ),
        Routed::Applied { journey, note } => (
            InboxStatus::Applied,
            Some(journey),
            note,
            Vec::new(),
            Tally::Applied,
        ),
        Routed::Ignored { journey, note } => (
            InboxStatus::Ignored,
            Some(journey),
            Some(note),
            Vec::new(),
            Tally::Ignored,
        ),
    };
    let settled = inbox::Settled {
        status,
        journey_id: journey,
        note: note.as_deref(),
        refs: &refs,
    };
    inbox::settle(&mut **tx, row.id, settled).await?;
    Ok(tally)
}

/// Sets an event that cannot be processed aside, with its error, where an
/// operator finds it (`GET /v1/inbox?status=parked`) and can replay it.
async fn park(tx: &mut Transaction<'_, Postgres>, id: i64, error: &str) -> Result<(), EngineError> {
    inbox::park(
        &mut **tx,
        id,
        &format!("cannot be processed: {}", error.replace('\0', "")),
    )
    .await?;
    Ok(())
}
