//! What each injected fault did, measured: from the sandbox (its request
//! log, counters and dropped webhooks) and from carepath's own tables (the
//! journeys' history, the webhook inbox and signals, the queue's tasks).
//! Counts and durations only, never anything about a patient.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::Stack;
use carepath_engine::queue::JOURNEY_QUEUE;

/// The journeys whose queue task a worker process (named by its HOSTNAME)
/// holds now, running or fetched: apalis's tasks locked by one of its queue
/// workers (named `<HOSTNAME>-<uuid>`), each naming its journey in its
/// idempotency key (`<journey>:<fence>`).
pub async fn in_flight(pool: &PgPool, worker: &str) -> Result<Vec<Uuid>, sqlx::Error> {
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT idempotency_key FROM apalis.jobs
          WHERE job_type = $1 AND status IN ('Running', 'Queued') AND lock_by LIKE $2
            AND idempotency_key IS NOT NULL",
    )
    .bind(JOURNEY_QUEUE)
    .bind(format!("{worker}-%"))
    .fetch_all(pool)
    .await?;
    let mut ids: Vec<Uuid> = keys
        .iter()
        .filter_map(|k| Uuid::parse_str(k.split(':').next()?).ok())
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// A request as the sandbox's vendors logged it (`GET /_sandbox/requests`).
pub use carepath_sandbox::RequestRecord as Request;

/// A webhook the sandbox dropped (`GET /_sandbox/webhooks/dropped`).
#[derive(Debug, Clone, Deserialize)]
pub struct Dropped {
    pub vendor: String,
    pub event_id: String,
    pub occurred_at: DateTime<Utc>,
    /// The event as it would have been sent.
    pub body: String,
}

impl Dropped {
    /// The case or order (`data.<field>`) the event is about.
    fn about(&self, field: &str) -> Option<String> {
        let event: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        event["data"][field].as_str().map(str::to_owned)
    }
}

/// How long some things took, in seconds: how many, the median, the longest.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spread {
    pub n: usize,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(mut secs: Vec<f64>) -> Self {
        secs.sort_by(f64::total_cmp);
        Self {
            n: secs.len(),
            median: secs.get(secs.len() / 2).copied().unwrap_or_default(),
            max: secs.last().copied().unwrap_or_default(),
        }
    }

    /// The spread as seconds after an event, or "none".
    pub fn after_event(&self) -> String {
        if self.n == 0 {
            "none".to_owned()
        } else {
            format!("{self} after the event")
        }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "median {:.1} s, max {:.1} s", self.median, self.max)
    }
}

/// How the journeys parked on a vendor's hold fared, said for people.
impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.journeys == 0 {
            return write!(f, "no journey had to wait on the vendor's hold");
        }
        write!(
            f,
            "{} journeys parked on the vendor's hold instead of failing; {} went on once it \
             lifted (first hold to step done: {}), {} failed",
            self.journeys, self.went_on, self.waits, self.failed
        )
    }
}

/// What the sandbox recorded, read once for every measurement (what cannot
/// be read is empty).
pub struct Sandbox {
    /// Every request its vendors logged, oldest first. A lost answer is
    /// logged as the 504 the caller saw; an answer from an idempotency
    /// record as the status it repeated.
    pub requests: Vec<Request>,
    /// Every webhook it dropped (the demo never asks for a redelivery).
    pub dropped: Vec<Dropped>,
    /// `GET /_sandbox/counters`.
    pub counters: serde_json::Value,
}

impl Sandbox {
    pub async fn read(stack: &Stack, counters: &serde_json::Value) -> Self {
        let read = async |path: &str| stack.sandbox(path).await;
        Self {
            requests: serde_json::from_value(read("/_sandbox/requests").await).unwrap_or_default(),
            dropped: serde_json::from_value(read("/_sandbox/webhooks/dropped").await)
                .unwrap_or_default(),
            counters: counters.clone(),
        }
    }

    /// The requests to `vendor` logged in [`from`, `until`] (until now
    /// when `None`).
    fn during<'a>(
        &'a self,
        vendor: &'a str,
        from: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> impl Iterator<Item = &'a Request> + 'a {
        let until = until.unwrap_or_else(Utc::now);
        self.requests
            .iter()
            .filter(move |r| r.vendor == vendor && r.at >= from && r.at <= until)
    }

