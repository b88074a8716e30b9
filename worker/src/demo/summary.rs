//! The end of the demo: what happened, for a clinician and for an engineer.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use serde_json::Value;

use super::evidence::{self, On, Sandbox, Spread};
use super::faults::{self, Injected, Kind};
use super::{Stack, Started};

/// A journey's id, status, output and seconds from start to end.
type Ended = (String, String, Option<Value>, Option<f64>);

/// Prints the summary; whether every journey ended as its scenario implies
/// and the vendors saw no duplicate, within a journey or across journeys.
pub async fn print(
    stack: &Stack,
    started: &[Started],
    injected: &Injected,
    began: Instant,
) -> Result<bool> {
    let rows = ended(stack).await?;
    let by_id: BTreeMap<&str, &Ended> = rows.iter().map(|r| (r.0.as_str(), r)).collect();
    let after_close = opened_after_close(stack, started).await?;
    let judged = judge(started, &by_id, &after_close);
    let counts = Counts::read(stack).await?;
    let vendors = VendorCounts::read(stack).await;

    println!(
        "\n== {} journeys in {:.0} s ==",
        started.len(),
        began.elapsed().as_secs_f64()
    );
    print_outcomes(&judged);
    print_faults(stack, injected, &vendors.counters).await;
    print_engineering(stack, started, &judged, &counts, &vendors).await;
    Ok(judged.unexpected.is_empty() && vendors.duplicates == 0 && vendors.cross_clean)
}

/// Each fault injected, and what it did as measured from this run (see
/// `evidence` for what each number counts, and where from).
async fn print_faults(stack: &Stack, injected: &Injected, counters: &Value) {
    let faults = injected.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let sb = Sandbox::read(stack, counters).await;
    println!("\nFaults survived (with what each did, measured from this run)");
    for (i, f) in faults.iter().enumerate() {
        println!("  - {}", f.what);
        let on = On {
            from: f.from,
            until: f.until,
            holds_until: faults::holds_until(&faults, i),
            killed_at: faults
                .iter()
                .find_map(|g| matches!(g.kind, Kind::WorkerKilled(_)).then_some(g.from)),
        };
        let lines = match what_it_did(stack, &sb, &f.kind, on).await {
            Ok(lines) => lines,
            Err(e) => vec![format!("(not measured: {e})")],
        };
        for line in lines {
            println!("      {line}");
        }
    }
}

/// A fault's evidence, a line or two for people.
async fn what_it_did(
    stack: &Stack,
    sb: &Sandbox,
    kind: &Kind,
    on: On,
) -> Result<Vec<String>, sqlx::Error> {
    let pool = &stack.pool;
    Ok(match kind {
        Kind::RepeatedWebhooks => {
            let keys = format!("demo-{}-%", stack.run_id);
            let (events, repeats, twice) = evidence::repeats(pool, &keys).await?;
            vec![format!(
                "{} webhook deliveries for {events} vendor events (the pharmacy's also in its \
                 feed): each stored once, {repeats} repeat deliveries absorbed; events applied \
                 to a journey twice: {twice}",
                sb.counters["webhooks_sent"]
            )]
        }
        Kind::ClinicalOutage => {
            let (refused, held) = evidence::outage(pool, sb, on).await?;
            vec![
                format!("clinical requests that reached it while it lasted: {refused}, each a 503"),
                held.to_string(),
            ]
        }
        Kind::PharmacyStorm => {
            let s = evidence::storm(pool, sb, on).await?;
            vec![
                format!(
                    "pharmacy requests in the storm: {}, all answered 429 (Retry-After up to {} s), \
                     within {:.1} s: then none for its last {:.1} s",
                    s.limited, s.retry_after, s.span, s.quiet
                ),
                format!(
                    "{}; {} of them with no retry set before the Retry-After time",
                    s.held, s.held.not_before
                ),
            ]
        }
        Kind::TokenFailures => {
            let t = evidence::tokens(pool, sb, on).await?;
            let bounded = t.requested as f64 <= 2.0 * t.secs.max(1.0);
            vec![
                format!(
                    "token requests: {} in those {:.0} s, {} answered 504 ({}); meanwhile {} \
                     clinical calls answered on tokens already held, {} refused (401)",
                    t.requested,
                    t.secs,
                    t.refused,
                    if bounded {
                        "a bounded few: no refresh loop"
                    } else {
                        "over 2 a second"
                    },
                    t.served,
                    t.unauthorised
                ),
                t.held.to_string(),
            ]
        }
        Kind::WorkerKilled(kill) => kill.what_it_did(pool, on.from).await?,
        Kind::LostPharmacyAnswers { replays_before } => lost(pool, sb, on, *replays_before).await?,
        Kind::ClinicalWebhooksLost => clinical_lost(pool, sb, on).await?,
    })
}

