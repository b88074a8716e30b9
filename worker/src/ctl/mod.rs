//! `carepath ctl`: the operator's command line over the HTTP API. This
//! module is the command line itself; each group of commands lives in a
//! module of its own, and all of them talk to the API through [`client`].

mod client;
mod inbox;
mod journeys;
mod render;
mod reviews;
mod statuses;
mod tokens;
mod vendors;

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
    /// Journeys, newest first, with filters.
    List(ListArgs),
    /// One journey: status, why it waits, and its steps.
    Show { id: String },
    /// A journey's audit history.
    History { id: String },
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

/// Runs one `ctl` command and prints what the API answered.
///
/// # Errors
/// The API's refusal (its status and message), a failure to reach it, or
/// (for `tokens create` with a database URL) the database's.
pub async fn run(args: CtlArgs) -> Result<()> {
    carepath_activities::tls::install_crypto_provider();
    let api = Api::new(&args.api, args.token.clone());
    let out = args.output;
    match args.command {
        CtlCommand::List(l) => journeys::list(&api, out, l).await,
        CtlCommand::Show { id } => journeys::show(&api, out, &id).await,
        CtlCommand::History { id } => journeys::history(&api, out, &id).await,
        CtlCommand::Input { id, reason } => journeys::input(&api, out, &id, reason).await,
        CtlCommand::Verify { id } => journeys::verify(&api, out, &id).await,
        CtlCommand::Pause(a) => journeys::act(&api, out, "pause", a).await,
        CtlCommand::Resume(a) => journeys::act(&api, out, "resume", a).await,
        CtlCommand::Retry(a) => journeys::act(&api, out, "retry", a).await,
        CtlCommand::Cancel(a) => journeys::act(&api, out, "cancel", a).await,
        CtlCommand::Wake(a) => journeys::act(&api, out, "wake", a).await,
        CtlCommand::BulkRetry(b) => journeys::bulk_retry(&api, out, b).await,
        CtlCommand::Vendors => vendors::list(&api, out).await,
        CtlCommand::VendorPause { name, reason } => {
            vendors::act(&api, out, "pause", &name, &reason).await
        }
        CtlCommand::VendorResume { name, reason } => {
            vendors::act(&api, out, "resume", &name, &reason).await
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
            reviews::intake_review(&api, out, &id, &chosen, reason).await
        }
        CtlCommand::Match {
            id,
            people: true,
            reason: Some(reason),
            ..
        } => reviews::match_people(&api, out, &id, reason).await,
        CtlCommand::Match {
            id,
            link,
            create,
            reason,
            ..
        } => reviews::patient_match(&api, out, &id, link, create, reason).await,
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
    }
}
