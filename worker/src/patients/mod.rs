//! `carepath patients import|match|train`: a brand's existing registry
//! moved into carepath's, a dry run of matching over a file, and the
//! matching model re-estimated on demand.

mod file;

use std::path::PathBuf;

use anyhow::{Context, Result};
use carepath_identity::Decision;
use carepath_identity::compare::Field;
use carepath_workflows::consult::patients::{self, MatchOutcome, model_store};
use clap::{Args, Subcommand};
use futures::StreamExt;
use serde_json::{Value, json};

use carepath_workflows::Settings;

use crate::db;

/// Lines imported at once.
const IMPORTERS: usize = 4;

/// `carepath patients …`
#[derive(Debug, Subcommand)]
pub enum PatientsCommand {
    /// Import a JSON-lines file (each line a start request's `patient`):
    /// deduplicated within the file and against the registry; prints links,
    /// reviews (not imported) and creations. Nothing is written if any line is bad.
    Import(FileArgs),
    /// Match each line of a JSON-lines file against the registry without
    /// writing anything: one JSON object per line on stdout.
    Match(FileArgs),
    /// Estimate the matching model on the registry now and print it.
    Train(DbArgs),
    /// Erase a patient (a deletion request): its PHI and its journeys'
    /// destroyed, the matcher and search no longer find it. Irreversible;
    /// refused while any of its journeys has not ended.
    Erase(EraseArgs),
}

/// `carepath patients erase`.
#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The patient's id (the registry's).
    patient: uuid::Uuid,
    /// Why (recorded in the operator audit and each journey's history).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    db: DbArgs,
}

/// A file and a database.
#[derive(Debug, Args)]
pub struct FileArgs {
    /// JSON lines; `-` for standard input.
    file: PathBuf,
    #[command(flatten)]
    db: DbArgs,
}