/// The clinical network's dropped webhooks, and how the journeys did without them.
async fn clinical_lost(
    pool: &sqlx::PgPool,
    sb: &Sandbox,
    on: On,
) -> Result<Vec<String>, sqlx::Error> {
    let (n, a) = evidence::clinical(pool, sb, on).await?;
    if n == 0 {
        return Ok(vec![
            "0 dropped: the network sent no webhook while it lasted, so this run it had \
             nothing to act on"
                .to_owned(),
        ]);
    }
    let mut line = format!(
        "{n} clinical webhooks dropped, about {} journeys' cases: {} learnt by asking the \
         network ({}), {} told first by a later webhook",
        a.journeys,
        a.by_lookup.len(),
        Spread::of(a.by_lookup.clone()).after_event(),
        a.by_later_webhook
    );
    if a.neither > 0 {
        line.push_str(&format!(", {} needed by no journey", a.neither));
    }
    Ok(vec![line])
}

/// The pharmacy's lost answers and dropped `shipped` webhooks.
async fn lost(
    pool: &sqlx::PgPool,
    sb: &Sandbox,
    on: On,
    replays_before: Option<u64>,
) -> Result<Vec<String>, sqlx::Error> {
    let l = evidence::lost(sb, on, replays_before);
    let replays = l.replays.map_or_else(
        || "(the sandbox does not count them by vendor)".to_owned(),
        |n| n.to_string(),
    );
    let shipped = evidence::shipped(pool, sb, on).await?;
    let mut lines = vec![
        format!(
            "{} answers lost after the pharmacy acted; {replays} retries with the same \
             idempotency key answered from its record; duplicate orders: {} (same order twice), \
             {} (a fill ordered twice)",
            l.lost, l.same_order, l.per_fill
        ),
        format!(
            "{} `shipped` webhooks dropped; {} of them read from the pharmacy's event feed \
             instead ({})",
            shipped.dropped,
            shipped.from_feed.len(),
            Spread::of(shipped.from_feed.clone()).after_event()
        ),
    ];
    // A lease taken before the kill and still held: its reader died mid-read.
    if let (Some((taken, until)), Some(killed)) = (shipped.lease, on.killed_at)
        && taken <= killed
        && shipped.from_feed.len() < shipped.dropped
    {
        lines.push(format!(
            "the rest unread when the run ended: the feed's lease, taken {:.1} s before the \
             worker was killed, keeps other readers out for {:.0} s more",
            evidence::secs(killed - taken),
            evidence::secs(until - chrono::Utc::now())
        ));
    }
    Ok(lines)
}

/// The demo's journeys as they ended (or are).
async fn ended(stack: &Stack) -> Result<Vec<Ended>> {
    Ok(sqlx::query_as(
        "SELECT id::text, status, output,
                extract(epoch FROM finished_at - created_at)::float8
           FROM carepath.journeys WHERE workflow = 'async_consult' AND idempotency_key LIKE $1",
    )
    .bind(format!("demo-{}-%", stack.run_id))
    .fetch_all(&stack.pool)
    .await?)
}

/// The re-submissions whose consult was opened only after the other of the
/// pair had closed (it was decided before the later intake was admitted,
/// e.g. while a worker was killed, or while the later one waited to
/// attach): a new consult is then right, and both end as the scenario
/// implies. Either intake of a pair may be admitted first.
async fn opened_after_close(stack: &Stack, started: &[Started]) -> Result<Vec<(String,)>> {
    let pairs: Vec<(String, String)> = started
        .iter()
        .filter_map(|s| Some((started.get(s.resubmits?)?.id.clone(), s.id.clone())))
        .collect();
    let (firsts, agains): (Vec<String>, Vec<String>) = pairs.iter().cloned().unzip();
    Ok(sqlx::query_as(
        "SELECT p.again::text
           FROM unnest($1::uuid[], $2::uuid[]) AS p(first, again)
           JOIN carepath.consult_claims a ON a.journey_id = p.first
           JOIN carepath.consult_claims b ON b.journey_id = p.again
          WHERE b.opened_at >= a.closed_at OR a.opened_at >= b.closed_at",
    )
    .bind(&firsts)
    .bind(&agains)
    .fetch_all(&stack.pool)
    .await?)
}

