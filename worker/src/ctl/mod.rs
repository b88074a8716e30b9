//! `carepath ctl`: the operator's command line over the HTTP API. This
//! module is the command line itself; each group of commands lives in a
//! module of its own, and all of them talk to the API through [`client`].

mod bulk;
mod client;
mod find;
mod inbox;
mod journeys;
mod render;
mod repair;
mod reviews;
mod statuses;
mod tokens;
mod vendors;
mod watch;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use client::Api;
use statuses::{InboxStatus, JourneyStatus, RetryableStatus};

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The API's base URL.
    #[arg(
        long,
        env = "CAREPATH_API_URL",
        hide_env_values = true,
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    api: String,
    /// A bearer token (see `ctl tokens create`).
    #[arg(long, env = "CAREPATH_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// `table` fits 100 columns (short ids, relative times, cut cells);
    /// `wide` shows every value whole; `json` is the API's answer.
    #[arg(short, long, value_enum, default_value_t = Output::Table, global = true)]
    output: Output,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Wide,
    Json,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Journeys, newest first, with filters (with --watch: their events
    /// as they happen).
    List(ListArgs),
    /// The journeys a business id names: a case, order, prescription or
    /// clinical patient id, the patient's external id, email or phone, an
    /// idempotency key, or the start or end of a journey id.
    Find { query: String },
    /// One journey: status, why it waits, and its steps. Every command that
    /// takes a journey id also takes its short id (the last 8 characters a
    /// listing shows).
    Show { id: String },
    /// Each step's attempts, timings, error and output (PHI redacted), what
    /// the journey waits on, its alerts and superseded steps.
    Steps { id: String },
    /// One step's output whole (PHI: the read is recorded with --reason).
    Reveal {
        id: String,
        /// The step's key, as `ctl steps` lists it (`notify#2`).
        step: String,
        #[arg(long)]
        reason: String,
    },
    /// A journey's audit history (with --watch: then its events as they happen).
    History {
        id: String,
        /// Follow the history as it is appended, until interrupted.
        #[arg(long)]
        watch: bool,
    },
    /// A journey's input (PHI: the read is recorded with --reason).
    Input {
        id: String,
        /// Why: recorded in the journey's history.
        #[arg(long)]
        reason: String,
    },
    /// Checks a journey's history chain.
    Verify { id: String },
    /// Pause a running or waiting journey.
    Pause(ActionArgs),
    /// Resume a paused journey.
    Resume(ActionArgs),
    /// Retry a failed journey, or a waiting step now.
    Retry(ActionArgs),
    /// Cancel a journey.
    Cancel(ActionArgs),
    /// Fire the timer a journey sleeps on now, or end its wait for a signal
    /// now (one waiting on a vendor then asks the vendor at once).
    Wake(ActionArgs),
    /// Fire the journey's wait now: its timer, or its signal wait's timeout
    /// branch (whatever it does: a reminder, a cancellation, a lookup).
    Fire(ActionArgs),
    /// Deliver a vendor's event the journey never received (a lost
    /// webhook), as its webhook would have been: deduplicated by its id,
    /// recorded as operator-sourced.
    Inject {
        id: String,
        /// The vendor that sent it (clinical, pharmacy).
        #[arg(long)]
        vendor: String,
        /// The event as the vendor's webhook body: JSON, or @file.
        #[arg(long)]
        event: String,
        #[arg(long)]
        reason: String,
    },
    /// Re-run a journey from after a step: the steps after it are
    /// superseded (kept) and run again with fresh idempotency keys.
    Rewind {
        id: String,
        /// The step to keep, as `ctl steps` lists it.
        #[arg(long)]
        to_step: String,
        /// Re-run irreversible steps (a prescription, an order) too.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        reason: String,
    },
    /// An action over every journey a filter selects: a dry run first (the
    /// count, a sample and a token), then `--confirm <token>` to act.
    Bulk {
        #[command(subcommand)]
        action: BulkCommand,
    },
    /// Retry every journey matching a filter.
    BulkRetry(BulkArgs),
    /// Vendors: hold, rate, waiting journeys, last error.
    Vendors,
    /// Put a vendor on hold until resumed.
    VendorPause {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Lift an operator's (or any) hold on a vendor.
    VendorResume {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// End every open console session of a person signed in through single
    /// sign-on (`oidc:<email>`) or of a token (`token:<name>`); admin.
    ConsoleSignOut {
        holder: String,
        #[arg(long)]
        reason: String,
    },
    /// Stored webhooks by status: received, applied, unmatched (the
    /// default), parked (could not be processed), ignored, skipped; or
    /// `rejected`: the webhooks refused at the door (a list of its own).
    Inbox {
        #[arg(long, value_enum, default_value_t = InboxStatus::Unmatched)]
        status: InboxStatus,
        #[arg(long)]
        vendor: Option<String>,
    },
    /// Route stored webhooks again (e.g. once their journey exists, or after
    /// a fix): one or many ids.
    InboxReplay {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long)]
        reason: String,
    },
    /// Send a webhook refused at the door (see `inbox --status rejected`)
    /// through its checks again, once the cause is fixed (a webhook secret set,
    /// say): admitted, it is stored and routed like any delivery.
    InboxReplayRejected {
        /// The rejection's id.
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Set stored webhooks aside for good (replay brings them back).
    InboxSkip {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long)]
        reason: String,
    },
    /// An intake held for review (a duplicate intake, or one over an active
    /// prescription): what it collided with, or (with --attach, --proceed or
    /// --close) the reviewer's decision.
    IntakeReview {
        id: String,
        /// Merge it into the patient's open consult.
        #[arg(long, conflicts_with_all = ["proceed", "close"], requires = "reason")]
        attach: bool,
        /// Open a consult anyway.
        #[arg(long, conflicts_with = "close", requires = "reason")]
        proceed: bool,
        /// End it without a consult.
        #[arg(long, requires = "reason")]
        close: bool,
        #[arg(long)]
        reason: Option<String>,
    },
    /// A journey's patient match: its candidates with their scores and how
    /// each field compared; with --people, the incoming person and each
    /// candidate side by side (PHI: the read is recorded with --reason); or
    /// (with --link or --create) the reviewer's decision for a journey
    /// waiting in patient_match_review.
    Match {
        id: String,
        /// Link the journey to this existing patient.
        #[arg(long, conflicts_with_all = ["create", "people"], requires = "reason")]
        link: Option<String>,
        /// Create a new patient for the journey.
        #[arg(long, conflicts_with = "people", requires = "reason")]
        create: bool,
        /// Show the people side by side, field by field (PHI; audited).
        #[arg(long, requires = "reason")]
        people: bool,
        /// Why: recorded in the journey's history.
        #[arg(long)]
        reason: Option<String>,
    },
    /// API tokens.
    Tokens {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Args)]
