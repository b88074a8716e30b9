//! The trouble the demo makes while journeys run, on a schedule: each a
//! failure carepath exists to survive. Each is recorded with when it was
//! on (and, for the killed worker, which process it was and what it was
//! running), so that the summary can measure what it did.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Stack, evidence};

/// Which fault, and what the summary needs to measure its effect.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Webhooks late and delivered twice, for the whole run.
    RepeatedWebhooks,
    ClinicalOutage,
    PharmacyStorm,
    TokenFailures,
    WorkerKilled(Kill),
    /// The pharmacy's answers lost (and its `shipped` webhooks dropped);
    /// `replays_before`: the sandbox's count of the pharmacy's idempotent
    /// replays when it began (`None`: the sandbox does not count them).
    LostPharmacyAnswers {
        replays_before: Option<u64>,
    },
    ClinicalWebhooksLost,
}

impl Kind {
    /// The vendor whose holds the fault causes, if any.
    pub fn vendor(&self) -> Option<&'static str> {
        match self {
            Self::ClinicalOutage | Self::TokenFailures | Self::ClinicalWebhooksLost => {
                Some("clinical")
            }
            Self::PharmacyStorm | Self::LostPharmacyAnswers { .. } => Some("pharmacy"),
            Self::RepeatedWebhooks | Self::WorkerKilled(_) => None,
        }
    }
}

/// Until when the holds of fault `i`'s vendor are put down to it: its
/// vendor's next fault, else now.
pub fn holds_until(faults: &[Fault], i: usize) -> DateTime<Utc> {
    let vendor = faults.get(i).and_then(|f| f.kind.vendor());
    faults
        .iter()
        .skip(i + 1)
        .find(|g| vendor.is_some() && g.kind.vendor() == vendor)
        .map_or_else(Utc::now, |g| g.from)
}

/// One injected fault. Times are this machine's wall clock, which the
/// sandbox's request log and the database's timestamps share.
#[derive(Debug, Clone)]
pub struct Fault {
    /// What was injected, said for people.
    pub what: String,
    pub kind: Kind,
    /// When it began (as the sandbox set it).
    pub from: DateTime<Utc>,
    /// When it ended; `None` while it lasts (to the end of the run).
    pub until: Option<DateTime<Utc>>,
}

/// The worker process killed, and what it was doing.
#[derive(Debug, Clone)]
pub struct Kill {
    /// Its HOSTNAME, which prefixes its queue workers' names; `None` when
    /// which process went could not be told (no /proc).
    pub worker: Option<String>,
    pub pid: Option<u32>,
    /// The journeys whose queue task it held (running or fetched) when it died.
    pub in_flight: Vec<uuid::Uuid>,
    /// How long the kill waited for the worker to be running a journey,
    /// so that it lands mid-run.
    pub waited: Duration,
}