    /// The webhooks of `vendor` dropped while the fault was on (by their
    /// event's time: a webhook is dropped as its event happens).
    fn dropped_by(&self, vendor: &str, on: On) -> Vec<&Dropped> {
        let until = on.until.unwrap_or_else(Utc::now);
        self.dropped
            .iter()
            .filter(|d| d.vendor == vendor && d.occurred_at >= on.from && d.occurred_at <= until)
            .collect()
    }
}

/// A fault's time on (`until`: `None` while it lasts) and the window its
/// vendor's holds are put down to it (up to the vendor's next fault).
#[derive(Debug, Clone, Copy)]
pub struct On {
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub holds_until: DateTime<Utc>,
    /// When a worker was killed in the run, if one was.
    pub killed_at: Option<DateTime<Utc>>,
}

/// The clinical outage: its requests answered 503 (request log) and the
/// journeys parked on the clinical hold meanwhile (history).
pub async fn outage(pool: &PgPool, sb: &Sandbox, on: On) -> Result<(usize, Held), sqlx::Error> {
    let refused = sb
        .during("clinical", on.from, on.until)
        .filter(|r| r.status == 503)
        .count();
    let held = held(pool, "clinical", (on.from, on.holds_until), on.from).await?;
    Ok((refused, held))
}

/// The pharmacy's 429 storm, from its request log and the journeys' history.
#[derive(Debug)]
pub struct Storm {
    /// Requests answered 429.
    pub limited: usize,
    /// The longest Retry-After named, in seconds.
    pub retry_after: u64,
    /// Seconds from the first 429 to the last, and from the last to the
    /// storm's end (every request in it is answered 429: none came then).
    pub span: f64,
    pub quiet: f64,
    /// Journeys parked on the pharmacy's hold; `not_before` counts those
    /// with no retry set before the storm's end.
    pub held: Held,
}

pub async fn storm(pool: &PgPool, sb: &Sandbox, on: On) -> Result<Storm, sqlx::Error> {
    let limited: Vec<&Request> = sb
        .during("pharmacy", on.from, on.until)
        .filter(|r| r.status == 429)
        .collect();
    let end = on.until.unwrap_or_else(Utc::now);
    let (span, quiet) = match (limited.first(), limited.last()) {
        (Some(a), Some(b)) => (secs(b.at - a.at), secs(end - b.at)),
        _ => (0.0, secs(end - on.from)),
    };
    Ok(Storm {
        limited: limited.len(),
        retry_after: limited
            .iter()
            .filter_map(|r| r.retry_after)
            .max()
            .unwrap_or(0),
        span,
        quiet,
        held: held(pool, "pharmacy", (on.from, on.holds_until), end).await?,
    })
}

/// The clinical token endpoint's 504s, from the request log (token
/// requests, and the other clinical calls answered meanwhile) and the
/// journeys' history (those parked on the clinical hold meanwhile).
#[derive(Debug)]
pub struct Tokens {
    pub secs: f64,
    pub requested: usize,
    pub refused: usize,
    /// Other clinical calls answered 2xx, and 401.
    pub served: usize,
    pub unauthorised: usize,
    pub held: Held,
}

pub async fn tokens(pool: &PgPool, sb: &Sandbox, on: On) -> Result<Tokens, sqlx::Error> {
    let (token, calls): (Vec<&Request>, Vec<&Request>) = sb
        .during("clinical", on.from, on.until)
        .partition(|r| r.route == "/v1/partner/auth/token");
    Ok(Tokens {
        secs: secs(on.until.unwrap_or_else(Utc::now) - on.from),
        requested: token.len(),
        refused: token.iter().filter(|r| r.status == 504).count(),
        served: calls.iter().filter(|r| r.status < 300).count(),
        unauthorised: calls.iter().filter(|r| r.status == 401).count(),
        held: held(pool, "clinical", (on.from, on.holds_until), on.from).await?,
    })
}