struct ListArgs {
    #[arg(long, value_enum)]
    status: Option<JourneyStatus>,
    /// A phase, as its workflow names it (e.g. awaiting_clinician).
    #[arg(long)]
    phase: Option<String>,
    #[arg(long)]
    workflow: Option<String>,
    #[arg(long)]
    vendor: Option<String>,
    #[arg(long)]
    overdue: bool,
    #[arg(long, default_value_t = 50)]
    limit: u32,
    #[arg(long)]
    cursor: Option<String>,
    /// Follow the events of the journeys the filter keeps (status, phase,
    /// workflow) as they happen, until interrupted.
    #[arg(long, conflicts_with_all = ["vendor", "overdue", "cursor"])]
    watch: bool,
}

#[derive(Debug, Subcommand)]
enum BulkCommand {
    /// Pause every selected journey that runs or waits.
    Pause(BulkActionArgs),
    /// Resume every selected paused journey.
    Resume(BulkActionArgs),
    /// Cancel every selected journey that has not ended.
    Cancel(BulkActionArgs),
    /// Retry every selected failed journey, or waiting step (a vendor's).
    Retry(BulkActionArgs),
    /// Wake every selected journey sleeping or waiting on a vendor.
    Wake(BulkActionArgs),
    /// Rewind every selected journey to --to-step.
    Rewind(BulkActionArgs),
}