/// How the journeys ended, against their scenarios.
struct Judged {
    /// Journeys by outcome.
    outcomes: BTreeMap<String, usize>,
    /// What did not end as its scenario implies, said for people.
    unexpected: Vec<String>,
    /// Seconds from start to end of the journeys that ended, in order.
    durations: Vec<f64>,
    /// The indexes of the intakes submitted again.
    resubmitted: Vec<usize>,
}

impl Judged {
    /// The `p` quantile of the durations (0 when none ended).
    fn percentile(&self, p: f64) -> f64 {
        self.durations
            .get(((self.durations.len() as f64 - 1.0) * p).round().max(0.0) as usize)
            .copied()
            .unwrap_or_default()
    }
}

fn judge(started: &[Started], by_id: &BTreeMap<&str, &Ended>, after_close: &[(String,)]) -> Judged {
    let mut judged = Judged {
        outcomes: BTreeMap::new(),
        unexpected: Vec::new(),
        durations: Vec::new(),
        resubmitted: started.iter().filter_map(|s| s.resubmits).collect(),
    };
    let outcome_of = |s: &Started| {
        by_id.get(s.id.as_str()).map(|(_, status, output, _)| {
            output
                .as_ref()
                .and_then(|o| o["outcome"].as_str())
                .map_or_else(|| format!("({status})"), str::to_owned)
        })
    };
    for (k, s) in started.iter().enumerate() {
        let Some((_, _, _, took)) = by_id.get(s.id.as_str()) else {
            continue;
        };
        let outcome = outcome_of(s).unwrap_or_default();
        let expected = s.scenario.expected_outcome();
        match s.resubmits {
            Some(first) => {
                let pair = [
                    outcome_of(&started[first]).unwrap_or_default(),
                    outcome.clone(),
                ];
                let reopened = after_close.iter().any(|(id,)| *id == s.id);
                if let Some(wrong) = check_pair(pair, expected, reopened) {
                    judged.unexpected.push(format!(
                        "{} and its re-submission {} ended {wrong}",
                        started[first].id, s.id
                    ));
                }
            }
            None if judged.resubmitted.contains(&k) => {}
            None if outcome != expected => {
                judged
                    .unexpected
                    .push(format!("{} ended {outcome}, expected {expected}", s.id));
            }
            None => {}
        }
        *judged.outcomes.entry(outcome).or_default() += 1;
        if let Some(t) = took {
            judged.durations.push(*t);
        }
    }
    judged.durations.sort_by(f64::total_cmp);
    judged
}

/// The same patient twice: one consult ends as its scenario implies
/// (`expected`), the other intake is merged into it, whichever came first —
/// or, when it came after the first was approved (a slow moment), held and
/// closed by the operator: never a second consult, unless the second was
/// `reopened` after the first had closed. `None` when the pair's outcomes
/// are one of those; otherwise what they were and what was expected.
fn check_pair(mut pair: [String; 2], expected: &str, reopened: bool) -> Option<String> {
    pair.sort();
    let mut allowed = ["merged", "closed_by_review"]
        .map(|other| {
            let mut want = [expected.to_owned(), other.to_owned()];
            want.sort();
            want
        })
        .to_vec();
    if reopened {
        allowed.push([expected.to_owned(), expected.to_owned()]);
    }
    let want = &allowed[0];
    (!allowed.contains(&pair)).then(|| format!("{pair:?}, expected {want:?}"))
}

/// What carepath recorded doing, from its tables.
struct Counts {
    retries: i64,
    vendor_waits: i64,
    signals: i64,
    alerts: i64,
    open_alerts: i64,
    lookups: i64,
    webhooks: i64,
    from_feed: i64,
    redelivered: i64,
    rejected: i64,
    patients: i64,
    linked: i64,
    held_for_review: i64,
    attached_by_operator: i64,
}