/// The pharmacy's lost answers, from the sandbox: its mutating requests
/// logged as 504 since the fault began, its replays from an idempotency
/// record since then (by-vendor counter, less its value then; `None` when
/// not counted), and its duplicate orders (the same order twice; a second
/// order for a prescription's fill).
#[derive(Debug)]
pub struct Lost {
    pub lost: usize,
    pub replays: Option<u64>,
    pub same_order: u64,
    pub per_fill: u64,
}

pub fn lost(sb: &Sandbox, on: On, replays_before: Option<u64>) -> Lost {
    let c = &sb.counters;
    let replays = c["idempotent_replays_by_vendor"]
        .as_object()
        .map(|m| m.get("pharmacy").and_then(|n| n.as_u64()).unwrap_or(0));
    Lost {
        lost: sb
            .during("pharmacy", on.from, None)
            .filter(|r| r.method != "GET" && r.status == 504)
            .count(),
        replays: replays
            .zip(replays_before)
            .map(|(now, then)| now.saturating_sub(then)),
        same_order: c["duplicate_side_effects"]["order"].as_u64().unwrap_or(0),
        per_fill: c["cross_journey_duplicates"]["order_per_fill"]
            .as_u64()
            .unwrap_or(0),
    }
}

/// The pharmacy's webhooks dropped while the fault was on, and what
/// carepath got of them from its event feed.
#[derive(Debug)]
pub struct Shipped {
    pub dropped: usize,
    /// For those read from the feed, seconds from the event to storing it.
    pub from_feed: Vec<f64>,
    /// When the feed's lease in force now was last taken or renewed, and
    /// when it runs out (`carepath.vendor_feeds`: a lease runs
    /// `feeds::LEASE` from its taking); `None` when none is in force.
    pub lease: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

pub async fn shipped(pool: &PgPool, sb: &Sandbox, on: On) -> Result<Shipped, sqlx::Error> {
    let dropped = sb.dropped_by("pharmacy", on);
    let until: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT leased_until FROM carepath.vendor_feeds
          WHERE vendor = 'pharmacy' AND leased_until > now()",
    )
    .fetch_optional(pool)
    .await?
    .flatten();
    let lease = chrono::Duration::from_std(carepath_workflows::feeds::LEASE).unwrap_or_default();
    Ok(Shipped {
        dropped: dropped.len(),
        from_feed: read_from_feed(pool, &dropped).await?,
        lease: until.map(|until| (until - lease, until)),
    })
}

/// The clinical network's webhooks dropped while the fault was on: how
/// many, and what the journeys did without them (see [`asked`]).
pub async fn clinical(pool: &PgPool, sb: &Sandbox, on: On) -> Result<(usize, Asked), sqlx::Error> {
    let dropped = sb.dropped_by("clinical", on);
    Ok((dropped.len(), asked(pool, &dropped).await?))
}

/// The killed worker's journeys, measured from their history and rows.
#[derive(Debug)]
pub struct TakenOver {
    /// From the kill to each one's next progress, for those that made some.
    pub resumed: Spread,
    /// Those that had already ended when it died (their task's end was
    /// lost with it: nothing was left to do).
    pub had_ended: usize,
    /// Those that have recorded nothing since, though not ended then.
    pub stuck: usize,
}

/// Of the journeys the killed worker held, how long each took from the
/// kill (`at`) to its next progress on another worker (see [`resumed`]).
pub async fn taken_over(
    pool: &PgPool,
    journeys: &[Uuid],
    at: DateTime<Utc>,
) -> Result<TakenOver, sqlx::Error> {
    let after = resumed(pool, journeys, at).await?;
    let none = |ended: bool| {
        after
            .iter()
            .filter(|a| a.0.is_none() && a.1 == ended)
            .count()
    };
    Ok(TakenOver {
        had_ended: none(true),
        stuck: none(false),
        resumed: Spread::of(after.iter().filter_map(|a| a.0).collect()),
    })
}