impl Kill {
    /// Which worker went (killed at `at`) and what it held, then how its
    /// journeys went on elsewhere (see `evidence::taken_over`).
    pub async fn what_it_did(
        &self,
        pool: &sqlx::PgPool,
        at: DateTime<Utc>,
    ) -> Result<Vec<String>, sqlx::Error> {
        let (Some(worker), Some(pid)) = (&self.worker, self.pid) else {
            return Ok(vec![
                "(which process went could not be told without /proc)".to_owned(),
            ]);
        };
        let mut lines = vec![format!(
            "{worker} (pid {pid}) held {} journeys' queue tasks (running or fetched) when it \
             died (the kill waited {:.1} s for it to be running some)",
            self.in_flight.len(),
            self.waited.as_secs_f64()
        )];
        if self.in_flight.is_empty() {
            return Ok(lines);
        }
        let t = evidence::taken_over(pool, &self.in_flight, at).await?;
        let notes: String = [
            (
                t.had_ended,
                "had already ended (only its task's close was lost)",
            ),
            (t.stuck, "recorded nothing since"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("; {n} {what}"))
        .collect();
        lines.push(format!(
            "{} of them went on on another worker ({} from the kill to their next step){notes}",
            t.resumed.n, t.resumed
        ));
        Ok(lines)
    }
}

/// What was injected so far, for the summary.
pub type Injected = Arc<Mutex<Vec<Fault>>>;

pub fn schedule(stack: Arc<Stack>) -> (tokio::task::JoinHandle<()>, Injected) {
    let injected: Injected = Arc::new(Mutex::new(vec![Fault {
        what: "webhooks: 30% delivered twice, every one up to 0.4 s late (so some arrive out of order)"
            .to_owned(),
        kind: Kind::RepeatedWebhooks,
        from: Utc::now(),
        until: None,
    }]));
    let log = injected.clone();
    let note = move |fault: Fault| {
        log.lock().unwrap_or_else(|p| p.into_inner()).push(fault);
    };
    let handle = tokio::spawn(async move {
        // On a fixed timetable from now, whatever each step took.
        let start = tokio::time::Instant::now();
        let at = |secs: u64| tokio::time::sleep_until(start + Duration::from_secs(secs));
        at(3).await;
        let (from, until) = set(&stack, "clinical", "outage_secs", 4.0).await;
        note(Fault {
            what: "clinical network outage: every request a 503 for 4 s".to_owned(),
            kind: Kind::ClinicalOutage,
            from,
            until,
        });
        at(8).await;
        let (from, until) = set(&stack, "pharmacy", "storm_secs", 3.0).await;
        note(Fault {
            what: "pharmacy 429 storm for 3 s, with Retry-After".to_owned(),
            kind: Kind::PharmacyStorm,
            from,
            until,
        });
        at(11).await;
        let (from, until) = set(&stack, "clinical", "token_504_secs", 6.0).await;
        note(Fault {
            what: "clinical token endpoint answering 504 for 6 s (tokens live 8 s)".to_owned(),
            kind: Kind::TokenFailures,
            from,
            until,
        });
        at(14).await;
        if let Some(fault) = kill(&stack).await {
            note(fault);
        }
        at(17).await;
        let replays_before = pharmacy_replays(&stack).await;
        let from = Utc::now();
        stack
            .set_fault(json!({ "vendor": "pharmacy", "lost_response_rate": 0.3,
                               "drop_webhook_types": ["order.shipped"] }))
            .await;
        note(Fault {
            what: "pharmacy losing 30% of its answers after acting on them, and every `shipped` \
                   webhook (for the rest of the run: its event feed tells)"
                .to_owned(),
            kind: Kind::LostPharmacyAnswers { replays_before },
            from,
            until: None,
        });
        at(19).await;
        let (from, until) = set(&stack, "clinical", "drop_webhooks_secs", 6.0).await;
        note(Fault {
            what:
                "clinical network losing every webhook for 6 s (carepath asks after 3 s of silence)"
                    .to_owned(),
            kind: Kind::ClinicalWebhooksLost,
            from,
            until,
        });
    });
    (handle, injected)
}

/// Sets `vendor`'s fault `field` (`outage_secs`, ...) for `secs`; when it
/// began and ends, as the sandbox set them (its `/_sandbox/faults` names the
/// end; the start is `secs` before), else as this clock saw it.
async fn set(
    stack: &Stack,
    vendor: &str,
    field: &str,
    secs: f64,
) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let asked = Utc::now();
    stack
        .set_fault(json!({ "vendor": vendor, field: secs }))
        .await;
    let length = chrono::Duration::milliseconds((secs * 1000.0) as i64);
    let until_field = field.replace("_secs", "_until");
    let faults = stack.sandbox("/_sandbox/faults").await;
    match faults[vendor][until_field.as_str()]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        Some(until) => {
            let until = until.with_timezone(&Utc);
            (until - length, Some(until))
        }
        None => (asked, Some(asked + length)),
    }
}

/// How many pharmacy requests the sandbox has answered from an idempotency
/// record so far; `None` when it does not count them by vendor.
pub async fn pharmacy_replays(stack: &Stack) -> Option<u64> {
    let counters = stack.sandbox("/_sandbox/counters").await;
    let by_vendor = counters.get("idempotent_replays_by_vendor")?;
    Some(by_vendor["pharmacy"].as_u64().unwrap_or(0))
}

/// Kills a worker process mid-run and starts a new one: the first worker
/// (the demo's first, the one the stack kills), once it holds a running
/// journey (waiting up to 1.5 s for one). Which one went (the worker
/// process alive before and not after), and the journeys it held. `None`
/// when it could not be done.
async fn kill(stack: &Stack) -> Option<Fault> {
    let before = workers();
    let first = before
        .iter()
        .min_by_key(|(_, name)| generation(name))
        .map(|(_, name)| name.clone());
    let waiting = Instant::now();
    while let Some(name) = &first
        && waiting.elapsed() < Duration::from_millis(1500)
        && evidence::in_flight(&stack.pool, name)
            .await
            .map_or(true, |held| held.is_empty())
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waited = waiting.elapsed();
    let from = Utc::now();
    stack.kill_and_replace_a_worker().ok()?;
    let after = workers();
    let gone = before.into_iter().find(|w| !after.contains(w));
    let in_flight = match &gone {
        Some((_, name)) => evidence::in_flight(&stack.pool, name)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Some(Fault {
        what: "a worker process killed with SIGKILL mid-run, and a new one started".to_owned(),
        kind: Kind::WorkerKilled(Kill {
            pid: gone.as_ref().map(|(pid, _)| *pid),
            worker: gone.map(|(_, name)| name),
            in_flight,
            waited,
        }),
        from,
        until: None,
    })
}

/// A worker's number in its name (`demo-worker-<n>`).
fn generation(name: &str) -> u64 {
    name.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// This process's worker processes: their pid and HOSTNAME (which the
/// demo sets to name them), read from /proc; none where there is no /proc.
fn workers() -> Vec<(u32, String)> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(me))
        .filter_map(|pid| Some((pid, hostname_of(pid)?)))
        .filter(|(_, name)| name.starts_with("demo-worker-"))
        .collect()
}

/// The parent's pid, from /proc/<pid>/stat (after the command's closing
/// parenthesis: the state, then the parent).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The HOSTNAME in the process's environment.
fn hostname_of(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ
        .split(|b| *b == 0)
        .find_map(|var| var.strip_prefix(b"HOSTNAME="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}