impl Counts {
    async fn read(stack: &Stack) -> Result<Self> {
        let (retries, vendor_waits, signals, alerts, open_alerts, lookups): (i64, i64, i64, i64, i64, i64) =
            sqlx::query_as(concat!(
            "SELECT (SELECT count(*) FROM carepath.journey_history WHERE kind = 'step_retry_scheduled'),
                (SELECT count(*) FROM carepath.journey_history
                  WHERE kind = 'step_retry_scheduled' AND detail->>'waiting_for' LIKE '",
            carepath_workflows::vendor_wait_prefix!(),
            "%'),
                (SELECT count(*) FROM carepath.journey_history WHERE kind = 'signal_applied'),
                (SELECT count(*) FROM carepath.alerts),
                (SELECT count(*) FROM carepath.alerts WHERE resolved_at IS NULL),
                (SELECT count(*) FROM carepath.journey_steps
                  WHERE key ~ '^check_(case|order)' AND status = 'completed')"
        ))
        .fetch_one(&stack.pool)
        .await?;
        let (webhooks, from_feed, redelivered, rejected): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE source = 'feed'),
                coalesce(sum(deliveries - 1), 0)::bigint,
                (SELECT count(*) FROM carepath.webhook_rejections)
           FROM carepath.webhook_inbox",
        )
        .fetch_one(&stack.pool)
        .await?;
        let (patients, linked): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM carepath.patients),
                (SELECT count(*) FROM carepath.journey_steps
                  WHERE key = 'match_patient' AND output->>'decision' = 'link')",
        )
        .fetch_one(&stack.pool)
        .await?;
        let (held_for_review, attached_by_operator): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM carepath.journeys
                  WHERE workflow = 'async_consult' AND idempotency_key LIKE $1
                    AND id IN (SELECT journey_id FROM carepath.journey_steps
                                WHERE key = 'claim_consult' AND output->>'claim' <> 'claimed')),
                (SELECT count(*) FROM carepath.journey_history
                  WHERE kind = 'decide' AND detail->>'signal' = 'intake_review')",
        )
        .bind(format!("demo-{}-%", stack.run_id))
        .fetch_one(&stack.pool)
        .await?;
        Ok(Self {
            retries,
            vendor_waits,
            signals,
            alerts,
            open_alerts,
            lookups,
            webhooks,
            from_feed,
            redelivered,
            rejected,
            patients,
            linked,
            held_for_review,
            attached_by_operator,
        })
    }
}