/// A duration in seconds.
pub fn secs(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// Journeys parked on a vendor's hold (each a journey whose step waited for
/// the vendor instead of failing), measured from their history.
#[derive(Debug, Default)]
pub struct Held {
    pub journeys: usize,
    /// From a journey's first hold to the held step completing.
    pub waits: Spread,
    /// Journeys whose held step has since completed.
    pub went_on: usize,
    /// Journeys that have failed since.
    pub failed: usize,
    /// Journeys none of whose retries was set before the `not_before` given.
    pub not_before: usize,
}

/// The journeys that recorded a `step_retry_scheduled` event waiting on
/// `vendor:<vendor>` (its hold) in [`from`, `to`): how long until the held
/// step completed (its next `step_completed`), and whether any retry was
/// set (`retry_at`) before `not_before`. From `carepath.journey_history`.
async fn held(
    pool: &PgPool,
    vendor: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    not_before: DateTime<Utc>,
) -> Result<Held, sqlx::Error> {
    let rows: Vec<(Option<f64>, Option<bool>, bool)> = sqlx::query_as(
        "WITH held AS (
             SELECT journey_id, min(at) AS first_at,
                    (array_agg(detail->>'step' ORDER BY at))[1] AS step,
                    min((detail->>'retry_at')::timestamptz) AS first_retry
               FROM carepath.journey_history
              WHERE kind = 'step_retry_scheduled' AND detail->>'waiting_for' = $1
                AND at >= $2 AND at < $3
              GROUP BY journey_id)
         SELECT extract(epoch FROM (
                    SELECT min(c.at) FROM carepath.journey_history c
                     WHERE c.journey_id = h.journey_id AND c.kind = 'step_completed'
                       AND c.detail->>'step' = h.step AND c.at > h.first_at) - h.first_at)::float8,
                h.first_retry >= $4,
                j.status = 'failed'
           FROM held h JOIN carepath.journeys j ON j.id = h.journey_id",
    )
    .bind(format!(
        "{}{vendor}",
        carepath_workflows::vendor_wait_prefix!()
    ))
    .bind(from)
    .bind(to)
    .bind(not_before)
    .fetch_all(pool)
    .await?;
    let waits: Vec<f64> = rows.iter().filter_map(|r| r.0).collect();
    Ok(Held {
        journeys: rows.len(),
        went_on: waits.len(),
        waits: Spread::of(waits),
        failed: rows.iter().filter(|r| r.2).count(),
        not_before: rows.iter().filter(|r| r.1 == Some(true)).count(),
    })
}

/// For each of `journeys`, seconds from `at` to the next event the engine
/// recorded in its history (a step, a timer, a signal applied: a worker
/// running it), `None` for one with no such event since; and whether it had
/// ended by `at` (`carepath.journeys.finished_at`).
async fn resumed(
    pool: &PgPool,
    journeys: &[Uuid],
    at: DateTime<Utc>,
) -> Result<Vec<(Option<f64>, bool)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT extract(epoch FROM (
                    SELECT min(h.at) FROM carepath.journey_history h
                     WHERE h.journey_id = j.id AND h.actor = 'engine' AND h.at > $2) - $2)::float8,
                coalesce(j.finished_at <= $2, false)
           FROM carepath.journeys j WHERE j.id = ANY($1)",
    )
    .bind(journeys)
    .bind(at)
    .fetch_all(pool)
    .await
}

/// Of these dropped pharmacy webhooks, the seconds from each event to
/// carepath storing it from the pharmacy's event feed: inbox rows with the
/// event's id (their dedup key) that first arrived by the feed.
async fn read_from_feed(pool: &PgPool, dropped: &[&Dropped]) -> Result<Vec<f64>, sqlx::Error> {
    let ids: Vec<&str> = dropped.iter().map(|d| d.event_id.as_str()).collect();
    let at: Vec<DateTime<Utc>> = dropped.iter().map(|d| d.occurred_at).collect();
    sqlx::query_scalar(
        "SELECT extract(epoch FROM i.received_at - d.at)::float8
           FROM unnest($1::text[], $2::timestamptz[]) AS d(id, at)
           JOIN carepath.webhook_inbox i
             ON i.vendor = 'pharmacy' AND i.dedup_key = d.id AND i.source = 'feed'",
    )
    .bind(&ids)
    .bind(&at)
    .fetch_all(pool)
    .await
}

