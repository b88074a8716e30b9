//! The end of the demo: what happened, for a clinician and for an engineer.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use serde_json::Value;

use super::faults::Injected;
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
    let rows: Vec<Ended> = sqlx::query_as(
        "SELECT id::text, status, output,
                extract(epoch FROM finished_at - created_at)::float8
           FROM carepath.journeys WHERE workflow = 'async_consult' AND idempotency_key LIKE $1",
    )
    .bind(format!("demo-{}-%", stack.run_id))
    .fetch_all(&stack.pool)
    .await?;
    let by_id: BTreeMap<&str, &Ended> = rows.iter().map(|r| (r.0.as_str(), r)).collect();
    // Pairs whose second consult was opened only after the other had closed
    // (it was decided before the later intake was admitted, e.g. while a
    // worker was killed, or while the later one waited to attach): a new
    // consult is then right, and both end as the scenario implies. Either
    // intake of a pair may be admitted first.
    let pairs: Vec<(String, String)> = started
        .iter()
        .filter_map(|s| Some((started.get(s.resubmits?)?.id.clone(), s.id.clone())))
        .collect();
    let (firsts, agains): (Vec<String>, Vec<String>) = pairs.iter().cloned().unzip();
    let after_close: Vec<(String,)> = sqlx::query_as(
        "SELECT p.again::text
           FROM unnest($1::uuid[], $2::uuid[]) AS p(first, again)
           JOIN carepath.consult_claims a ON a.journey_id = p.first
           JOIN carepath.consult_claims b ON b.journey_id = p.again
          WHERE b.opened_at >= a.closed_at OR a.opened_at >= b.closed_at",
    )
    .bind(&firsts)
    .bind(&agains)
    .fetch_all(&stack.pool)
    .await?;

    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut unexpected = Vec::new();
    let mut durations = Vec::new();
    let outcome_of = |s: &Started| {
        by_id.get(s.id.as_str()).map(|(_, status, output, _)| {
            output
                .as_ref()
                .and_then(|o| o["outcome"].as_str())
                .map_or_else(|| format!("({status})"), str::to_owned)
        })
    };
    let resubmitted: Vec<usize> = started.iter().filter_map(|s| s.resubmits).collect();
    for (k, s) in started.iter().enumerate() {
        let Some((_, _, _, took)) = by_id.get(s.id.as_str()) else {
            continue;
        };
        let outcome = outcome_of(s).unwrap_or_default();
        let expected = s.scenario.expected_outcome();
        match s.resubmits {
            // The same patient twice: one consult ends as its scenario
            // implies, the other intake is merged into it, whichever came
            // first — or, when it came after the first was approved (a slow
            // moment), held and closed by the operator: never a second consult.
            Some(first) => {
                let mut pair = [
                    outcome_of(&started[first]).unwrap_or_default(),
                    outcome.clone(),
                ];
                pair.sort();
                let mut allowed = ["merged", "closed_by_review"]
                    .map(|other| {
                        let mut want = [expected.to_owned(), other.to_owned()];
                        want.sort();
                        want
                    })
                    .to_vec();
                if after_close.iter().any(|(id,)| *id == s.id) {
                    allowed.push([expected.to_owned(), expected.to_owned()]);
                }
                let want = &allowed[0];
                if !allowed.contains(&pair) {
                    unexpected.push(format!(
                        "{} and its re-submission {} ended {pair:?}, expected {want:?}",
                        started[first].id, s.id
                    ));
                }
            }
            None if resubmitted.contains(&k) => {}
            None if outcome != expected => {
                unexpected.push(format!("{} ended {outcome}, expected {expected}", s.id));
            }
            None => {}
        }
        *outcomes.entry(outcome).or_default() += 1;
        if let Some(t) = took {
            durations.push(*t);
        }
    }
    durations.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        durations
            .get(((durations.len() as f64 - 1.0) * p).round().max(0.0) as usize)
            .copied()
            .unwrap_or_default()
    };

    let (retries, vendor_waits, signals, alerts, open_alerts, lookups): (i64, i64, i64, i64, i64, i64) =
        sqlx::query_as(
        "SELECT (SELECT count(*) FROM carepath.journey_history WHERE kind = 'step_retry_scheduled'),
                (SELECT count(*) FROM carepath.journey_history
                  WHERE kind = 'step_retry_scheduled' AND detail->>'waiting_for' LIKE 'vendor:%'),
                (SELECT count(*) FROM carepath.journey_history WHERE kind = 'signal_applied'),
                (SELECT count(*) FROM carepath.alerts),
                (SELECT count(*) FROM carepath.alerts WHERE resolved_at IS NULL),
                (SELECT count(*) FROM carepath.journey_steps
                  WHERE key ~ '^check_(case|order)' AND status = 'completed')",
    )
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
    let counters = stack.sandbox("/_sandbox/counters").await;
    let duplicates: u64 = counters["duplicate_side_effects"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or_default();
    // Each of the three named, so a missing key (an older sandbox) shows as
    // unknown and fails the run instead of passing as zero.
    let across = &counters["cross_journey_duplicates"];
    let cross: Vec<(&str, Option<u64>)> = ["open_case", "active_prescription", "order_per_fill"]
        .into_iter()
        .map(|k| (k, across[k].as_u64()))
        .collect();
    let cross_clean = cross.iter().all(|(_, n)| *n == Some(0));

    println!(
        "\n== {} journeys in {:.0} s ==",
        started.len(),
        began.elapsed().as_secs_f64()
    );
    println!("\nOutcomes (what a clinician would see)");
    for (outcome, n) in &outcomes {
        println!("  {outcome:<24} {n:>4}");
    }
    println!(
        "  every journey ended as its scenario implies: {}",
        if unexpected.is_empty() {
            "yes".to_owned()
        } else {
            format!("NO ({})", unexpected.len())
        }
    );
    for u in unexpected.iter().take(10) {
        println!("    {u}");
    }
    println!(
        "  start to end: p50 {:.1} s, p95 {:.1} s, max {:.1} s (refills every 3 s stand in for 30 days)",
        pct(0.5),
        pct(0.95),
        pct(1.0)
    );
    println!("\nFaults survived");
    for f in injected.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        println!("  - {f}");
    }
    println!("\nWhat carepath did about them (what an engineer would check)");
    println!(
        "  step retries scheduled:           {retries} ({vendor_waits} of them waiting out a vendor hold)"
    );
    println!(
        "  vendor events stored:             {webhooks} ({from_feed} read from the pharmacy's feed before \
         their webhook came, if it came); repeat deliveries absorbed (webhook or feed): {redelivered}; \
         rejected: {rejected}"
    );
    println!("  signals applied to journeys:      {signals}");
    println!(
        "  vendor calls answered from an idempotency record: {}",
        counters["idempotent_replays"]
    );
    println!(
        "  OAuth tokens: {} requested, {} issued",
        counters["token_requests"], counters["tokens_issued"]
    );
    println!(
        "  vendors asked after a silence:    {lookups} lookups (a lost webhook never strands a journey)"
    );
    println!("  alerts raised:                    {alerts} ({open_alerts} still open)");
    println!(
        "  charts: {patients} patients for {} journeys ({linked} intakes linked to an existing chart, not duplicated)",
        started.len()
    );
    println!(
        "  the same patient again: {} re-submissions; {held_for_review} found the patient's \
         consult open or their treatment active; {} merged into the open consult (the new \
         answers sent to its case); {} closed by an operator (already on treatment); \
         {attached_by_operator} operator reviews in all",
        resubmitted.len(),
        outcomes.get("merged").copied().unwrap_or_default(),
        outcomes
            .get("closed_by_review")
            .copied()
            .unwrap_or_default()
    );
    println!(
        "  at the vendors: {} charts, {} cases, {} prescriptions, {} pharmacy orders",
        held(stack, "patient").await,
        held(stack, "case").await,
        held(stack, "prescription").await,
        held(stack, "order").await
    );
    println!("  duplicate side effects at the vendors: {duplicates}");
    println!(
        "  duplicates across journeys at the vendors: {}",
        cross
            .iter()
            .map(|(k, n)| match n {
                Some(n) => format!("{k} {n}"),
                None => format!("{k} unknown"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    );

    if let Some(example) = started
        .iter()
        .find(|s| s.scenario == super::Scenario::MoreInfoTwice)
    {
        println!("\nInspect a journey (run with --hold to keep the API up for these):");
        println!(
            "  export CAREPATH_API_URL={} CAREPATH_TOKEN={}",
            stack.api_url, stack.operator_token
        );
        println!("  carepath ctl show {}", example.id);
        println!("  carepath ctl history {}", example.id);
        println!("  carepath ctl list --status failed");
        println!("  carepath ctl inbox");
    }
    Ok(unexpected.is_empty() && duplicates == 0 && cross_clean)
}

async fn held(stack: &Stack, kind: &str) -> usize {
    stack
        .sandbox(&format!("/_sandbox/resources?kind={kind}"))
        .await
        .as_array()
        .map_or(0, Vec::len)
}