/// What the sandbox vendors counted.
struct VendorCounts {
    /// All of them, as the sandbox answered.
    counters: Value,
    /// Side effects a vendor saw twice within a journey.
    duplicates: u64,
    /// Duplicates across journeys, by kind (`None`: not reported).
    cross: Vec<(&'static str, Option<u64>)>,
    /// Whether every kind of cross-journey duplicate was reported, as zero.
    cross_clean: bool,
}

impl VendorCounts {
    async fn read(stack: &Stack) -> Self {
        let counters = stack.sandbox("/_sandbox/counters").await;
        let duplicates: u64 = counters["duplicate_side_effects"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or_default();
        // Each of the three named, so a missing key (an older sandbox) shows as
        // unknown and fails the run instead of passing as zero.
        let across = &counters["cross_journey_duplicates"];
        let cross: Vec<(&str, Option<u64>)> =
            ["open_case", "active_prescription", "order_per_fill"]
                .into_iter()
                .map(|k| (k, across[k].as_u64()))
                .collect();
        let cross_clean = cross.iter().all(|(_, n)| *n == Some(0));
        Self {
            counters,
            duplicates,
            cross,
            cross_clean,
        }
    }
}

/// Outcomes, what a clinician would see.
fn print_outcomes(judged: &Judged) {
    println!("\nOutcomes (what a clinician would see)");
    for (outcome, n) in &judged.outcomes {
        println!("  {outcome:<24} {n:>4}");
    }
    println!(
        "  every journey ended as its scenario implies: {}",
        if judged.unexpected.is_empty() {
            "yes".to_owned()
        } else {
            format!("NO ({})", judged.unexpected.len())
        }
    );
    for u in judged.unexpected.iter().take(10) {
        println!("    {u}");
    }
    println!(
        "  start to end: p50 {:.1} s, p95 {:.1} s, max {:.1} s (refills every 3 s stand in for 30 days)",
        judged.percentile(0.5),
        judged.percentile(0.95),
        judged.percentile(1.0)
    );
}

/// What carepath did about the faults, what an engineer would check.
async fn print_engineering(
    stack: &Stack,
    started: &[Started],
    judged: &Judged,
    c: &Counts,
    vendors: &VendorCounts,
) {
    println!("\nWhat carepath did about them (what an engineer would check)");
    println!(
        "  step retries scheduled:           {} ({} of them waiting out a vendor hold)",
        c.retries, c.vendor_waits
    );
    println!(
        "  vendor events stored:             {} ({} read from the pharmacy's feed before \
         their webhook came, if it came); repeat deliveries absorbed (webhook or feed): {}; \
         rejected: {}",
        c.webhooks, c.from_feed, c.redelivered, c.rejected
    );
    println!("  signals applied to journeys:      {}", c.signals);
    let counters = &vendors.counters;
    println!(
        "  vendor calls answered from an idempotency record: {}",
        counters["idempotent_replays"]
    );
    println!(
        "  OAuth tokens: {} requested, {} issued",
        counters["token_requests"], counters["tokens_issued"]
    );
    println!(
        "  vendors asked after a silence:    {} lookups (a lost webhook never strands a journey)",
        c.lookups
    );
    println!(
        "  alerts raised:                    {} ({} still open)",
        c.alerts, c.open_alerts
    );
    println!(
        "  charts: {} patients for {} journeys ({} intakes linked to an existing chart, not duplicated)",
        c.patients,
        started.len(),
        c.linked
    );
    let outcome = |o: &str| judged.outcomes.get(o).copied().unwrap_or_default();
    println!(
        "  the same patient again: {} re-submissions; {} found the patient's \
         consult open or their treatment active; {} merged into the open consult (the new \
         answers sent to its case); {} closed by an operator (already on treatment); \
         {} operator reviews in all",
        judged.resubmitted.len(),
        c.held_for_review,
        outcome("merged"),
        outcome("closed_by_review"),
        c.attached_by_operator
    );
    print_vendors(stack, vendors).await;
}

/// What the vendors hold, and the duplicates they saw.
async fn print_vendors(stack: &Stack, vendors: &VendorCounts) {
    println!(
        "  at the vendors: {} charts, {} cases, {} prescriptions, {} pharmacy orders",
        held(stack, "patient").await,
        held(stack, "case").await,
        held(stack, "prescription").await,
        held(stack, "order").await
    );
    println!(
        "  duplicate side effects at the vendors: {}",
        vendors.duplicates
    );
    println!(
        "  duplicates across journeys at the vendors: {}",
        vendors
            .cross
            .iter()
            .map(|(k, n)| match n {
                Some(n) => format!("{k} {n}"),
                None => format!("{k} unknown"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// The `ctl` commands to practise on the held stack, runnable as printed:
/// this binary's own path (after `cargo run`, `carepath` is not on the PATH),
/// the API's address and an operator's token.
pub fn print_inspection(stack: &Stack, started: &[Started]) {
    let ctl = super::practice::ctl_command();
    println!("\nThe stack is up. In another shell:");
    println!(
        "  export CAREPATH_API_URL={} CAREPATH_TOKEN={}",
        stack.api_url, stack.operator_token
    );
    println!(
        "  or open {}/console in a browser and sign in with that token",
        stack.api_url
    );
    if let Some(example) = started
        .iter()
        .find(|s| s.scenario == super::Scenario::MoreInfoTwice)
    {
        println!(
            "  {ctl} show {}        # a journey that asked for more information twice",
            example.id
        );
        println!("  {ctl} history {}", example.id);
    }
    println!("  {ctl} list");
    println!("  {ctl} inbox");
    println!("  {ctl} inbox --status rejected");
}

async fn held(stack: &Stack, kind: &str) -> usize {
    stack
        .sandbox(&format!("/_sandbox/resources?kind={kind}"))
        .await
        .as_array()
        .map_or(0, Vec::len)
}
