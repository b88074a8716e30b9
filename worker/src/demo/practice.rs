//! With `--hold`, after the summary: work left on the stack for an operator
//! to practise on with `ctl`, one of each kind the runbook covers — a failed
//! journey, an overdue one, a parked webhook, a patient match to review and a
//! paused vendor — each made the way it happens in production, not by
//! writing rows.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use carepath_sandbox::{Scenario as Decides, ScenarioRule};
use serde_json::{Value, json};

use super::{Stack, patients};

/// What was left, for the hints: the ids an operator acts on.
pub struct Practice {
    /// A journey the clinical network refused (a patient in a state it does
    /// not serve): failed, retryable.
    pub failed: String,
    /// A consult whose clinician never decides: past its decision SLA.
    pub overdue: String,
    /// A consult waiting for an operator to say whether its patient is the
    /// registry's namesake.
    pub review: String,
    /// The inbox entry of a webhook the router parked.
    pub parked: i64,
    /// The vendor put on hold.
    pub paused: &'static str,
}

/// How long each piece may take to show (a few seconds each, normally).
const SETTLE: Duration = Duration::from_secs(60);

/// Leaves the work and waits until each piece shows as an operator will see
/// it. Errors: a piece did not show within a minute, or the API refused.
pub async fn leave(stack: &Stack) -> Result<Practice> {
    let run = &stack.run_id;
    let refused = json!({ "first_name": "Practice", "last_name": "Refused",
                          "date_of_birth": "1990-01-01", "state": "ZZ" });
    let failed = stack
        .start_workflow(
            "vendor_probe",
            &format!("practice-{run}-failed"),
            json!({ "patient": refused }),
        )
        .await?;

    let stalled = patients::new(9_002);
    let rule = ScenarioRule {
        email: super::text(&stalled, "/email").to_owned(),
        offering: None,
        scenario: Decides::Stall,
    };
    stack.set_scenario(&rule).await?;
    let overdue = stack
        .start_journey(&format!("practice-{run}-overdue"), consult(stalled, 9_002))
        .await?;

    let mut namesake = patients::new(0);
    namesake["external_id"] = json!(format!("practice-{run}-namesake"));
    namesake["phone"] = json!("+13125550777");
    namesake["email"] = json!(format!("namesake.{run}@elsewhere.example"));
    namesake["address"]["line1"] = json!("77 Harbor Boulevard");
    namesake["address"]["postal_code"] = json!("60601");
    let review = stack
        .start_journey(&format!("practice-{run}-review"), consult(namesake, 9_003))
        .await?;

    let paused = "notify";
    stack
        .operate(
            &format!("/v1/vendors/{paused}/pause"),
            json!({ "reason": "demo: a vendor on hold, to practise resuming" }),
        )
        .await?;
    let parked = park_a_webhook(stack).await?;

    settle(stack, &failed, "status = 'failed'").await?;
    settle(stack, &review, "phase = 'patient_match_review'").await?;
    settle(stack, &overdue, "EXISTS (SELECT 1 FROM carepath.alerts a WHERE a.journey_id = j.id AND a.resolved_at IS NULL)").await?;
    // The overdue set is computed once per interval; the commands printed
    // below should find this journey at once.
    carepath_workflows::gauge_snapshot::refresh(&stack.pool, std::time::Duration::ZERO).await?;
    Ok(Practice {
        failed,
        overdue,
        review,
        parked,
        paused,
    })
}

/// A consult start request for `patient`.
fn consult(patient: Value, i: usize) -> Value {
    json!({
        "patient": patient,
        "questionnaire": patients::questionnaire(i),
        "offering": { "id": "demo_offering", "refills": 0 },
        "payment_reference": format!("pay_practice_{i}"),
        "photo_id": { "file_name": "id.jpg", "content_type": "image/jpeg",
                      "url": format!("https://files.brand.example/{i}/id.jpg") },
    })
}

/// A clinical event for a case of the run whose type no journey can take (a
/// control character in it): signed and stored, then parked by the router;
/// its inbox entry.
async fn park_a_webhook(stack: &Stack) -> Result<i64> {
    let cases = stack.sandbox("/_sandbox/resources?kind=case").await;
    let Some(case) = cases
        .as_array()
        .and_then(|c| c.first())
        .and_then(|c| c["id"].as_str())
    else {
        bail!("no case at the clinical network to address a webhook to");
    };
    let event = json!({
        "event_id": format!("practice-{}-parked", stack.run_id),
        "type": "case approved\u{1}.x",
        "data": { "case_id": case },
    });
    let status = stack.deliver_webhook("clinical", &event).await?;
    if status != 200 {
        bail!("the webhook door answered {status}");
    }
    let key = format!("practice-{}-parked", stack.run_id);
    settle_sql(
        stack,
        "SELECT count(*) > 0 FROM carepath.webhook_inbox WHERE status = 'parked' AND dedup_key = $1",
        &key,
    )
    .await?;
    let id = sqlx::query_scalar("SELECT id FROM carepath.webhook_inbox WHERE dedup_key = $1")
        .bind(&key)
        .fetch_one(&stack.pool)
        .await?;
    Ok(id)
}

/// Waits until journey `id` meets `condition` (SQL over the row `j`).
async fn settle(stack: &Stack, id: &str, condition: &str) -> Result<()> {
    let sql = format!(
        "SELECT count(*) > 0 FROM carepath.journeys j WHERE j.id::text = $1 AND {condition}"
    );
    settle_sql(stack, &sql, id).await
}

async fn settle_sql(stack: &Stack, sql: &str, bind: &str) -> Result<()> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let done: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(bind)
            .fetch_one(&stack.pool)
            .await?;
        if done {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "practice work did not show within {} s ({bind})",
                SETTLE.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `ctl` as a hint must name it to run as printed: this binary's own path
/// (after `cargo run`, `carepath` is not on the PATH) and the subcommand.
pub fn ctl_command() -> String {
    std::env::current_exe()
        .map(|p| format!("{} ctl", p.display()))
        .unwrap_or_else(|_| "cargo run -q -- ctl".to_owned())
}

/// The `ctl` commands for each piece, runnable as printed ([`ctl_command`]).
pub fn print(practice: &Practice) {
    let ctl = ctl_command();
    let Practice {
        failed,
        overdue,
        review,
        parked,
        paused,
    } = practice;
    let ctl = ctl.as_str();
    println!("\nLeft for you to practise on:");
    println!(
        "  a failed journey: the clinical network refused its patient (a state it does not serve)"
    );
    println!("    {ctl} list --status failed");
    println!("    {ctl} show {failed}");
    println!(
        "  an overdue journey: its clinician has not decided within the decision SLA (20 s here)"
    );
    println!("    {ctl} list --overdue");
    println!("    {ctl} show {overdue}");
    println!("  a patient match to review: a namesake of a patient already in the registry");
    println!("    {ctl} match {review}");
    println!("    {ctl} match {review} --people --reason 'checking the namesake'");
    println!(
        "    {ctl} match {review} --create --reason 'a different person: another address, phone and email'"
    );
    println!("  a parked webhook: an event whose type no journey can take");
    println!("    {ctl} inbox --status parked");
    println!("    {ctl} inbox-skip {parked} --reason 'not an event we handle'");
    println!("  a vendor on hold ({paused}): journeys that need it wait until it is resumed");
    println!("    {ctl} vendors");
    println!("    {ctl} vendor-resume {paused} --reason 'vendor back'");
}
