//! `carepath demo`: the whole product on one machine for a few minutes. A
//! private PostgreSQL (unless DATABASE_URL is set), the sandbox vendors, the
//! API and two worker processes; a few hundred telehealth journeys of mixed
//! scenarios with months compressed into seconds; faults injected while
//! they run; live progress by phase; and a summary at the end.

mod faults;
mod patients;
mod progress;
mod stack;
mod summary;

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rand::Rng;
use serde_json::{Value, json};

use crate::private_pg::{self, Durability};
pub use stack::Stack;

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// How many journeys to run.
    #[arg(long, default_value_t = 300)]
    pub journeys: usize,
    /// Keep the API and workers running after the summary, for `carepath ctl`, until Ctrl-C.
    #[arg(long)]
    pub hold: bool,
    /// Give up if the journeys have not all ended by then (seconds).
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
}

/// What each journey is meant to do, and so how it should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Approve,
    Decline,
    MoreInfo,
    MoreInfoTwice,
    /// The patient never answers the clinician's question.
    SilentPatient,
}

impl Scenario {
    fn pick(roll: u32) -> Self {
        match roll {
            0..50 => Self::Approve,
            50..65 => Self::Decline,
            65..85 => Self::MoreInfo,
            85..95 => Self::MoreInfoTwice,
            _ => Self::SilentPatient,
        }
    }

    fn sandbox(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Decline => "decline",
            Self::MoreInfo | Self::SilentPatient => "more_info",
            Self::MoreInfoTwice => "more_info_2",
        }
    }

    pub fn expected_outcome(self) -> &'static str {
        match self {
            Self::Decline => "declined",
            Self::SilentPatient => "cancelled_no_response",
            _ => "approved",
        }
    }
}

pub struct Started {
    pub id: String,
    pub scenario: Scenario,
    /// This intake re-submits the one at this index (same patient, same
    /// offering, a new key): of the two, one ends as the scenario implies and
    /// the other `merged` into it.
    pub resubmits: Option<usize>,
}

pub async fn run(args: DemoArgs) -> Result<()> {
    let began = Instant::now();
    if std::env::var("DATABASE_URL").is_ok() {
        println!("using DATABASE_URL");
    } else {
        println!("starting a private PostgreSQL (no DATABASE_URL set)…");
    }
    let (_cluster, url) = private_pg::database_url_or_private(Durability::Fast)?;
    let stack = std::sync::Arc::new(Stack::start(&url).await?);
    println!(
        "sandbox vendors on {}, API on {}, 2 worker processes\n",
        stack.sandbox_url, stack.api_url
    );

    let cohort = start_journeys(&stack, args.journeys).await?;
    println!(
        "started {} journeys ({} of them returning patients, {} the same \
         patient submitting again); faults follow on a schedule\n",
        cohort.started.len(),
        cohort.returning,
        cohort.resubmitted
    );
    let started = cohort.started;

    let (faults, injected) = faults::schedule(stack.clone());
    let ended = progress::follow(
        &stack,
        args.journeys,
        Duration::from_secs(args.timeout_secs),
    )
    .await;
    faults.abort();
    let ended = ended?;
    if !ended {
        summary::print(&stack, &started, &injected, began).await?;
        bail!("not every journey ended within {} s", args.timeout_secs);
    }
    let all_as_expected = summary::print(&stack, &started, &injected, began).await?;
    if args.hold {
        println!("\nholding the stack up for `carepath ctl` (Ctrl-C to stop)…");
        tokio::signal::ctrl_c().await?;
    }
    stack.stop().await;
    if !all_as_expected {
        bail!(
            "some journeys did not end as their scenario implies, or a vendor saw a duplicate (see above)"
        );
    }
    Ok(())
}

/// The journeys the demo started, and how many of them are returning
/// patients and the same patient submitting again.
struct Cohort {
    started: Vec<Started>,
    returning: usize,
    resubmitted: usize,
}

/// Starts `n` journeys of mixed scenarios.
async fn start_journeys(stack: &Stack, n: usize) -> Result<Cohort> {
    let mut rng = rand::rng();
    let mut cohort = Cohort {
        started: Vec::with_capacity(n),
        returning: 0,
        resubmitted: 0,
    };
    let mut inputs: Vec<Value> = Vec::with_capacity(n);
    for i in 0..n {
        // One intake in fifteen is the previous patient submitting again
        // (a refreshed page, a second tab) while their consult is open; half
        // of those for an offering whose policy holds them for an operator.
        if i % 15 == 7
            && let Some(previous) = cohort.started.last()
            && matches!(
                previous.scenario,
                Scenario::Approve | Scenario::Decline | Scenario::MoreInfo
            )
        {
            let scenario = previous.scenario;
            let mut input = inputs[i - 1].clone();
            input["payment_reference"] = json!(format!("pay_demo_{i}"));
            let id = stack
                .start_journey(&format!("demo-{}-{i}", stack.run_id), input.clone())
                .await?;
            cohort.started.push(Started {
                id,
                scenario,
                resubmits: Some(i - 1),
            });
            inputs.push(input);
            cohort.resubmitted += 1;
            continue;
        }
        let scenario = Scenario::pick(rng.random_range(0..100));
        let (input, returning) = intake(i, scenario, &mut rng);
        cohort.returning += usize::from(returning);
        let id = stack
            .start_journey(&format!("demo-{}-{i}", stack.run_id), input.clone())
            .await?;
        if scenario == Scenario::SilentPatient {
            stack.silence(&id);
        }
        cohort.started.push(Started {
            id,
            scenario,
            resubmits: None,
        });
        inputs.push(input);
    }
    Ok(cohort)
}

/// The `i`th intake, of a new patient or (`true`) a returning one.
fn intake(i: usize, scenario: Scenario, rng: &mut impl Rng) -> (Value, bool) {
    // One patient in twenty is back for a consult about something else,
    // with a new phone number: matching links them to their chart
    // instead of making another.
    let returning = i >= 20 && i.is_multiple_of(20);
    let (patient, offering) = if returning {
        (patients::returning(i - 19), "demo_offering_2")
    } else if i % 30 == 21 {
        (patients::new(i), "demo_offering_review")
    } else {
        (patients::new(i), "demo_offering")
    };
    let input = json!({
        "patient": patient,
        "questionnaire": patients::questionnaire(i),
        "offering": { "id": offering, "refills": rng.random_range(0..=2) },
        "payment_reference": format!("pay_demo_{i}"),
        "photo_id": { "file_name": "id.jpg", "content_type": "image/jpeg",
                      "url": format!("https://files.brand.example/{i}/id.jpg") },
        "scenario": scenario.sandbox(),
    });
    (input, returning)
}

/// The first text value at `path` in `v`, or "".
fn text<'a>(v: &'a Value, path: &str) -> &'a str {
    v.pointer(path).and_then(Value::as_str).unwrap_or_default()
}