/// The database, and the configuration whose keys the registry is hashed
/// and sealed with.
#[derive(Debug, Args)]
pub struct DbArgs {
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The configuration file, as `worker` reads it (its mode decides which
    /// keys stand in for unset ones).
    #[arg(long, env = "CAREPATH_CONFIG", hide_env_values = true)]
    config: Option<PathBuf>,
}

impl DbArgs {
    /// The database, migrated and its registry sealed, and the keys.
    async fn open(&self, connections: u32) -> Result<(sqlx::PgPool, patients::Keys)> {
        let settings = Settings::load(self.config.as_deref())?;
        for warning in settings.warnings() {
            eprintln!("warning: {warning}");
        }
        let keys = settings.registry_keys()?;
        let pool = db::connect(&self.database_url, connections).await?;
        db::ensure_migrated(&pool).await?;
        carepath_workflows::engine::vault::verify::key_ring(&pool, keys.vault())
            .await
            .context("CAREPATH_KEY_RING cannot unwrap the data keys already stored")?;
        // A registry stored by an older carepath is found only once sealed.
        patients::seal_registry(&pool, &keys)
            .await
            .context("sealing the patient registry")?;
        Ok((pool, keys))
    }
}

/// Runs a `patients` command.
///
/// # Errors
/// Bad lines (each named by line number and field), a database error.
pub async fn run(command: PatientsCommand) -> Result<()> {
    match command {
        PatientsCommand::Import(args) => import(args).await,
        PatientsCommand::Match(args) => match_file(args).await,
        PatientsCommand::Train(args) => train(args).await,
        PatientsCommand::Erase(args) => erase(args).await,
    }
}

/// Who runs a command-line erasure or rotation, as the audit names them:
/// `cli:<login>` (the operating system's user).
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

async fn erase(args: EraseArgs) -> Result<()> {
    let reason = args.reason.trim();
    anyhow::ensure!(!reason.is_empty(), "--reason must say why");
    let pool = db::connect(&args.db.database_url, 2).await?;
    db::ensure_migrated(&pool).await?;
    let done =
        carepath_workflows::erasure::erase_patient(&pool, args.patient, "cli", reason).await?;
    println!("{}", serde_json::to_string(&done)?);
    Ok(())
}

async fn import(args: FileArgs) -> Result<()> {
    let lines = file::read(&args.file)?;
    if lines.is_empty() {
        println!(
            "{}",
            json!({"lines": 0, "linked": 0, "created": 0, "review": 0, "already_imported": 0, "reviews": []})
        );
        return Ok(());
    }
    let (pool, keys) = args.db.open(8).await?;
    let records: Vec<_> = lines
        .iter()
        .map(|l| carepath_identity::Record::of(&l.person))
        .collect();
    eprintln!(
        "estimating the matching model on the registry and the file's {} lines",
        lines.len()
    );
    let model = std::sync::Arc::new(model_store::estimate(&pool, &keys, &records, true).await?);
    let progress = file::progress(lines.len(), "importing");
    let (mut linked, mut created, mut skipped) = (0u64, 0u64, 0u64);
    let mut reviews = Vec::new();
    // Lines run side by side: the block locks make two lines of one person
    // run one after the other, so the second finds the first.
    let mut outcomes = futures::stream::iter(lines.iter())
        .map(|line| {
            let (pool, model, keys) = (pool.clone(), model.clone(), keys.clone());
            async move {
                let outcome = patients::import_one(&pool, &keys, &model, &line.person)
                    .await
                    .with_context(|| format!("line {}: importing", line.number))?;
                anyhow::Ok((line, outcome))
            }
        })
        .buffered(IMPORTERS);
    while let Some(result) = outcomes.next().await {
        let (line, outcome) = result?;
        progress.inc(1);
        match outcome {
            None => skipped += 1,
            Some(o) => match o.decision {
                Decision::Link => linked += 1,
                Decision::Create => created += 1,
                Decision::Review => reviews.push(json!({
                    "line": line.number,
                    "external_id": line.person.external_id,
                    "candidate_external_id": o.candidates.first().and_then(|c| c.external_id.clone()),
                    "score": o.candidates.first().map(|c| c.score),
                    "hold": o.hold,
                })),
            },
        }
    }
    progress.finish_and_clear();
    let summary = json!({
        "lines": lines.len(), "linked": linked, "created": created,
        "review": reviews.len(), "already_imported": skipped, "reviews": reviews,
    });
    println!("{summary}");
    eprintln!(
        "{} lines: {linked} linked to a patient, {created} new patients, {} held for review (not imported), {skipped} imported before",
        lines.len(),
        reviews.len()
    );
    Ok(())
}

async fn match_file(args: FileArgs) -> Result<()> {
    let lines = file::read(&args.file)?;
    let (pool, keys) = args.db.open(8).await?;
    let model = std::sync::Arc::new(model_store::current(&pool, &keys).await?);
    let progress = file::progress(lines.len(), "matching");
    let mut results = futures::stream::iter(lines.iter())
        .map(|line| {
            let (pool, model, keys) = (pool.clone(), model.clone(), keys.clone());
            async move {
                let mut conn = pool.acquire().await?;
                let outcome = patients::match_only(&mut conn, &keys, &model, &line.person).await?;
                anyhow::Ok(line_result(&line.person.external_id, &outcome))
            }
        })
        .buffered(8);
    while let Some(result) = results.next().await {
        println!("{}", result?);
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(())
}

/// One line of `patients match`'s output.
fn line_result(external_id: &str, outcome: &MatchOutcome) -> Value {
    let best = outcome.candidates.first();
    json!({
        "external_id": external_id,
        "decision": outcome.decision,
        "score": best.map(|c| c.score),
        "candidate_external_id": best.and_then(|c| c.external_id.clone()),
        "levels": best.map(|c| &c.levels),
        "hold": outcome.hold,
        "capped": outcome.capped,
    })
}

async fn train(args: DbArgs) -> Result<()> {
    let (pool, keys) = args.open(4).await?;
    let model = model_store::estimate(&pool, &keys, &[], true).await?;
    println!("{}", serde_json::to_string(&model.provenance)?);
    println!(
        "{:<14} {:<18} {:>8} {:>10} {:>8}",
        "field", "level", "m", "u", "bits"
    );
    for field in Field::ALL {
        for (level, name) in field.levels().iter().enumerate().skip(1) {
            let (m, u) = (model.m[field.index()][level], model.u[field.index()][level]);
            println!(
                "{:<14} {:<18} {m:>8.4} {u:>10.6} {:>8.2}",
                field.name(),
                name,
                (m.max(1e-7) / u.max(1e-7)).log2()
            );
        }
    }
    Ok(())
}
