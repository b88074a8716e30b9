//! Live progress: one bar per group of phases, from the journeys' rows.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Result;
use carepath_workflows::WaitingFor;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Stack;

/// Phase groups, in journey order; a phase not listed counts as the first.
const GROUPS: [(&str, &[&str]); 6] = [
    (
        "intake & patient",
        &[
            "started",
            "validating_intake",
            "matching_patient",
            "patient_match_review",
            "syncing_patient",
            "submitting_case",
        ],
    ),
    (
        "with the clinician",
        &["awaiting_clinician", "in_clinician_review"],
    ),
    ("asking the patient", &["awaiting_patient_response"]),
    (
        "pharmacy",
        &[
            "prescribed",
            "sending_to_pharmacy",
            "awaiting_fulfilment",
            "requesting_refill",
        ],
    ),
    ("waiting for a refill", &["awaiting_refill"]),
    ("ended", &[]),
];

fn group_of(phase: &str, status: &str) -> usize {
    if matches!(status, "completed" | "failed" | "cancelled") {
        return GROUPS.len() - 1;
    }
    GROUPS
        .iter()
        .position(|(_, phases)| phases.contains(&phase))
        .unwrap_or(0)
}

/// Follows the journeys until all have ended (true) or `timeout` passes (false).
pub async fn follow(stack: &Stack, total: usize, timeout: Duration) -> Result<bool> {
    let tty = std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if tty {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style = ProgressStyle::with_template("{prefix:>22} {bar:40.cyan/blue} {pos:>4}/{len}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bars: Vec<ProgressBar> = GROUPS
        .iter()
        .map(|(name, _)| {
            let bar = multi.add(ProgressBar::new(total as u64));
            bar.set_style(style.clone());
            bar.set_prefix(*name);
            bar
        })
        .collect();
    let status_line = multi.add(ProgressBar::new_spinner());
    let began = Instant::now();
    let mut last_print = Instant::now() - Duration::from_secs(10);
    loop {
        let rows: Vec<(String, String, Option<WaitingFor>, i64)> = sqlx::query_as(
            "SELECT phase, status, waiting_for, count(*) FROM carepath.journeys
              WHERE workflow = 'async_consult' AND idempotency_key LIKE $1 GROUP BY 1, 2, 3",
        )
        .bind(format!("demo-{}-%", stack.run_id))
        .fetch_all(&stack.pool)
        .await?;
        let mut counts = [0u64; GROUPS.len()];
        let (mut on_vendor, mut retrying, mut failed) = (0, 0, 0);
        for (phase, status, waiting, n) in &rows {
            counts[group_of(phase, status)] += *n as u64;
            match waiting {
                Some(WaitingFor::Vendor { .. }) => on_vendor += n,
                Some(WaitingFor::Retry { .. }) => retrying += n,
                _ => {}
            }
            if status == "failed" {
                failed += n;
            }
        }
        for (bar, n) in bars.iter().zip(counts) {
            bar.set_position(n);
        }
        let line = format!(
            "{:>5.1}s  waiting for a vendor: {on_vendor:<4} retrying a step: {retrying:<4} failed: {failed}",
            began.elapsed().as_secs_f64()
        );
        status_line.set_message(line.clone());
        if !tty && last_print.elapsed() >= Duration::from_secs(5) {
            let groups: Vec<String> = GROUPS
                .iter()
                .zip(counts)
                .map(|((name, _), n)| format!("{name}: {n}"))
                .collect();
            println!("{}  |  {line}", groups.join(", "));
            last_print = Instant::now();
        }
        let ended = counts[GROUPS.len() - 1];
        if ended as usize >= total {
            // As they stand: `finish()` would draw every bar full.
            for bar in &bars {
                bar.abandon();
            }
            status_line.finish_with_message(line);
            return Ok(true);
        }
        if began.elapsed() > timeout {
            status_line.finish_with_message(line);
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