/// Which journeys a bulk action selects (every given criterion).
#[derive(Debug, Args)]
struct BulkFilterArgs {
    #[arg(long, value_enum)]
    status: Option<JourneyStatus>,
    #[arg(long)]
    phase: Option<String>,
    #[arg(long)]
    workflow: Option<String>,
    /// Journeys waiting on this vendor.
    #[arg(long)]
    vendor: Option<String>,
    #[arg(long)]
    overdue: bool,
    #[arg(long)]
    error_contains: Option<String>,
}

#[derive(Debug, Args)]
struct BulkActionArgs {
    #[command(flatten)]
    filter: BulkFilterArgs,
    /// For rewind: the step to rewind each journey to.
    #[arg(long)]
    to_step: Option<String>,
    /// For rewind: re-run irreversible steps too.
    #[arg(long)]
    force: bool,
    /// Why: recorded in each journey's history and the operator audit.
    #[arg(long, required_unless_present = "confirm", default_value = "")]
    reason: String,
    /// Act: the token a dry run of this command printed.
    #[arg(long)]
    confirm: Option<String>,
}

#[derive(Debug, Args)]
struct ActionArgs {
    id: String,
    /// Recorded in the journey's history.
    #[arg(long)]
    reason: String,
}

#[derive(Debug, Args)]
struct BulkArgs {
    #[arg(long, value_enum, default_value_t = RetryableStatus::Failed)]
    status: RetryableStatus,
    #[arg(long)]
    phase: Option<String>,
    #[arg(long)]
    vendor: Option<String>,
    #[arg(long)]
    error_contains: Option<String>,
    #[arg(long)]
    reason: String,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it once. With DATABASE_URL set it is written
    /// directly (this is how the first admin token is made); otherwise through
    /// the API, as an admin.
    Create {
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Revoke a token by name (through the API, as an admin).
    Revoke { name: String },
}

/// Runs the commands about journeys; any other is handed back.
async fn journey_command(
    api: &Api,
    out: Output,
    command: CtlCommand,
) -> Result<Option<CtlCommand>> {
    match command {
        CtlCommand::List(l) if l.watch => watch_list(api, out, l).await,
        CtlCommand::List(l) => journeys::list(api, out, l).await,
        CtlCommand::Find { query } => find::find(api, out, &query).await,
        CtlCommand::Show { id } => journeys::show(api, out, &resolve(api, &id).await?).await,
        CtlCommand::Steps { id } => find::steps(api, out, &resolve(api, &id).await?).await,
        CtlCommand::Reveal { id, step, reason } => {
            let id = resolve(api, &id).await?;
            find::reveal(api, out, &id, &step, reason).await
        }
        CtlCommand::History { id, watch: true } => {
            let path = format!("/v1/journeys/{}/events", resolve(api, &id).await?);
            watch::follow(api, out, &path, &[], watch::history_line).await
        }
        CtlCommand::History { id, .. } => {
            journeys::history(api, out, &resolve(api, &id).await?).await
        }
        CtlCommand::Input { id, reason } => {
            journeys::input(api, out, &resolve(api, &id).await?, reason).await
        }
        CtlCommand::Verify { id } => journeys::verify(api, out, &resolve(api, &id).await?).await,
        CtlCommand::Pause(a) => journeys::act(api, out, "pause", resolved(api, a).await?).await,
        CtlCommand::Resume(a) => journeys::act(api, out, "resume", resolved(api, a).await?).await,
        CtlCommand::Retry(a) => journeys::act(api, out, "retry", resolved(api, a).await?).await,
        CtlCommand::Cancel(a) => journeys::act(api, out, "cancel", resolved(api, a).await?).await,
        CtlCommand::Wake(a) => journeys::act(api, out, "wake", resolved(api, a).await?).await,
        CtlCommand::Fire(a) => {
            let a = resolved(api, a).await?;
            repair::fire(api, out, &a.id, a.reason).await
        }
        CtlCommand::Inject {
            id,
            vendor,
            event,
            reason,
        } => {
            let id = resolve(api, &id).await?;
            repair::inject(api, out, &id, vendor, &event, reason).await
        }
        CtlCommand::Rewind {
            id,
            to_step,
            force,
            reason,
        } => {
            let id = resolve(api, &id).await?;
            repair::rewind(api, out, &id, to_step, force, reason).await
        }
        CtlCommand::Bulk { action } => {
            let (name, args) = match action {
                BulkCommand::Pause(a) => ("pause", a),
                BulkCommand::Resume(a) => ("resume", a),
                BulkCommand::Cancel(a) => ("cancel", a),
                BulkCommand::Retry(a) => ("retry", a),
                BulkCommand::Wake(a) => ("wake", a),
                BulkCommand::Rewind(a) => ("rewind", a),
            };
            bulk::run(api, out, name, args).await
        }
        other => return Ok(Some(other)),
    }
    .map(|()| None)
}

/// `ctl list --watch`: the events of the journeys the filter keeps.
async fn watch_list(api: &Api, out: Output, l: ListArgs) -> Result<()> {
    let query: Vec<(&str, String)> = [
        ("status", l.status.map(statuses::wire)),
        ("phase", l.phase),
        ("workflow", l.workflow),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    watch::follow(api, out, "/v1/events", &query, watch::feed_line).await
}

/// `id` as a full journey id ([`find::resolve`]).
async fn resolve(api: &Api, id: &str) -> Result<String> {
    find::resolve(api, id).await
}

/// `a` with its journey id resolved ([`find::resolve`]).
async fn resolved(api: &Api, a: ActionArgs) -> Result<ActionArgs> {
    Ok(ActionArgs {
        id: find::resolve(api, &a.id).await?,
        reason: a.reason,
    })
}

/// Runs one `ctl` command and prints what the API answered.
///
/// # Errors
/// The API's refusal (its status and message), a failure to reach it, or
/// (for `tokens create` with a database URL) the database's.
pub async fn run(args: CtlArgs) -> Result<()> {
    carepath_activities::tls::install_crypto_provider();
    let api = Api::new(&args.api, args.token.clone());
    let out = args.output;
    let command = match journey_command(&api, out, args.command).await? {
        None => return Ok(()),
        Some(other) => other,
    };
    match command {
        CtlCommand::BulkRetry(b) => journeys::bulk_retry(&api, out, b).await,
        CtlCommand::Vendors => vendors::list(&api, out).await,
        CtlCommand::VendorPause { name, reason } => {
            vendors::act(&api, out, "pause", &name, &reason).await
        }
        CtlCommand::VendorResume { name, reason } => {
            vendors::act(&api, out, "resume", &name, &reason).await
        }
        CtlCommand::ConsoleSignOut { holder, reason } => {
            tokens::end_console_sessions(&api, out, &holder, &reason).await
        }
        CtlCommand::Inbox {
            status: InboxStatus::Rejected,
            vendor,
        } => inbox::rejections(&api, out, vendor).await,
        CtlCommand::Inbox { status, vendor } => {
            inbox::list(&api, out, statuses::wire(status), vendor).await
        }
        CtlCommand::InboxReplay { ids, reason } => {
            let done = "queued for routing again";
            inbox::bulk(&api, out, "replay", done, &ids, &reason).await
        }
        CtlCommand::InboxReplayRejected { id, reason } => {
            inbox::replay_rejected(&api, out, id, &reason).await
        }
        CtlCommand::InboxSkip { ids, reason } => {
            inbox::bulk(&api, out, "skip", "skipped", &ids, &reason).await
        }
        CtlCommand::IntakeReview {
            id,
            attach,
            proceed,
            close,
            reason,
        } => {
            let chosen = [("attach", attach), ("proceed", proceed), ("close", close)];
            let id = resolve(&api, &id).await?;
            reviews::intake_review(&api, out, &id, &chosen, reason).await
        }
        CtlCommand::Match {
            id,
            people: true,
            reason: Some(reason),
            ..
        } => reviews::match_people(&api, out, &resolve(&api, &id).await?, reason).await,
        CtlCommand::Match {
            id,
            link,
            create,
            reason,
            ..
        } => {
            let id = resolve(&api, &id).await?;
            reviews::patient_match(&api, out, &id, link, create, reason).await
        }
        CtlCommand::Tokens {
            command:
                TokenCommand::Create {
                    role,
                    name,
                    database_url,
                },
        } => tokens::create(&api, out, &role, &name, database_url).await,
        CtlCommand::Tokens {
            command: TokenCommand::Revoke { name },
        } => tokens::revoke(&api, out, &name).await,
        handled => unreachable!("journey_command runs {handled:?}"),
    }
}
