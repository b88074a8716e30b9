//! `carepath bench consult`: what sealing PHI at rest costs whole consult
//! journeys — the demo's stack (sandbox vendors, the API, two worker
//! processes) with quick clinicians, N consults started at once through the
//! API, timed from the first start to the last completion as PostgreSQL
//! recorded them; encryption off and on alternated round by round, each
//! run on a database of its own, reported as the ratio of the medians.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;

use super::patients;
use super::stack::{Setup, Stack};
use crate::bench_encryption::{alternate, create_database, drop_database};
use crate::db;
use crate::private_pg::{self, Durability};

/// `carepath bench consult`.
#[derive(Debug, Args)]
pub struct ConsultArgs {
    /// Consults per run, all started at once.
    #[arg(long, default_value_t = 200)]
    journeys: usize,
    /// Rounds, each one run off and one run on (their order alternating).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// Runs the comparison; prints each run and the ratio.
///
/// # Errors
/// A database or stack that cannot be started, a run that does not finish.
pub async fn run(args: ConsultArgs) -> Result<()> {
    let (_cluster, url) = private_pg::database_url_or_private(Durability::Durable)?;
    let admin = db::connect(&url, 2).await?;
    let (admin, url, journeys) = (&admin, url.as_str(), args.journeys);
    let (off, on) = alternate(args.rounds, |round, sealed| async move {
        let (name, run_url) = create_database(admin, url).await?;
        let rate = once(&run_url, journeys, sealed).await;
        drop_database(admin, &name).await?;
        let rate = rate?;
        let mode = if sealed { "on" } else { "off" };
        println!(
            "round {} — encryption {mode}: {rate:.1} consults/s",
            round + 1
        );
        Ok(rate)
    })
    .await?;
    println!(
        "median consults/s: off {off:.1}, on {on:.1}; on/off = {:.3}",
        on / off
    );
    Ok(())
}

async fn once(url: &str, n: usize, sealed: bool) -> Result<f64> {
    let setup = Setup {
        sealed,
        quick_vendors: true,
    };
    let stack = Stack::start_with(url, setup).await?;
    let result = consults(&stack, n).await;
    stack.stop().await;
    result
}

async fn consults(stack: &Stack, n: usize) -> Result<f64> {
    let prefix = format!("bench-{}-", stack.run_id);
    for i in 0..n {
        let input = json!({
            "patient": patients::new(i),
            "questionnaire": patients::questionnaire(i),
            "offering": { "id": "demo_offering", "refills": 0 },
            "payment_reference": format!("pay_bench_{i}"),
            "photo_id": { "file_name": "id.jpg", "content_type": "image/jpeg",
                          "url": format!("https://files.brand.example/{i}/id.jpg") },
        });
        stack.start_journey(&format!("{prefix}{i}"), input).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(900);
    let pattern = format!("{prefix}%");
    loop {
        let ended: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM carepath.journeys
              WHERE idempotency_key LIKE $1 AND status IN ('completed', 'failed', 'cancelled')",
        )
        .bind(&pattern)
        .fetch_one(&stack.pool)
        .await?;
        if ended as usize >= n {
            break;
        }
        if Instant::now() > deadline {
            bail!("the run did not finish: {ended}/{n} consults ended");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let secs: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM max(finished_at) - min(created_at))::float8
           FROM carepath.journeys WHERE idempotency_key LIKE $1",
    )
    .bind(&pattern)
    .fetch_one(&stack.pool)
    .await?;
    Ok(n as f64 / secs)
}