/// What the journeys did about the clinical network's dropped webhooks.
#[derive(Debug, Default)]
pub struct Asked {
    /// The journeys whose case's events were dropped.
    pub journeys: usize,
    /// Seconds from the event to the journey asking the network about the
    /// case, for the events it learnt that way.
    pub by_lookup: Vec<f64>,
    /// Events a later webhook about the case told first.
    pub by_later_webhook: usize,
    /// Events of a case no demo journey holds, or that neither told.
    pub neither: usize,
}

/// For each dropped clinical webhook: the journey holding its case
/// (`carepath.journey_refs`), then whether the journey asked the network (a
/// `check_case…` step completed after the event, from its history) before
/// a webhook about something that happened later reached it (a clinical
/// signal received, from `carepath.signals`).
async fn asked(pool: &PgPool, dropped: &[&Dropped]) -> Result<Asked, sqlx::Error> {
    let cases: Vec<String> = dropped.iter().filter_map(|d| d.about("case_id")).collect();
    let owners: HashMap<String, Uuid> = sqlx::query_as(
        "SELECT ref, journey_id FROM carepath.journey_refs
          WHERE vendor = 'clinical' AND kind = 'case' AND ref = ANY($1)",
    )
    .bind(&cases)
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    let journeys: Vec<Uuid> = owners.values().copied().collect();
    let lookups = lookups(pool, &journeys).await?;
    let heard = super::heard::heard(pool, &journeys).await?;
    let mut out = Asked::default();
    let mut seen: Vec<Uuid> = Vec::new();
    for d in dropped {
        let Some(journey) = d.about("case_id").and_then(|c| owners.get(&c).copied()) else {
            out.neither += 1;
            continue;
        };
        seen.push(journey);
        let after = |times: Option<&Vec<DateTime<Utc>>>| {
            times.and_then(|t| t.iter().copied().filter(|t| *t > d.occurred_at).min())
        };
        let asked = after(lookups.get(&journey));
        let told = heard.get(&journey).and_then(|t| {
            t.iter()
                .filter(|(_, ev)| *ev > d.occurred_at)
                .map(|(at, _)| *at)
                .min()
        });
        match (asked, told) {
            (Some(a), t) if t.is_none_or(|t| a <= t) => {
                out.by_lookup.push(secs(a - d.occurred_at));
            }
            (_, Some(_)) => out.by_later_webhook += 1,
            _ => out.neither += 1,
        }
    }
    seen.sort();
    seen.dedup();
    out.journeys = seen.len();
    Ok(out)
}

/// When each journey's `check_case…` steps completed (its history).
async fn lookups(
    pool: &PgPool,
    journeys: &[Uuid],
) -> Result<HashMap<Uuid, Vec<DateTime<Utc>>>, sqlx::Error> {
    let rows: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT journey_id, at FROM carepath.journey_history
          WHERE journey_id = ANY($1) AND kind = 'step_completed'
            AND detail->>'step' LIKE 'check\\_case%'",
    )
    .bind(journeys)
    .fetch_all(pool)
    .await?;
    let mut by_journey: HashMap<Uuid, Vec<DateTime<Utc>>> = HashMap::new();
    for (journey, at) in rows {
        by_journey.entry(journey).or_default().push(at);
    }
    Ok(by_journey)
}

/// The webhook inbox since the demo's first journey (its idempotency keys
/// match `keys`): vendor events stored, the repeat deliveries absorbed
/// (`deliveries - 1`, by webhook or feed), and events applied to a journey
/// more than once (`signal_applied` history events with the same source and
/// event id): the last to be 0.
pub async fn repeats(pool: &PgPool, keys: &str) -> Result<(i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "WITH run AS (SELECT min(created_at) AS began FROM carepath.journeys
                       WHERE idempotency_key LIKE $1)
         SELECT count(*), coalesce(sum(deliveries - 1), 0)::bigint,
                (SELECT count(*) FROM (
                     SELECT 1 FROM carepath.journey_history, run
                      WHERE kind = 'signal_applied' AND at >= run.began
                      GROUP BY journey_id, detail->>'source', detail->>'event_id'
                     HAVING count(*) > 1) twice)
           FROM carepath.webhook_inbox, run WHERE received_at >= run.began",
    )
    .bind(keys)
    .fetch_one(pool)
    .await
}
