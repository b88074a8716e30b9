//! `carepath demo`: the whole product on one machine for a few minutes. A
//! private PostgreSQL (unless DATABASE_URL is set), the sandbox vendors, the
//! API and two worker processes; a few hundred telehealth journeys of mixed
//! scenarios with months compressed into seconds; faults injected while
//! they run; live progress by phase; and a summary at the end.

pub mod bench;
mod evidence;
mod faults;
mod heard;
mod patients;
mod practice;
mod progress;
mod stack;
mod summary;

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use carepath_sandbox::ScenarioRule;
use rand::Rng;
use serde_json::{Value, json};

use crate::private_pg::{self, Durability};
pub use stack::Stack;

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// How many journeys to run (1 to 5,000).
    #[arg(long, default_value_t = 300,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=5_000))]
    pub journeys: usize,
    /// Keep the API and workers running after the summary, for `carepath ctl`, until Ctrl-C.
    #[arg(long)]
    pub hold: bool,
    /// Give up if the journeys have not all ended by then (seconds; by
    /// default 300, or a quarter second per journey when that is longer).
    #[arg(long)]
    pub timeout_secs: Option<u64>,
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

    /// What the sandbox's clinician decides: a silent patient is asked once,
    /// like any other, and never answers.
    fn sandbox(self) -> carepath_sandbox::Scenario {
        use carepath_sandbox::Scenario as Sandbox;
        match self {
            Self::Approve => Sandbox::Approve,
            Self::Decline => Sandbox::Decline,
            Self::MoreInfo | Self::SilentPatient => Sandbox::MoreInfo,
            Self::MoreInfoTwice => Sandbox::MoreInfo2,
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
    let started = start_journeys(&stack, args.journeys).await?;
    let timeout_secs = args
        .timeout_secs
        .unwrap_or_else(|| 300.max(args.journeys as u64 / 4));

    let (faults, injected) = faults::schedule(stack.clone());
    let ended = progress::follow(&stack, args.journeys, Duration::from_secs(timeout_secs)).await;
    faults.abort();
    let ended = ended?;
    if !ended {
        summary::print(&stack, &started, &injected, began).await?;
        bail!("not every journey ended within {timeout_secs} s");
    }
    let all_as_expected = summary::print(&stack, &started, &injected, began).await?;
    if args.hold {
        let practice = practice::leave(&stack).await?;
        summary::print_inspection(&stack, &started);
        practice::print(&practice);
        println!("\nholding the stack up for `ctl` (Ctrl-C to stop)…");
        tokio::signal::ctrl_c().await?;
    } else {
        println!("\n(`--hold` keeps the stack up and prints `ctl` commands to practise on it)");
    }
    stack.stop().await;
    if !all_as_expected {
        bail!(
            "some journeys did not end as their scenario implies, or a vendor saw a duplicate (see above)"
        );
    }
    Ok(())
}

/// Starts `n` journeys of mixed scenarios, each once the sandbox knows what
/// its clinician is to decide.
async fn start_journeys(stack: &Stack, n: usize) -> Result<Vec<Started>> {
    let mut rng = rand::rng();
    let mut started: Vec<Started> = Vec::with_capacity(n);
    let mut inputs: Vec<Value> = Vec::with_capacity(n);
    let (mut returning, mut resubmitted) = (0, 0);
    for i in 0..n {
        // One intake in fifteen is the previous patient submitting again
        // (a refreshed page, a second tab) while their consult is open; half
        // of those for an offering whose policy holds them for an operator.
        if i % 15 == 7
            && let Some(previous) = started.last()
            && matches!(
                previous.scenario,
                Scenario::Approve | Scenario::Decline | Scenario::MoreInfo
            )
        {
            let scenario = previous.scenario;
            let mut input = inputs[i - 1].clone();
            input["payment_reference"] = json!(format!("pay_demo_{i}"));
            let id = start(stack, i, &input, scenario).await?;
            started.push(Started {
                id,
                scenario,
                resubmits: Some(i - 1),
            });
            inputs.push(input);
            resubmitted += 1;
            continue;
        }
        let scenario = Scenario::pick(rng.random_range(0..100));
        // One patient in twenty is back for a consult about something else,
        // with a new phone number: matching links them to their chart
        // instead of making another.
        let (patient, offering) = if i >= 20 && i % 20 == 0 {
            returning += 1;
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
        });
        let id = start(stack, i, &input, scenario).await?;
        if scenario == Scenario::SilentPatient {
            stack.silence(&id);
        }
        started.push(Started {
            id,
            scenario,
            resubmits: None,
        });
        inputs.push(input);
    }
    println!(
        "started {} journeys ({returning} of them returning patients, {resubmitted} the same \
         patient submitting again); faults follow on a schedule\n",
        started.len()
    );
    Ok(started)
}

/// Tells the sandbox's clinicians to decide the case for this patient (by
/// their email) and offering as `scenario` says, then starts journey `i`:
/// in that order, as its case is created moments after the start. A patient
/// back for another offering has a rule of their own for it; one
/// submitting again gets the rule they had.
async fn start(stack: &Stack, i: usize, input: &Value, scenario: Scenario) -> Result<String> {
    let rule = ScenarioRule {
        email: text(input, "/patient/email").to_owned(),
        offering: Some(text(input, "/offering/id").to_owned()),
        scenario: scenario.sandbox(),
    };
    stack.set_scenario(&rule).await?;
    stack
        .start_journey(&format!("demo-{}-{i}", stack.run_id), input.clone())
        .await
}

/// The first text value at `path` in `v`, or "".
fn text<'a>(v: &'a Value, path: &str) -> &'a str {
    v.pointer(path).and_then(Value::as_str).unwrap_or_default()
}
